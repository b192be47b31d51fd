"""Korean full-text search over opinions (store/search.py and the `search` command)."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from conftest import sim_collect

import commands
from normalize.morph import search_tokens_many
from simulator import World
from store import cases
from store.db import connect
from store.search import rebuild_tokens, search, stale_tokens

KEYS = ("x_seoulmania", "x_seoul_topis", "x_seoul_en", "x_seoul_zh", "x_seoul_ja")
ADDED = {
    "ko_taxi": ("x_seoulmania", "SRCH1 택시요금이 너무 올라서 부담됩니다."),
    "ko_flood": ("x_seoulmania", "SRCH2 어젯밤 비로 반지하 집이 침수됐어요."),
    "ko_parcel": ("x_seoulmania", "SRCH3 아파트 택배 보관함을 설치해 주세요."),
    "en": ("x_seoul_en", "SRCH4 The underpass flooded again after the storm."),
    "zh": ("x_seoul_zh", "SRCH5 出租车司机拒绝打表，怎么投诉？"),
    "ja": ("x_seoul_ja", "SRCH6 明洞でタクシーがメーターを使いませんでした。"),
}


@pytest.fixture(scope="module")
def db_path(accounts, tmp_path_factory) -> Path:
    chosen = [a for a in accounts if a.key in KEYS]
    world = World(chosen, seed=11, posts_per_account=3, comments_per_post=6)
    for n, (key, text) in enumerate(ADDED.values()):
        post = world.visible_posts(key)[-1]
        world.add_comment(post, text, created=world.now - timedelta(minutes=10 + n))
    path = tmp_path_factory.mktemp("search") / "smc.db"
    results, _ = sim_collect(path, chosen, world, platforms=("x",))
    assert all(r.ok for r in results)
    return path


@pytest.fixture
def db(db_path):
    handle = connect(db_path)
    yield handle
    handle.conn.close()


def texts(rows) -> list[str]:
    return [r["text"] for r in rows]


def test_morphemes_find_inflected_korean(db):
    hits = texts(search(db, "택시", limit=100))
    assert any("SRCH1 택시요금이" in t for t in hits)  # 택시 finds 택시요금이
    assert all("택시" in t for t in hits)
    hits = texts(search(db, "침수", limit=100))
    assert any("SRCH2" in t and "침수됐어요" in t for t in hits)
    assert all("침수" in t for t in hits)
    assert any("SRCH1" in t for t in texts(search(db, "요금")))  # the other half of 택시요금


def test_a_different_word_must_not_match(db):
    hits = texts(search(db, "택배", limit=100))
    assert any("SRCH3" in t for t in hits)
    assert not any("택시" in t for t in hits)  # 택배 never finds 택시 sentences
    assert search(db, "택시 택배") == []  # terms are AND-ed
    assert search(db, "지진해일") == []


def test_english_chinese_japanese(db):
    assert any("SRCH4" in t for t in texts(search(db, "flooded", limit=100)))
    assert any("SRCH4" in t for t in texts(search(db, "Underpass", limit=100)))
    assert any("SRCH5" in t for t in texts(search(db, "出租车", limit=100)))
    assert any("SRCH5" in t for t in texts(search(db, "投诉", limit=100)))
    assert any("SRCH6" in t for t in texts(search(db, "タクシー", limit=100)))
    assert any("SRCH6" in t for t in texts(search(db, "明洞", limit=100)))
    assert not any("SRCH6" in t for t in texts(search(db, "タクト", limit=100)))


def test_empty_query_and_syntax_characters(db):
    assert search(db, "") == [] and search(db, "   ") == []
    for hostile in ('"', "택시 OR", "NEAR(", "*", "택시)", "^", "-:"):
        search(db, hostile)  # quoted by query_tokens: never an FTS5 syntax error


def test_newest_first_limit_and_filters(db):
    rows = search(db, "택시", limit=100)
    keys = [(r["created_at"], r["id"]) for r in rows]
    assert len(keys) > 1 and keys == sorted(keys, reverse=True)  # by time, not as stored
    assert len(search(db, "택시", limit=1)) == 1
    en = search(db, "flooded", account="x_seoul_en", limit=100)
    assert en and all(r["account"] == "x_seoul_en" for r in en)
    assert search(db, "flooded", account="x_seoul_ja") == []
    target = next(r for r in search(db, "택시", limit=100) if "SRCH1" in r["text"])
    assert target["status"] == "received"
    assert target["id"] not in {r["id"] for r in search(db, "택시", status="resolved",
                                                        limit=100)}
    cases.set_status(db, cases.Change(target["id"], "resolved", by="test"))
    resolved = search(db, "택시", status="resolved", limit=100)
    assert [r["id"] for r in resolved] == [target["id"]]
    assert resolved[0]["account_name"] and resolved[0]["department"]  # centre data joined


def test_official_answers_are_not_opinions(db):
    answers = db.execute("SELECT count(*) FROM comments WHERE is_official = 1").fetchone()[0]
    assert answers
    assert not [r for r in search(db, "감사", limit=500)
                if db.execute("SELECT is_official FROM comments WHERE id = ?",
                              [r["id"]]).fetchone()[0]]


def test_search_command(db_path, capsys):
    assert commands.main(["--db", str(db_path), "search", "택시", "--limit", "50"]) == 0
    out = capsys.readouterr().out
    assert "SRCH1 택시요금이" in out and "opinions match '택시'" in out
    assert "stale" not in out and "reindex" not in out
    assert commands.main(["--db", str(db_path), "search", "택배"]) == 0
    out = capsys.readouterr().out
    assert "SRCH3" in out and "택시" not in out.split("--")[0]
    assert commands.main(["--db", str(db_path), "search", " "]) == 2
    with pytest.raises(SystemExit) as exit_:
        commands.main(["--db", str(db_path), "search", "x", "--status", "nope"])
    assert exit_.value.code == 2


# --- issue #15: newest first, "N of M", AND, phrases, compounds, the rebuild ----------------
# (time, text): stored in this order, which is not the order of time
LATE = [
    ("2026-11-20T09:00:00Z", "SRCHA 장애인 콜택시 대기 시간이 너무 깁니다."),
    ("2026-11-23T09:00:00Z", "SRCHB 개인택시 기사님이 정말 친절하셨어요."),
    ("2026-11-21T09:00:00Z", "SRCHC 택배 기사님들이 고생이 많으세요."),
    ("2026-11-22T09:00:00Z", "SRCHD 심야에는 택시 요금을 더 받나요?"),
    ("2026-11-19T09:00:00Z", "SRCHE 요금이 비싼 택시는 타기 싫어요."),
    ("2026-11-24T09:00:00Z", "SRCHF 택시요금이 또 올랐어요, 요금 인상 반대합니다."),
]


def add_opinions(path: Path, items: list[tuple[str, str]], prefix: str = "late") -> list[str]:
    """Citizens' comments with these (time, text), stored in this order (tokens as the
    normalizer makes them); their ids."""
    from normalize.morph import search_tokens
    from normalize.schema import Comment
    from store.writer import Writer

    handle = connect(path)
    post, account = handle.execute(
        "SELECT id, account FROM posts WHERE account = 'x_seoulmania' LIMIT 1").fetchone()
    records = [Comment(
        id=f"x:{prefix}-{n}", platform="x", account=account, native_id=f"{prefix}-{n}",
        post_id=post, parent_id=None, author_key=f"k-{prefix}-{n}", author_name=None,
        is_official=0, text=text, lang="ko", created_at=at,
        tokens=search_tokens(text)) for n, (at, text) in enumerate(items)]
    Writer(handle).write_page(account, "comments", records, [{}] * len(records), platform="x")
    handle.conn.close()
    return [r.id for r in records]


@pytest.fixture
def late_path(db_path, tmp_path) -> Path:
    """The module's database copied, plus LATE."""
    import sqlite3

    target = tmp_path / "smc.db"
    src, dst = sqlite3.connect(db_path), sqlite3.connect(target)
    src.backup(dst)
    src.close()
    dst.close()
    add_opinions(target, LATE)
    return target


