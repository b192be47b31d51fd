"""YouTube: googleapiclient replaying real recorded responses, the normalizer's quirks, and the
simulator end to end."""
from __future__ import annotations

import copy
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import as_comment, as_post, committed_cursors, data_pages, scans_completed
from googleapiclient.http import HttpMockSequence

from core.errors import AuthFailed, PermissionMissing
from collectors.base import Event, Page, Spend, spent
from collectors.youtube import YouTubeCollector
from normalize.schema import Comment, Context, Outcome, Post, Quarantine, Skipped
from normalize.text import author_key
from normalize.youtube import normalize_page
from core.accounts import Account
from pipeline.config import load_accounts
from pipeline.runner import RunOptions, collect, simulated_environ
from simulator import Fault, SimTransport, World
from store import queries
from store.db import connect
from store.writer import Writer

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "youtube-data-v3"
SECRET = b"test-secret"
CHANNEL = "UC_x5XG1OV2P6uZZ5FSM9Ttw"  # the channel of the recorded threads
KEY_ENV = "YOUTUBE_API_KEY"
API_KEY = "AIza-test-key-never-in-messages"
VIDEO = "F1UP7wRCPH8"


# --- helpers -----------------------------------------------------------------------------------
def fixture(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def ok(body: Any) -> tuple[dict, str]:
    return ({"status": "200"}, body if isinstance(body, str) else json.dumps(body))


def fail(status: int, body: Any) -> tuple[dict, str]:
    return ({"status": str(status)}, body if isinstance(body, str) else json.dumps(body))


class MockTransport:
    """A Transport whose httplib2 is googleapiclient's own HttpMockSequence."""

    def __init__(self, responses: list[tuple[dict, str]]):
        self.http = HttpMockSequence(responses)

    def httplib2(self) -> HttpMockSequence:
        return self.http

    def session(self):  # pragma: no cover - YouTube never asks for a requests session
        raise AssertionError("googleapiclient uses httplib2")

    def calls(self) -> list[tuple[str, dict[str, str]]]:
        out = []
        for uri, *_ in self.http.request_sequence:
            parts = urlsplit(uri)
            out.append((parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()}))
        return out


def account(**overrides: Any) -> Account:
    base: dict[str, Any] = dict(
        key="yt_test", platform="youtube", handle="googledevs", name="Google Developers",
        owner="city", field="general", department="test", language="en",
        credentials=(KEY_ENV,), interval_minutes=60, native_id=CHANNEL)
    base.update(overrides)
    return Account(**base)


def collector(transport: Any, accounts: list[Account] | None = None, **options: Any):
    opts = {"lookback_days": 7, "live_seconds": 0, "youtube_quota": 10_000, "quota_used": 0,
            "sleep": lambda s: None, **options}
    return YouTubeCollector(transport=transport, environ={KEY_ENV: API_KEY},
                            accounts=accounts or [account()], options=opts)


def ctx(**overrides: Any) -> Context:
    base: dict[str, Any] = dict(platform="youtube", account="yt_test", secret=SECRET,
                                official_ids=frozenset({CHANNEL}), account_native_id=CHANNEL)
    base.update(overrides)
    return Context(**base)


def records(events: list[Event], context: Context | None = None) -> list[Outcome]:
    out: list[Outcome] = []
    for page in data_pages(events):
        out.extend(o for o, _ in normalize_page(page, context or ctx()))
    return out


CHANNELS = {"kind": "youtube#channelListResponse", "items": [
    {"kind": "youtube#channel", "id": CHANNEL,
     "contentDetails": {"relatedPlaylists": {"uploads": "UU" + CHANNEL[2:]}}}]}
PLAYLIST: dict[str, Any] = {"kind": "youtube#playlistItemListResponse", "items": [
    {"kind": "youtube#playlistItem", "id": "PLI1",
     "snippet": {"publishedAt": "2019-11-13T18:00:00Z", "title": "Chrome Dev Summit",
                 "resourceId": {"kind": "youtube#video", "videoId": VIDEO}},
     "contentDetails": {"videoId": VIDEO, "videoPublishedAt": "2019-11-13T17:55:00Z"}}]}
