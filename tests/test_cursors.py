"""What a collector yields (collectors.base): the newest-first cursor rule (NewestFirst), and
how the loop stores each event: a page with its cursor and spend, a Checkpoint, a
ScanComplete's tombstones in their own transaction, a Spend alone."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator, Mapping

from collectors.base import Checkpoint, Cursor, Event, NewestFirst, Page, ScanComplete, Spend
from core.accounts import Account
from core.shapes import id_order
from normalize.schema import Context
from pipeline.ingest import AccountResult, ingest_pages, run_account
from store.db import connect
from store.writer import Writer


# --- NewestFirst ---------------------------------------------------------------------------
def test_the_cursor_waits_for_the_previous_one_or_the_end() -> None:
    newest = NewestFirst("videos", "2026-11-20T00:00:00Z")
    assert not newest.see("2026-11-24T00:00:00Z")  # newer than what is stored
    assert newest.cursor() is None  # items between it and the stored cursor may be unread
    assert not newest.see("2026-11-22T00:00:00Z")
    assert newest.see("2026-11-20T00:00:00Z")  # the stored cursor itself: reached
    assert newest.reached
    assert newest.cursor() == Cursor("videos", "2026-11-24T00:00:00Z")
    assert newest.cursor(end=True) is None  # once per pass


def test_the_end_of_a_pass_moves_the_cursor_without_reaching_it() -> None:
    newest = NewestFirst("tweets", None, order=id_order)  # a first run: nothing to reach
    newest.see("99")
    newest.see("100")  # ids compare as numbers, not as text
    assert newest.cursor() is None
    assert list(newest.checkpoint(end=True)) == [Checkpoint(Cursor("tweets", "100"))]


def test_the_cursor_never_moves_back_or_to_the_same_value() -> None:
    newest = NewestFirst("posts", "2026-11-20T00:00:00Z")
    assert newest.see("2026-11-19T00:00:00Z")  # the newest stored one was deleted
    assert newest.cursor(end=True) is None
    unchanged = NewestFirst("posts", "2026-11-20T00:00:00Z")
    unchanged.see("2026-11-20T00:00:00Z")
    assert list(unchanged.checkpoint(end=True)) == []
    nothing = NewestFirst("posts", None)
    assert nothing.cursor(end=True) is None


def test_a_thread_of_the_same_second_is_not_the_stored_one() -> None:
    def at(value: str) -> str:
        return value.partition("|")[0]

    newest = NewestFirst("threads", "2026-11-20T00:00:00Z|B", order=at)
    assert not newest.see("2026-11-20T00:00:00Z|A")  # same second, another thread: maybe new
    assert not newest.reached
    assert newest.see("2026-11-20T00:00:00Z|B")  # the stored thread
    assert newest.cursor() is None  # nothing newer than it
    newest = NewestFirst("threads", "2026-11-20T00:00:00Z|B", order=at)
    assert newest.see("2026-11-19T23:59:59Z|Z")  # published before it: reached
    newest = NewestFirst("threads", "2026-11-20T00:00:00Z|B", order=at)
    newest.see("2026-11-21T00:00:00Z|A")
    newest.see("2026-11-21T00:00:00Z|C")  # a tie in time goes to the greater value
    assert newest.cursor(end=True) == Cursor("threads", "2026-11-21T00:00:00Z|C")


# --- the loop ------------------------------------------------------------------------------
ACCOUNT = Account(key="x_test", platform="x", handle="test", name="Test", owner="city",
                  field="general", department="d", language="ko", credentials=("X_TOKEN",),
                  interval_minutes=30, native_id="1")
CTX = Context(platform="x", account="x_test", secret=b"test-secret")
POST = Page("post", [{"id": "100", "text": "공지", "created_at": "2026-11-24T00:00:00Z",
                      "author_id": "1", "conversation_id": "100"}],
            includes={"timeline_of": "1"})


def tweet(i: int) -> dict:
    """A citizen's reply to post 100 (comment x:i); `tweet(0)` cannot be read (no text)."""
    if not i:
        return {"id": "12", "text": None}
    return {"id": str(i), "text": f"택시 의견 {i}", "created_at": "2026-11-24T01:00:00Z",
            "author_id": "9", "conversation_id": "100",
            "referenced_tweets": [{"type": "replied_to", "id": "100"}]}


def replies(*ids: int) -> Page:
    return Page("comment", [tweet(i) for i in ids])


