"""Instagram business accounts: recorded Graph responses through the real facebook-sdk,
normalizer quirks, and the simulator end to end into SQLite."""
from __future__ import annotations

import json
import re
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from conftest import (as_comment, as_post, as_quarantine, committed_cursors, data_pages, rows,
                      scans_completed)
from conftest import sim_run as shared_sim_run

from collectors.base import Page
from collectors.graph import GRAPH_VERSION
from collectors.http import TimeoutSession
from collectors.instagram import InstagramCollector
from normalize.instagram import normalize_page
from normalize.schema import Comment, Context, Post, Quarantine
from normalize.text import author_key
from core.accounts import Account
from pipeline.config import load_accounts
from simulator import World
from simulator.graph import COMMENT_BASE, MEDIA_BASE, Server

ROOT = Path(__file__).resolve().parent.parent
FIX = Path(__file__).resolve().parent / "fixtures" / "instagram-graph"
SECRET = b"test-secret"
JSON = {"content-type": "application/json; charset=UTF-8"}


def load(name: str) -> Any:
    return json.loads((FIX / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def ig_accounts() -> list[Account]:
    return [a for a in load_accounts(ROOT / "config" / "accounts.yaml")
            if a.platform == "instagram"]


def ctx_for(native: str = "17841406338772941", handles: set[str] | None = None) -> Context:
    return Context(platform="instagram", account="ig_test", secret=SECRET,
                   official_ids=frozenset({native}),
                   official_handles=frozenset(handles or {"seoul_official"}),
                   account_native_id=native)


class PlainTransport:
    def session(self):
        return TimeoutSession()

    def httplib2(self):  # pragma: no cover
        raise NotImplementedError


def ig_account(native: str = "17841406338772941") -> Account:
    return Account(key="ig_test", platform="instagram", handle="seoul_official", name="IG",
                   owner="city", field="general", department="d", language="ko",
                   credentials=("IG_ACCESS_TOKEN",), interval_minutes=30, native_id=native)


# --- recorded responses through the real client --------------------------------------------
@responses.activate
def test_recorded_pages_through_facebook_sdk_collector_and_normalizer() -> None:
    media_p1, media_p2 = load("users_medias_p1.json"), load("users_medias_p2.json")
    com_p1, com_p2 = load("medias_comments_p1.json"), load("medias_comments_p2.json")
    urls: list[str] = []

    def media(request):
        urls.append(request.url)
        query = parse_qs(urlsplit(request.url).query)
        return 200, JSON, json.dumps(media_p2 if query.get("after") == ["after"] else media_p1)

    def comments(request):
        urls.append(request.url)
        query = parse_qs(urlsplit(request.url).query)
        assert "replies{" in query["fields"][0]
        if "/17896622936197745/" not in request.url:  # the media with 6 comments
            return 200, JSON, json.dumps({"data": []})
        return 200, JSON, json.dumps(com_p2 if query.get("after") == ["after"] else com_p1)

    responses.add_callback(
        responses.GET, f"https://graph.facebook.com/{GRAPH_VERSION}/17841406338772941/media",
        callback=media)
    responses.add_callback(
        responses.GET, re.compile(rf"https://graph\.facebook\.com/{GRAPH_VERSION}/\d+/comments"),
        callback=comments)
    collector = InstagramCollector(PlainTransport(), {"IG_ACCESS_TOKEN": "tok"}, [],
                                   {"sleep": lambda s: None})
    events = list(collector.pages(ig_account(), {}))
    pages = data_pages(events)
    assert all("access_token=tok" in u and f"/{GRAPH_VERSION}/" in u for u in urls)
    assert [len(p.items) for p in pages if p.kind == "post" and p.items] == [2, 2]
    scanned = scans_completed(events)
    assert scanned == ["17895731045244887", "17896622936197745", "17896129349106152",
                       "17893085207160254"]
    cursors = {c.stream: c.value for c in committed_cursors(events)}
    assert cursors == {"media": "2021-08-13T08:25:28Z", "comments": "2020-06-01T10:56:52Z"}

    ctx = ctx_for()
    outcomes = [pair for page in pages for pair in normalize_page(page, ctx)]
    assert len(outcomes) == sum(len(p.items) for p in pages)  # an outcome for every item
    posts = [o for o, _ in outcomes if isinstance(o, Post)]
    assert posts[1] == Post(
        id="instagram:17896622936197745", platform="instagram", account="ig_test",
        native_id="17896622936197745", text="", lang=posts[1].lang,
        created_at="2021-08-13T08:02:40Z", url="https://www.instagram.com/p/CSgdWACBeKr/",
        like_count=2, comment_count=6)
    assert posts[2].text == "ALBUM"
    comments_out = [o for o, _ in outcomes if isinstance(o, Comment)]
    assert [c.native_id for c in comments_out] == [
        "17858154961981086", "17874875428706419", "17892250648466172", "17914413430382429"]
    first = comments_out[0]
    assert first == Comment(
        id="instagram:17858154961981086", platform="instagram", account="ig_test",
        native_id="17858154961981086", post_id="instagram:17896622936197745", parent_id=None,
        author_key=None, author_name=None, is_official=0, text="Beautiful!", lang=first.lang,
        created_at="2020-06-01T10:56:52Z", tokens=first.tokens)


def test_recorded_fields_and_replies() -> None:
    by_id = load("comments_comments_fields.json")  # an ?ids= answer: {id: comment}
    pairs = normalize_page(Page(kind="comment", items=list(by_id.values()),
                                includes={"post_id": "17846368219941692"}),
                           ctx_for(handles={"ikroskun"}))
    official, citizen = as_comment(pairs[0][0]), as_comment(pairs[1][0])
    assert official.is_official == 1 and official.author_name == "ikroskun"
    assert official.like_count == 1 and official.created_at == "2020-02-24T09:15:16Z"
    assert citizen.is_official == 0 and citizen.author_name is None
    assert citizen.author_key == author_key(SECRET, "instagram", "@lixiangguodu123")
    replies = normalize_page(Page(kind="comment", items=load("comments_replies.json")["data"],
                                  includes={"post_id": "17846368219941692",
                                            "parent_id": "17858154961981086"}), ctx_for())
    reply = as_comment(replies[0][0])
    assert reply.parent_id == "instagram:17858154961981086"
    assert reply.post_id == "instagram:17846368219941692"
    assert reply.text == "@사용자 nihao" and reply.created_at == "2020-08-07T03:30:06Z"


# --- one test per quirk --------------------------------------------------------------------
def test_nested_replies_become_threaded_comments_paired_with_their_raw() -> None:
    reply = {"id": "2", "text": "답변드립니다", "timestamp": "2026-11-24T01:00:00+0000",
             "username": "Seoul_Official", "from": {"id": "17841406338772941",
                                                    "username": "seoul_official"}}
    top = {"id": "1", "text": "질문", "timestamp": "2026-11-24T00:00:00+0000", "username": "kim",
           "from": {"id": "999", "username": "kim"}, "hidden": True, "like_count": 2,
           "replies": {"data": [reply]}}
    pairs = normalize_page(Page(kind="comment", items=[top], includes={"post_id": "5"}),
                           ctx_for())
    (o1, raw_c), (o2, raw_r) = pairs
    c, r = as_comment(o1), as_comment(o2)
    # the comment's raw object keeps all but its replies (they keep their own)
    assert raw_c == {**top, "replies": {}} and raw_r is reply
    assert c.author_key == author_key(SECRET, "instagram", "999") and c.hidden == 1
    assert c.reply_count == 1 and c.parent_id is None and c.is_official == 0
    assert r.parent_id == "instagram:1" and r.post_id == "instagram:5"
    assert r.is_official == 1 and r.author_name == "Seoul_Official"


def test_comment_without_id_or_time_is_quarantined_and_its_replies_too() -> None:
    items: list[Any] = [{"text": "no id", "timestamp": "2026-11-24T00:00:00+0000",
                         "replies": {"data": [{"id": "3", "text": "r", "timestamp":
                                               "2026-11-24T00:00:00+0000"}]}},
                        {"id": "4", "text": "no time"}, 17]  # the last is not an object
    pairs = normalize_page(Page(kind="comment", items=items), ctx_for())
    assert len(pairs) == 4 and all(isinstance(o, Quarantine) for o, _ in pairs)
    quarantined = [as_quarantine(o) for o, _ in pairs]
    assert "without an id" in quarantined[0].reason and quarantined[1].native_id == "3"
    assert quarantined[2].native_id == "4"


def test_media_without_caption_and_bad_media() -> None:
    pairs = normalize_page(Page(kind="post", items=[
        {"id": "9", "timestamp": "2026-11-24T00:00:00+0900", "comments_count": 3},
        {"caption": "no id"}]), ctx_for())
    media = as_post(pairs[0][0])
    assert media.text == "" and media.created_at == "2026-11-23T15:00:00Z"
    assert media.comment_count == 3
    assert isinstance(pairs[1][0], Quarantine)


# --- the simulator, end to end -------------------------------------------------------------
sim_run = partial(shared_sim_run, platform="instagram")


def served_counts(world: World, accounts: list[Account]) -> dict[str, int]:
    server = Server(world)
    return {a.key: sum(len(server.served(p)) for p in world.visible_posts(a.key))
            for a in accounts}


def cid(comment: Any) -> str:
    return f"instagram:{COMMENT_BASE + comment.seq}"


def test_simulator_end_to_end(tmp_path: Path, ig_accounts: list[Account]) -> None:
    db = tmp_path / "smc.db"
    world = World(ig_accounts)
    results, transport = sim_run(db, ig_accounts, world, graph_page_size=3)
    assert {k: r.status for k, r in results.items()} == {a.key: "ok" for a in ig_accounts}
    stored = dict(rows(db, "SELECT account, count(*) FROM comments WHERE deleted = 0 "
                           "GROUP BY account"))
    assert stored == served_counts(world, ig_accounts)
    assert rows(db, "SELECT count(*) FROM quarantine") == [(0,)]
    assert any("after" in r.params for r in transport.log if r.path.endswith("/media"))
    gap = rows(db, "SELECT sum(comment_count), (SELECT count(*) FROM comments WHERE "
                   "deleted = 0) FROM posts")
    assert gap[0][0] == gap[0][1]

    server = Server(world)
    answers = []
    for account in ig_accounts:
        for post in world.visible_posts(account.key):
            for c in server.served(post):
                parent, official, post_id = rows(
                    db, "SELECT parent_id, is_official, post_id FROM comments WHERE id = ?",
                    cid(c))[0]
                assert post_id == f"instagram:{MEDIA_BASE + post.seq}"
                assert parent == (None if c.parent is None else cid(server.root(c)))
                assert official == int(c.official is not None)
                if c.official:
                    answers.append((c, post))
    assert any(c.official != p.account for c, p in answers)  # another city account answered

    again, _ = sim_run(db, ig_accounts, world)
    assert sum(r.stats.inserted + r.stats.updated for r in again.values()) == 0


def test_edits_deletions_and_lookback(tmp_path: Path, ig_accounts: list[Account]) -> None:
    db = tmp_path / "smc.db"
    accounts = ig_accounts[:1]
    world = World(accounts)
    sim_run(db, accounts, world)
    server = Server(world)
    posts = sorted(world.visible_posts("ig_seoul"), key=lambda p: p.created)
    newest = posts[-1]
    tops = [c for c in server.served(newest) if c.parent is None
            and not any(r.parent is c for r in server.served(newest))]
    edited, deleted = tops[0], tops[1]
    edited.edited_at, edited.edited_text = world.now + timedelta(minutes=5), "수정된 댓글"
    deleted.deleted_at = world.now + timedelta(minutes=5)
    mid = min(posts, key=lambda p: abs((world.now - p.created) - timedelta(days=5)))
    assert timedelta(days=3) < world.now - mid.created < timedelta(days=7)
    world.advance(timedelta(hours=1))
    late = world.add_comment(mid, "5일 전 사진에 새 댓글")
    reply = world.add_comment(mid, "새 댓글에 답합니다", parent=late, official="ig_seoul")
    results, _ = sim_run(db, accounts, world)
    assert results["ig_seoul"].status == "ok"
    assert rows(db, "SELECT text, edited_at IS NOT NULL FROM comments WHERE id = ?",
                cid(edited)) == [("수정된 댓글", 0)]  # Graph dates no edit
    assert rows(db, "SELECT text FROM versions WHERE id = ?", cid(edited)) == [(edited.text,)]
    assert rows(db, "SELECT deleted FROM comments WHERE id = ?", cid(deleted)) == [(1,)]
    assert rows(db, "SELECT parent_id, is_official FROM comments WHERE id = ?", cid(reply)) == [
        (cid(late), 1)]
    assert rows(db, "SELECT post_id FROM comments WHERE id = ?", cid(late)) == [
        (f"instagram:{MEDIA_BASE + mid.seq}",)]
    stored = dict(rows(db, "SELECT account, count(*) FROM comments WHERE deleted = 0 "
                           "GROUP BY account"))
    assert stored == served_counts(world, accounts)


def test_older_media_are_read_down_to_the_comments_cursor(tmp_path: Path,
                                                          ig_accounts: list[Account]) -> None:
    """Outside the window: only the media on the last media page, only new comments."""
    db = tmp_path / "smc.db"
    accounts = ig_accounts[:1]
    world = World(accounts)
    sim_run(db, accounts, world, graph_page_size=2)
    server = Server(world)
    posts = sorted(world.visible_posts("ig_seoul"), key=lambda p: p.created, reverse=True)
    window = posts[0].created - timedelta(days=1)
    first_old = next(i for i, p in enumerate(posts) if p.created < window)
    boundary = posts[first_old // 2 * 2: first_old // 2 * 2 + 2]
    partial = next(p for p in boundary if p.created < window)
    unread = posts[first_old // 2 * 2 + 2:]
    assert unread
    gone = next(c for c in server.served(partial) if c.parent is None
                and not any(r.parent is c for r in server.served(partial)))
    gone.deleted_at = world.now + timedelta(minutes=1)
    world.advance(timedelta(hours=1))
    new = world.add_comment(partial, "오래된 사진에 새 댓글")
    results, transport = sim_run(db, accounts, world, graph_page_size=2, lookback_days=1)
    assert results["ig_seoul"].status == "ok"
    assert rows(db, "SELECT count(*) FROM comments WHERE id = ?", cid(new)) == [(1,)]
    # a partial read proves nothing about deletions: no tombstone there
    assert rows(db, "SELECT deleted FROM comments WHERE id = ?", cid(gone)) == [(0,)]
    read = {r.path.split("/")[2] for r in transport.log if r.path.endswith("/comments")}
    assert not read & {str(MEDIA_BASE + p.seq) for p in unread}
    partial_reads = [r for r in transport.log
                     if r.path.endswith(f"/{MEDIA_BASE + partial.seq}/comments")]
    assert len(partial_reads) == 1  # newest first: the first page reached the cursor