VIDEOS: dict[str, Any] = {"kind": "youtube#videoListResponse", "items": [
    {"kind": "youtube#video", "id": VIDEO,
     "snippet": {"publishedAt": "2019-11-13T17:55:00Z", "channelId": CHANNEL,
                 "title": "Keynote (Chrome Dev Summit 2019)",
                 "description": "Ben Galbraith &amp; Dion Almaer open the summit."},
     "statistics": {"viewCount": "100", "likeCount": "12", "commentCount": "7"}}]}


def replay_sequence() -> list[tuple[dict, str]]:
    """The requests one first pass makes, answered by the recorded pages."""
    return [
        ok(CHANNELS), ok(PLAYLIST), ok(VIDEOS),
        ok(fixture("comment_threads_by_video_paged_1.json")),
        ok(fixture("comments_by_parent_paged_1.json")),  # thread UgwI_... has 2 replies, 0 carried
        ok(fixture("comments_by_parent_paged_2.json")),
        ok(fixture("comment_threads_by_video_paged_2.json")),  # repeats page 1's threads
        ok(fixture("comments_by_parent_paged_1.json")),
        ok(fixture("comments_by_parent_paged_2.json")),
    ]


# --- googleapiclient replaying recorded responses ---------------------------------------------
def test_replay_requests_and_pages() -> None:
    transport = MockTransport(replay_sequence())
    pages = list(collector(transport).pages(account(), {}))
    calls = transport.calls()
    assert [path for path, _ in calls] == [
        "/youtube/v3/channels", "/youtube/v3/playlistItems", "/youtube/v3/videos",
        "/youtube/v3/commentThreads", "/youtube/v3/comments", "/youtube/v3/comments",
        "/youtube/v3/commentThreads", "/youtube/v3/comments", "/youtube/v3/comments",
    ]
    assert all(params["key"] == API_KEY for _, params in calls)
    threads = calls[3][1]
    assert threads == {"key": API_KEY, "alt": "json", "part": "snippet,replies",
                       "allThreadsRelatedToChannelId": CHANNEL, "order": "time",
                       "textFormat": "plainText", "maxResults": "100"}
    assert calls[6][1]["pageToken"].startswith("QURTSl9p")  # nextPageToken of page 1
    replies = calls[4][1]
    assert replies["parentId"] == "UgwI_ylXVnzPS8Q-oAV4AaABAg"
    assert replies["textFormat"] == "plainText" and "pageToken" not in replies
    assert calls[5][1]["pageToken"].startswith("R0FJeVZnbzBJ")
    assert calls[2][1]["part"] == "snippet,statistics,liveStreamingDetails"
    # the quota ledger: every call's units ride on the pages, 1 unit each
    assert sum(spent(e).units for e in pages) == 9 == len(calls)
    assert sum(spent(e).requests for e in pages) == 9
    cursors = {c.stream: c.value for c in committed_cursors(pages)}
    assert cursors == {"uploads": "UU" + CHANNEL[2:], "videos": "2019-11-13T17:55:00Z",
                       "threads": "2019-11-26T15:51:44Z|UgyZ1jqkHKYvi1-ruOZ4AaABAg"}
    # the whole thread list was read (no nextPageToken at the end): the video may tombstone
    assert scans_completed(pages) == [VIDEO]
    reply_pages = [p for p in data_pages(pages)
                   if p.items and p.items[0].get("kind") == "youtube#comment"]
    assert all(p.includes["thread"] == {"id": "UgwI_ylXVnzPS8Q-oAV4AaABAg", "videoId": VIDEO}
               for p in reply_pages)


