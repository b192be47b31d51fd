"""What every command module shares: exit codes, usage errors, opening the config and db,
one collect pass (collect, demo and schedule run it) and the argparse types.

Each command family (commands/collect.py, commands/cases.py, ...) exposes
`register(subparsers)` that adds its commands with `set_defaults(func=...)`;
commands/cli.py lists them in FAMILIES.
"""
from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Callable, TextIO

import sqlite_utils

from core.accounts import Account, credential_names
from core.platforms import KEYS
from core.redact import register, secret_values
from core.times import seoul_day_start, shift, utc_now
from pipeline.config import load_accounts
from pipeline.ingest import AccountResult
from pipeline.runner import (
    RunOptions,
    SecretMissing,
    collect,
    exit_code,
    select,
    simulated_environ,
)

if TYPE_CHECKING:
    from collectors.http import Transport
    from store.writer import PageStats, Writer

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
log = logging.getLogger("smc")
ROOT = Path(__file__).resolve().parent.parent  # the project: run_pipeline.py, config/


class UsageError(Exception):
    """Bad input from the user: the command exits 2 with this message."""


def load_config(args: argparse.Namespace) -> list[Account]:
    """The accounts of --config (raises ConfigError, which exits 2); their credential
    values are redacted from every error and log line from here on."""
    accounts = load_accounts(args.config)
    register(secret_values(os.environ, credential_names(accounts)))
    return accounts


def open_db(args: argparse.Namespace, unmasked: bool = True) -> sqlite_utils.Database:
    """The database of --db for a writing command: created and migrated if needed
    (unmasked: with the file of raw and quarantined payloads attached)."""
    from store.db import connect

    return connect(args.db, unmasked=unmasked)


def read_db(args: argparse.Namespace) -> sqlite_utils.Database:
    """The database of --db for a reading command: it must exist and be current; opened
    read-only, never created or changed."""
    from store.db import open_readonly

    return open_readonly(args.db)


# --- one collect pass, as collect, demo and schedule run it -------------------------
def log_result(account: Account, result: AccountResult) -> None:
    """One log line per account."""
    s = result.stats
    fields = {"account": account.key, "platform": account.platform, "status": result.status,
              "fetched": s.fetched, "inserted": s.inserted, "updated": s.updated,
              "quarantined": s.quarantined, "requests": result.requests}
    text = (f"{account.key:<22} {result.status:<12} fetched={s.fetched} inserted={s.inserted} "
            f"updated={s.updated} quarantined={s.quarantined} requests={result.requests}")
    if result.error:
        text += f" | {result.error}"
        fields["error"] = result.error
    level = logging.INFO if result.ok else logging.WARNING
    log.log(level, text, extra={"fields": fields})


def run_collect(args: argparse.Namespace, simulate: bool,
                stop: threading.Event | None = None) -> tuple[int, list[AccountResult]]:
    """One collect pass; returns the exit code and the per-account results."""
    from store.writer import Writer

    accounts = load_config(args)
    unknown = sorted(set(args.account or ()) - {a.key for a in accounts})
    if unknown:
        raise UsageError(f"{args.config}: unknown account {', '.join(unknown)}")
    extra = {"lookback_days": args.lookback_days, "live_seconds": args.live_seconds,
             "youtube_quota": args.youtube_quota, "sleep": capped_sleep(args.max_sleep)}
    if getattr(args, "since", None):
        extra["since"] = args.since
    options = RunOptions(
        simulate=simulate or bool(getattr(args, "replay", None)), accounts=tuple(args.account or ()),
        platforms=tuple(args.platform or ()), extra=extra,
        full_refresh=bool(getattr(args, "full_refresh", False)),
    )
    if simulate:
        from simulator import SimTransport, World
        from simulator.transport import FAULTS_ENV, faults_from_env

        try:
            faults = faults_from_env(os.environ)  # failures on demand, for tests
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        if faults:
            log.warning("simulator: %d faults injected from $%s", len(faults), FAULTS_ENV)
        transport: Transport = SimTransport(World(accounts, seed=args.seed), faults)
        environ = {**simulated_environ(accounts), **os.environ}
    else:
        from collectors.http import LiveTransport

        transport, environ = LiveTransport(), dict(os.environ)
        if getattr(args, "replay", None):  # recorded traffic has placeholders, not tokens
            environ = {**simulated_environ(accounts), **environ}
    writer = Writer(open_db(args))
    check_origin(writer, args.db, "simulated" if simulate else "live")
    if writer.close_dead_runs():
        log.warning("closed runs left 'running' by a process that died; they show as 'aborted'")
    progress = Progress(len(select(accounts, options))) if sys.stderr.isatty() else None
    try:
        results = collect(writer, accounts, transport, environ, options, stop=stop,
                          on_result=progress.wrap(log_result) if progress else log_result,
                          on_page=progress.page if progress else None)
    except SecretMissing as exc:
        raise UsageError(str(exc)) from None
    purge_raw(writer, args.raw_retention_days, args.quarantine_retention_days)
    return exit_code(results), results


