"""Properties (Hypothesis).

1. Every platform's normalizer, fed pages of its platform's shape whose items have fields
   missing, null, of the wrong type, unknown, or odd text (emoji, NFD Hangul, any unicode
   without surrogates, odd digits and times), returns for each item a record the store can
   hold or a quarantine with a reason, and never raises. This must hold for the normalizers
   themselves: pipeline.ingest.normalize_safely (the last resort) is not used here.
   Base payloads: real recorded responses (tests/fixtures) and the simulator's renderings,
   taken from the collectors' own pages (so `includes` are realistic too).
2. The store round-trips any valid record: Writer.write_page, read back, equal; writing it
   again reports it unchanged.
"""
from __future__ import annotations

import copy
import gzip
import json
import re
import sqlite3
import unicodedata
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any, Literal, get_type_hints

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collectors.base import Page
from core.platforms import KEYS
from normalize.common import page_normalizer
from normalize.schema import Comment, Context, Post, Quarantine, Skipped
from pipeline import platforms
from pipeline.config import load_accounts
from pipeline.runner import load_tagger, simulated_environ
from simulator import SimTransport, World
from store.db import connect
from store.writer import Writer

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
PLATFORMS = KEYS
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
PROPERTY = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# --- base pages ------------------------------------------------------------------------------
@cache
def accounts() -> tuple:
    return tuple(load_accounts(ROOT / "config" / "accounts.yaml"))


@cache
def simulated_pages(platform: str) -> tuple[Page, ...]:
    """The pages a collector gets from the simulator (first account of the platform)."""
    every = list(accounts())
    mine = [a for a in every if a.platform == platform]
    account = next((a for a in mine if a.live_chat), mine[0])  # live chat too, where there is
    world = World(every, posts_per_account=3, comments_per_post=6)
    options = {"sleep": lambda s: None, "x_page_size": 10, "graph_page_size": 5,
               "live_seconds": 30}
    collector = platforms.build_collector(platform, SimTransport(world), simulated_environ(every),
                                          every, options)
    pages = [p for p in collector.pages(account, {}) if isinstance(p, Page) and p.items]
    kinds = {p.kind for p in pages}
    assert kinds == {"post", "comment"}, kinds
    return tuple(pages)


def _json(path: str) -> dict:
    return json.loads((FIXTURES / path).read_text(encoding="utf-8"))


def _cassette(name: str) -> dict:
    doc = yaml.safe_load((FIXTURES / "x-api-v2" / name).read_text())
    return json.loads(gzip.decompress(doc["interactions"][0]["response"]["body"]["string"]))


@cache
def recorded_pages(platform: str) -> tuple[Page, ...]:
    """Real recorded responses of other projects, as pages."""
    def page(kind: Literal["post", "comment"], body: dict,
             includes: dict | None = None) -> Page:
        return Page(kind=kind, items=list(body.get("data") or body.get("items") or []),
                    includes=includes if includes is not None else dict(body.get("includes") or {}))

    if platform == "x":
        return (page("comment", _cassette("test_client_get_users_mentions.yaml")),
                page("post", _cassette("test_client_get_users_tweets.yaml")))
    if platform == "facebook":
        return (page("comment", _json("facebook-graph/comments_comments_p1.json"),
                     {"post_id": "4_10113477241177441"}),
                page("post", _json("facebook-graph/posts_feed_fields_p1.json")))
    if platform == "instagram":
        return (page("post", _json("instagram-graph/users_medias_p1.json")),
                page("comment", _json("instagram-graph/medias_comments_p1.json"),
                     {"post_id": "17895731045244887"}),
                page("comment", _json("instagram-graph/comments_replies.json"),
                     {"post_id": "17895731045244887", "parent_id": "17858154961981086"}))
    if platform == "youtube":
        return (page("comment", _json("youtube-data-v3/comment_threads_by_channel.json")),
                page("comment", _json("youtube-data-v3/comments_by_parent_paged_1.json"),
                     {"thread": {"id": "UgzT", "videoId": "JE8xdDp5B8Q"}}))
    return ()  # a platform's own test file checks its recorded responses


def base_pages(platform: str) -> tuple[Page, ...]:
    return recorded_pages(platform) + simulated_pages(platform)


@cache
def context(platform: str) -> Context:
    every = accounts()
    mine = [a for a in every if a.platform == platform]
    return Context(platform=platform, account=mine[0].key, secret=b"property-secret",
                   official_ids=frozenset(a.native_id for a in mine if a.native_id),
                   official_handles=frozenset(a.handle.lower() for a in mine),
                   account_native_id=mine[0].native_id, tagger=load_tagger(), tokenize=True)


def normalizer(platform: str) -> Any:
    """The platform's whole-page normalizer (its registered item normalizer, flattened)."""
    return page_normalizer(platforms.load(platform)[1])


