#!/usr/bin/env python3
"""Seoul Social Media Center pipeline: the command line.

Exit codes: 0 every account ok, 1 some account failed (or `status --check` found a problem),
2 config or usage error, 75 another run holds the database's lock.
"""
from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sqlite3
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Callable, Sequence
from zoneinfo import ZoneInfo

from core.display import shown
from core.redact import redact
from pipeline.cli import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    UsageError,
    add_collect_options,
    iso_date,
    load_config,
    open_db,
    positive_int,
    read_db,
    run_collect,
    stop_on_signals,
    summarize,
    traffic,
    under_run_lock,
)
from pipeline.config import Account, ConfigError
from pipeline.secrets import (
    RedactingFormatter,
    RedactingHandler,
    install_log_scrubber,
    secret_values,
)
from store.db import UnusableDatabase, describe

log = logging.getLogger("smc")
ROOT = Path(__file__).resolve().parent
DEFAULT_CONFIG = ROOT / "config" / "accounts.yaml"
SEOUL = ZoneInfo("Asia/Seoul")
# Modules that add commands with `register(subparsers)`.
COMMAND_MODULES = ("center.cli", "digest.cli", "pipeline.ops", "workplace.cli")


# --- logging -----------------------------------------------------------------------------
class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log shippers."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created)),
            "level": record.levelname.lower(), "logger": record.name, "msg": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(level: str, fmt: str) -> None:
    handler = RedactingHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter(
        JsonFormatter() if fmt == "json" else
        logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S")))
    logging.basicConfig(level=getattr(logging, level.upper()), handlers=[handler], force=True)
    # Client libraries log request headers and URLs (tokens, API keys) at DEBUG: keep them
    # quiet, and scrub whatever is logged anyway.
    # APScheduler narrates every job (88 lines at start-up): only when debugging.
    for noisy in ("tweepy", "facebook", "googleapiclient", "urllib3", "requests", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if level == "debug" and
                                          noisy == "apscheduler" else logging.WARNING)
    install_log_scrubber(secret_values())


# --- commands ----------------------------------------------------------------------------
def cmd_collect(args: argparse.Namespace) -> int:
    from pipeline.lock import EXIT_LOCKED, Locked, RunLock

    if args.replay and args.record:
        raise UsageError("--record and --replay exclude each other")
    try:
        with RunLock(args.db, wait_seconds=args.lock_wait):
            stop = stop_on_signals()
            with traffic(args):
                code, results = run_collect(args, simulate=args.simulate, stop=stop)
    except Locked as exc:
        log.error("collect not started: %s", exc)
        return EXIT_LOCKED
    log.info("collect done: %s", summarize(results))
    return code


def cmd_demo(args: argparse.Namespace) -> int:
    """The demo under the run lock, as collect (a daemon on the same database waits)."""
    return under_run_lock(args, "demo", _demo)


def _demo(args: argparse.Namespace) -> int:
    from digest.render import write_digest
    from simulator.world import SIM_NOW
    from store import queries

    started = time.monotonic()
    print("demo: simulated platforms, no credentials, no network "
          "(author keys use a fixed DEMO key, not a secret)")
    code = EXIT_OK
    for n in (1, 2):
        passed, results = run_collect(args, simulate=True)
        code = max(code, passed)
        print(f"pass {n}: {summarize(results)}")
    db = open_db(args)
    counts = queries.comment_counts(db)
    tables = queries.table_counts(db)
    print(f"\n{args.db}: {tables['posts']} posts, {counts['comments']} comments "
          f"({counts['citizen']} citizens', {counts['official']} official answers, "
          f"{counts['replies']} in threads) from {counts['accounts']} accounts; "
          f"{tables['quarantine']} payloads in quarantine")
    # What staff read at 09:00 Seoul on the simulated morning: the digest of the day before.
    day = (SIM_NOW.astimezone(SEOUL) - timedelta(days=1)).date()
    paths = write_digest(db, day, Path(args.digest_out), now=SIM_NOW)
    print(f"digest of {day} (Seoul): " + ", ".join(str(p) for p in paths))
    from workplace.cli import demo_logins

    logins = demo_logins(db)  # the demo's own database only: the passwords are printed
    print(f"took {time.monotonic() - started:.1f} s. Next:")
    smc = f"{command_name()} --db {args.db}"
    print(f"  sqlite3 {args.db} 'SELECT status, count(*) FROM opinions GROUP BY 1'")
    print(f"  {smc} status        # per account health")
    print(f"  {smc} case list --overdue 24")
    print(f"  {smc} search 택시")
    print(f"  {smc} serve         # the workplace: http://127.0.0.1:8001/inbox")
    print("demo logins of the workplace (FOR THE DEMO ONLY: made on this simulated database, "
          "with passwords printed here; add real users with `user add`):")
    for name, password, role, department in logins:
        print(f"  name {name:<10} password {password:<15} {role}"
              + (f" of {department}" if department else ""))
    return code


def command_name() -> str:
    """How to run this program again from here: the `smc` script beside this interpreter
    (the project's virtualenv), as a path relative to the working directory when shorter."""
    script = Path(sys.executable).parent / "smc"
    if not script.exists():
        return f"{sys.executable} {Path(__file__).resolve()}"
    try:
        return str(script.relative_to(Path.cwd()))
    except ValueError:
        return str(script)


def cmd_status(args: argparse.Namespace) -> int:
    from store import queries
    from store.search import stale_tokens
    from store.writer import quota_day, utc_now

    try:
        db = read_db(args)
    except UnusableDatabase as exc:
        if not (args.check and exc.corrupt):
            raise
        print(f"integrity check failed: {exc}", file=sys.stderr)  # what a monitor reports
        return EXIT_FAILED
    now = utc_now()
    accounts = load_config(args)  # accounts dropped from the config are not watched
    checked = queries.integrity(db)
    try:
        held = {r["account"]: r for r in queries.account_status(db)}
    except sqlite3.DatabaseError as exc:
        print(f"{args.db}: corrupted, status unreadable ({exc}); integrity check: {checked}",
              file=sys.stderr)
        return EXIT_FAILED if args.check else EXIT_USAGE
    rows = [held.get(a.key) or never_ran(a) for a in accounts]
    for r in rows:
        r["lag_minutes"] = _minutes_between(r["last_success"], now)
        r["lag_limit_minutes"] = args.max_lag or 4 * r["interval_minutes"]
        r["healthy"] = r["lag_minutes"] is not None and r["lag_minutes"] <= r["lag_limit_minutes"]
        r["token_trouble"] = r["last_status"] in ("auth", "permission")
    health = {
        "integrity_check": checked,
        "quota": {"platform": "youtube", "pacific_day": quota_day(now, "youtube"),
                  "used": queries.quota_used(db, "youtube", quota_day(now, "youtube")),
                  "budget": args.youtube_quota},
        "unhealthy_accounts": [r["account"] for r in rows if not r["healthy"]],
        "search_tokens_stale": stale_tokens(db),
    }
    if any(a.platform in ("facebook", "instagram") for a in accounts):
        health["graph_api"] = graph_api_health(now[:10])
    if args.json:
        print(json.dumps({"accounts": rows, **health}, ensure_ascii=False, indent=1))
    else:
        print_status(rows, health)
    if args.check:
        for r in rows:
            if not r["healthy"]:
                print(f"over its lag limit: {lag_problem(r)}", file=sys.stderr)
        return EXIT_FAILED if health["unhealthy_accounts"] or health["integrity_check"] != "ok" \
            else EXIT_OK
    return EXIT_OK


def never_ran(account: Account) -> dict:
    """The status row of a configured account the database has never collected."""
    return {"account": account.key, "platform": account.platform, "name": account.name,
            "interval_minutes": account.interval_minutes, "last_status": None,
            "last_run": None, "last_success": None, "last_error": None, "comments": 0,
            "citizen": 0, "cursors": None, "retry_after": None, "reported_comments": None,
            "stored_comments": None, "last_read": None, "last_stored": None,
            "last_quarantined": None, "last_skipped": None, "last_skip_reasons": None,
            "last_quarantine_reasons": None, "restricted": 0}


def lag_problem(r: dict) -> str:
    """Why an account fails --check, with its limit."""
    limit = r["lag_limit_minutes"]
    if r["last_success"] is None:
        ran = "never ran" if r["last_status"] is None else f"never succeeded ({r['last_status']})"
        return f"{r['account']}: {ran}; limit {limit} min"
    return (f"{r['account']}: last success {r['lag_minutes']} min ago, over its limit of "
            f"{limit} min")


def graph_api_health(today: str) -> dict:
    """The configured Graph API version and what status says of it on `today` (YYYY-MM-DD):
    a warning EOL_WARNING_DAYS before its end of life, after it, or when it is unknown."""
    from datetime import date

    from collectors.graph import configured_version, version_notice

    try:
        version = configured_version(os.environ)
    except ValueError as exc:
        return {"version": None, "notice": str(exc), "warning": True}
    notice, warning = version_notice(version, date.fromisoformat(today))
    return {"version": version, "notice": notice, "warning": warning}


def _minutes_between(start: str | None, end: str) -> int | None:
    from datetime import datetime

    if not start:
        return None
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    return int((datetime.strptime(end, fmt) - datetime.strptime(start, fmt)).total_seconds() // 60)


def print_status(rows: list[dict], health: dict) -> None:
    print(f"{'account':<22} {'platform':<9} {'last':<12} {'last success':<21} {'lag':>7} "
          f"{'comments':>8}  completeness")
    for r in rows:
        gap = ""
        if r["reported_comments"] is not None:
            gap = f"{r['stored_comments']}/{r['reported_comments']} stored"
        lag = "-" if r["lag_minutes"] is None else f"{r['lag_minutes']}m"
        line = (f"{r['account']:<22} {r['platform']:<9} {(r['last_status'] or 'never'):<12} "
                f"{(r['last_success'] or '-'):<21} {lag:>7} {r['comments']:>8}  {gap}")
        if r["restricted"]:
            line += f"  {r['restricted']} restricted"  # withheld, suspended, ... (notices)
        if r["last_read"]:
            line += (f"  last run: {r['last_read']} read = {r['last_stored']} stored + "
                     f"{r['last_quarantined']} quarantined + {r['last_skipped']} skipped")
        if r["retry_after"]:
            line += f"  retry after {r['retry_after']}"
        if r["token_trouble"]:
            line += "  TOKEN"
        if r["last_error"]:
            line += f"  | {r['last_error']}"
        print(shown(line))  # names and errors may carry others' words
    bad = health["unhealthy_accounts"]
    quota = health["quota"]
    print(f"\nintegrity_check: {health['integrity_check']}")
    print(f"youtube quota: {quota['used']} of {quota['budget']} units used today "
          f"(Pacific day {quota['pacific_day']})")
    graph = health.get("graph_api")
    if graph:
        print(f"{'WARNING ' if graph['warning'] else ''}graph api: {graph['notice']}")
    if health["search_tokens_stale"]:
        print(f"WARNING search tokens {health['search_tokens_stale']}: run `reindex`")
    print(f"{len(rows) - len(bad)}/{len(rows)} accounts succeeded within their lag limit")
    for r in rows:
        if not r["healthy"]:
            print(f"  {lag_problem(r)}")


def cmd_migrate(args: argparse.Namespace) -> int:
    from store.db import schema_version

    db = open_db(args)
    print(f"{args.db}: schema {schema_version(db)}, current")
    return EXIT_OK


def cmd_check_config(args: argparse.Namespace) -> int:
    accounts = load_config(args)
    by_platform: dict[str, int] = {}
    for a in accounts:
        by_platform[a.platform] = by_platform.get(a.platform, 0) + 1
    placeholders = sum(a.placeholder for a in accounts)
    print(f"{args.config}: {len(accounts)} accounts ok ("
          + ", ".join(f"{p} {n}" for p, n in by_platform.items())
          + f"); {placeholders} marked placeholder (check before live use)")
    if any(a.platform in ("facebook", "instagram") for a in accounts):
        from collectors.graph import configured_version

        try:
            print(f"graph api version: {configured_version(os.environ)}")
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    missing = sorted({n for a in accounts for n in a.missing_credentials(dict(os.environ))})
    if missing:
        print("environment variables not set (those accounts will be skipped): "
              + ", ".join(missing))
    return EXIT_OK


# --- parser ------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="run_pipeline.py",
        description="Collect citizens' opinions from Seoul's 44 SNS accounts into SQLite.",
        epilog="Exit codes: 0 all accounts ok, 1 some account failed (or status --check found a problem), 2 config or usage error, 75 another run holds the lock.",
    )
    parser.add_argument("--db", default=os.environ.get("SMC_DB", "data/smc.db"),
                        help="SQLite database (default: $SMC_DB or data/smc.db)")
    parser.add_argument("--config", default=os.environ.get("SMC_CONFIG", str(DEFAULT_CONFIG)),
                        help="accounts file (default: $SMC_CONFIG, else the project's "
                             "config/accounts.yaml, wherever you run it from)")
    parser.add_argument("--debug", action="store_true",
                        help="log at debug level and show the traceback of an unexpected error")
    parser.add_argument("--log-level", default="info",
                        choices=("debug", "info", "warning", "error"), help="log verbosity")
    parser.add_argument("--log-format", default="text", choices=("text", "json"),
                        help="log lines as text or as JSON objects for log shippers")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("collect", help="one pass over all (or some) accounts; for cron",
                       description="Fetch new comments, posts and answers of every account.")
    p.add_argument("--simulate", action="store_true",
                   help="serve the simulated platforms instead of the internet")
    add_collect_options(p)
    p.add_argument("--full-refresh", action="store_true",
                   help="ignore stored cursors: re-read all the APIs still serve (harmless)")
    p.add_argument("--since", type=iso_date, metavar="YYYY-MM-DD",
                   help="read no further back than this Seoul date (X and Facebook, whose "
                        "APIs filter by time)")
    p.add_argument("--lock-wait", type=float, default=10.0, metavar="SECONDS",
                   help="wait this long for another run's lock, then exit 75 (default 10)")
    p.add_argument("--record", metavar="DIR",
                   help="save live traffic to DIR (tokens, keys, appsecret_proof scrubbed)")
    p.add_argument("--replay", metavar="DIR",
                   help="run the collectors offline on traffic saved with --record")
    p.set_defaults(func=cmd_collect)

    p = sub.add_parser("demo", help="the embedded default: simulated platforms, two passes",
                       description="Collect the simulated world twice and say what is where.")
    add_collect_options(p)
    p.add_argument("--digest-out", default="out/digest", metavar="DIR",
                   help="where the digest of the demo's last day goes (default out/digest)")
    p.set_defaults(func=cmd_demo, account=None, platform=None)

    p = sub.add_parser("status", help="per account: last run, success, cursors, counts",
                       description="Show the health of every account.")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--check", action="store_true",
                   help="exit 1 when an account has not succeeded within its lag limit or "
                        "the database fails its integrity check (for monitoring)")
    p.add_argument("--max-lag", type=positive_int, metavar="MINUTES",
                   help="lag limit for --check (default: 4 x each account's interval)")
    p.add_argument("--youtube-quota", type=positive_int, default=10000, metavar="UNITS",
                   help="the daily YouTube budget to show usage against (default 10000)")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("migrate", help="create the database, or upgrade it to this version",
                       description="Create --db, or apply the migrations it lacks (read "
                                   "commands never change a database; writing ones migrate "
                                   "on their own).")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("check-config", help="validate accounts.yaml without any request",
                       description="Validate the accounts file; exit 2 on the first problem.")
    p.set_defaults(func=cmd_check_config)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


