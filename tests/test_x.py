"""X: tweepy replaying real recorded responses, and the simulator end to end."""
from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest
import vcr
import yaml
from conftest import FIXTURES, data_pages, sim_collect

from collectors.http import LiveTransport
from collectors.x import XCollector
from normalize.schema import Comment, Context, Post, Quarantine
from normalize.x import normalize_page, normalize_tweet, snowflake_time
from pipeline.ingest import run_account
from simulator import Fault, World
from store import queries
from store.db import connect
from store.writer import Writer

CASSETTES = FIXTURES / "x-api-v2"
SECRET = b"test-secret"


def x_accounts(accounts):
    return [a for a in accounts if a.platform == "x"]


def small_world(accounts, **kw) -> World:
    return World(accounts, posts_per_account=3, comments_per_post=6, **kw)


# --- real recorded traffic ---------------------------------------------------------------
ACCOUNT_CASSETTES = ("test_client_get_user.yaml", "test_client_get_users_tweets.yaml",
                     "test_client_get_users_mentions.yaml")


def replay(tmp_path: Path):
    """tweepy's cassettes for one account, merged (vcrpy plays one cassette at a time).

    They were recorded with default parameters; our requests add fields and paging, so
    match on the route only. Bodies are gzip (urllib3 2 needs decode_compressed_response).
    """
    interactions = []
    for name in ACCOUNT_CASSETTES:
        interactions += yaml.safe_load((CASSETTES / name).read_text())["interactions"]
    merged = tmp_path / "account.yaml"
    merged.write_text(yaml.safe_dump({"interactions": interactions, "version": 1}))
    return vcr.use_cassette(str(merged), record_mode="none",
                            match_on=["method", "scheme", "host", "port", "path"],
                            decode_compressed_response=True)


@pytest.fixture
def twitter_account(accounts):
    return replace(x_accounts(accounts)[0], key="x_twitter", handle="Twitter", native_id=None)


def test_cassettes_through_collector_normalizer_and_store(twitter_account, tmp_path):
    """tweepy.Client replays tweepy's own cassettes; every tweet gets a defined outcome."""
    collector = XCollector(LiveTransport(), {"X_BEARER_TOKEN": "placeholder"},
                           [twitter_account], {"x_max_pages": 1})
    writer = Writer(connect(tmp_path / "x.db"))
    ctx = Context(platform="x", account="x_twitter", secret=SECRET)
    with replay(tmp_path):
        result = run_account(twitter_account, collector, writer, ctx, "run1")
    assert result.status == "ok", result.error
    db = writer.db
    # The account's own tweets (default fields only) are its posts, dated by their ids.
    posts = list(db.query("SELECT * FROM posts ORDER BY id"))
    assert [p["native_id"] for p in posts] == ["1565318587736285184", "1577730467436138524"]
    assert posts[1]["created_at"] == snowflake_time("1577730467436138524") == "2022-10-05T18:40:30Z"
    assert posts[1]["text"].startswith("whoa, it works")
    # Mentions arrive without author or conversation: comments with no author and no post.
    mentions = list(db.query("SELECT * FROM comments"))
    assert len(mentions) == result.stats.fetched - 2 > 0
    first = db.execute("SELECT author_key, post_id, is_official, lang, created_at FROM comments "
                       "WHERE native_id = '1578516295611748353'").fetchone()
    assert first == (None, None, 0, "en", "2022-10-07T22:43:06Z")
    # Cursors: the user id was resolved once; both streams advanced to their newest ids.
    assert queries.cursors(db, "x_twitter") == {
        "user_id": "783214", "tweets": "1577730467436138524",
        "mentions": mentions_newest(db)}


def mentions_newest(db) -> str:
    return db.execute("SELECT max(CAST(native_id AS INTEGER)) FROM comments").fetchone()[0].__str__()


def test_cassette_surrogate_pairs_survive(twitter_account, tmp_path):
    """Escaped surrogate pairs in the recorded JSON become real emoji, NFC text."""
    collector = XCollector(LiveTransport(), {"X_BEARER_TOKEN": "placeholder"},
                           [twitter_account], {"x_max_pages": 1})
    with replay(tmp_path):
        pages = data_pages(collector.pages(twitter_account, {}))
    ctx = Context(platform="x", account="x_twitter", secret=SECRET, tokenize=False)
    texts = [o.text for p in pages for o, _ in normalize_page(p, ctx) if not isinstance(o, Quarantine)]
    assert texts and all("\ud83d" not in t for t in texts)  # no lone surrogates


