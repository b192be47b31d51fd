"""Shared test fixtures: the reference accounts, a temp database, a simulated collect."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

import pytest

from collectors.base import Checkpoint, Cursor, Event, Page, ScanComplete
from normalize.schema import Comment, Outcome, Post, Quarantine, Record
from core.accounts import Account
from pipeline.config import load_accounts
from pipeline.runner import RunOptions, collect, simulated_environ
from simulator import Fault, SimTransport, World
from store.db import connect
from store.writer import Writer

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def accounts() -> list[Account]:
    """The 44 accounts of the reference config."""
    return load_accounts(ROOT / "config" / "accounts.yaml")


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "smc.db"


def sim_collect(db_path: Path, accounts: list[Account], world: World,
                faults: list[Fault] | None = None, platforms: tuple[str, ...] = (),
                **extra: Any) -> tuple[list, SimTransport]:
    """One simulated collect pass into db_path; returns the results and the transport."""
    transport = SimTransport(world, faults)
    writer = Writer(connect(db_path))
    options = RunOptions(simulate=True, platforms=platforms,
                         extra={"sleep": lambda s: None, **extra})
    results = collect(writer, accounts, transport, simulated_environ(accounts), options)
    writer.db.conn.close()
    return results, transport


def sim_run(db_path: Path, accounts: list[Account], world: World, platform: str,
            **extra: Any) -> tuple[dict, SimTransport]:
    """sim_collect of one platform with a 7-day look-back; results by account key."""
    faults = extra.pop("faults", None)
    results, transport = sim_collect(db_path, accounts, world, faults, platforms=(platform,),
                                     **{"lookback_days": 7, **extra})
    return {r.account: r for r in results}, transport


def rows(db_path: Path, sql: str, *args: Any) -> list:
    """All rows of one query on a database file."""
    db = connect(db_path)
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.conn.close()


# A normalizer returns outcomes (normalize.schema.Outcome); a test that reads a record's fields
# first asserts what kind of outcome it expects.
def as_post(outcome: Outcome) -> Post:
    """The outcome, which must be a Post."""
    assert isinstance(outcome, Post), outcome
    return outcome


def as_comment(outcome: Outcome) -> Comment:
    """The outcome, which must be a Comment."""
    assert isinstance(outcome, Comment), outcome
    return outcome


def as_record(outcome: Outcome) -> Record:
    """The outcome, which must be a Post or a Comment."""
    assert isinstance(outcome, (Post, Comment)), outcome
    return outcome


def as_quarantine(outcome: Outcome) -> Quarantine:
    """The outcome, which must be a Quarantine."""
    assert isinstance(outcome, Quarantine), outcome
    return outcome


# What a collector yields (collectors.base.Event), read the way the store reads it.
def data_pages(events: Iterable[Event]) -> list[Page]:
    """The events with data."""
    return [e for e in events if isinstance(e, Page)]


def committed_cursors(events: Iterable[Event]) -> list[Cursor]:
    """The cursors the store would commit, in order (a page's own, or a Checkpoint)."""
    return [e.cursor for e in events
            if isinstance(e, (Page, Checkpoint)) and e.cursor is not None]


def scans_completed(events: Iterable[Event]) -> list[str]:
    """The posts whose scan completed (their unseen stored comments become tombstones)."""
    return [e.post for e in events if isinstance(e, ScanComplete)]