# --- mutations -------------------------------------------------------------------------------
HANGUL = ("택시요금이 또 올랐어요", "서울시청 앞 버스정류장", "침수 피해 신고합니다")
EMOJI = ("🚕", "😢", "👍🏽", "🇰🇷", "👨‍👩‍👧", "✨")
odd_text = st.one_of(
    st.text(max_size=40),  # any unicode; Hypothesis never draws lone surrogates here
    st.sampled_from(HANGUL).map(lambda s: unicodedata.normalize("NFD", s)),
    st.lists(st.sampled_from(EMOJI + HANGUL), max_size=5).map(" ".join),
    st.from_regex(r"[0-9]{1,30}", fullmatch=True),  # ids and counts: any length
    st.sampled_from(["²", "١٢٣", "007", "-1", "1e3", " 12 ", "", "０１２"]),  # digits, odd ones
    st.sampled_from(["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00",
                     "2026-02-30T00:00:00Z", "2026-11-25T03:04:05+0900", "2026-11-25",
                     "yesterday", "2026-11-25T03:04:05.123456789Z", "T", "+0000"]),
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
)
scalar = st.one_of(st.none(), st.booleans(), st.integers(min_value=-2**70, max_value=2**70),
                   st.floats(allow_nan=True), odd_text)
anything = st.recursive(scalar, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=6)


def paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every place inside a JSON value (dict keys, list indexes), the value itself first."""
    out = [prefix]
    if isinstance(value, dict):
        for key, inner in value.items():
            out += paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for i, inner in enumerate(value[:4]):
            out += paths(inner, (*prefix, i))
    return out


def mutate(data: st.DataObject, value: Any, rounds: int) -> Any:
    """Drop keys, set None, swap types, add unknown keys, change text: `rounds` times."""
    value = copy.deepcopy(value)
    for _ in range(rounds):
        where = data.draw(st.sampled_from(paths(value)))
        if not where:
            how = data.draw(st.sampled_from(["replace", "keep"]))
            if how == "replace":
                value = data.draw(anything)
            continue
        parent = value
        for step in where[:-1]:
            parent = parent[step]
        last = where[-1]
        how = data.draw(st.sampled_from(["drop", "null", "swap", "unknown", "text"]))
        if how == "drop":
            del parent[last]
        elif how == "null":
            parent[last] = None
        elif how == "swap":
            parent[last] = data.draw(anything)
        elif how == "text":
            parent[last] = data.draw(odd_text)
        elif isinstance(parent, dict):
            parent[data.draw(st.text(min_size=1, max_size=12))] = data.draw(anything)
    return value


@st.composite
def mutated_page(draw: Any, platform: str) -> Page:
    data = draw(st.data())
    base = draw(st.sampled_from(base_pages(platform)))
    items = list(base.items[:6])
    for i in sorted(draw(st.sets(st.integers(0, len(items) - 1), min_size=1, max_size=3))):
        items[i] = mutate(data, items[i], draw(st.integers(1, 4)))
    includes = dict(base.includes)
    if includes and draw(st.booleans()):
        includes = mutate(data, includes, draw(st.integers(1, 2)))
        includes = includes if isinstance(includes, dict) else {}
    return Page(kind=base.kind, items=items, includes=includes, cursor=base.cursor)


# --- what a normalizer must give ---------------------------------------------------------------
def check_record(record: Post | Comment, platform: str) -> None:
    """A record the store can hold: every field of its declared type, times in ISO UTC."""
    hints = get_type_hints(type(record))
    for name in record._fields:
        value = getattr(record, name)
        hint = str(hints[name])
        if value is None:
            assert "None" in hint, (name, record)
        elif "int" in hint:
            assert type(value) is int, (name, value)
        else:
            assert type(value) is str, (name, value)
    assert record.id == f"{platform}:{record.native_id}" and record.native_id
    assert record.platform == platform
    assert unicodedata.is_normalized("NFC", record.text)
    for name in ("created_at", "edited_at"):
        stamp = getattr(record, name)
        assert stamp is None or ISO_Z.match(stamp), (name, stamp)
    if isinstance(record, Comment):
        assert record.is_official in (0, 1) and record.created_at is not None


def outcomes_for_each_item(platform: str, page: Page) -> None:
    normalize = normalizer(platform)
    ctx = context(platform)
    pairs = normalize(page, ctx)  # the whole page, tokens and tags included: never raises
    assert isinstance(pairs, list)
    for outcome, raw in pairs:
        if isinstance(outcome, (Quarantine, Skipped)):
            assert isinstance(outcome.reason, str) and outcome.reason.strip()
            assert outcome.native_id is None or isinstance(outcome.native_id, str)
        else:
            assert isinstance(outcome, (Post, Comment)), outcome
            check_record(outcome, platform)
        json.dumps(raw, ensure_ascii=False, default=repr)  # the raw object can be stored
    # item by item: each gives at least one outcome (a YouTube live chat system event,
    # e.g. chatEndedEvent, carries no opinion: a counted skip, never nothing)
    plain = replace(ctx, tokenize=False)
    for item in page.items:
        one = normalize(Page(kind=page.kind, items=[item], includes=page.includes), plain)
        assert one, item


@pytest.mark.parametrize("platform", PLATFORMS)
def test_base_pages_normalize_to_records(platform: str) -> None:
    """The unmutated payloads are records: the mutations start from realistic data."""
    for page in base_pages(platform):
        pairs = normalizer(platform)(page, context(platform))
        records = [o for o, _ in pairs if not isinstance(o, (Quarantine, Skipped))]
        assert records, (platform, page.kind)
        for record in records:
            check_record(record, platform)


def _property(platform: str) -> Any:
    @PROPERTY
    @given(page=mutated_page(platform))
    def prop(page: Page) -> None:
        outcomes_for_each_item(platform, page)
    return prop


@pytest.mark.parametrize("platform", PLATFORMS)
def test_normalizer_never_raises(platform: str) -> None:
    _property(platform)()


# --- the store round-trips any valid record ----------------------------------------------------
text = st.text(max_size=60)  # NFC or not, emoji, any plane: the store keeps what it is given
maybe_text = st.none() | text
stamp = st.datetimes().map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ"))
count = st.none() | st.integers(min_value=-2**63, max_value=2**63 - 1)
native = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=20)


@st.composite
def post_record(draw: Any) -> Post:
    platform = draw(st.sampled_from(PLATFORMS))
    nid = draw(native)
    return Post(id=f"{platform}:{nid}", platform=platform, account=draw(st.text(max_size=10)),
                native_id=nid, text=draw(text), lang=draw(st.sampled_from(["ko", "en", "und"])),
                created_at=draw(st.none() | stamp), url=draw(maybe_text),
                title=draw(maybe_text), edited_at=draw(st.none() | stamp),
                like_count=draw(count), comment_count=draw(count),
                deleted=draw(st.integers(0, 1)))


@st.composite
def comment_record(draw: Any) -> Comment:
    platform = draw(st.sampled_from(PLATFORMS))
    nid = draw(native)
    return Comment(
        id=f"{platform}:{nid}", platform=platform, account=draw(st.text(max_size=10)),
        native_id=nid, post_id=draw(maybe_text), parent_id=draw(maybe_text),
        author_key=draw(maybe_text), author_name=draw(maybe_text),
        is_official=draw(st.integers(0, 1)), text=draw(text),
        lang=draw(st.sampled_from(["ko", "en", "zh", "ja", "und"])), created_at=draw(stamp),
        district=draw(maybe_text), category=draw(maybe_text), edited_at=draw(st.none() | stamp),
        like_count=draw(count), reply_count=draw(count), url=draw(maybe_text),
        deleted=draw(st.integers(0, 1)), hidden=draw(st.integers(0, 1)),
        tokens=draw(st.none() | st.text(alphabet="택시요금 abc", max_size=20)))


def read_back(db: Any, record: Post | Comment) -> tuple:
    table = "posts" if isinstance(record, Post) else "comments"
    names = list(record._fields)
    return db.execute(f"SELECT {', '.join(names)} FROM {table} WHERE id = ?",
                      [record.id]).fetchone()


@PROPERTY
@given(records=st.lists(post_record() | comment_record(), min_size=1, max_size=6,
                        unique_by=lambda r: r.id))
def test_store_round_trips_any_valid_record(records: list) -> None:
    db = connect(":memory:")
    try:
        writer = Writer(db, clock=lambda: "2026-11-25T00:00:00Z")
        raws = [{"n": i} for i in range(len(records))]
        stats = writer.write_page("acc", "comment", records, raws)
        assert (stats.inserted, stats.updated, stats.unchanged) == (len(records), 0, 0)
        for record in records:
            assert read_back(db, record) == tuple(record), record
        again = Writer(db, clock=lambda: "2026-11-26T00:00:00Z").write_page(
            "acc", "comment", records, raws)
        assert (again.inserted, again.updated, again.unchanged) == (0, 0, len(records))
        for record in records:
            assert read_back(db, record) == tuple(record)
        # and the last_seen of an unchanged row moved; its first_seen did not
        table = {Post: "posts", Comment: "comments"}
        for record in records:
            row = db.execute(f"SELECT first_seen, last_seen FROM {table[type(record)]} "
                             "WHERE id = ?", [record.id]).fetchone()
            assert row == ("2026-11-25T00:00:00Z", "2026-11-26T00:00:00Z")
    finally:
        db.conn.close()


def test_the_sqlite_build_keeps_any_text() -> None:
    """What the round-trip relies on: TEXT columns keep every non-surrogate code point."""
    conn = sqlite3.connect(":memory:")
    sample = "택시" + unicodedata.normalize("NFD", "요금") + "🚕\x00\U0010ffff"
    assert conn.execute("SELECT ?", [sample]).fetchone()[0] == sample