class Scripted:
    """A collector yielding the given events; `dies_before` raises right before that one."""

    platform = "x"

    def __init__(self, events: list[Event], dies_before: Event | None = None):
        self.events, self.dies_before = events, dies_before

    def pages(self, account: Account, cursors: Mapping[str, str]) -> Iterator[Event]:
        for event in self.events:
            if event == self.dies_before:
                raise RuntimeError("the process died here")
            yield event


def collect(writer: Writer, events: list[Event], dies_before: Event | None = None
            ) -> AccountResult:
    return run_account(ACCOUNT, Scripted(events, dies_before), writer, CTX, "run")


def live(writer: Writer) -> list[str]:
    return [r[0] for r in writer.db.execute(
        "SELECT id FROM comments WHERE deleted = 0 ORDER BY id").fetchall()]


def stored(tmp_path: Path, name: str = "s.db") -> Writer:
    """A store holding post 100 with comments 2 and 3."""
    writer = Writer(connect(tmp_path / name), clock=lambda: "2026-11-25T00:00:00Z")
    first = collect(writer, [POST, replies(2, 3)])
    assert first.status == "ok" and live(writer) == ["x:2", "x:3"]
    return writer


def test_a_completed_scan_tombstones_what_it_did_not_see(tmp_path: Path) -> None:
    writer = stored(tmp_path)
    result = collect(writer, [replies(2), ScanComplete("100")])
    assert result.status == "ok" and result.stats.tombstoned == 1
    assert live(writer) == ["x:2"]


def test_a_scan_that_met_an_unreadable_payload_tombstones_nothing(tmp_path: Path) -> None:
    writer = stored(tmp_path)
    result = collect(writer, [replies(2, 0), ScanComplete("100")])
    assert result.status == "ok" and result.stats.quarantined == 1
    assert result.stats.tombstoned == 0 and live(writer) == ["x:2", "x:3"]
    # ...and only that scan: the next one is conclusive again
    collect(writer, [replies(2), ScanComplete("100")])
    assert live(writer) == ["x:2"]


def test_a_run_dying_between_the_last_page_and_its_scan_complete_is_harmless(
        tmp_path: Path) -> None:
    """The page's rows (comment 4) are committed, the tombstones are not: comment 3 stays
    live, nothing is lost; the next run scans the post again and completes it."""
    writer = stored(tmp_path)
    scan: list[Event] = [replies(2, 4), ScanComplete("100")]
    died = collect(writer, scan, dies_before=scan[-1])
    assert died.status == "failed" and "died here" in (died.error or "")
    assert live(writer) == ["x:2", "x:3", "x:4"]
    again = collect(writer, scan)
    assert again.status == "ok" and again.stats.tombstoned == 1
    assert live(writer) == ["x:2", "x:4"]


def test_cursors_and_units_go_with_what_they_came_with(tmp_path: Path) -> None:
    writer = Writer(connect(tmp_path / "s.db"), clock=lambda: "2026-11-25T00:00:00Z")
    events: list[Event] = [
        Checkpoint(Cursor("user_id", "1"), spend=Spend(requests=1, units=1)),
        POST,
        Page("comment", [tweet(2)], cursor=Cursor("mentions", "2"),
             spend=Spend(requests=2, units=3)),
        ScanComplete("100", spend=Spend(units=4)),
        Spend(requests=1, units=5),  # a call that failed: nothing to store but its units
    ]
    result = collect(writer, events)
    assert result.status == "ok" and result.requests == 4
    assert result.stats.fetched == 2 and result.stats.balanced()
    assert dict(writer.db.execute("SELECT stream, value FROM cursors").fetchall()) == {
        "user_id": "1", "mentions": "2"}
    assert writer.db.execute("SELECT sum(units) FROM quota").fetchone() == (13,)


def test_bulk_loads_keep_the_order_of_events_with_or_without_workers(tmp_path: Path) -> None:
    """Events without data wait in the normalizers' queue for the pages before them."""
    again: list[Event] = [replies(2), ScanComplete("100"), Checkpoint(Cursor("mentions", "2"))]
    for workers in (0, 1):
        writer = stored(tmp_path, f"w{workers}.db")
        stats = ingest_pages([(ACCOUNT, e) for e in again], writer, {"x_test": CTX},
                             workers=workers)
        assert stats.tombstoned == 1 and live(writer) == ["x:2"], workers
        assert writer.db.execute("SELECT value FROM cursors").fetchone() == ("2",)
