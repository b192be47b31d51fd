"""Threads: the normalizer on the API's documented responses and Korean text, the collector
against the simulator (posts, replies, conversation, paging, cursors, tombstones, hidden
replies, errors), `import` of saved pages, properties and the fault scenarios."""
from __future__ import annotations

import json
import unicodedata
from dataclasses import replace
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import responses
from conftest import as_comment, as_post, as_quarantine, rows
from conftest import sim_run as shared_sim_run
from faults.conftest import diff, integrity, records, snapshot, wrongly_deleted
from faults.test_platform_faults import SCENARIOS, fault_points, quarantined, replaced_ids
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_properties import check_record, mutate

import commands
from collectors.base import Checkpoint, Page, ScanComplete
from collectors.http import TimeoutSession
from collectors.threads import ThreadsCollector, read_saved, scrub
from core.accounts import Account
from core.errors import AuthFailed, CollectorError, PermissionMissing, RateLimited
from core.platforms import spec
from normalize.schema import Comment, Context, Post, Quarantine, Skipped
from normalize.text import author_key
from normalize.threads import normalize_page
from pipeline.config import load_accounts
from pipeline.formats import Options, pages_of
from pipeline.runner import RunOptions, collect, load_tagger, simulated_environ
from simulator import SIM_NOW, Fault, SimTransport, World
from simulator.threads import POST_BASE, REPLY_BASE, Server
from store.db import connect, copy_database
from store.writer import Writer

ROOT = Path(__file__).resolve().parent.parent
FIX = Path(__file__).resolve().parent / "fixtures" / "threads-api"
SECRET = b"test-secret"
JSON = {"content-type": "application/json; charset=UTF-8"}
BASE = "https://graph.threads.net/v1.0"


def load(name: str) -> Any:
    return json.loads((FIX / name).read_text(encoding="utf-8"))


def ctx_for(handles: set[str] | None = None, tagger: Any = None) -> Context:
    return Context(platform="threads", account="th_test", secret=SECRET,
                   official_handles=frozenset(handles or {"seoul_official"}), tagger=tagger)


def th_accounts() -> list[Account]:
    """The configured Threads account and two more city accounts (another one may answer)."""
    mine = [a for a in load_accounts(ROOT / "config" / "accounts.yaml")
            if a.platform == "threads"]
    assert [a.key for a in mine] == ["th_seoul"]
    extra = [replace(mine[0], key=f"th_seoul_{n}", handle=f"seoul_{n}_th",
                     credentials=(f"THREADS_TOKEN_SEOUL_{n.upper()}",)) for n in ("news", "jobs")]
    return mine + extra


def account(native: str | None = None) -> Account:
    return Account(key="th_test", platform="threads", handle="seoul_official", name="TH",
                   owner="city", field="general", department="d", language="ko",
                   credentials=("THREADS_TOKEN_TEST",), interval_minutes=30, native_id=native)


class PlainTransport:
    def session(self) -> TimeoutSession:
        return TimeoutSession()

    def httplib2(self) -> Any:  # pragma: no cover
        raise NotImplementedError


sim_run = partial(shared_sim_run, platform="threads")


# --- the registry entry ------------------------------------------------------------------------
def test_the_registry_entry_names_the_three_modules_and_the_reader() -> None:
    entry = spec("threads")
    assert (entry.thread, entry.family, entry.quota) == ("nested", "threads", None)
    assert "graph.threads.net" in entry.hosts and entry.name_ko == "스레드(Threads)"
    from core.platforms import load as load_target
    for target in (entry.collector, entry.normalizer, entry.simulator, entry.reader):
        assert load_target(target or "") is not None


# --- the documented responses (tests/fixtures/threads-api/README.md) ----------------------------
def test_documented_replies_page() -> None:
    page = Page(kind="comment", items=load("docs_media_replies.json")["data"])
    pairs = normalize_page(page, ctx_for())
    replies = [as_comment(o) for o, _ in pairs]
    assert [r.text for r in replies] == ["First Reply", "Second Reply", "Third Reply"]
    # NOT_HUSHED, HIDDEN, UNHUSHED
    assert [r.hidden for r in replies] == [0, 1, 0]
    first = replies[0]
    # root_post and replied_to name the same media: a reply straight to the post
    assert (first.post_id, first.parent_id) == ("threads:1234567890", None)
    assert first.created_at == "2024-01-01T18:20:00Z"
    # no username in the example: no author key, a citizen; the link names no one
    assert (first.author_key, first.is_official, first.author_name) == (None, 0, None)
    assert first.url == "https://www.threads.net/t/abcdefg"
    assert all(raw is item for (_, raw), item in zip(pairs, page.items))