def test_replay_records_whole() -> None:
    pages = list(collector(MockTransport(replay_sequence())).pages(account(), {}))
    out = records(pages)
    assert not [o for o in out if isinstance(o, Quarantine)]
    posts = [o for o in out if isinstance(o, Post)]
    assert posts == [Post(
        id=f"youtube:{VIDEO}", platform="youtube", account="yt_test", native_id=VIDEO,
        text="Ben Galbraith &amp; Dion Almaer open the summit.", lang="en",
        created_at="2019-11-13T17:55:00Z", url=f"https://www.youtube.com/watch?v={VIDEO}",
        title="Keynote (Chrome Dev Summit 2019)", like_count=12, comment_count=7)]
    comments = {c.id: c for c in out if isinstance(c, Comment)}
    assert len(comments) == 5 + 3  # 5 threads (twice), 3 replies (twice): upserts, same ids
    top = comments["youtube:UgwI_ylXVnzPS8Q-oAV4AaABAg"]
    assert top._asdict() == {
        "id": "youtube:UgwI_ylXVnzPS8Q-oAV4AaABAg", "platform": "youtube", "account": "yt_test",
        "native_id": "UgwI_ylXVnzPS8Q-oAV4AaABAg", "post_id": f"youtube:{VIDEO}",
        "parent_id": None,
        "author_key": author_key(SECRET, "youtube", "UCACHW4qVHoE4zqhHxcVE3Kw"),
        "author_name": None, "is_official": 0,
        "text": "Lot's of good light coming in from here #ChromeDevSummit the web is evolving "
                "at a very fast rate, keeping pace with all this advancement can really get you "
                "gasping for breath. But here is #chromedevsummit packing it and shooting at me "
                "as one bullet. I really appreciate the work you guys are doing here.",
        "lang": "en", "created_at": "2019-11-14T23:31:33Z", "district": None,
        "category": None, "crisis": None, "edited_at": None, "like_count": 0, "reply_count": 2,
        "url": f"https://www.youtube.com/watch?v={VIDEO}&lc=UgwI_ylXVnzPS8Q-oAV4AaABAg",
        "deleted": 0, "hidden": 0, "tokens": None, "keywords": None, "restricted": None,
        "restricted_countries": None, "version_id": None, "edit_ids": None,
        "suggested_department": None, "suggestion_reason": None, "abusive": None,  # no tagger
    }
    reply = comments["youtube:Ugw5zYU6n9pmIgAZWvN4AaABAg.91zT3cYb5B291za6voUoRh"]
    assert reply == Comment(
        id="youtube:Ugw5zYU6n9pmIgAZWvN4AaABAg.91zT3cYb5B291za6voUoRh", platform="youtube",
        account="yt_test", native_id="Ugw5zYU6n9pmIgAZWvN4AaABAg.91zT3cYb5B291za6voUoRh",
        post_id=f"youtube:{VIDEO}", parent_id="youtube:Ugw5zYU6n9pmIgAZWvN4AaABAg",
        author_key=author_key(SECRET, "youtube", "UCNvMBmCASzTNNX8lW3JRMbw"), author_name=None,
        is_official=0, text="this is the third reply!", lang="en",
        created_at="2019-12-01T04:46:31Z", like_count=0,
        url=f"https://www.youtube.com/watch?v={VIDEO}"
            "&lc=Ugw5zYU6n9pmIgAZWvN4AaABAg.91zT3cYb5B291za6voUoRh")
    for c in comments.values():
        assert c.created_at.endswith("Z") and len(c.created_at) == 20
        assert "<" not in c.text and "&#39;" not in c.text and "&quot;" not in c.text
        assert c.author_key and c.author_key != "UCNvMBmCASzTNNX8lW3JRMbw"
    assert comments["youtube:UgyZ1jqkHKYvi1-ruOZ4AaABAg"].text == "Google.com"
    assert "\n" in comments["youtube:UgyKv8ziPYFJDGytM_J4AaABAg"].text  # <br /> as typed


