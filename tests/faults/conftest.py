"""Helpers of the fault suite: runs on the simulator with pinned clocks, and DB snapshots.

The short suite runs in `make test`; `SMC_FAULTS_LONG=1` (`make faults`) runs more fault
points per scenario and more kill points.
"""
from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any, Iterable

import pytest

from core.accounts import Account
from core.platforms import PLATFORMS
from pipeline.config import load_accounts
from pipeline.runner import RunOptions, collect, simulated_environ
from simulator import SIM_NOW, Fault, SimTransport, World
from store.db import connect, copy_database, open_plain
from store.writer import Writer

ROOT = Path(__file__).resolve().parents[2]
LONG = os.environ.get("SMC_FAULTS_LONG") == "1"

# The writer's clock (first_seen, last_seen, cursor times, retry_after comparisons, and the
# edited_at Graph comments get when their text changes) is pinned, so two databases built
# from the same world differ only where the data differ.
CLOCK = SIM_NOW.strftime("%Y-%m-%dT%H:%M:%SZ")
# Later than any retry_after a fault can leave (429: +15 min on X, +60 min on Graph, +15 min
# on YouTube; YouTube's quota: the next Pacific midnight), so the run after the faults runs.
LATER = "2026-11-27T00:00:00Z"

# What runs per platform of the registry: a few accounts (X has 31: four of them page the same
# way), a world big enough that every list the collector reads has several pages; platforms
# not named here get the defaults.
WORLD_SIZE = {"x": (3, 6), "youtube": (8, 30)}
ACCOUNTS = {"x": 4, "facebook": 6, "youtube": 3}
DEFAULT_WORLD, DEFAULT_ACCOUNTS = (6, 8), 4
# The server family a platform's faults are aimed at (Fault.platform).
FAULT_PLATFORM = {p.key: p.family for p in PLATFORMS}


def platform_accounts(platform: str) -> list[Account]:
    every = load_accounts(ROOT / "config" / "accounts.yaml")
    return [a for a in every if a.platform == platform][:ACCOUNTS.get(platform, DEFAULT_ACCOUNTS)]


def make_world(platform: str, accounts: list[Account]) -> World:
    posts, comments = WORLD_SIZE.get(platform, DEFAULT_WORLD)
    return World(accounts, posts_per_account=posts, comments_per_post=comments)


def options_for(platform: str) -> dict[str, Any]:
    """Per-platform knobs: small pages (paging happens), no sleeping, the world's clock."""
    base: dict[str, Any] = {"sleep": lambda s: None, "lookback_days": 7}
    family = FAULT_PLATFORM[platform]
    if family == "x":
        base["x_page_size"] = 10
    elif family == "youtube":
        # live_seconds is a real-time budget: 60 s is far more than the 6 polls of the
        # simulated chat need (sleep is a no-op), so the chat is always read to its end.
        base.update(utcnow=lambda: SIM_NOW, live_seconds=60)
    else:  # Graph's convention (Graph, Threads): small pages, retry_after from the world
        base.update({f"{family}_page_size": 4, "clock": lambda: SIM_NOW})
    return base


def run(db: Path, platform: str, accounts: list[Account], world: World,
        faults: Iterable[Fault] = (), clock: str = CLOCK, full_refresh: bool = False,
        tune: Any = None) -> tuple[list, SimTransport]:
    """One collect pass of one platform's accounts into db (a fresh transport: a new process)."""
    transport = SimTransport(world, list(faults))
    if tune is not None:
        tune(transport)
    writer = Writer(connect(db), clock=lambda: clock)
    options = RunOptions(simulate=True, platforms=(platform,), full_refresh=full_refresh,
                         extra=options_for(platform))
    try:
        results = collect(writer, accounts, transport, simulated_environ(accounts), options)
    finally:
        writer.db.conn.close()
    return results, transport


# --- what a database holds, comparably -----------------------------------------------------
SKIP_COLUMNS = ("first_seen", "last_seen",  # when a row was seen: differs by design
                "group_id")  # derived: compared in snapshot, like the answers


def records(path: Path) -> dict[str, dict[str, dict]]:
    """posts and comments: id -> row (without first_seen/last_seen)."""
    conn = open_plain(path)
    conn.row_factory = sqlite3.Row
    try:
        out = {}
        for table in ("posts", "comments"):
            cols = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")
                    if r[1] not in SKIP_COLUMNS]
            out[table] = {row["id"]: dict(row) for row in
                          conn.execute(f"SELECT {', '.join(cols)} FROM {table} ORDER BY id")}
        return out
    finally:
        conn.close()