def test_documented_conversation_and_posts() -> None:
    conversation = normalize_page(Page(kind="comment", items=load(
        "docs_media_conversation.json")["data"]), ctx_for())
    assert [as_comment(o).text for o, _ in conversation] == [
        "First Reply", "Second Reply", "Nested Reply"]
    posts = normalize_page(Page(kind="post", items=load("docs_user_threads.json")["data"]),
                           ctx_for({"threadsapitestuser"}))
    first = as_post(posts[0][0])
    assert first == Post(
        id="threads:1234567", platform="threads", account="th_test", native_id="1234567",
        text="Today Is Monday", lang=first.lang, created_at="2023-10-17T05:42:03Z",
        url="https://www.threads.net/@threadsapitestuser/post/abcdefg")
    assert as_post(posts[1][0]).text == ""  # an image without words


def test_a_saved_error_response_is_not_data_and_the_collector_says_what_to_check() -> None:
    body = load("issue_unknown_object_error.json")
    found = pages_of("threads", body)
    assert not found.pages and "saved API error response" in (found.problem or "")
    with responses.RequestsMock() as mock:
        mock.add(responses.GET, f"{BASE}/zuck/threads", json=body, status=400)
        collector = ThreadsCollector(PlainTransport(), {"THREADS_TOKEN_TEST": "THAAsecret"},
                                     [], {"sleep": lambda s: None})
        with pytest.raises(CollectorError) as err:
            list(collector.pages(account("zuck"), {}))
    text = str(err.value)
    assert "100/33" in text and "accounts.yaml" in text and "THREADS_TOKEN_TEST" in text
    assert "THAAsecret" not in text


# --- Korean text -------------------------------------------------------------------------------
def reply(text: str, **extra: Any) -> dict:
    return {"id": "18060000000000001", "text": text, "username": "kim_minjun",
            "permalink": "https://www.threads.net/@kim_minjun/post/DAbc-12_x",
            "timestamp": "2026-11-24T09:15:00+0900", "root_post": {"id": "18050000000000001"},
            "replied_to": {"id": "18050000000000001"}, "is_reply": True,
            "is_reply_owned_by_me": False, "hide_status": "NOT_HUSHED", **extra}


@pytest.mark.parametrize("text, stored", [
    (unicodedata.normalize("NFD", "택시요금이 또 올랐어요"), "택시요금이 또 올랐어요"),
    ("지하철 2호선 혼잡해요 😢🚇 👨‍👩‍👧", "지하철 2호선 혼잡해요 😢🚇 👨‍👩‍👧"),
    ("Seoul 한강공원 首尔 ソウル 🇰🇷", "Seoul 한강공원 首尔 ソウル 🇰🇷"),
    ("@lee_sora 맞아요, @seoul_official 확인 부탁드려요", "@사용자 맞아요, @seoul_official 확인 부탁드려요"),
    ("연락처 010-2345-6789로 연락 주세요", None),
])
def test_korean_text_is_nfc_pii_masked_and_names_no_citizen(text: str, stored: str | None) -> None:
    comment = as_comment(normalize_page(Page(kind="comment", items=[reply(text)]),
                                        ctx_for())[0][0])
    assert unicodedata.is_normalized("NFC", comment.text)
    if stored is not None:
        assert comment.text == stored
    else:
        assert "010-2345-6789" not in comment.text and comment.text.startswith("연락처")
    assert comment.lang in ("ko", "und", "en", "zh", "ja")
    assert comment.created_at == "2026-11-24T00:15:00Z"
    assert comment.author_key == author_key(SECRET, "threads", "@kim_minjun")
    assert comment.author_name is None and comment.url == "https://www.threads.net/t/DAbc-12_x"
    assert "kim_minjun" not in json.dumps([comment.text, comment.url])


def test_korean_tags_and_tokens_on_the_way_in() -> None:
    tagger = load_tagger()
    ctx = replace(ctx_for(tagger=tagger), tokenize=True)
    comment = as_comment(normalize_page(Page(kind="comment", items=[reply(
        "어젯밤 폭우로 마포구 반지하 집이 침수됐어요. 도와주세요.")]), ctx)[0][0])
    assert comment.district == "마포구" and "flooding" in (comment.crisis or "")
    assert comment.tokens and "침수" in comment.tokens