def test_channel_level_threads_have_no_post() -> None:
    items = json.loads(fixture("comment_threads_by_channel.json"))["items"]
    page = Page(kind="comment", items=items)
    out = [as_comment(o) for o in records([page])]
    assert [(c.native_id, c.post_id, c.created_at, c.text) for c in out] == [
        ("UgyUBI0HsgL9emxcZpR4AaABAg", None, "2019-06-23T02:49:00Z", "Hello"),
        ("Ugzi3lkqDPfIOirGFLh4AaABAg", None, "2018-05-26T20:11:30Z", "exceptional content!"),
    ]
    assert all(c.url is None and c.parent_id is None and c.reply_count == 0 for c in out)


def test_permission_error_fixture_names_the_env_var() -> None:
    transport = MockTransport([fail(403, fixture("error_permission_resp.json"))])
    with pytest.raises(PermissionMissing) as err:
        list(collector(transport).pages(account(), {}))
    message = str(err.value)
    assert KEY_ENV in message and "channels.list" in message and "403" in message
    assert API_KEY not in message


def test_key_invalid_is_auth_failed() -> None:
    body = {"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.",
                      "errors": [{"message": "API key not valid. Please pass a valid API key.",
                                  "domain": "usageLimits", "reason": "keyInvalid"}],
                      "status": "INVALID_ARGUMENT"}}
    with pytest.raises(AuthFailed) as err:
        list(collector(MockTransport([fail(400, body)])).pages(account(), {}))
    assert KEY_ENV in str(err.value) and API_KEY not in str(err.value)


def test_failed_call_still_reaches_the_ledger() -> None:
    pages = []
    with pytest.raises(PermissionMissing):
        for page in collector(MockTransport(
                [fail(403, fixture("error_permission_resp.json"))])).pages(account(), {}):
            pages.append(page)
    assert pages == [Spend(requests=1, units=1)]  # nothing to store, the unit on the ledger


def test_stored_cursor_stops_the_pass_and_skips_channels_list() -> None:
    page1 = json.loads(fixture("comment_threads_by_video_paged_1.json"))
    transport = MockTransport([
        ok(PLAYLIST), ok(VIDEOS), ok(page1),
        ok(fixture("comments_by_parent_paged_1.json")),
        ok(fixture("comments_by_parent_paged_2.json")),
    ])
    cursors = {"uploads": "UU" + CHANNEL[2:], "videos": "2019-11-13T17:55:00Z",
               # the newest thread stored last time is the 2nd one on the page
               "threads": "2019-11-21T19:18:39Z|Ugy4OzAuz5uJuFt3FH54AaABAg"}
    pages = list(collector(transport, lookback_days=1).pages(account(), cursors))
    assert [p for p, _ in transport.calls()][0] == "/youtube/v3/playlistItems"
    # the old cursor was reached on page 1 and the look-back (1 day before it) ends on page 1
    assert len(transport.calls()) == 5
    cursor = [c for c in committed_cursors(pages) if c.stream == "threads"]
    assert [c.value for c in cursor] == ["2019-11-26T15:51:44Z|UgyZ1jqkHKYvi1-ruOZ4AaABAg"]
    assert not scans_completed(pages)  # not a full scan: no tombstones


def test_thread_without_top_level_comment_deletes_nothing() -> None:
    page = json.loads(fixture("comment_threads_by_video_paged_2.json"))
    del page["items"][0]["snippet"]["topLevelComment"]
    page["items"][4]["snippet"]["totalReplyCount"] = 0
    transport = MockTransport([ok(CHANNELS), ok(PLAYLIST), ok(VIDEOS), ok(page)])
    pages = list(collector(transport).pages(account(), {}))
    assert not scans_completed(pages)
    out = records(pages)
    bad = [o for o in out if isinstance(o, Quarantine)]
    assert bad == [Quarantine("commentThread without its topLevelComment",
                              "UgyZ1jqkHKYvi1-ruOZ4AaABAg")]
    assert len([o for o in out if isinstance(o, Comment)]) == 4


# --- the normalizer's quirks ----------------------------------------------------------------
def thread_item() -> dict:
    return copy.deepcopy(json.loads(fixture("comment_threads_by_video_paged_1.json"))["items"][4])