def snapshot(path: Path) -> dict[str, Any]:
    """Everything that must be equal to an uninterrupted run's: records, cursors, answers."""
    conn = open_plain(path)
    try:
        extra = {
            "cursors": conn.execute("SELECT account, stream, value FROM cursors "
                                    "WHERE stream != '*' ORDER BY 1, 2").fetchall(),
            "answers": conn.execute("SELECT comment_id, answer_id, first_response_at "
                                    "FROM answers ORDER BY 1").fetchall(),
            "raw_ids": conn.execute("SELECT id FROM raw ORDER BY id").fetchall(),
            # derived after each run, like the answers: equal once every record is in
            "groups": conn.execute("SELECT id, group_id FROM comments "
                                   "WHERE group_id IS NOT NULL ORDER BY 1").fetchall(),
        }
    finally:
        conn.close()
    return {**records(path), **extra}


def integrity(path: Path) -> None:
    """What must hold after any run, even one that died: SQLite's and ours."""
    conn = open_plain(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        # rows, their raw payloads and the page's cursor are committed together
        for table in ("posts", "comments"):
            orphan = conn.execute(f"SELECT count(*) FROM {table} WHERE id NOT IN "
                                  "(SELECT id FROM raw)").fetchone()[0]
            assert orphan == 0, f"{orphan} {table} rows without their raw payload"
        # the FTS index matches the comments table exactly (raises SQLITE_CORRUPT_VTAB if not)
        conn.execute("INSERT INTO comments_fts (comments_fts, rank) VALUES ('integrity-check', 1)")
    finally:
        conn.close()


def diff(got: dict, want: dict) -> str:
    """A short description of how two snapshots differ (for assertion messages)."""
    lines = []
    for key in want:
        a, b = got.get(key), want[key]
        if a == b:
            continue
        if isinstance(b, dict):
            a = a or {}  # a table may be missing from got
            missing = sorted(set(b) - set(a))
            extra = sorted(set(a) - set(b))
            changed = sorted(k for k in set(a) & set(b) if a[k] != b[k])
            lines.append(f"{key}: {len(missing)} missing {missing[:3]}, {len(extra)} extra "
                         f"{extra[:3]}, {len(changed)} changed")
            for k in changed[:2]:
                cols = [c for c in b[k] if a[k].get(c) != b[k][c]]
                lines.append(f"  {k}: " + ", ".join(f"{c}: {a[k][c]!r} != {b[k][c]!r}"
                                                    for c in cols))
        else:
            sa, sb = set(a or ()), set(b)
            lines.append(f"{key}: missing {sorted(sb - sa)[:3]}, extra {sorted(sa - sb)[:3]}")
    return "\n".join(lines)


def wrongly_deleted(path: Path, reference: dict) -> list[str]:
    """Rows tombstoned here that are live in the reference (a comment lost to a fault)."""
    conn = open_plain(path)
    try:
        gone = [r[0] for r in conn.execute("SELECT id FROM comments WHERE deleted = 1")]
    finally:
        conn.close()
    return [i for i in gone if reference["comments"].get(i, {}).get("deleted") == 0]


@pytest.fixture(scope="session")
def references(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Per platform: the database of one uninterrupted run (built once, copied by callers),
    its snapshot, the requests it made and those a second run on it makes (where a fault
    can be aimed)."""
    cache: dict[str, tuple[Path, dict, list, list]] = {}

    def get(platform: str) -> tuple[Path, dict, list, list]:
        if platform not in cache:
            path = tmp_path_factory.mktemp(f"ref-{platform}") / "reference.db"
            accounts = platform_accounts(platform)
            results, transport = run(path, platform, accounts, make_world(platform, accounts))
            assert [r.status for r in results] == ["ok"] * len(accounts), [
                (r.account, r.error) for r in results if r.status != "ok"]
            again = path.with_name("rerun.db")
            copy_database(path, again)
            _, rerun = run(again, platform, accounts, make_world(platform, accounts))
            cache[platform] = (path, snapshot(path), list(transport.log), list(rerun.log))
        return cache[platform]

    return get