# --- one test per quirk ------------------------------------------------------------------------
def test_parents_posts_and_the_citys_answers() -> None:
    items = [
        reply("질문", id="2"),
        reply("질문에 대한 추가 질문", id="3", replied_to={"id": "2"}),
        reply("답변드립니다", id="4", replied_to="3", username="Seoul_Official",
              permalink="https://www.threads.net/@seoul_official/post/DOff1",
              is_reply_owned_by_me=True),
        # another city account answering: official by its handle
        reply("문화본부입니다", id="5", replied_to={"id": "2"}, username="seoul_culture_th"),
    ]
    out = [as_comment(o) for o, _ in normalize_page(Page(kind="comment", items=items),
                                                    ctx_for({"seoul_official",
                                                             "seoul_culture_th"}))]
    assert [(c.native_id, c.parent_id) for c in out] == [
        ("2", None), ("3", "threads:2"), ("4", "threads:3"), ("5", "threads:2")]
    assert {c.post_id for c in out} == {"threads:18050000000000001"}
    assert [c.is_official for c in out] == [0, 0, 1, 1]
    assert out[2].author_name == "Seoul_Official"
    assert out[2].url == "https://www.threads.net/@seoul_official/post/DOff1"  # the city's own
    assert out[0].author_name is None


def test_replies_page_without_relations_takes_them_from_the_page() -> None:
    bare = {"id": "9", "text": "답글", "timestamp": "2026-11-24T00:00:00+0000"}
    top = as_comment(normalize_page(Page(kind="comment", items=[bare],
                                         includes={"post_id": "7"}), ctx_for())[0][0])
    assert (top.post_id, top.parent_id, top.url) == ("threads:7", None, None)
    under = as_comment(normalize_page(Page(kind="comment", items=[bare],
                                           includes={"post_id": "7", "parent_id": "8"}),
                                      ctx_for())[0][0])
    assert under.parent_id == "threads:8"


@pytest.mark.parametrize("status, hidden", [
    ("NOT_HUSHED", 0), ("UNHUSHED", 0), ("HIDDEN", 1), ("COVERED", 1), ("BLOCKED", 0),
    ("RESTRICTED", 0), (None, 0)])
def test_hide_status(status: str | None, hidden: int) -> None:
    item = reply("숨김 테스트", hide_status=status)
    assert as_comment(normalize_page(Page(kind="comment", items=[item]),
                                     ctx_for())[0][0]).hidden == hidden


def test_unusable_items_are_quarantined_and_reposts_skipped() -> None:
    items: list[Any] = [{"text": "no id", "timestamp": "2026-11-24T00:00:00+0000"},
                        reply("no time", timestamp="yesterday"), 17, reply("ok", id="10")]
    pairs = normalize_page(Page(kind="comment", items=items), ctx_for())
    assert [type(o) for o, _ in pairs] == [Quarantine, Quarantine, Quarantine, Comment]
    assert "without an id" in as_quarantine(pairs[0][0]).reason
    assert as_quarantine(pairs[1][0]).native_id == "18060000000000001"
    posts = normalize_page(Page(kind="post", items=[
        {"id": "11", "media_type": "REPOST_FACADE", "timestamp": "2026-11-24T00:00:00+0000"},
        {"id": "12", "timestamp": "not a time"}, {"text": "no id"}]), ctx_for())
    assert isinstance(posts[0][0], Skipped) and posts[0][0].native_id == "11"
    assert [type(o) for o, _ in posts[1:]] == [Quarantine, Quarantine]


def test_a_citizen_link_never_keeps_the_handle() -> None:
    no_code = reply("링크", permalink="https://www.threads.net/@kim_minjun", shortcode=None)
    assert as_comment(normalize_page(Page(kind="comment", items=[no_code]),
                                     ctx_for())[0][0]).url is None
    from_field = reply("링크", shortcode="Cxyz", permalink=None)
    assert as_comment(normalize_page(Page(kind="comment", items=[from_field]),
                                     ctx_for())[0][0]).url == "https://www.threads.net/t/Cxyz"


def test_scrub_drops_tokens_from_error_text() -> None:
    text = ("GET https://graph.threads.net/v1.0/me?fields=id&access_token=THAAsecret123 "
            "(Authorization: Bearer THAAsecret123)")
    assert "THAAsecret123" not in scrub(text) and "access_token=…" in scrub(text)


# --- saved responses: `smc import --platform threads` --------------------------------------------
def test_read_saved_tells_posts_from_replies() -> None:
    conversation = {**load("docs_media_conversation.json"), "paging": {
        "next": f"{BASE}/18050000000000009/conversation?fields=id&after=QVFI"}}
    found = read_saved("threads", conversation, Options())
    assert [p.kind for p in found.pages] == ["comment"]
    assert found.pages[0].includes == {"post_id": "18050000000000009"}
    mixed = read_saved("threads", {"data": [load("docs_user_threads.json")["data"][0],
                                            reply("답글")]})
    assert [p.kind for p in mixed.pages] == ["post", "comment"]
    one = read_saved("threads", reply("하나"), Options(post="18050000000000001"))
    assert one.pages[0].includes == {"post_id": "18050000000000001"}
    assert read_saved("threads", {"nothing": 1}).problem