EXIT_PIPE = 141  # 128 + SIGPIPE, what a shell reports for `... | head`


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging("debug" if args.debug else args.log_level, args.log_format)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        code = func(args)
        sys.stdout.flush()  # a closed pipe shows here, not at exit
        return code
    except (ConfigError, UsageError, UnusableDatabase) as exc:
        return fail(f"error: {exc}", EXIT_USAGE)
    except sqlite3.DatabaseError as exc:  # a database that went bad under a command
        return fail(f"error: {describe(args.db, exc)} (run `status --check`)", EXIT_USAGE)
    except KeyboardInterrupt:
        return fail("interrupted", 130)
    except BrokenPipeError:  # `status | head`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_PIPE
    except OSError as exc:  # a full disk, a read-only folder, a missing file
        where = f"{exc.filename}: " if exc.filename else ""
        return fail(f"error: {args.command}: {where}{exc.strerror or exc}", EXIT_FAILED,
                    args.debug)
    except Exception as exc:  # noqa: BLE001 - one line for a person, the traceback on demand
        return fail(f"error: {args.command} failed unexpectedly: {type(exc).__name__}: "
                    f"{exc} (run again with --debug for the traceback; logs on stderr)",
                    EXIT_FAILED, args.debug)


def fail(message: str, code: int, traceback: bool = False) -> int:
    """One redacted line on stderr (and, with --debug, the traceback), then the exit code."""
    if traceback:
        import traceback as tb

        print(redact(tb.format_exc()), file=sys.stderr, end="")
    print(redact(message.replace("\n", " ")), file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
