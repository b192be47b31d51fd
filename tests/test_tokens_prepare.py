"""Search tokens are made in one step (normalize.common.add_tokens), the same on every
path: the pipeline's normalize step stores what the whole-page normalizer gives; and the
per-word cache counts words as before."""
from __future__ import annotations

from collectors.base import Page
from normalize.common import add_tokens
from normalize.morph import analyse_many, cache_clear, cache_info
from normalize.schema import Comment, Context, Post, Record
from normalize.x import normalize_items, normalize_page
from pipeline.normalizing import normalize_page as normalize_step
from store.ready import prepare


def _comment(cid: str, text: str, official: int) -> Comment:
    return Comment(id=f"x:{cid}", platform="x", account="a", native_id=cid, post_id=None,
                   parent_id=None, author_key=None, author_name=None, is_official=official,
                   text=text, lang="ko", created_at="2026-11-24T00:00:00Z")


def test_add_tokens_is_the_one_tokens_step() -> None:
    records: list[Record] = [
        _comment("1", "지하철이 늦어요 😡 언제 오나요?", 0),
        Post(id="x:9", platform="x", account="a", native_id="9", text="안내", lang="ko",
             created_at=None),
        _comment("2", "안내드립니다 지하철 2호선", 1),
        _comment("3", "", 0),
        _comment("4", "", 1),
        _comment("5", "地下鉄の案内 and the BUS 버스 👨‍👩‍👧", 0),
    ]
    out = add_tokens(records)
    assert out[1] == records[1] and out[4] == records[4]  # a post, an empty answer: as they were
    assert [(o.tokens, o.keywords) for o in out if isinstance(o, Comment)][1:3] == [
        ("", None), ("", "")]
    first, last = out[0], out[5]
    assert isinstance(first, Comment) and isinstance(last, Comment)
    assert "지하철" in (first.tokens or "").split() and "버스" in (last.tokens or "")
    assert prepare(out, [{}] * 6) != prepare(records, [{}] * 6)  # tokens are in the hash


def test_the_pipeline_step_stores_what_the_page_normalizer_gives() -> None:
    tweets = [{"id": str(n), "text": t, "author_id": "7", "created_at": "2026-11-24T00:00:00Z",
               "conversation_id": "1"}
              for n, t in ((2, "버스가 안 와요 🚌 언제?"), (3, "Seoul 지하철 2호선 고장"))]
    page = Page(kind="comment", items=tweets, includes={"users": [{"id": "7", "username": "a"}]})
    ctx = Context(platform="x", account="a", secret=b"k", tokenize=True)
    whole = [o for o, _ in normalize_page(page, ctx)]
    step = normalize_step(normalize_items, page, ctx, hashes=[11, 12])
    assert [r.record for r in step.ready] == whole
    assert all(isinstance(o, Comment) and o.tokens for o in whole)
    assert [h for h, _ in step.items] == [11, 12]  # each item's records, for the cache


def test_cache_counts_repeats_as_hits() -> None:
    cache_clear()
    analyse_many(["버스 버스 지하철", "버스"])
    assert cache_info()["misses"] == 2 and cache_info()["hits"] == 2
    analyse_many(["지하철 택시"])
    assert cache_info()["misses"] == 3 and cache_info()["hits"] == 3