def test_import_of_saved_pages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("SMC_AUTHOR_KEY", "k" * 32)
    lines = [load("docs_user_threads.json"), {"data": [
        reply("택시 잡기 너무 어려워요", id="101"),
        reply("답변드립니다", id="102", replied_to={"id": "101"}, username="seoul_official",
              is_reply_owned_by_me=True)]}, {"garbage": True}]
    path = tmp_path / "threads.jsonl"
    path.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines),
                    encoding="utf-8")
    db = tmp_path / "smc.db"
    # run_pipeline.py imports commands.main only under its guard (workers re-import it)
    code = commands.main(["--db", str(db), "import", "--platform", "threads",
                          "--account", "th_seoul", str(path)])
    out = capsys.readouterr()
    assert code == 1 and "threads.jsonl:3" in out.out + out.err  # the bad line, quarantined
    assert rows(db, "SELECT count(*) FROM posts") == [(2,)]
    assert rows(db, "SELECT id, parent_id, is_official FROM comments ORDER BY id") == [
        ("threads:101", None, 0), ("threads:102", "threads:101", 1)]
    assert rows(db, "SELECT comment_id, answer_id FROM answers") == [
        ("threads:101", "threads:102")]


# --- the simulator, end to end -----------------------------------------------------------------
def rid(comment: Any) -> str:
    return f"threads:{REPLY_BASE + comment.seq}"


def served_counts(world: World, accounts: list[Account]) -> dict[str, int]:
    server = Server(world)
    return {a.key: sum(len(server.served(p)) for p in world.visible_posts(a.key))
            for a in accounts}


def test_simulator_end_to_end(tmp_path: Path) -> None:
    accounts = th_accounts()
    db = tmp_path / "smc.db"
    world = World(accounts)
    results, transport = sim_run(db, accounts, world, threads_page_size=3)
    assert {k: r.status for k, r in results.items()} == {a.key: "ok" for a in accounts}
    stored = dict(rows(db, "SELECT account, count(*) FROM comments WHERE deleted = 0 "
                           "GROUP BY account"))
    assert stored == served_counts(world, accounts)
    assert rows(db, "SELECT count(*) FROM quarantine") == [(0,)]
    paths = [r.path for r in transport.log]
    assert sum(p.endswith("/me") for p in paths) == len(accounts)  # the user id, once each
    assert any("after" in r.params for r in transport.log if r.path.endswith("/threads"))
    assert any("after" in r.params for r in transport.log if r.path.endswith("/conversation"))
    assert not any(p.endswith("/replies") for p in paths)
    assert all(r.params.get("access_token", "").startswith("sim-") for r in transport.log)

    server = Server(world)
    answers, hidden = [], 0
    for acc in accounts:
        for post in world.visible_posts(acc.key):
            for c in server.served(post):
                parent, official, post_id, is_hidden, url = rows(
                    db, "SELECT parent_id, is_official, post_id, hidden, url FROM comments "
                        "WHERE id = ?", rid(c))[0]
                assert post_id == f"threads:{POST_BASE + post.seq}"
                assert parent == (None if c.parent is None else rid(c.parent))  # nested
                assert official == int(c.official is not None)
                assert is_hidden == int(c.hidden)
                hidden += is_hidden
                if c.official:
                    answers.append((c, post))
                else:
                    assert url.startswith("https://www.threads.net/t/") and "@" not in url
    assert hidden and answers
    assert any(c.official != p.account for c, p in answers)  # another city account answered
    answered = {i for (i,) in rows(db, "SELECT comment_id FROM answers")}
    assert answered >= {rid(c.parent) for c, _ in answers}  # each answered opinion

    again, transport = sim_run(db, accounts, world, threads_page_size=3)
    assert all(r.status == "ok" for r in again.values())
    assert sum(r.stats.inserted + r.stats.updated + r.stats.tombstoned
               for r in again.values()) == 0
    assert not any(r.path.endswith("/me") for r in transport.log)  # the stored user id