def test_text_display_html_is_stripped_when_text_original_is_missing() -> None:
    item = thread_item()
    del item["snippet"]["topLevelComment"]["snippet"]["textOriginal"]
    [(o, raw)] = normalize_page(Page(kind="comment", items=[item]), ctx())
    c = as_comment(o)
    assert c.text.startswith("Lot's of good light coming in from here #ChromeDevSummit the web")
    assert "<a" not in c.text and "&#39;" not in c.text and "href" not in c.text
    assert "replies" not in raw and raw["id"] == item["id"]


def test_br_in_text_display_becomes_a_newline() -> None:
    item = copy.deepcopy(json.loads(fixture("comment_threads_by_video_paged_1.json"))["items"][3])
    del item["snippet"]["topLevelComment"]["snippet"]["textOriginal"]
    [(o, _)] = normalize_page(Page(kind="comment", items=[item]), ctx())
    c = as_comment(o)
    assert "fordata show\n" in c.text and "<br" not in c.text


def test_updated_at_is_an_edit() -> None:
    item = thread_item()
    item["snippet"]["topLevelComment"]["snippet"]["updatedAt"] = "2019-11-15T01:02:03.000Z"
    [(o, _)] = normalize_page(Page(kind="comment", items=[item]), ctx())
    c = as_comment(o)
    assert c.edited_at == "2019-11-15T01:02:03Z" and c.created_at == "2019-11-14T23:31:33Z"


def test_carried_replies_thread_and_the_channel_answers_officially() -> None:
    item = thread_item()
    top_id = item["id"]
    reply: dict[str, Any] = {
        "kind": "youtube#comment", "id": f"{top_id}.answer1",
        "snippet": {"authorDisplayName": "Google Developers",
                    "authorChannelId": {"value": CHANNEL}, "parentId": top_id,
                    "textDisplay": "Thanks &amp; welcome!",
                    "textOriginal": "Thanks & welcome!",
                    "likeCount": 3, "publishedAt": "2019-11-15T09:00:00Z",
                    "updatedAt": "2019-11-15T09:00:00Z"}}
    other_city = dict(reply, id=f"{top_id}.answer2",
                      snippet={**reply["snippet"], "authorChannelId": {"value": "UCcity2"},
                               "authorDisplayName": "Seoul EN"})
    item["replies"] = {"comments": [reply, other_city]}
    out = normalize_page(Page(kind="comment", items=[item]),
                         ctx(official_ids=frozenset({CHANNEL, "UCcity2"})))
    [(top, _), (answer, raw), (answer2, _)] = [(as_comment(o), r) for o, r in out]
    assert top.is_official == 0 and top.author_name is None
    assert raw is reply
    assert (answer.parent_id, answer.post_id, answer.is_official, answer.author_name,
            answer.text, answer.like_count) == (
        f"youtube:{top_id}", f"youtube:{VIDEO}", 1, "Google Developers", "Thanks & welcome!", 3)
    assert answer2.is_official == 1 and answer2.author_name == "Seoul EN"


@pytest.mark.parametrize("mutate, reason", [
    (lambda t: t["snippet"]["topLevelComment"]["snippet"].pop("publishedAt"),
     "top-level comment: comment without publishedAt"),
    (lambda t: t["snippet"]["topLevelComment"]["snippet"].update(publishedAt="yesterday"),
     "top-level comment: comment has an unreadable publishedAt 'yesterday'"),
    (lambda t: [t["snippet"]["topLevelComment"]["snippet"].pop(k)
                for k in ("textOriginal", "textDisplay")],
     "top-level comment: comment without textOriginal or textDisplay"),
    (lambda t: t.pop("snippet"), "commentThread without a snippet"),
    (lambda t: t.update(kind="youtube#somethingNew"),
     "unknown youtube item kind 'youtube#somethingNew'"),
])
def test_missing_fields_quarantine(mutate, reason) -> None:
    item = thread_item()
    mutate(item)
    [(q, raw)] = normalize_page(Page(kind="comment", items=[item]), ctx())
    assert q == Quarantine(reason, "UgwI_ylXVnzPS8Q-oAV4AaABAg")


