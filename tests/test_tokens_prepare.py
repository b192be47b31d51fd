"""The ingest's way to morpheme tokens (token_fields into prepare) stores what with_tokens
gives, and the per-word cache counts words as before."""
from __future__ import annotations

from conftest import as_record

from normalize.common import token_fields, with_tokens
from normalize.morph import analyse_many, cache_clear, cache_info
from normalize.schema import Comment, Context, Post, Record
from store.writer import prepare


def _comment(cid: str, text: str, official: int) -> Comment:
    return Comment(id=f"x:{cid}", platform="x", account="a", native_id=cid, post_id=None,
                   parent_id=None, author_key=None, author_name=None, is_official=official,
                   text=text, lang="ko", created_at="2026-11-24T00:00:00Z")


def test_token_fields_into_prepare_as_with_tokens() -> None:
    records: list[Record] = [
        _comment("1", "지하철이 늦어요 😡 언제 오나요?", 0),
        Post(id="x:9", platform="x", account="a", native_id="9", text="안내", lang="ko",
             created_at=None),
        _comment("2", "안내드립니다 지하철 2호선", 1),
        _comment("3", "", 0),
        _comment("4", "", 1),
        _comment("5", "地下鉄の案内 and the BUS 버스 👨‍👩‍👧", 0),
    ]
    raws = [{"n": i, "text": "원문 😀"} for i in range(len(records))]
    ctx = Context(platform="x", account="a", secret=b"k", tokenize=True)
    tokened = [as_record(o) for o, _ in with_tokens(list(zip(records, raws)), ctx)]
    assert prepare(tokened, raws, True) == prepare(records, raws, True,
                                                   token_fields(records, ctx))
    assert token_fields(records, Context("x", "a", b"k")) == {}
    assert prepare(records, raws, False, {}) == prepare(records, raws, False)


def test_cache_counts_repeats_as_hits() -> None:
    cache_clear()
    analyse_many(["버스 버스 지하철", "버스"])
    assert cache_info()["misses"] == 2 and cache_info()["hits"] == 2
    analyse_many(["지하철 택시"])
    assert cache_info()["misses"] == 3 and cache_info()["hits"] == 3