def test_edits_deletions_hidden_and_lookback(tmp_path: Path) -> None:
    accounts = th_accounts()[:1]
    db = tmp_path / "smc.db"
    world = World(accounts)
    sim_run(db, accounts, world)
    server = Server(world)
    posts = sorted(world.visible_posts("th_seoul"), key=lambda p: p.created)
    newest = posts[-1]
    leaves = [c for c in server.served(newest)
              if not any(r.parent is c for r in server.served(newest))]
    edited, deleted, hushed = leaves[0], leaves[1], leaves[2]
    edited.edited_at, edited.edited_text = world.now + timedelta(minutes=5), "수정된 답글"
    deleted.deleted_at = world.now + timedelta(minutes=5)
    hushed.hidden = True
    mid = min(posts, key=lambda p: abs((world.now - p.created) - timedelta(days=5)))
    world.advance(timedelta(hours=1))
    late = world.add_comment(mid, "5일 전 글에 새 답글")
    answer = world.add_comment(mid, "새 답글에 답합니다", parent=late, official="th_seoul")
    results, _ = sim_run(db, accounts, world)
    assert results["th_seoul"].status == "ok"
    assert rows(db, "SELECT text FROM comments WHERE id = ?", rid(edited)) == [("수정된 답글",)]
    assert rows(db, "SELECT deleted FROM comments WHERE id = ?", rid(deleted)) == [(1,)]
    assert rows(db, "SELECT hidden FROM comments WHERE id = ?", rid(hushed)) == [(1,)]
    assert rows(db, "SELECT parent_id, is_official FROM comments WHERE id = ?", rid(answer)) == [
        (rid(late), 1)]
    stored = dict(rows(db, "SELECT account, count(*) FROM comments WHERE deleted = 0 "
                           "GROUP BY account"))
    assert stored == served_counts(world, accounts)