def purge_raw(writer: Writer, days: int, quarantine_days: int | None = None) -> int:
    """Drop raw and quarantined payloads past their retention, and say so."""
    def cutoff(d: int) -> str:
        return shift(utc_now(), days=-d)

    purged = writer.purge_raw(cutoff(days))
    if purged:
        log.info("purged %d raw payloads fetched before %s (retention %d days)", purged,
                 cutoff(days), days)
    q_days = days if quarantine_days is None else quarantine_days
    dropped = writer.purge_quarantine(cutoff(q_days))
    if dropped:
        log.info("purged %d quarantined payloads last seen before %s (retention %d days)",
                 dropped, cutoff(q_days), q_days)
    return purged + dropped


class Progress:
    """A one-line progress display on a terminal: account n of N and the rows read for
    this account so far (log lines stay one per account)."""

    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        self.total, self.done, self.rows = total, 0, 0
        self.stream = stream or sys.stderr

    def page(self, account: Account, stats: PageStats) -> None:
        self.rows += stats.fetched
        self.stream.write(f"\r  [{self.done + 1}/{self.total}] {account.key}: "
                          f"{self.rows} rows read\x1b[K")
        self.stream.flush()

    def wrap(self, log_line: Callable[[Account, AccountResult], None]
             ) -> Callable[[Account, AccountResult], None]:
        def on_result(account: Account, result: AccountResult) -> None:
            self.stream.write("\r\x1b[K")
            self.done += 1
            self.rows = 0  # the next account starts from nothing
            log_line(account, result)
        return on_result


def under_run_lock(args: argparse.Namespace, what: str,
                   command: Callable[[argparse.Namespace], int]) -> int:
    """Run a writing command holding the database's run lock (exit 75 when another run
    holds it): a collect or the daemon cannot overlap it."""
    from pipeline.lock import EXIT_LOCKED, Locked, RunLock

    try:
        with RunLock(args.db, wait_seconds=getattr(args, "lock_wait", 0)):
            return command(args)
    except Locked as exc:
        log.error("%s not started: %s", what, exc)
        return EXIT_LOCKED


def check_origin(writer, path: str, origin: str, action: str = "a collect") -> None:
    """One database holds either the simulator's invented opinions or real ones, never both."""
    from store import queries

    held = queries.meta(writer.db, "origin")
    if held is None:
        writer.set_meta("origin", origin)
    elif held != origin:
        mix = ("invented opinions into real ones" if origin == "simulated"
               else "real opinions into the demo's")
        raise UsageError(f"{path} holds {held} data; {action} of {origin} data would mix "
                         f"{mix}: use another --db (or $SMC_DB)")


def capped_sleep(limit: float) -> Callable[[float], None]:
    """Every wait a collector asks for (backoff, poll intervals), never longer than `limit`."""
    import time

    return lambda seconds: time.sleep(max(0.0, min(seconds, limit)))


