"""Facebook Pages: recorded Graph responses through the real facebook-sdk, normalizer quirks,
and the simulator end to end into SQLite."""
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
from conftest import as_comment, as_post, as_quarantine, data_pages, rows, scans_completed
from conftest import sim_run as shared_sim_run

from collectors.base import Checkpoint, Page, ScanComplete
from collectors.facebook import FacebookCollector
from collectors.graph import GRAPH_VERSION
from collectors.http import TimeoutSession
from normalize.facebook import normalize_comment, normalize_page, normalize_post
from normalize.schema import Comment, Context, Post, Quarantine
from normalize.text import author_key
from core.accounts import Account
from pipeline.config import load_accounts
from simulator import World
from simulator.graph import Server

ROOT = Path(__file__).resolve().parent.parent
FIX = Path(__file__).resolve().parent / "fixtures" / "facebook-graph"
SECRET = b"test-secret"


def load(name: str) -> Any:
    return json.loads((FIX / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def fb_accounts() -> list[Account]:
    return [a for a in load_accounts(ROOT / "config" / "accounts.yaml") if a.platform == "facebook"]


def ctx_for(account_native_id: str = "19292868552", official: set[str] | None = None) -> Context:
    return Context(platform="facebook", account="fb_test", secret=SECRET,
                   official_ids=frozenset(official or {account_native_id}),
                   account_native_id=account_native_id)


class PlainTransport:
    """requests for real (`responses` intercepts them): the live path, offline."""

    def session(self):
        return TimeoutSession()

    def httplib2(self):  # pragma: no cover - not used by the Graph collectors
        raise NotImplementedError


def fb_account(native_id: str = "4") -> Account:
    return Account(key="fb_test", platform="facebook", handle="zuck", name="Test page",
                   owner="city", field="general", department="d", language="en",
                   credentials=("FB_PAGE_TOKEN_TEST",), interval_minutes=30, native_id=native_id)


# --- recorded responses through the real client --------------------------------------------
@responses.activate
def test_recorded_pages_through_facebook_sdk_collector_and_normalizer() -> None:
    posts_p1, posts_p2 = load("posts_feed_fields_p1.json"), load("posts_feed_fields_p2.json")
    com_p1, com_p2 = load("comments_comments_p1.json"), load("comments_comments_p2.json")
    seen: list[str] = []

    def posts(request):
        seen.append(request.url)
        query = parse_qs(urlsplit(request.url).query, keep_blank_values=True)
        assert query["access_token"] == ["tok"]
        body = posts_p2 if "__paging_token" in query else posts_p1
        return 200, {"content-type": "application/json; charset=UTF-8"}, json.dumps(body)

    def comments(request):
        seen.append(request.url)
        query = parse_qs(urlsplit(request.url).query)
        post = urlsplit(request.url).path.split("/")[2]
        assert query["filter"] == ["stream"] and query["access_token"] == ["tok"]
        if post != "4_10113477241177441":
            body = {"data": []}
        else:
            body = com_p2 if query.get("after") == ["after"] else com_p1
        return 200, {"content-type": "application/json; charset=UTF-8"}, json.dumps(body)

    responses.add_callback(responses.GET, f"https://graph.facebook.com/{GRAPH_VERSION}/4/posts",
                           callback=posts)
    responses.add_callback(
        responses.GET, re.compile(rf"https://graph\.facebook\.com/{GRAPH_VERSION}/4_\d+/comments"),
        callback=comments)
    collector = FacebookCollector(PlainTransport(), {"FB_PAGE_TOKEN_TEST": "tok"}, [],
                                  {"sleep": lambda s: None})
    events = list(collector.pages(fb_account("4"), {}))
    pages = data_pages(events)

    # the feed pages by `paging.next` (no cursors, a blank `since`): version ours, token ours
    assert all(f"/{GRAPH_VERSION}/" in url for url in seen)
    assert any("__paging_token=__paging_token" in url for url in seen)
    post_pages = [p for p in pages if p.kind == "post" and p.items]
    assert [len(p.items) for p in post_pages] == [5, 5]
    comment_pages = [p for p in pages if p.kind == "comment"]
    assert len(comment_pages) == 2 + 4  # two pages for the first post, one empty for the others
    # each post's scan completes right after its last comment page, the first post's after two
    first = events.index(comment_pages[0])
    assert isinstance(events[first + 1], Page)
    assert events[first + 2] == ScanComplete("4_10113477241177441")
    assert scans_completed(events)[0] == "4_10113477241177441"
    assert isinstance(events[-1], Checkpoint) and events[-1].cursor.stream == "posts"
    assert events[-1].cursor.value == "2021-07-04T19:50:58Z"

    ctx = ctx_for("4")
    outcomes = [pair for page in pages for pair in normalize_page(page, ctx)]
    items = sum(len(p.items) for p in pages)
    assert len(outcomes) == items  # a defined outcome for every item
    posts_out = [o for o, _ in outcomes if isinstance(o, Post)]
    assert posts_out[0] == Post(
        id="facebook:4_10113477241177441", platform="facebook", account="fb_test",
        native_id="4_10113477241177441", text="Happy July 4th! 🇺🇸", lang=posts_out[0].lang,
        created_at="2021-07-04T19:50:58Z")
    comments_out = [o for o, _ in outcomes if isinstance(o, Comment)]
    assert len(comments_out) == 15 and all(c.author_key is None for c in comments_out)
    assert all(c.post_id == "facebook:4_10113477241177441" for c in comments_out)


def test_recorded_comments_become_whole_records() -> None:
    page = Page(kind="comment", items=load("comments_comments_p1.json")["data"],
                includes={"post_id": "19292868552_10158407654328553"})
    pairs = normalize_page(page, ctx_for())
    assert [raw for _, raw in pairs] == page.items  # paired with the raw object, untouched
    first, reply = as_comment(pairs[0][0]), as_comment(pairs[7][0])
    assert first == Comment(
        id="facebook:10158407654328553_10158407835073553", platform="facebook",
        account="fb_test", native_id="10158407654328553_10158407835073553",
        post_id="facebook:19292868552_10158407654328553", parent_id=None, author_key=None,
        author_name=None, is_official=0,
        text="Boa noite peço ajuda  Como faço para usar a minha página como meu perfil?",
        lang=first.lang, created_at="2021-08-10T18:45:03Z", like_count=0, reply_count=1,
        url="https://www.facebook.com/19292868552/posts/10158407654328553/"
            "?comment_id=10158407835073553")
    # a reply's id and parent come from reply_comment_id / comment_id in its permalink
    assert reply.native_id == "10158407654328553_10158409984103553"
    assert reply.parent_id == "facebook:10158407654328553_10158407835073553"
    assert reply.created_at == "2021-08-11T23:23:06Z"
    assert reply.url is not None and "reply_comment_id=10158409984103553" in reply.url
    assert all(isinstance(o, Comment) for o, _ in pairs)


def test_recorded_posts_become_posts() -> None:
    pairs = normalize_page(Page(kind="post", items=load("posts_feed_fields_p2.json")["data"]),
                           ctx_for("4"))
    posts = [as_post(o) for o, _ in pairs]
    assert [p.native_id for p in posts] == [
        "4_10113477241177441", "4_10113449068715281", "4_10113400535556121",
        "4_10113332572050531", "4_10113319652002411"]
    assert posts[-1].created_at == "2021-06-22T18:06:08Z"
    assert all(p.comment_count is None and p.edited_at is None for p in posts)


# --- one test per quirk --------------------------------------------------------------------
def test_graph_time_with_offset_becomes_utc() -> None:
    c = as_comment(normalize_comment(
        {"id": "1_2", "message": "x", "created_time": "2021-08-10T18:45:03+0900"},
        ctx_for(), {"post_id": "9_1"}))
    assert c.created_at == "2021-08-10T09:45:03Z"


def test_missing_from_is_stored_without_author_and_not_official() -> None:
    c = normalize_comment({"id": "1_2", "message": "hi", "created_time": "2021-08-10T18:45:03+0000"},
                          ctx_for(), {"post_id": "19292868552_1"})
    assert isinstance(c, Comment) and c.author_key is None and c.is_official == 0
    assert c.author_name is None


def test_author_is_hashed_and_city_pages_are_official() -> None:
    base = {"id": "1_2", "message": "답변", "created_time": "2021-08-10T18:45:03+0000"}
    ctx = ctx_for("100", official={"100", "200"})
    citizen = as_comment(normalize_comment({**base, "from": {"id": "555", "name": "Kim"}}, ctx, {}))
    own = as_comment(normalize_comment({**base, "from": {"id": "100", "name": "Seoul"}}, ctx, {}))
    other = as_comment(
        normalize_comment({**base, "from": {"id": "200", "name": "Seoul Safety"}}, ctx, {}))
    assert citizen.author_key == author_key(SECRET, "facebook", "555")
    assert citizen.author_name is None and citizen.is_official == 0
    assert (own.is_official, own.author_name) == (1, "Seoul")
    assert (other.is_official, other.author_name) == (1, "Seoul Safety")
    # without includes, the post comes from the page id and the comment id's first part
    assert citizen.post_id == "facebook:100_1"


def test_comment_without_id_or_permalink_is_quarantined() -> None:
    q = normalize_comment({"message": "no id", "created_time": "2021-08-10T18:45:03+0000"},
                          ctx_for(), {"post_id": "1_2"})
    assert isinstance(q, Quarantine) and "without an id" in q.reason


def test_bad_items_are_quarantined_with_reasons() -> None:
    items: list[Any] = ["text", {"id": "1_2", "message": "x"},
                        {"id": "1_3", "created_time": "yesterday"}]  # not all objects
    out = normalize_page(Page(kind="comment", items=items), ctx_for())
    assert all(isinstance(o, Quarantine) for o, _ in out)
    bad = as_quarantine(out[1][0])
    assert bad.native_id == "1_2" and "created_time" in bad.reason


def test_reply_parent_hidden_and_attachment_only() -> None:
    c = as_comment(normalize_comment({"id": "1_3", "created_time": "2021-08-10T18:45:03+0000",
                                      "parent": {"id": "1_2"}, "is_hidden": True,
                                      "like_count": 3, "comment_count": 0},
                                     ctx_for(), {"post_id": "9_1"}))
    assert c.parent_id == "facebook:1_2" and c.hidden == 1 and c.text == "" and c.like_count == 3


def test_post_updated_time_counts_and_missing_message() -> None:
    p = as_post(normalize_post({"id": "9_1", "created_time": "2021-08-10T18:45:03+0000",
                                "updated_time": "2021-08-11T00:00:00+0000",
                                "permalink_url": "https://www.facebook.com/9/posts/1",
                                "comments": {"data": [], "summary": {"total_count": 12}},
                                "reactions": {"data": [], "summary": {"total_count": 40}}},
                               ctx_for()))
    assert (p.text, p.edited_at, p.comment_count, p.like_count) == (
        "", None, 12, 40)  # updated_time moves with comments: never an edit (point 9)
    same = as_post(normalize_post({"id": "9_2", "message": "m",
                                   "created_time": "2021-08-10T18:45:03+0000",
                                   "updated_time": "2021-08-10T18:45:03+0000"}, ctx_for()))
    assert same.edited_at is None
    assert isinstance(normalize_post({"message": "no id"}, ctx_for()), Quarantine)


def test_pii_is_masked_in_comments() -> None:
    c = as_comment(normalize_comment({"id": "1_2", "message": "연락처 010-2345-6789로 주세요",
                                      "created_time": "2021-08-10T18:45:03+0000"},
                                     ctx_for(), {}))
    assert "010-2345-6789" not in c.text


# --- the simulator, end to end -------------------------------------------------------------
sim_run = partial(shared_sim_run, platform="facebook")


def served_counts(world: World, accounts: list[Account]) -> dict[str, int]:
    server = Server(world)
    return {a.key: sum(len(server.served(p)) for p in world.visible_posts(a.key))
            for a in accounts}


def test_simulator_end_to_end(tmp_path: Path, fb_accounts: list[Account]) -> None:
    db = tmp_path / "smc.db"
    world = World(fb_accounts)
    results, transport = sim_run(db, fb_accounts, world, graph_page_size=4)
    assert {k: r.status for k, r in results.items()} == {a.key: "ok" for a in fb_accounts}
    # counts in the database equal what the simulator serves (small pages: paging happened)
    stored = dict(rows(db, "SELECT account, count(*) FROM comments WHERE deleted = 0 "
                           "GROUP BY account"))
    assert stored == served_counts(world, fb_accounts)
    posts = dict(rows(db, "SELECT account, count(*) FROM posts GROUP BY account"))
    assert posts == {a.key: len(world.visible_posts(a.key)) for a in fb_accounts}
    assert rows(db, "SELECT count(*) FROM quarantine") == [(0,)]
    assert any("after" in r.params for r in transport.log if r.path.endswith("/comments"))
    assert any("__paging_token" in r.params for r in transport.log if r.path.endswith("/posts"))
    # completeness: what the posts report equals what is stored
    gap = rows(db, "SELECT sum(p.comment_count), (SELECT count(*) FROM comments WHERE "
                   "deleted = 0) FROM posts p")
    assert gap[0][0] == gap[0][1]

    # threads: a reply hangs under its thread's top-level comment
    server = Server(world)
    table = {r[0]: r[1:] for r in rows(
        db, "SELECT id, parent_id, is_official, author_name, hidden FROM comments")}
    official = []
    for account in fb_accounts:
        for post in world.visible_posts(account.key):
            for c in server.served(post):
                parent, is_official, name, hidden = table[f"facebook:{post.seq}_{c.seq}"]
                assert parent == (None if c.parent is None
                                  else f"facebook:{post.seq}_{server.root(c).seq}")
                assert hidden == int(c.hidden)
                # official answers, also by a different city page, are marked
                assert is_official == int(c.official is not None)
                if c.official:
                    assert name == world.accounts[c.official].name
                    official.append((c, post))
    assert any(c.official != p.account for c, p in official)
    citizens = rows(db, "SELECT count(*) FROM comments WHERE is_official = 0 AND author_key "
                        "IS NULL")
    assert citizens == [(0,)]

    # a re-run adds nothing
    again, _ = sim_run(db, fb_accounts, world)
    assert sum(r.stats.inserted + r.stats.updated for r in again.values()) == 0
    assert all(r.status == "ok" for r in again.values())


def test_edits_deletions_and_lookback(tmp_path: Path, fb_accounts: list[Account]) -> None:
    db = tmp_path / "smc.db"
    world = World(fb_accounts)
    sim_run(db, fb_accounts, world)
    server = Server(world)
    posts = sorted(world.visible_posts("fb_seoul"), key=lambda p: p.created)
    newest = posts[-1]
    leaves = [c for c in server.served(newest)
              if not any(r.parent is c for r in server.served(newest))]
    edited, deleted = leaves[0], leaves[1]
    edited.edited_at, edited.edited_text = world.now + timedelta(minutes=5), "고쳐 쓴 의견입니다"
    deleted.deleted_at = world.now + timedelta(minutes=5)
    old = min(posts, key=lambda p: abs((world.now - p.created) - timedelta(days=5)))
    assert timedelta(days=3) < world.now - old.created < timedelta(days=7)
    world.advance(timedelta(hours=1))
    added = world.add_comment(old, "5일 전 게시물에 늦게 단 의견입니다")
    results, _ = sim_run(db, fb_accounts, world)
    assert results["fb_seoul"].status == "ok"

    row = rows(db, "SELECT text, edited_at, deleted FROM comments WHERE id = ?",
               f"facebook:{newest.seq}_{edited.seq}")[0]
    # Graph dates no edit: edited_at stays NULL, the earlier text is kept in versions
    assert row[0] == "고쳐 쓴 의견입니다" and row[1] is None and row[2] == 0
    assert [v for (v,) in rows(db, "SELECT text FROM versions WHERE id = ?",
                               f"facebook:{newest.seq}_{edited.seq}")] == [edited.text]
    kept = rows(db, "SELECT deleted, text FROM comments WHERE id = ?",
                f"facebook:{newest.seq}_{deleted.seq}")
    assert kept == [(1, "")]  # a tombstone: the row is kept, its words are not
    assert rows(db, "SELECT post_id, text FROM comments WHERE id = ?",
                f"facebook:{old.seq}_{added.seq}") == [
        (f"facebook:100000000000001_{old.seq}", "5일 전 게시물에 늦게 단 의견입니다")]
    stored = dict(rows(db, "SELECT account, count(*) FROM comments WHERE deleted = 0 "
                           "GROUP BY account"))
    assert stored == served_counts(world, fb_accounts)


def test_a_run_dying_before_a_scan_completes_tombstones_on_the_next_run(
        tmp_path: Path, fb_accounts: list[Account], monkeypatch: pytest.MonkeyPatch) -> None:
    """ScanComplete comes after the post's last comment page, in its own transaction: a run
    that dies between the two has stored the page (the edit) but no tombstone, and has not
    moved the posts cursor (a Checkpoint after every scan), so the next run scans the post
    again and tombstones the deleted comment."""
    db = tmp_path / "smc.db"
    accounts = fb_accounts[:1]
    world = World(accounts)
    sim_run(db, accounts, world)
    cursor = rows(db, "SELECT value FROM cursors WHERE account = 'fb_seoul' AND stream = 'posts'")
    newest = max(world.visible_posts("fb_seoul"), key=lambda p: p.created)
    served = Server(world).served(newest)
    edited, deleted = [c for c in served if not any(r.parent is c for r in served)][:2]
    edited.edited_at, edited.edited_text = world.now + timedelta(minutes=5), "고쳐 쓴 의견입니다"
    deleted.deleted_at = world.now + timedelta(minutes=5)
    world.advance(timedelta(hours=1))
    post_id = f"100000000000001_{newest.seq}"
    whole = FacebookCollector.pages

    def dies_before_the_scan_completes(self: FacebookCollector, account: Account,
                                       cursors: Any) -> Any:
        for event in whole(self, account, cursors):
            if event == ScanComplete(post_id):
                raise RuntimeError("killed")
            yield event

    monkeypatch.setattr(FacebookCollector, "pages", dies_before_the_scan_completes)
    results, _ = sim_run(db, accounts, world)
    assert results["fb_seoul"].status == "failed"

    def comment(c: Any) -> tuple:
        [(text, gone)] = rows(db, "SELECT text, deleted FROM comments WHERE id = ?",
                              f"facebook:{newest.seq}_{c.seq}")
        return text != "", gone

    assert rows(db, "SELECT text FROM comments WHERE id = ?",
                f"facebook:{newest.seq}_{edited.seq}") == [("고쳐 쓴 의견입니다",)]  # page stored
    assert comment(deleted) == (True, 0)  # not tombstoned: nothing is lost
    assert rows(db, "SELECT value FROM cursors WHERE account = 'fb_seoul' AND stream = "
                    "'posts'") == cursor
    monkeypatch.undo()
    results, transport = sim_run(db, accounts, world)
    assert results["fb_seoul"].status == "ok"
    assert any(r.path.endswith(f"/{post_id}/comments") for r in transport.log)
    assert comment(deleted) == (False, 1)
    stored = dict(rows(db, "SELECT account, count(*) FROM comments WHERE deleted = 0 "
                           "GROUP BY account"))
    assert stored == served_counts(world, accounts)


def test_lookback_limits_the_posts_rescanned(tmp_path: Path, fb_accounts: list[Account]) -> None:
    db = tmp_path / "smc.db"
    world = World(fb_accounts[:1])
    sim_run(db, fb_accounts[:1], world)
    cursor = rows(db, "SELECT value FROM cursors WHERE account = 'fb_seoul' AND stream = 'posts'")
    newest = max(p.created for p in world.visible_posts("fb_seoul"))
    assert cursor == [(newest.strftime("%Y-%m-%dT%H:%M:%SZ"),)]
    _, transport = sim_run(db, fb_accounts[:1], world, lookback_days=1)
    posts_req = next(r for r in transport.log if r.path.endswith("/posts"))
    assert int(posts_req.params["since"]) == int((newest - timedelta(days=1)).timestamp())
    scanned = {r.path.split("/")[2] for r in transport.log if r.path.endswith("/comments")}
    expect = {f"100000000000001_{p.seq}" for p in world.visible_posts("fb_seoul")
              if p.created >= newest - timedelta(days=1)}
    assert scanned == expect


def test_since_option_reads_no_further_back(tmp_path: Path, fb_accounts: list[Account]) -> None:
    """`collect --since` becomes Graph's own `since` filter on the posts listing."""
    world = World(fb_accounts)
    results, transport = sim_run(tmp_path / "since.db", fb_accounts, world,
                                 since="2026-11-22T00:00:00Z")
    assert all(r.status == "ok" for r in results.values())
    posts = [r for r in transport.log if r.path.endswith("/posts")]
    assert posts and all(r.params.get("since") == "1795305600" for r in posts)  # 2026-11-22
    stored = rows(tmp_path / "since.db", "SELECT min(created_at) FROM posts")[0][0]
    assert stored >= "2026-11-22T00:00:00Z"