def markers(rows) -> list[str]:
    """The SRCH markers of the rows' texts, in order (X texts start with an @mention)."""
    return [w for t in texts(rows) for w in t.split() if w.startswith("SRCH")]


def test_a_word_finds_the_compounds_made_with_it(late_path):
    handle = connect(late_path)
    found = markers(search(handle, "택시", limit=500))
    assert {"SRCHA", "SRCHB", "SRCHD", "SRCHE", "SRCHF", "SRCH1"} <= set(found)  # 콜택시, 개인택시
    assert "SRCHC" not in found and "SRCH3" not in found  # 택배 never
    assert markers(search(handle, "콜택시", limit=500)) == ["SRCHA"]
    assert "SRCHC" in markers(search(handle, "택배", limit=500))
    assert not {"SRCHA", "SRCHB"} & set(markers(search(handle, "택배", limit=500)))


def test_several_words_are_all_of_them(late_path):
    handle = connect(late_path)
    # SRCH1 (택시요금이, the world's own clock) is the newest
    assert markers(search(handle, "택시 요금", limit=500)) == ["SRCH1", "SRCHF", "SRCHD", "SRCHE"]
    assert markers(search(handle, "요금 택시 심야", limit=500)) == ["SRCHD"]
    assert search(handle, "택시 택배 요금") == []


def test_a_quoted_phrase_is_those_words_in_that_order(late_path):
    handle = connect(late_path)
    phrase = markers(search(handle, '"택시 요금"', limit=500))
    assert phrase == ["SRCH1", "SRCHF", "SRCHD"]  # 택시요금이, 택시 요금을; not 요금이 비싼 택시
    assert markers(search(handle, '"요금 택시"', limit=500)) == []
    assert markers(search(handle, '"요금 인상" 택시', limit=500)) == ["SRCHF"]
    assert markers(search(handle, '"콜택시 대기"', limit=500)) == ["SRCHA"]
    for odd in ('"', '"택시', '택시"', '""', '" "'):
        search(handle, odd)  # an open quote is a separator: never an FTS5 syntax error


