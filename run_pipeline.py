#!/usr/bin/env python3
"""Seoul Social Media Center pipeline: the command line.

Exit codes: 0 every account ok, 1 some account failed, 2 config or usage error.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Callable, Sequence

import importlib

from pipeline.cli import EXIT_OK, EXIT_USAGE, UsageError, load_config, open_db
from pipeline.config import Account, ConfigError
from pipeline.ingest import AccountResult
from pipeline.runner import RunOptions, SecretMissing, collect, exit_code, simulated_environ

log = logging.getLogger("smc")
ROOT = Path(__file__).resolve().parent
# Modules that add commands with `register(subparsers)`; missing ones are simply absent.
COMMAND_MODULES = ("center.cli", "digest.cli", "pipeline.ops")


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
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else
                         logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
    logging.basicConfig(level=getattr(logging, level.upper()), handlers=[handler], force=True)
    # Client libraries log request headers (the bearer token) at DEBUG: keep them quiet.
    for noisy in ("tweepy", "facebook", "googleapiclient", "urllib3", "requests"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


# --- shared helpers ----------------------------------------------------------------------
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
    level = logging.INFO if result.ok or result.status == "unsupported" else logging.WARNING
    log.log(level, text, extra={"fields": fields})


def run_collect(args: argparse.Namespace, simulate: bool) -> tuple[int, list[AccountResult]]:
    """One collect pass; returns the exit code and the per-account results."""
    from store.writer import Writer

    accounts = load_config(args)
    unknown = sorted(set(args.account or ()) - {a.key for a in accounts})
    if unknown:
        raise UsageError(f"{args.config}: unknown account {', '.join(unknown)}")
    options = RunOptions(
        simulate=simulate, accounts=tuple(args.account or ()),
        platforms=tuple(args.platform or ()),
        extra={"lookback_days": args.lookback_days, "live_seconds": args.live_seconds,
               "youtube_quota": args.youtube_quota},
    )
    if simulate:
        from simulator import SimTransport, World

        transport = SimTransport(World(accounts, seed=args.seed))
        environ = {**simulated_environ(accounts), **os.environ}
    else:
        from collectors.http import LiveTransport

        transport, environ = LiveTransport(), dict(os.environ)
    writer = Writer(open_db(args))
    try:
        results = collect(writer, accounts, transport, environ, options, on_result=log_result)
    except SecretMissing as exc:
        raise UsageError(str(exc)) from None
    return exit_code(results), results


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


# --- commands ----------------------------------------------------------------------------
def cmd_collect(args: argparse.Namespace) -> int:
    code, results = run_collect(args, simulate=args.simulate)
    log.info("collect done: %s", summarize(results))
    return code


def cmd_demo(args: argparse.Namespace) -> int:
    from store import queries

    started = time.monotonic()
    print("demo: simulated platforms, no credentials, no network "
          "(author keys use a fixed DEMO key, not a secret)")
    code = EXIT_OK
    for n in (1, 2):
        code, results = run_collect(args, simulate=True)
        print(f"pass {n}: {summarize(results)}")
    db = open_db(args)
    counts = queries.comment_counts(db)
    tables = queries.table_counts(db)
    print(f"\n{args.db}: {tables['posts']} posts, {counts['comments']} comments "
          f"({counts['citizen']} citizens', {counts['official']} official answers, "
          f"{counts['replies']} in threads) from {counts['accounts']} accounts; "
          f"{tables['quarantine']} payloads in quarantine")
    print(f"took {time.monotonic() - started:.1f} s. Next:")
    print(f"  sqlite3 {args.db} 'SELECT account, text FROM comments LIMIT 5'")
    print(f"  python run_pipeline.py --db {args.db} status")
    return code


def cmd_status(args: argparse.Namespace) -> int:
    from store import queries

    rows = queries.account_status(open_db(args))
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
        return EXIT_OK
    header = f"{'account':<22} {'platform':<9} {'last':<12} {'last success':<21} {'comments':>8}  gap"
    print(header)
    for r in rows:
        gap = ""
        if r["reported_comments"] is not None:
            gap = f"{r['stored_comments']}/{r['reported_comments']}"
        print(f"{r['account']:<22} {r['platform']:<9} {(r['last_status'] or 'never'):<12} "
              f"{(r['last_success'] or '-'):<21} {r['comments']:>8}  {gap}"
              + (f"  retry after {r['retry_after']}" if r["retry_after"] else "")
              + (f"  | {r['last_error']}" if r["last_error"] else ""))
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
    missing = sorted({n for a in accounts for n in a.missing_credentials(dict(os.environ))})
    if missing:
        print("environment variables not set (those accounts will be skipped): "
              + ", ".join(missing))
    return EXIT_OK


# --- parser ------------------------------------------------------------------------------
def add_collect_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--account", action="append", metavar="KEY",
                   help="collect only this account (repeatable)")
    p.add_argument("--platform", action="append", choices=("x", "facebook", "instagram", "youtube"),
                   help="collect only this platform (repeatable)")
    p.add_argument("--seed", type=int, default=20121101,
                   help="seed of the simulated world (with --simulate)")
    p.add_argument("--lookback-days", type=positive_int, default=7, metavar="DAYS",
                   help="Facebook/Instagram: re-scan comments of posts this recent (default 7)")
    p.add_argument("--live-seconds", type=positive_int, default=5, metavar="N",
                   help="YouTube live chat: poll a live broadcast for at most N s (default 5)")
    p.add_argument("--youtube-quota", type=positive_int, default=10000, metavar="UNITS",
                   help="YouTube: daily quota budget in units, never exceeded (default 10000)")


def positive_int(text: str) -> int:
    """argparse type: a whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="run_pipeline.py",
        description="Collect citizens' opinions from Seoul's 44 SNS accounts into SQLite.",
        epilog="Exit codes: 0 all accounts ok, 1 some account failed, 2 config or usage error.",
    )
    parser.add_argument("--db", default=os.environ.get("SMC_DB", "data/smc.db"),
                        help="SQLite database (default: $SMC_DB or data/smc.db)")
    parser.add_argument("--config", default="config/accounts.yaml",
                        help="accounts file (default: config/accounts.yaml)")
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
    p.set_defaults(func=cmd_collect)

    p = sub.add_parser("demo", help="the embedded default: simulated platforms, two passes",
                       description="Collect the simulated world twice and say what is where.")
    add_collect_options(p)
    p.set_defaults(func=cmd_demo, account=None, platform=None)

    p = sub.add_parser("status", help="per account: last run, success, cursors, counts",
                       description="Show the health of every account.")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("check-config", help="validate accounts.yaml without any request",
                       description="Validate the accounts file; exit 2 on the first problem.")
    p.set_defaults(func=cmd_check_config)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.log_level, args.log_format)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except (ConfigError, UsageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
