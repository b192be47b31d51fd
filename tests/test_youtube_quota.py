"""YouTube quota: the ledger, a daily budget never exceeded, quotaExceeded -> next Pacific
midnight."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from collectors.youtube import COST, next_pacific_midnight
from core.accounts import Account
from core.times import utc_now
from pipeline.config import load_accounts
from pipeline.runner import RunOptions, collect, simulated_environ
from simulator import Fault, SimTransport, World
from store import queries
from store.db import connect
from store.writer import Writer, quota_day

ROOT = Path(__file__).resolve().parent.parent


def yt_accounts() -> list[Account]:
    return [a for a in load_accounts(ROOT / "config" / "accounts.yaml") if a.platform == "youtube"]


def run(db_path: Path, transport: SimTransport, accounts: list[Account], **extra: Any) -> list:
    writer = Writer(connect(db_path))
    options = RunOptions(simulate=True, extra={"sleep": lambda s: None, "live_seconds": 5,
                                               **extra})
    try:
        return collect(writer, accounts, transport, simulated_environ(accounts), options)
    finally:
        writer.db.conn.close()


def ledger(db_path: Path) -> int:
    db = connect(db_path)
    try:
        return db.execute("SELECT coalesce(sum(units), 0) FROM quota WHERE platform = 'youtube'"
                          ).fetchone()[0]
    finally:
        db.conn.close()


def units_of(transport: SimTransport) -> int:
    """The units the requests the simulator saw cost, by YouTube's table."""
    method = {"channels": "channels.list", "playlistItems": "playlistItems.list",
              "videos": "videos.list", "commentThreads": "commentThreads.list",
              "comments": "comments.list", "liveChat/messages": "liveChatMessages.list",
              "search": "search.list"}
    return sum(COST[method[r.path.removeprefix("/youtube/v3/")]] for r in transport.log)


def retry_afters(db_path: Path, accounts: list[Account]) -> dict[str, str | None]:
    db = connect(db_path)
    try:
        return {a.key: queries.retry_after(db, a.key) for a in accounts}
    finally:
        db.conn.close()


def test_ledger_matches_the_requests(tmp_path: Path) -> None:
    accounts = yt_accounts()
    transport = SimTransport(World(accounts))
    results = run(tmp_path / "smc.db", transport, accounts)
    assert all(r.status == "ok" for r in results)
    spent = ledger(tmp_path / "smc.db")
    assert spent == units_of(transport) > 0
    db = connect(tmp_path / "smc.db")
    assert queries.quota_used(db, "youtube", quota_day(utc_now(), "youtube")) == spent


@pytest.mark.parametrize("budget", [1, 4, 5, 9, 20, 40])
def test_budget_is_never_exceeded(tmp_path: Path, budget: int) -> None:
    accounts = yt_accounts()
    db_path = tmp_path / "smc.db"
    transport = SimTransport(World(accounts))
    results = run(db_path, transport, accounts, youtube_quota=budget)
    assert ledger(db_path) <= budget
    assert units_of(transport) == ledger(db_path)  # nothing spent off the books
    limited = [r for r in results if r.status == "rate_limited"]
    assert limited  # every budget here is below what a full pass needs
    expected = next_pacific_midnight(datetime.now(timezone.utc))
    for r in limited:
        assert r.retry_after == expected and "--youtube-quota" in r.error
    # every account after the first stopped one is stopped too, without a request
    first = results.index(limited[0])
    assert all(r.status == "rate_limited" for r in results[first:])
    # a later run the same day reads the ledger: it spends at most what is left
    spent = ledger(db_path)
    again = SimTransport(World(accounts))
    run(db_path, again, accounts, youtube_quota=budget)
    assert units_of(again) == ledger(db_path) - spent <= budget - spent
    assert ledger(db_path) <= budget


def test_quota_used_from_the_ledger_counts_against_the_budget(tmp_path: Path) -> None:
    accounts = yt_accounts()[:1]
    db_path = tmp_path / "smc.db"
    run(db_path, SimTransport(World(accounts)), accounts, youtube_quota=10_000)
    spent = ledger(db_path)
    assert spent == 4  # channels, playlistItems, videos, commentThreads
    # clear the account's cursors: a new pass would need 4 units again, only 1 is left
    db = connect(db_path)
    db.execute("DELETE FROM cursors")
    db.conn.close()
    transport = SimTransport(World(accounts))
    [result] = run(db_path, transport, accounts, youtube_quota=spent + 1)
    assert result.status == "rate_limited"
    assert ledger(db_path) == spent + 1 and len(transport.log) == 1


def test_quota_exceeded_stores_next_pacific_midnight(tmp_path: Path) -> None:
    accounts = yt_accounts()
    db_path = tmp_path / "smc.db"
    transport = SimTransport(World(accounts), [Fault("youtube:quotaExceeded", "youtube",
                                                     path="playlistItems", times=-1)])
    results = run(db_path, transport, accounts)
    expected = next_pacific_midnight(datetime.now(timezone.utc))
    assert [r.status for r in results] == ["rate_limited"] * 3
    assert all(r.retry_after == expected for r in results)
    assert "quota" in results[0].error
    stored = retry_afters(db_path, accounts)
    assert stored == {a.key: expected for a in accounts}
    # only the first account asked: channels.list + the refused playlistItems.list
    assert len(transport.log) == 2 and ledger(db_path) == 2
    # the next run skips them all until midnight Pacific, without a request
    later = SimTransport(World(accounts))
    assert [r.status for r in run(db_path, later, accounts)] == ["rate_limited"] * 3
    assert not later.log


def test_rate_limit_429_is_short(tmp_path: Path) -> None:
    """A 429 is a per-minute limit, not the day's quota: retry after the header's seconds."""
    accounts = yt_accounts()[:1]
    transport = SimTransport(World(accounts), [Fault("429", "youtube", times=1,
                                                     reset_seconds=120)])
    before = datetime.now(timezone.utc).timestamp()
    [result] = run(tmp_path / "smc.db", transport, accounts)
    assert result.status == "rate_limited"
    until = datetime.strptime(result.retry_after, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=timezone.utc).timestamp()
    assert before + 118 <= until <= before + 125


@pytest.mark.parametrize("now, expected", [
    ("2026-11-25T21:00:00", "2026-11-26T08:00:00Z"),  # PST: 13:00 -> midnight = 08:00 UTC
    ("2026-11-26T07:59:59", "2026-11-26T08:00:00Z"),
    ("2026-11-26T08:00:00", "2026-11-27T08:00:00Z"),  # exactly midnight: the next one
    ("2026-07-01T12:00:00", "2026-07-02T07:00:00Z"),  # PDT
    ("2026-03-08T05:00:00", "2026-03-08T08:00:00Z"),  # Mar 7 21:00 PST; midnight still PST
    ("2026-03-08T12:00:00", "2026-03-09T07:00:00Z"),  # after the spring-forward
    ("2026-11-01T12:00:00", "2026-11-02T08:00:00Z"),  # after the fall-back
])
def test_next_pacific_midnight(now: str, expected: str) -> None:
    at = datetime.fromisoformat(now).replace(tzinfo=timezone.utc)
    assert next_pacific_midnight(at) == expected
    assert quota_day(expected, "youtube") != quota_day(now + "Z", "youtube")