def test_newest_first_and_n_of_m_in_the_cli(late_path, capsys):
    assert commands.main(["--db", str(late_path), "search", "택시", "--limit", "3"]) == 0
    out = capsys.readouterr().out
    total = len(search(connect(late_path), "택시", limit=10_000))
    assert f"-- 3 of {total} opinions match '택시' (newest first)" in out and total > 3
    phrase = search(connect(late_path), '"택시 요금"', limit=10_000)
    assert commands.main(["--db", str(late_path), "search", '"택시 요금"', "--limit",
                          str(len(phrase))]) == 0
    out = capsys.readouterr().out
    assert [w for w in out.split() if w.startswith("SRCH")] == [
        "SRCH1", "SRCHF", "SRCHD"]  # SRCHF (11-24) before SRCHD (11-22), though stored after
    assert f"-- {len(phrase)} opinions match" in out
    assert commands.main(["--db", str(late_path), "search", "택시", "--limit", "2",
                          "--offset", "2"]) == 0
    assert f"-- 2 of {total} opinions match '택시' (newest first, the 2 newest skipped)" in \
        capsys.readouterr().out


def test_newest_first_whichever_plan(late_path, monkeypatch):
    from store import search as module

    handle = connect(late_path)
    expected = [(r["created_at"], r["id"]) for r in search(handle, "택시", limit=10_000)]
    assert expected == sorted(expected, reverse=True)
    for scan_from in (1, 10**9):  # walking the time index, or sorting the matches
        monkeypatch.setattr(module, "SCAN_FROM", scan_from)
        page = module.find(handle, "택시", limit=5, offset=3)
        assert [(r["created_at"], r["id"]) for r in page.rows] == expected[3:8]
        assert page.total == len(expected)
        assert module.find(handle, "택시", offset=len(expected)) == module.Found([], page.total)
    filtered = module.find(handle, "택시", account="x_seoulmania", limit=2)
    assert filtered.total == len([r for r in search(handle, "택시", limit=10_000)
                                  if r["account"] == "x_seoulmania"]) and len(filtered.rows) == 2


def test_newest_first_and_matches_in_the_web(late_path):
    import asyncio

    from center.app import build_datasette

    ds = build_datasette(late_path)
    asyncio.run(ds.invoke_startup())
    name = late_path.stem
    rows = asyncio.run(ds.client.get(
        f"/{name}/search.json?_shape=objects&q=%22택시 요금%22")).json()["rows"]
    assert markers(rows) == ["SRCH1", "SRCHF", "SRCHD"]
    assert {r["matches"] for r in rows} == {len(rows)}
    rows = asyncio.run(ds.client.get(f"/{name}/search.json?_shape=objects&q=택시")).json()["rows"]
    keys = [(r["created_at"], r["id"]) for r in rows]
    assert keys == sorted(keys, reverse=True)
    assert [(r["created_at"], r["id"]) for r in search(connect(late_path), "택시", limit=100)
            ] == keys and rows[0]["matches"] == len(search(connect(late_path), "택시",
                                                             limit=10_000))


def test_reindex_rebuilds_tokens_stored_before(late_path, capsys):
    """A database whose tokens predate migration 12 (answers indexed, no compound pieces) is
    marked stale; `reindex` rebuilds every row, the FTS stays whole, the mark goes."""
    import sqlite3

    from store.db import MIGRATIONS, _statements

    conn = sqlite3.connect(late_path)
    conn.execute("UPDATE comments SET tokens = text WHERE is_official = 1 AND text <> ''")
    conn.execute("UPDATE comments SET tokens = '콜택시 대기' WHERE id = 'x:late-0'")
    conn.execute("DELETE FROM meta WHERE key = 'tokens_stale'")
    for statement in _statements(MIGRATIONS[12 - 1]):  # migration 12 alone again: stale
        conn.execute(statement)  # (set back to 11, every later migration would run too)
    conn.commit()
    conn.close()
    handle = connect(late_path)
    assert "migration 12" in (stale_tokens(handle) or "")
    assert "SRCHA" not in markers(search(handle, "택시", limit=500))
    assert commands.main(["--db", str(late_path), "search", "택시"]) == 0
    assert "run `reindex`" in capsys.readouterr().out
    assert commands.main(["--db", str(late_path), "status"]) == 0
    assert "WARNING search tokens stored before migration 12" in capsys.readouterr().out
    assert commands.main(["--db", str(late_path), "reindex", "--batch", "7"]) == 0
    assert "search tokens rebuilt" in capsys.readouterr().out
    handle = connect(late_path)
    assert stale_tokens(handle) is None
    assert "SRCHA" in markers(search(handle, "택시", limit=500))
    assert handle.execute("SELECT count(*) FROM comments WHERE is_official = 1 "
                          "AND tokens <> ''").fetchone()[0] == 0  # answers: no search term
    handle.execute("INSERT INTO comments_fts(comments_fts, rank) VALUES('integrity-check', 1)")
    again = rebuild_tokens(handle, search_tokens_many)
    assert again["changed"] == 0 and again["rows"] > 0  # nothing left to do
