"""Tests for normalize.morph: search tokens, FTS5 queries and keyword nouns (uses Kiwi)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from normalize.morph import nouns, nouns_many, query_tokens, search_tokens, search_tokens_many


def test_search_tokens_compound_and_particles() -> None:
    toks = search_tokens("택시요금이 너무 비싸요").split()
    assert "택시" in toks and "요금" in toks
    assert "택시요금이" in toks  # original word kept too


def test_search_tokens_verbal_noun() -> None:
    assert "침수" in search_tokens("침수됐어요").split()


def test_search_tokens_no_false_morpheme() -> None:
    toks = search_tokens("택배가 안 와요").split()
    assert "택배" in toks
    assert not any(t.startswith("택시") for t in toks)


def test_search_tokens_english_lowercased() -> None:
    toks = search_tokens("The Bus is LATE").split()
    assert {"bus", "late"} <= set(toks)


def test_search_tokens_cjk_bigrams() -> None:
    assert "地铁" in search_tokens("地铁很挤").split()
    toks = search_tokens("地下鉄が遅い").split()
    assert "地下" in toks and "下鉄" in toks


def test_search_tokens_many_matches_single() -> None:
    texts = ["택시요금이 올랐어요", "", "地铁", "강남구 침수"]
    assert search_tokens_many(texts) == [search_tokens(t) for t in texts]
    assert search_tokens_many([]) == []


def test_query_tokens_shapes() -> None:
    assert query_tokens("") == ""
    assert query_tokens("   ") == ""
    q = query_tokens('택시 "OR" NOT')
    assert q.count('"택시"') >= 1  # quoted, so FTS5 operators in user input are literal


def test_nouns_drop_particles() -> None:
    assert nouns("지하철이 너무 늦어요") == ["지하철"]
    got = nouns("서울시 버스정류장에서 bus 정류장 a 것", frozenset({"서울시"}))
    assert "서울시" not in got and "bus" in got and "a" not in got and "것" not in got
    assert all(not w.endswith("에서") for w in got)


def test_nouns_many() -> None:
    assert nouns_many(["침수 피해", ""]) == [["침수", "피해"], []]


DOCS = [
    "택시요금이 너무 비싸요",
    "지하차도가 침수됐어요",
    "택배가 안 와요",
    "地铁很挤",
    "地下鉄が遅いです",
    "The bus is late again",
    "강남구청 앞 도로 공사",
]


@pytest.fixture(scope="module")
def fts() -> sqlite3.Connection:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE t USING fts5(tok)")
    db.executemany("INSERT INTO t(rowid, tok) VALUES (?, ?)",
                   [(i, tok) for i, tok in enumerate(search_tokens_many(DOCS))])
    return db


def _hits(db: sqlite3.Connection, query: str) -> set[str]:
    expr = query_tokens(query)
    assert expr
    return {DOCS[r] for (r,) in db.execute("SELECT rowid FROM t WHERE t MATCH ?", (expr,))}


@pytest.mark.parametrize(
    "query,expected",
    [
        ("택시", {"택시요금이 너무 비싸요"}),
        ("요금", {"택시요금이 너무 비싸요"}),
        ("택시요금", {"택시요금이 너무 비싸요"}),
        ("침수", {"지하차도가 침수됐어요"}),
        ("택배", {"택배가 안 와요"}),
        ("地铁", {"地铁很挤"}),
        ("地下鉄", {"地下鉄が遅いです"}),
        ("地下", {"地下鉄が遅いです"}),
        ("BUS", {"The bus is late again"}),
        ("강남구청", {"강남구청 앞 도로 공사"}),
        ("택시 침수", set()),
        ("비행기", set()),
        ('"OR"', set()),
    ],
)
def test_fts5_roundtrip(fts: sqlite3.Connection, query: str, expected: set[str]) -> None:
    assert _hits(fts, query) == expected


def test_analyse_many_gives_search_tokens_and_keywords_in_one_pass() -> None:
    from normalize.morph import analyse_many, cache_info, keywords_many

    texts = ["택시요금이 너무 비싸요 택시요금", "地下鉄の案内はありますか", "The bus is late", "", "서울시 버스"]
    got = analyse_many(texts)
    assert [t for t, _ in got] == search_tokens_many(texts)
    assert [k for _, k in got] == keywords_many(texts)
    keys = dict(zip(texts, (k.split() for _, k in got)))
    assert keys["택시요금이 너무 비싸요 택시요금"] == ["택시", "요금"]  # each once, in order
    assert keys["地下鉄の案内はありますか"] == ["地下鉄", "案内"]  # Han runs (Kiwi tags them SH)
    assert keys["The bus is late"] == ["the", "bus", "is", "late"]  # stop words: the digest's
    assert keys[""] == [] and "서울시" in keys["서울시 버스"]
    before = cache_info()
    analyse_many(["택시요금이 비싸요"])  # words seen before: no Kiwi
    after = cache_info()
    assert after["misses"] == before["misses"] and after["hits"] == before["hits"] + 2


def test_add_tokens_fills_tokens_and_keywords_of_citizens_only() -> None:
    from conftest import as_comment
    from normalize.common import add_tokens
    from normalize.schema import Comment, Context, Outcome

    def comment(cid: str, text: str, official: int) -> Comment:
        return Comment(id=cid, platform="x", account="a", native_id=cid, post_id=None,
                       parent_id=None, author_key=None, author_name=None, is_official=official,
                       text=text, lang="ko", created_at="2026-11-24T00:00:00Z")

    pairs: list[tuple[Outcome, dict]] = [
        (comment("1", "지하철이 늦어요", 0), {}), (comment("2", "안내드립니다 지하철", 1), {}),
        (comment("3", "", 0), {})]
    out = [as_comment(o) for o in add_tokens([o for o, _ in pairs])]
    assert out[0].keywords == "지하철" and "지하철" in (out[0].tokens or "").split()
    # official answers: no keywords, no search term (search lists opinions only)
    assert out[1].keywords is None and out[1].tokens == ""
    assert out[2].keywords == "" and out[2].tokens == ""  # a citizen's empty text: no nouns


# --- compound nouns (issue #15): tests/corpora/compounds.tsv, bench/compounds.py ------------
def _compound_cases() -> list:
    import csv

    with open(Path(__file__).parent / "corpora" / "compounds.tsv", encoding="utf-8",
              newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return [pytest.param(r["query"], r["text"], r["expected"] == "1", id=f"{r['query']}-{n}",
                         marks=[pytest.mark.xfail(strict=True, reason=r["why"])]
                         if "known miss" in r["why"] else [])
            for n, r in enumerate(rows)]


@pytest.mark.parametrize("query,text,expected", _compound_cases())
def test_compound_corpus(query, text, expected):
    """tests/corpora/compounds.tsv: what a word finds and what it must not (real Kiwi)."""
    fts = sqlite3.connect(":memory:")
    fts.execute("CREATE VIRTUAL TABLE t USING fts5(tok)")
    fts.execute("INSERT INTO t(tok) VALUES (?)", [search_tokens(text)])
    hits = fts.execute("SELECT count(*) FROM t WHERE t MATCH ?", [query_tokens(query)])
    assert bool(hits.fetchone()[0]) is expected


def test_search_tokens_keep_the_text_order_then_the_rest() -> None:
    toks = search_tokens("택시 타고 택시요금 냈어요").split()
    assert toks[:5] == ["택시", "타", "택시", "요금", "내"]  # morphemes, repeats kept: phrases
    assert toks[5:] == ["타고", "택시요금", "냈어요"]  # then the words, each once


def test_compound_pieces_in_the_tokens() -> None:
    assert "택시" in search_tokens("장애인 콜택시").split()
    assert "애인" not in search_tokens("장애인 콜택시").split()  # 장애+인, not 장+애인
    toks = search_tokens("공사장 주차장 성수동").split()
    assert {"공사", "주차", "성수"} <= set(toks) and not {"사장", "차장", "수동"} & set(toks)
    assert "서울" in search_tokens("서울시가 발표했습니다").split()
    assert "서울" not in search_tokens("서울대 서울역 서울숲").split()  # names stay whole
    assert "중구" not in search_tokens("중구난방으로 운영해요").split()


def test_query_tokens_phrases_and_open_quotes() -> None:
    assert query_tokens('"택시 요금"') == '"택시" + "요금"'
    assert query_tokens('택시 "요금') == '"택시" AND "요금"'  # an open quote separates
    assert query_tokens('"" " "') == ""
    assert query_tokens("서울") == '"서울"'  # a known two-letter noun: no prefix (서울대)
    assert '"지하차도"*' in query_tokens("지하차도")  # three letters on: also a prefix