def test_non_object_and_missing_author() -> None:
    item = thread_item()
    del item["snippet"]["topLevelComment"]["snippet"]["authorChannelId"]
    page = Page(kind="comment", items=[item, "junk"])  # type: ignore[list-item]
    out = normalize_page(page, ctx())
    first = as_comment(out[0][0])
    assert first.author_key is None and first.is_official == 0
    assert isinstance(out[1][0], Quarantine)


def test_live_chat_messages() -> None:
    def message(mid: str, kind: str, text: str | None, owner: bool = False) -> dict:
        snippet = {"type": kind, "liveChatId": "chat1", "authorChannelId": "UCviewer",
                   "publishedAt": "2026-11-24T23:05:00.123+00:00", "hasDisplayContent": bool(text)}
        if text is not None:
            snippet["displayMessage"] = text
            snippet["textMessageDetails"] = {"messageText": text}
        return {"kind": "youtube#liveChatMessage", "id": mid, "snippet": snippet,
                "authorDetails": {"channelId": CHANNEL if owner else "UCviewer",
                                  "displayName": "owner" if owner else "viewer",
                                  "isChatOwner": owner}}
    items = [message("m1", "textMessageEvent", "택시 &lt;질문&gt; 있어요 010-1234-5678"),
             message("m2", "textMessageEvent", "답변드립니다", owner=True),
             message("m3", "chatEndedEvent", None, owner=True),
             message("m4", "textMessageEvent", None)]
    page = Page(kind="comment", items=items, includes={"live": {"videoId": "live1"}})
    out = normalize_page(page, ctx(official_ids=frozenset()))
    [(o1, _), (o2, _), (ended, _), (bad, _)] = out
    m1, m2 = as_comment(o1), as_comment(o2)
    assert ended == Skipped("live chat system event (chatEndedEvent)", "m3")
    assert (m1.id, m1.post_id, m1.parent_id, m1.created_at, m1.is_official) == (
        "youtube:m1", "youtube:live1", None, "2026-11-24T23:05:00Z", 0)
    assert "010-1234-5678" not in m1.text
    assert m2.is_official == 1 and m2.author_name == "owner"
    assert isinstance(bad, Quarantine) and bad.native_id == "m4"


def test_video_and_playlist_item_posts() -> None:
    [(o1, _)] = normalize_page(Page(kind="post", items=VIDEOS["items"]), ctx())
    [(o2, _)] = normalize_page(Page(kind="post", items=PLAYLIST["items"]), ctx())
    video, item = as_post(o1), as_post(o2)
    assert video.native_id == item.native_id == VIDEO
    assert item.created_at == "2019-11-13T17:55:00Z" and item.comment_count is None
    no_snippet = {"kind": "youtube#video", "id": "x"}
    [(q, _)] = normalize_page(Page(kind="post", items=[no_snippet]), ctx())
    assert q == Quarantine("video without a snippet", "x")


# --- the simulator end to end ------------------------------------------------------------------
def yt_accounts() -> list[Account]:
    return [a for a in load_accounts(ROOT / "config" / "accounts.yaml") if a.platform == "youtube"]


def sim_server(transport: SimTransport):
    return transport.server("youtube")


def run(db_path: Path, transport: SimTransport, accounts: list[Account], **extra: Any) -> list:
    writer = Writer(connect(db_path))
    options = RunOptions(simulate=True, extra={"sleep": lambda s: None, "live_seconds": 5,
                                               "youtube_quota": 10_000, **extra})
    try:
        return collect(writer, accounts, transport, simulated_environ(accounts), options)
    finally:
        writer.db.conn.close()