# --- the normalizer's quirks ---------------------------------------------------------------
CTX = Context(platform="x", account="x_seoulmania", secret=SECRET,
              official_handles=frozenset({"seoulmania", "seoul_bus"}), tokenize=False)


@pytest.mark.parametrize("payload, reason", [
    ("not a dict", "not an object"),
    ({"text": "no id"}, "numeric id"),
    ({"id": "12", "text": None}, "without text"),
    ({"id": "12", "text": "x", "created_at": "yesterday"}, "bad created_at"),
    ({"id": "12", "text": "RT @seoulmania: hi", "referenced_tweets":
      [{"type": "retweeted", "id": "11"}]}, "retweet"),
])
def test_bad_tweets_are_quarantined_with_reason(payload, reason):
    outcome = normalize_tweet(payload, {}, CTX)
    assert isinstance(outcome, Quarantine) and reason in outcome.reason


def test_reply_threading_official_and_edit():
    users = {"7": {"id": "7", "username": "Seoul_Bus", "name": "서울버스"},
             "9": {"id": "9", "username": "citizen", "name": "김민준"}}
    reply = {"id": "300", "text": "@seoulmania 답변드립니다 010-1234-5678 로 연락 주세요",
             "created_at": "2026-11-24T01:02:03.000Z", "author_id": "7",
             "conversation_id": "100", "edit_history_tweet_ids": ["200", "300"],
             "referenced_tweets": [{"type": "replied_to", "id": "150"}]}
    c = normalize_tweet(reply, users, CTX)
    assert isinstance(c, Comment)
    assert (c.id, c.post_id, c.parent_id) == ("x:200", "x:100", "x:150")  # stable id = first
    assert c.is_official == 1 and c.author_name == "서울버스"  # another city account answers
    assert c.edited_at == "2026-11-24T01:02:03Z" and c.created_at == snowflake_time("200")
    assert "010-1234-5678" not in c.text
    citizen = dict(reply, author_id="9", edit_history_tweet_ids=["300"],
                   referenced_tweets=[{"type": "replied_to", "id": "100"}])
    c = normalize_tweet(citizen, users, CTX)
    assert c.is_official == 0 and c.author_name is None and c.parent_id is None
    assert c.author_key and "9" not in c.author_key


def test_nfd_hangul_becomes_nfc():
    import unicodedata
    tweet = {"id": "5", "text": unicodedata.normalize("NFD", "택시요금 🚕"),
             "created_at": "2026-11-24T00:00:00Z"}
    c = normalize_tweet(tweet, {}, CTX)
    assert c.text == "택시요금 🚕" and unicodedata.is_normalized("NFC", c.text)


def test_post_of_city_account():
    users = {"1": {"id": "1", "username": "seoulmania", "name": "서울특별시"}}
    tweet = {"id": "100", "text": "공지", "created_at": "2026-11-24T00:00:00+09:00",
             "author_id": "1", "conversation_id": "100",
             "public_metrics": {"reply_count": 4, "like_count": 9}}
    p = normalize_tweet(tweet, users, CTX)
    assert isinstance(p, Post)
    assert (p.created_at, p.comment_count, p.like_count) == ("2026-11-23T15:00:00Z", 4, 9)


# --- the simulator end to end -------------------------------------------------------------
def served_counts(world: World, keys: list[str]) -> tuple[int, int]:
    posts = sum(len(world.visible_posts(k)) for k in keys)
    comments = sum(1 for k in keys for _ in world.all_comments(k))
    return posts, comments


def db_rows(path: Path) -> dict[str, list]:
    conn = sqlite3.connect(path)
    out = {}
    for table in ("posts", "comments"):
        cols = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")
                if r[1] not in ("first_seen", "last_seen")]
        out[table] = conn.execute(f"SELECT {', '.join(cols)} FROM {table} ORDER BY id").fetchall()
    conn.close()
    return out


