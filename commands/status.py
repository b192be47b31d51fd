"""`status` (per account health, for people and monitors), `migrate` and `check-config`."""
from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys

from commands.common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    UsageError,
    load_config,
    open_db,
    positive_int,
    read_db,
)
from core.accounts import Account
from core.display import shown
from core.platforms import spec
from core.times import parse_iso
from store.db import UnusableDatabase


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
    if any(spec(a.platform).graph_versioned for a in accounts):
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
    if not start:
        return None
    return int((parse_iso(end) - parse_iso(start)).total_seconds() // 60)


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
    if any(spec(a.platform).graph_versioned for a in accounts):
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


def register(sub: argparse._SubParsersAction) -> None:
    """Add `status`, `migrate` and `check-config`."""
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