def served(server, key: str) -> tuple[int, int, int]:
    """(videos, comments, official comments) the simulator serves for one channel."""
    videos = server.videos(key)
    threads = server.threads(key)
    comments = [c for _, top, replies in threads for c in (top, *replies)]
    chat = server.chat(key) if key in server.live_video else []
    official = sum(bool(c.official) for c in comments) + sum(
        m["authorDetails"]["isChatOwner"] for m in chat)
    return len(videos), len(comments) + len(chat), official


def test_simulator_end_to_end(tmp_path: Path) -> None:
    accounts = yt_accounts()
    assert len(accounts) == 3 and sum(a.live_chat for a in accounts) == 1
    world = World(accounts)
    transport = SimTransport(world)
    sim_server(transport).thread_reply_limit = 1  # make comments.list necessary
    db_path = tmp_path / "smc.db"
    results = run(db_path, transport, accounts)
    assert [(r.account, r.status) for r in results] == [
        ("yt_seoul", "ok"), ("yt_live_seoul", "ok"), ("yt_seoul_en", "ok")]
    assert any(r.path == "/youtube/v3/comments" for r in transport.log)
    db = connect(db_path)
    server = sim_server(transport)
    for a in accounts:
        videos, comments, official = served(server, a.key)
        got = db.execute("SELECT (SELECT count(*) FROM posts WHERE account = ?), count(*), "
                         "sum(is_official) FROM comments WHERE account = ?",
                         [a.key, a.key]).fetchone()
        assert got == (videos, comments, official), a.key
    # official answers: the channel's (or another city channel's) replies, with their name
    rows = db.execute("SELECT c.author_name, p.is_official FROM comments c "
                      "JOIN comments p ON p.id = c.parent_id WHERE c.is_official = 1").fetchall()
    assert rows and all(name for name, _ in rows)
    names = {a.name for a in accounts}
    assert {name for name, _ in rows} <= names
    assert db.execute("SELECT count(*) FROM comments WHERE parent_id IS NOT NULL AND "
                      "parent_id NOT IN (SELECT id FROM comments)").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM comments WHERE text LIKE '%&amp;%' OR text LIKE "
                      "'%<br>%'").fetchone()[0] == 0
    # completeness: what YouTube reports per video equals what is stored
    for r in queries.account_status(db):
        if r["platform"] == "youtube":
            assert r["reported_comments"] == r["stored_comments"], r["account"]
    before = queries.table_counts(db)
    db.conn.close()
    again = run(db_path, SimTransport(world), accounts)
    assert all(r.status == "ok" for r in again)
    assert sum(r.stats.inserted + r.stats.updated for r in again) == 0
    db = connect(db_path)
    assert queries.table_counts(db)["comments"] == before["comments"]
    assert db.execute("SELECT count(*) FROM quarantine").fetchone()[0] == 0


def test_deleted_and_edited_comments_on_a_full_rescan(tmp_path: Path) -> None:
    accounts = yt_accounts()
    world = World(accounts)
    db_path = tmp_path / "smc.db"
    run(db_path, SimTransport(world), accounts, lookback_days=60)
    post = world.visible_posts("yt_seoul")[0]
    victim = next(c for c in world.visible_comments(post) if c.parent is None and not c.hidden)
    edited = next(c for c in world.visible_comments(post) if c is not victim and not c.hidden
                  and c.edited_at is None)
    victim.deleted_at = world.now
    edited.edited_at, edited.edited_text = world.now, "고쳐 쓴 글입니다"
    world.advance(__import__("datetime").timedelta(seconds=1))
    results = run(db_path, SimTransport(world), accounts, lookback_days=60)
    assert all(r.status == "ok" for r in results)
    db = connect(db_path)
    server = sim_server(SimTransport(world))
    gone = db.execute("SELECT id, deleted FROM comments WHERE deleted = 1").fetchall()
    victim_id = "youtube:" + server.comment_id(victim)
    assert victim_id in {i for i, _ in gone}
    # its replies went with it on YouTube; nothing else was tombstoned
    expected = {victim_id} | {"youtube:" + server.comment_id(c) for c in post.comments
                              if c.parent is not None and server.root(c) is victim}
    assert {i for i, _ in gone} <= expected | {
        "youtube:" + server.comment_id(c) for c in post.comments if c.hidden}
    row = db.execute("SELECT text, edited_at FROM comments WHERE id = ?",
                     ["youtube:" + server.comment_id(edited)]).fetchone()
    assert row[0] == "고쳐 쓴 글입니다" and row[1] is not None
    # the live chat's messages are comments of the broadcast: never tombstoned
    assert db.execute("SELECT count(*) FROM comments WHERE post_id LIKE 'youtube:live%' "
                      "AND deleted = 1").fetchone()[0] == 0


