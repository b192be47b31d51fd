"""YouTube live chat on the simulator: the polling interval, resuming from the stored page
token with no duplicate, and the chat's end stopping the poll."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from core.accounts import Account
from pipeline.config import load_accounts
from pipeline.runner import RunOptions, collect, simulated_environ
from simulator import Fault, SimTransport, World
from store import queries
from store.db import connect
from store.writer import Writer

ROOT = Path(__file__).resolve().parent.parent
LIVE = "yt_live_seoul"


class FakeTime:
    """An injected clock that moves only when the collector sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.waits: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


def yt_accounts() -> list[Account]:
    return [a for a in load_accounts(ROOT / "config" / "accounts.yaml") if a.platform == "youtube"]


def run(db_path: Path, transport: SimTransport, accounts: list[Account], fake: FakeTime,
        **extra: Any) -> list:
    writer = Writer(connect(db_path))
    options = RunOptions(simulate=True, accounts=(LIVE,),
                         extra={"sleep": fake.sleep, "clock": fake.clock,
                                "youtube_quota": 10_000, **extra})
    try:
        return collect(writer, accounts, transport, simulated_environ(accounts), options)
    finally:
        writer.db.conn.close()


def chat_requests(transport: SimTransport) -> list:
    return [r for r in transport.log if r.path == "/youtube/v3/liveChat/messages"]


def live_rows(db_path: Path) -> list[tuple]:
    db = connect(db_path)
    try:
        return db.execute("SELECT native_id, is_official, text FROM comments "
                          "WHERE post_id = 'youtube:live0000001' ORDER BY native_id").fetchall()
    finally:
        db.conn.close()


def test_polls_at_the_interval_until_the_chat_ends(tmp_path: Path) -> None:
    accounts = yt_accounts()
    transport = SimTransport(World(accounts))
    server = transport.server("youtube")
    server.polling_ms = 250
    fake = FakeTime()
    [result] = run(tmp_path / "smc.db", transport, accounts, fake, live_seconds=60)
    assert result.status == "ok"
    polls = chat_requests(transport)
    # 30 messages, 5 a poll: the 6th poll carries the chatEndedEvent and offlineAt, then stop
    assert len(polls) == 6
    assert fake.waits == [0.25] * 5  # pollingIntervalMillis / 1000 between polls, none after
    assert [r.params.get("pageToken") is None for r in polls] == [True] + [False] * 5
    assert all(r.params["part"] == "snippet,authorDetails" for r in polls)
    rows = live_rows(tmp_path / "smc.db")
    messages = server.chat(LIVE)
    assert len(rows) == len(messages) == 30
    assert sum(official for _, official, _ in rows) == sum(
        m["authorDetails"]["isChatOwner"] for m in messages) > 0
    db = connect(tmp_path / "smc.db")
    token = queries.cursors(db, LIVE)["live:live0000001"]
    assert token  # the last page's token, stored with its messages
    # the ended chat: the broadcast no longer advertises a live chat id
    video = server._video(LIVE, server.videos(LIVE)[0], {"liveStreamingDetails"})
    assert "activeLiveChatId" not in video["liveStreamingDetails"]


def test_restart_resumes_from_the_stored_token_without_duplicates(tmp_path: Path) -> None:
    accounts = yt_accounts()
    world = World(accounts)
    db_path = tmp_path / "smc.db"
    fake = FakeTime()
    first = SimTransport(world)
    start = fake.now
    [r1] = run(db_path, first, accounts, fake, live_seconds=0.5)
    assert r1.status == "ok"
    assert fake.now - start <= 0.5  # the live budget is never overrun
    assert len(chat_requests(first)) == 3  # polls at 0, 0.2, 0.4 s; the next would pass 0.5
    assert len(live_rows(db_path)) == 15
    db = connect(db_path)
    token = queries.cursors(db, LIVE)["live:live0000001"]
    db.conn.close()

    second = SimTransport(world)  # a new process: nothing remembered but the database
    [r2] = run(db_path, second, accounts, fake, live_seconds=60)
    assert r2.status == "ok"
    polls = chat_requests(second)
    assert polls[0].params["pageToken"] == token
    assert len(polls) == 3  # 15 more messages, the last poll ends the chat
    rows = live_rows(db_path)
    assert len(rows) == 30 and len({r[0] for r in rows}) == 30
    served = {m["id"] for m in second.server("youtube").chat(LIVE)}
    assert {r[0] for r in rows} == served
    # no message came twice: pass 2 inserted only the 15 new ones (threads/videos unchanged)
    assert r2.stats.inserted == 15 and r2.stats.updated == 0


def test_chat_ended_answer_stops_the_poll_without_error(tmp_path: Path) -> None:
    accounts = yt_accounts()
    transport = SimTransport(World(accounts), [
        Fault("youtube:liveChatEnded", "youtube", path="liveChat", after=2, times=1)])
    fake = FakeTime()
    [result] = run(tmp_path / "smc.db", transport, accounts, fake, live_seconds=60)
    assert result.status == "ok"
    assert len(chat_requests(transport)) == 3  # 2 pages, then 403 liveChatEnded
    assert len(live_rows(tmp_path / "smc.db")) == 10
    db = connect(tmp_path / "smc.db")
    # 4 units for the channel's pages + 3 polls x 5 (the refused one is charged too)
    assert queries.quota_used(db, "youtube", db.execute(
        "SELECT day FROM quota").fetchone()[0]) == 4 + 15


def test_accounts_without_live_chat_never_poll(tmp_path: Path) -> None:
    accounts = yt_accounts()
    transport = SimTransport(World(accounts))
    fake = FakeTime()
    writer = Writer(connect(tmp_path / "smc.db"))
    options = RunOptions(simulate=True, accounts=("yt_seoul", "yt_seoul_en"),
                         extra={"sleep": fake.sleep, "clock": fake.clock, "live_seconds": 60})
    results = collect(writer, accounts, transport, simulated_environ(accounts), options)
    assert [r.status for r in results] == ["ok", "ok"]
    assert not chat_requests(transport) and fake.waits == []