def test_older_posts_are_read_down_to_the_replies_cursor(tmp_path: Path) -> None:
    """Outside the window: only the posts on the last post page, only new replies, and no
    tombstones (a partial read proves nothing about deletions)."""
    accounts = th_accounts()[:1]
    db = tmp_path / "smc.db"
    world = World(accounts)
    sim_run(db, accounts, world, threads_page_size=2)
    server = Server(world)
    posts = sorted(world.visible_posts("th_seoul"), key=lambda p: p.created, reverse=True)
    window = posts[0].created - timedelta(days=1)
    first_old = next(i for i, p in enumerate(posts) if p.created < window)
    boundary = posts[first_old // 2 * 2: first_old // 2 * 2 + 2]
    partial = next(p for p in boundary if p.created < window)
    unread = posts[first_old // 2 * 2 + 2:]
    assert unread
    gone = next(c for c in server.served(partial)
                if not any(r.parent is c for r in server.served(partial)))
    gone.deleted_at = world.now + timedelta(minutes=1)
    world.advance(timedelta(hours=1))
    new = world.add_comment(partial, "오래된 글에 새 답글")
    results, transport = sim_run(db, accounts, world, threads_page_size=2, lookback_days=1)
    assert results["th_seoul"].status == "ok"
    assert rows(db, "SELECT count(*) FROM comments WHERE id = ?", rid(new)) == [(1,)]
    assert rows(db, "SELECT deleted FROM comments WHERE id = ?", rid(gone)) == [(0,)]
    read = {r.path.split("/")[2] for r in transport.log if r.path.endswith("/conversation")}
    assert not read & {str(POST_BASE + p.seq) for p in unread}
    reads = [r for r in transport.log
             if r.path.endswith(f"/{POST_BASE + partial.seq}/conversation")]
    assert len(reads) == 1  # the newest page reached what was stored: it stopped there


def test_pages_with_cursors_only_are_followed_to_the_end() -> None:
    """The docs' pages carry cursors and no `next`: a full page is followed (one more
    request, which comes back short or empty), a short one ends the list."""
    accounts = th_accounts()[:1]
    world = World(accounts)

    def collected(next_links: bool) -> tuple[list, int]:
        transport = SimTransport(world)
        transport.server("threads").next_links = next_links
        collector = ThreadsCollector(transport, simulated_environ(accounts), accounts,
                                     {"sleep": lambda s: None, "threads_page_size": 3})
        pages = list(collector.pages(accounts[0], {}))
        ids = sorted(str(i.get("id")) for p in pages if isinstance(p, Page) for i in p.items)
        assert [p.post for p in pages if isinstance(p, ScanComplete)] == [
            str(POST_BASE + p.seq) for p in reversed(world.visible_posts("th_seoul"))]
        return ids, len(transport.log)

    linked, asked = collected(True)
    cursors_only, asked_more = collected(False)
    assert cursors_only == linked and len(linked) > 3
    assert asked <= asked_more  # at most one more request per list that ends on a full page


def test_the_replies_edge_walks_the_same_tree(tmp_path: Path) -> None:
    """`threads_edge=replies`: /replies on the post, then on each reply that has some."""
    accounts = th_accounts()[:1]
    world = World(accounts)
    by_conversation, by_replies = tmp_path / "c.db", tmp_path / "r.db"
    sim_run(by_conversation, accounts, world, threads_page_size=3)
    results, transport = sim_run(by_replies, accounts, world, threads_page_size=3,
                                 threads_edge="replies")
    assert results["th_seoul"].status == "ok"
    assert not any(r.path.endswith("/conversation") for r in transport.log)
    nodes = {r.path.split("/")[2] for r in transport.log if r.path.endswith("/replies")}
    assert any(int(n) > REPLY_BASE for n in nodes)  # it went down into a reply
    assert records(by_replies) == records(by_conversation)
    # and it tombstones like the conversation scan
    server = Server(world)
    post = world.visible_posts("th_seoul")[-1]
    gone = next(c for c in server.served(post) if c.parent is not None)
    gone.deleted_at = world.now + timedelta(minutes=1)
    world.advance(timedelta(hours=1))
    sim_run(by_replies, accounts, world, threads_edge="replies")
    assert rows(by_replies, "SELECT deleted FROM comments WHERE id = ?", rid(gone)) == [(1,)]


def test_posts_without_replies_cost_no_request_and_reposts_are_not_scanned(
        tmp_path: Path) -> None:
    accounts = th_accounts()[:1]
    world = World(accounts)
    quiet = world.visible_posts("th_seoul")[0]
    quiet.comments.clear()
    results, transport = sim_run(tmp_path / "smc.db", accounts, world)
    assert results["th_seoul"].status == "ok"
    assert not any(str(POST_BASE + quiet.seq) in r.path for r in transport.log)

    page = {"data": [{"id": "5", "media_type": "REPOST_FACADE", "has_replies": True,
                      "timestamp": "2026-11-24T00:00:00+0000"}]}
    with responses.RequestsMock() as mock:
        mock.add(responses.GET, f"{BASE}/77/threads", json=page)
        collector = ThreadsCollector(PlainTransport(), {"THREADS_TOKEN_TEST": "t"}, [],
                                     {"sleep": lambda s: None})
        pages = list(collector.pages(account("77"), {}))
        assert [str(c.request.url).split("?")[0] for c in mock.calls] == [f"{BASE}/77/threads"]
    assert [p.cursor.stream for p in pages
            if isinstance(p, (Page, Checkpoint)) and p.cursor] == ["threads"]


def test_the_token_must_belong_to_the_handle(tmp_path: Path) -> None:
    with responses.RequestsMock() as mock:
        mock.add(responses.GET, f"{BASE}/me", json={"id": "42", "username": "someone_else"})
        collector = ThreadsCollector(PlainTransport(), {"THREADS_TOKEN_TEST": "t"}, [],
                                     {"sleep": lambda s: None})
        with pytest.raises(CollectorError) as err:
            list(collector.pages(account(), {}))
    assert "@someone_else" in str(err.value) and "THREADS_TOKEN_TEST" in str(err.value)


# --- errors, mapped to what a person can do ------------------------------------------------------
def run_with(tmp_path: Path, faults: list[Fault], **extra: Any) -> tuple[Any, SimTransport]:
    accounts = th_accounts()[:1]
    results, transport = sim_run(tmp_path / "smc.db", accounts, World(accounts),
                                 faults=faults, clock=lambda: SIM_NOW, **extra)
    return results["th_seoul"], transport


@pytest.mark.parametrize("fault, status, says", [
    (Fault("expired_token", platform="threads", times=-1), "auth",
     ["THREADS_TOKEN_SEOUL", "60 days", "refresh_access_token"]),
    (Fault("permission", platform="threads", path="/conversation", times=-1), "permission",
     ["threads_read_replies", "threads_manage_replies", "THREADS_TOKEN_SEOUL"]),
    (Fault("permission", platform="threads", path="/threads", times=-1), "permission",
     ["'threads_basic'", "THREADS_TOKEN_SEOUL"]),
    (Fault("429", platform="threads", times=-1), "rate_limited", ["rate limited", "24 hours"]),
    (Fault("threads:613", platform="threads", times=-1), "rate_limited", ["613"]),
    (Fault("threads:usage", platform="threads", times=-1), "rate_limited", ["usage at 100%"]),
    (Fault("503", platform="threads", times=-1), "failed", ["gave up after 3 attempts"]),
    (Fault("timeout", platform="threads", times=-1), "failed", ["gave up after"]),
    (Fault("bad_json", platform="threads", times=-1), "failed", ["not JSON"]),
    (Fault("loop", platform="threads", after=2, times=-1), "failed", ["same paging cursor"]),
    (Fault("threads:100", platform="threads", path="/me", times=-1), "failed",
     ["accounts.yaml"]),
])
def test_errors_name_what_to_do(tmp_path: Path, fault: Fault, status: str,
                                says: list[str]) -> None:
    result, _ = run_with(tmp_path, [fault], threads_page_size=2)
    assert fault.fired and result.status == status, result.error
    for text in says:
        assert text in (result.error or ""), (text, result.error)
    assert "sim-threads_token_seoul" not in (result.error or "")
    if status == "rate_limited":
        assert result.retry_after and result.retry_after > "2026-11-25T00:00:00Z"


def test_a_blip_is_retried_and_echoed_tokens_never_reach_the_error(tmp_path: Path) -> None:
    result, _ = run_with(tmp_path, [Fault("500", platform="threads", times=2)])
    assert result.status == "ok"
    result, _ = run_with(tmp_path / "echo", [Fault("4xx_echo", platform="threads", times=-1)])
    assert result.status == "failed" and "access_token=" in (result.error or "")
    assert "sim-threads" not in (result.error or "")


def test_rate_limit_classes() -> None:
    """The Meta codes, told apart by the client (no request needed)."""
    from collectors.threads import ThreadsClient

    client = ThreadsClient(PlainTransport(), "tok", account="a", env_var="V",
                           options={"clock": lambda: SIM_NOW})
    cases = {(4, None): RateLimited, (17, None): RateLimited, (190, None): AuthFailed,
             (10, None): PermissionMissing, (None, 429): RateLimited, (None, 401): AuthFailed,
             (None, 403): PermissionMissing, (230, None): PermissionMissing}
    for (code, status), kind in cases.items():
        error = {"code": code, "message": "m"} if code else {}
        got = client._classify(status or 400, error, {}, "threads_basic", "x")
        assert isinstance(got, kind), (code, status, got)
    limited = client._classify(400, {"code": 4}, {"retry-after": "600"}, "p", "x")
    assert isinstance(limited, RateLimited) and limited.retry_after == "2026-11-25T00:10:00Z"


# --- properties: the normalizer never raises --------------------------------------------------
def base_pages() -> list[Page]:
    accounts = th_accounts()[:1]
    collector = ThreadsCollector(SimTransport(World(accounts, posts_per_account=3,
                                                    comments_per_post=6)),
                                 simulated_environ(accounts), accounts,
                                 {"sleep": lambda s: None, "threads_page_size": 5})
    simulated = [p for p in collector.pages(accounts[0], {}) if isinstance(p, Page) and p.items]
    documented = [Page(kind="comment", items=load("docs_media_replies.json")["data"]),
                  Page(kind="comment", items=load("docs_media_conversation.json")["data"]),
                  Page(kind="post", items=load("docs_user_threads.json")["data"])]
    return documented + simulated


BASES = base_pages()
PROPERTY_CTX = replace(ctx_for(tagger=load_tagger()), tokenize=True)


@st.composite
def mutated_page(draw: Any) -> Page:
    data = draw(st.data())
    base = draw(st.sampled_from(BASES))
    items = list(base.items[:6])
    for i in sorted(draw(st.sets(st.integers(0, len(items) - 1), min_size=1, max_size=3))):
        items[i] = mutate(data, items[i], draw(st.integers(1, 4)))
    includes = dict(base.includes)
    if includes and draw(st.booleans()):
        mutated = mutate(data, includes, draw(st.integers(1, 2)))
        includes = mutated if isinstance(mutated, dict) else {}
    return Page(kind=base.kind, items=items, includes=includes)


def test_base_pages_normalize_to_records() -> None:
    assert {p.kind for p in BASES} == {"post", "comment"}
    for page in BASES:
        pairs = normalize_page(page, PROPERTY_CTX)
        kept = [o for o, _ in pairs if not isinstance(o, (Quarantine, Skipped))]
        assert len(kept) == len(page.items)
        for record in kept:
            check_record(record, "threads")


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(page=mutated_page())
def test_threads_normalizer_never_raises(page: Page) -> None:
    pairs = normalize_page(page, PROPERTY_CTX)
    assert len(pairs) == len(page.items)
    for outcome, raw in pairs:
        if isinstance(outcome, (Quarantine, Skipped)):
            assert outcome.reason.strip()
            assert outcome.native_id is None or isinstance(outcome.native_id, str)
        else:
            check_record(outcome, "threads")
        json.dumps(raw, ensure_ascii=False, default=repr)


# --- the fault scenarios of tests/faults, on Threads ------------------------------------------
CLOCK = SIM_NOW.strftime("%Y-%m-%dT%H:%M:%SZ")
LATER = "2026-11-27T00:00:00Z"
OPTIONS = {"sleep": lambda s: None, "lookback_days": 7, "threads_page_size": 4,
           "clock": lambda: SIM_NOW}


def fault_run(db: Path, accounts: list[Account], faults: list[Fault] = (),  # type: ignore
              clock: str = CLOCK, full_refresh: bool = False) -> tuple[list, SimTransport]:
    world = World(accounts, posts_per_account=6, comments_per_post=8)
    transport = SimTransport(world, list(faults))
    writer = Writer(connect(db), clock=lambda: clock)
    options = RunOptions(simulate=True, platforms=("threads",), full_refresh=full_refresh,
                         extra=dict(OPTIONS))
    try:
        results = collect(writer, accounts, transport, simulated_environ(accounts), options)
    finally:
        writer.db.conn.close()
    return results, transport


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, list, list]:
    path = tmp_path_factory.mktemp("ref-threads") / "reference.db"
    accounts = th_accounts()
    results, transport = fault_run(path, accounts)
    assert [r.status for r in results] == ["ok"] * len(accounts)
    again = path.with_name("rerun.db")
    copy_database(path, again)
    _, rerun = fault_run(again, accounts)
    return path, snapshot(path), list(transport.log), list(rerun.log)


@pytest.mark.parametrize("name, start", [(n, "empty") for n in SCENARIOS]
                         + [("bad_payloads", "complete")])
def test_faults_clear_and_the_database_equals_an_uninterrupted_run(
        name: str, start: str, reference: tuple, tmp_path: Path) -> None:
    scenario = SCENARIOS[name]
    ref_path, ref, first_log, rerun_log = reference
    log = rerun_log if start == "complete" else first_log
    accounts = th_accounts()
    original = log
    if scenario.kind == "corrupt_item":  # only answers with items can have one replaced:
        # the others are marked as fault_points marks lookups (never drawn)
        server = Server(World(accounts, posts_per_account=6, comments_per_post=8))
        log = [r if server.handle(r).body.get("data") else replace(r, path="/users/by/-")
               for r in log]
    for k in fault_points(scenario, log, f"threads/{name}/{start}", 1,
                          complete=start == "complete"):
        db = tmp_path / f"k{k}.db"
        if start == "complete":
            copy_database(ref_path, db)
        if scenario.kind == "corrupt_item":
            path = log[k].path
            fault = Fault(scenario.kind, platform="threads", path=path, times=scenario.times,
                          after=sum(1 for r in original[:k] if path in r.path))
        else:
            fault = Fault(scenario.kind, platform="threads", after=k, times=scenario.times)
        where = f"threads {name} from request {k} ({log[k].path}) on a {start} database"
        results, _ = fault_run(db, accounts, [fault])
        assert fault.fired > 0, where
        hit = [r for r in results if r.status != "ok"]
        assert scenario.tolerate or hit, where
        for r in hit:
            assert r.status in scenario.expect, (where, r.account, r.status, r.error)
            if scenario.error is not None:
                # a replayed /me is another account's profile: refused as such
                assert scenario.error.search(r.error or "") or (
                    scenario.kind in ("repeat", "loop")
                    and "belongs to Threads user" in (r.error or "")), (where, r.error)
        integrity(db)
        assert wrongly_deleted(db, ref) == [], f"{where}: live rows tombstoned"
        results, _ = fault_run(db, accounts, clock=LATER)
        assert all(r.status == "ok" for r in results), [(r.account, r.error) for r in results]
        if scenario.kind == "corrupt_item":
            bad = [q for q in quarantined(db) if q[2].get("unexpected") == "shape"]
            assert sorted(q[2]["fault"] for q in bad) == list(range(1, len(fault.replaced) + 1))
            got = records(db)
            for table in ("posts", "comments"):
                missing = set(ref[table]) - set(got[table])
                assert missing <= replaced_ids("threads", fault.replaced), (where, missing)
            if any(set(ref[t]) - set(got[t]) for t in ("posts", "comments")):
                fault_run(db, accounts, clock=LATER, full_refresh=True)
        else:
            assert quarantined(db) == [], where
        got = snapshot(db)
        assert got == ref, f"{where}:\n{diff(got, ref)}"


def test_the_centre_links_and_the_digest_labels_threads() -> None:
    """Two of the places that list platforms by hand (see the report of issue #16)."""
    from center.plugins.smc_center import _OPINION_ID
    from digest.render import PLATFORM_LABELS

    assert _OPINION_ID.match("threads:18060000000000001")
    assert PLATFORM_LABELS["threads"] == spec("threads").name_ko