def stop_on_signals() -> threading.Event:
    """SIGTERM/SIGINT set an event: the page in hand is finished and committed, then exit."""
    stop = threading.Event()

    def handler(signum: int, frame: object) -> None:
        log.warning("%s received: finishing the page in hand, then stopping",
                    signal.Signals(signum).name)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, handler)
    return stop


def summarize(results: list[AccountResult]) -> str:
    inserted = sum(r.stats.inserted for r in results)
    updated = sum(r.stats.updated for r in results)
    quarantined = sum(r.stats.quarantined for r in results)
    by_status: dict[str, int] = {}
    for r in results:
        by_status[r.status] = by_status.get(r.status, 0) + 1
    states = ", ".join(f"{n} {s}" for s, n in sorted(by_status.items()))
    return (f"{len(results)} accounts ({states}): {inserted} rows inserted, {updated} updated, "
            f"{quarantined} quarantined")



def traffic(args: argparse.Namespace):
    """Record live traffic to, or replay it from, a directory (secrets scrubbed)."""
    if not (args.record or args.replay):
        return contextlib.nullcontext()
    from collectors.recording import recorded_traffic

    accounts = load_config(args)
    secrets = [os.environ[n] for a in accounts for n in a.credentials if os.environ.get(n)]
    if args.replay:
        return recorded_traffic(args.replay, "replay", secrets)
    return recorded_traffic(args.record, "record", secrets)



def add_collect_options(p: argparse.ArgumentParser, live_seconds: int = 5) -> None:
    p.add_argument("--account", action="append", metavar="KEY",
                   help="collect only this account (repeatable)")
    p.add_argument("--platform", action="append", choices=KEYS,
                   help="collect only this platform (repeatable)")
    p.add_argument("--seed", type=int, default=20121101,
                   help="seed of the simulated world (with --simulate)")
    p.add_argument("--lookback-days", type=positive_int, default=7, metavar="DAYS",
                   help="Facebook/Instagram: re-scan comments of posts this recent (default 7)")
    p.add_argument("--live-seconds", type=positive_int, default=live_seconds, metavar="N",
                   help="YouTube live chat: poll a live broadcast for at most N s per run "
                        f"(default {live_seconds})")
    p.add_argument("--youtube-quota", type=positive_int, default=10000, metavar="UNITS",
                   help="YouTube: daily quota budget in units, never exceeded (default 10000)")
    p.add_argument("--max-sleep", type=bounded(float, 0, "seconds"),
                   default=8.0, metavar="SECONDS",
                   help="never wait longer than this at once inside a run (default 8)")
    p.add_argument("--raw-retention-days", type=positive_int, default=30, metavar="DAYS",
                   help="purge unmasked raw payloads older than this after the pass (default 30)")
    p.add_argument("--quarantine-retention-days", type=positive_int, default=30,
                   metavar="DAYS", help="delete quarantined payloads not seen for DAYS days "
                   "(they are unmasked; their counts and reasons stay in runs; default 30)")


def iso_date(text: str) -> str:
    """argparse type: YYYY-MM-DD, returned as the start of that Seoul day in UTC ISO."""
    from datetime import date

    try:
        day = date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        day = None
    if day is None:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD, got {text!r}")
    return seoul_day_start(day)


def bounded(cast: Callable[[str], float], low: float, what: str,
            inclusive: bool = True) -> Callable[[str], float]:
    """An argparse type: the text as `cast`, at least `low` (or above it)."""
    sign = ">=" if inclusive else ">"

    def parse(text: str) -> float:
        try:
            value = cast(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if value < low or (not inclusive and value == low):
            raise argparse.ArgumentTypeError(f"expected {what} {sign} {low:g}, got {text}")
        return value

    return parse


positive_int = bounded(int, 1, "a whole number")
hours = bounded(float, 0, "a number of hours")
positive_hours = bounded(float, 0, "a number of hours", inclusive=False)