def test_comments_disabled_is_not_an_account_error(tmp_path: Path) -> None:
    accounts = yt_accounts()
    transport = SimTransport(World(accounts), [Fault("youtube:commentsDisabled", "youtube",
                                                     path="commentThreads", times=1)])
    results = run(tmp_path / "smc.db", transport, accounts, live_seconds=1)
    assert [r.status for r in results] == ["ok", "ok", "ok"]
    db = connect(tmp_path / "smc.db")
    assert db.execute("SELECT count(*) FROM comments WHERE account = 'yt_seoul'").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM posts WHERE account = 'yt_seoul'").fetchone()[0] > 0


def test_server_errors_are_retried_then_fail_the_account_only(tmp_path: Path) -> None:
    accounts = yt_accounts()
    waits: list[float] = []
    transport = SimTransport(World(accounts), [
        Fault("500", "youtube", path="playlistItems", times=1),
        Fault("timeout", "youtube", path="commentThreads", after=1, times=3),
    ])
    results = run(tmp_path / "smc.db", transport, accounts, sleep=waits.append)
    assert results[0].status == "ok"  # one 500, retried
    assert results[1].status == "failed"  # three timeouts: gave up after 3 attempts
    assert "commentThreads.list" in results[1].error and "sim-" not in results[1].error
    assert results[2].status == "ok"
    assert len(waits) == 1 + 2


def test_bad_json_and_quota_still_counted(tmp_path: Path) -> None:
    accounts = yt_accounts()[:1]
    transport = SimTransport(World(accounts), [Fault("bad_json", "youtube", times=-1)])
    [result] = run(tmp_path / "smc.db", transport, accounts)
    assert result.status == "failed" and "JSON" in result.error
    db = connect(tmp_path / "smc.db")
    assert db.execute("SELECT sum(units) FROM quota").fetchone()[0] == 3  # 3 attempts


def test_missing_key_param_is_refused_by_the_simulator() -> None:
    from simulator.transport import SimRequest
    server = sim_server(SimTransport(World(yt_accounts())))
    answer = server.handle(SimRequest("GET", "youtube.googleapis.com", "/youtube/v3/channels",
                                      {"part": "id"}, {}))
    assert answer.status == 403
    assert answer.body["error"]["errors"][0]["reason"] == "forbidden"


def test_simulator_pages_respect_max_results() -> None:
    from simulator.transport import SimRequest
    accounts = yt_accounts()
    server = sim_server(SimTransport(World(accounts)))
    channel = accounts[0].native_id
    assert channel is not None
    seen, token, pages = [], None, 0
    while True:
        params = {"key": "k", "part": "snippet", "allThreadsRelatedToChannelId": channel,
                  "maxResults": "7"}
        if token:
            params["pageToken"] = token
        body = server.handle(SimRequest("GET", "youtube.googleapis.com",
                                        "/youtube/v3/commentThreads", params, {})).body
        assert len(body["items"]) <= 7
        seen += [t["id"] for t in body["items"]]
        pages += 1
        token = body.get("nextPageToken")
        if not token:
            break
    assert len(seen) == len(set(seen)) == len(server.threads(accounts[0].key)) and pages > 1
    times = [server.threads(accounts[0].key)[i][1].created for i in range(len(seen))]
    assert times == sorted(times, reverse=True)