def test_two_passes_store_what_was_served_once(accounts, db_path):
    xs = x_accounts(accounts)
    world = small_world(accounts)
    results, transport = sim_collect(db_path, accounts, world, platforms=("x",), x_page_size=10)
    assert all(r.status == "ok" for r in results) and len(results) == 31
    conn = sqlite3.connect(db_path)
    posts, comments = served_counts(world, [a.key for a in xs])
    assert conn.execute("SELECT count(*) FROM posts").fetchone()[0] == posts
    assert conn.execute("SELECT count(*) FROM comments").fetchone()[0] == comments
    assert conn.execute("SELECT count(DISTINCT account) FROM comments").fetchone()[0] == 31
    official = sum(1 for a in xs for c in world.all_comments(a.key) if c.official)
    assert conn.execute("SELECT sum(is_official) FROM comments").fetchone()[0] == official
    # Replies to replies are threaded under their parent comment.
    nested = sum(1 for a in xs for c in world.all_comments(a.key)
                 if c.parent is not None and c.parent.visible_at(world.now))
    assert conn.execute("SELECT count(*) FROM comments c JOIN comments p ON p.id = c.parent_id"
                        ).fetchone()[0] == nested
    before = db_rows(db_path)
    requests_first = sum(transport.requests.values())
    results, transport = sim_collect(db_path, accounts, world, platforms=("x",), x_page_size=10)
    assert sum(r.stats.inserted + r.stats.updated for r in results) == 0
    assert db_rows(db_path) == before
    # Nothing new: one request per stream (tweets, mentions) per account.
    assert sum(transport.requests.values()) == 2 * 31 < requests_first


def test_new_and_edited_tweets_arrive_on_the_next_pass(accounts, db_path):
    from datetime import timedelta

    world = small_world(accounts)
    sim_collect(db_path, accounts, world, platforms=("x",))
    post = world.visible_posts("x_seoul_bus")[0]
    new = world.add_comment(post, "버스 배차 간격 좀 줄여 주세요 🚌", created=world.now)
    world.advance(timedelta(minutes=5))
    results, _ = sim_collect(db_path, accounts, world, platforms=("x",))
    assert sum(r.stats.inserted for r in results) == 1
    conn = sqlite3.connect(db_path)
    text = conn.execute("SELECT text FROM comments WHERE text LIKE '%배차 간격 좀%'").fetchone()
    assert text and "🚌" in text[0]
    assert new.post is post


def test_run_interrupted_between_pages_resumes_without_loss_or_duplicates(accounts, tmp_path):
    """A 5xx storm after page k kills the pass; the next pass completes it exactly."""
    reference = tmp_path / "reference.db"
    sim_collect(reference, accounts, small_world(accounts), platforms=("x",), x_page_size=5)
    broken = tmp_path / "broken.db"
    for k in (1, 7, 40):
        if broken.exists():
            broken.unlink()
        world = small_world(accounts)
        storm = Fault("503", platform="x", after=k, times=-1)
        results, _ = sim_collect(broken, accounts, world, [storm], platforms=("x",),
                                 x_page_size=5)
        assert any(r.status == "failed" for r in results)
        assert any("gave up after 3 attempts" in (r.error or "") for r in results)
        sim_collect(broken, accounts, world, platforms=("x",), x_page_size=5)
        assert db_rows(broken) == db_rows(reference), f"interrupted after request {k}"


def test_rate_limit_stores_retry_after_and_skips_account(accounts, db_path):
    world = small_world(accounts)
    results, _ = sim_collect(db_path, accounts, world, [Fault("429", platform="x")],
                             platforms=("x",))
    limited = [r for r in results if r.status == "rate_limited"]
    assert len(limited) == 1 and limited[0].retry_after
    db = connect(db_path)
    assert queries.retry_after(db, limited[0].account) == limited[0].retry_after


def test_expired_token_names_the_variable(accounts, db_path):
    world = small_world(accounts)
    results, _ = sim_collect(db_path, accounts, world, [Fault("expired_token", platform="x")],
                             platforms=("x",))
    failed = [r for r in results if r.status == "auth"]
    assert len(failed) == 1 and "X_BEARER_TOKEN" in failed[0].error
    assert sum(r.status == "ok" for r in results) == 30  # the others went on
