"""`collect` (one pass, for cron) and `demo` (the simulated world, twice)."""
from __future__ import annotations

import argparse
import logging
import sys
import time
from datetime import timedelta
from pathlib import Path

from commands.common import (
    EXIT_OK,
    ROOT,
    UsageError,
    add_collect_options,
    iso_date,
    open_db,
    run_collect,
    stop_on_signals,
    summarize,
    traffic,
    under_run_lock,
)
from core.times import SEOUL

log = logging.getLogger("smc")


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
    from commands.workplace import demo_logins

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
        return f"{sys.executable} {ROOT / 'run_pipeline.py'}"
    try:
        return str(script.relative_to(Path.cwd()))
    except ValueError:
        return str(script)


def register(sub: argparse._SubParsersAction) -> None:
    """Add `collect` and `demo`."""
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
