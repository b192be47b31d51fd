"""How long the workplace's pages take over real HTTP, with `serve` running (issue #18).

`python -m bench.inbox --db PATH [--requests N] [--out FILE]`, or `--n 100000` to build a
database of N bulk-simulated comments first (the real ingest path, as `python -m bench`).

It copies the database (the original is left alone), adds a staff login and, for a queue that
looks lived in, assigns every 7th open opinion to a department and dismisses every 11th, starts
`smc serve` on a free port of 127.0.0.1 in a subprocess, logs in over HTTP as a browser would
(the login page, its CSRF token, the form), then requests each page N times in turn and
prints the first request's time (the inbox count and the filters' choices are not
remembered yet: the cost of a count) and p50 / p95 / max of the rest per page, and one JSON
line. Requests are sequential, bounded in
number, only to 127.0.0.1. Timings are measured here, never asserted in tests.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import sqlite3
import sys
import tempfile
import urllib.parse
from datetime import datetime, timezone
from html import unescape
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.http import Client, free_port, report_lines, serve, time_pages, timings  # noqa: E402
from bench.report import emit  # noqa: E402

USER, PASSWORD = "bench-staff", "bench-password-1"


def build(n: int, workdir: Path) -> Path:
    """A database of N bulk-simulated comments through the real ingest path."""
    from bench.ingest import ACCOUNTS, write_pages
    from bench.run import run_ingest
    from pipeline.config import load_accounts

    pages, db = workdir / f"pages-{n}.bin", workdir / f"smc-{n}.db"
    write_pages(pages, load_accounts(ACCOUNTS), n)
    run_ingest(pages, db, 1)
    pages.unlink()
    return db


def prepare(source: Path, target: Path) -> dict:
    """Copy the database, add the bench user and some staff work; what the queue holds."""
    from store import cases
    from store.db import connect
    from store.users import get_user
    from workplace import auth

    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    src.backup(dst)
    src.close()
    dst.close()
    db = connect(target, unmasked=False)
    if get_user(db, USER) is None:
        auth.add_user(db, USER, "staff", None, PASSWORD, datetime.now(timezone.utc))
    open_ids = [r[0] for r in db.execute(
        "SELECT id FROM opinions WHERE status IN ('received', 'assigned', 'in_progress') "
        "ORDER BY created_at, id")]
    departments = [r[0] for r in db.execute("SELECT DISTINCT department FROM accounts")]
    changes = []
    for i, oid in enumerate(open_ids):
        if i % 11 == 0:
            changes.append(cases.Change(oid, "dismissed", note="bench", by=USER,
                                        action="dismiss"))
        elif i % 7 == 0:
            changes.append(cases.Change(oid, "assigned", department=departments[i % len(
                departments)], by=USER, action="assign"))
    cases.apply_all(db, changes)
    counts = {
        "opinions": db.execute("SELECT count(*) FROM opinions").fetchone()[0],
        "open": db.execute("SELECT count(*) FROM opinions WHERE status IN "
                           "('received', 'assigned', 'in_progress')").fetchone()[0],
        "staff_changes": len(changes),
    }
    sample = db.execute("SELECT id FROM opinions WHERE status = 'received' "
                        "ORDER BY created_at DESC LIMIT 1").fetchone()[0]
    busiest = db.execute(
        "SELECT COALESCE(o.assigned_department, a.department), count(*) FROM opinions o "
        "JOIN accounts a ON a.key = o.account GROUP BY 1 ORDER BY 2 DESC LIMIT 1").fetchone()[0]
    db.conn.close()
    return {**counts, "sample": sample, "department": busiest}


def pages(queue: dict) -> dict[str, str]:
    department = urllib.parse.quote(queue["department"])
    return {
        "inbox (open, oldest first)": "/inbox",
        "inbox, overdue": "/inbox?overdue=1",
        "inbox, one department": f"/inbox?department={department}",
        "inbox, platform + category": "/inbox?platform=youtube&category=question",
        "inbox, all statuses": "/inbox?status=all",
        "one opinion": f"/opinions/{queue['sample']}",
        "public page": "/public",
    }


def measure(client: Client, paths: dict[str, str], requests: int) -> dict[str, dict]:
    results = time_pages(client, paths, requests)
    # the next page of the inbox (keyset paging: as fast as the first)
    _, first, _ = client.get("/inbox")
    found = re.search(r'href="([^"]+)" id="next"', first)
    if found:
        nxt = unescape(found.group(1))
        times = [client.get(nxt)[2] * 1000 for _ in range(requests)]
        results["inbox, next page"] = timings(times, times[0], nxt)
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.inbox", description=__doc__.split("\n")[0])
    ap.add_argument("--db", help="the database to measure (copied first)")
    ap.add_argument("--n", type=int, help="build a database of N bulk-simulated comments")
    ap.add_argument("--requests", type=int, default=50, help="requests per page (default 50)")
    ap.add_argument("--out", help="append the report and the JSON line to this file")
    ap.add_argument("--workdir", help="where the copy goes (default: a temp dir, removed)")
    args = ap.parse_args(argv)
    if not args.db and not args.n:
        ap.error("give --db PATH or --n N")
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="smc-bench-inbox-"))
    workdir.mkdir(parents=True, exist_ok=True)
    proc = None
    try:
        source = Path(args.db) if args.db else build(args.n, workdir)
        target = workdir / "served.db"
        queue = prepare(source, target)
        port = free_port()
        proc = serve(target, port, workdir / "serve.log")
        client = Client(f"http://127.0.0.1:{port}")
        client.login(USER, PASSWORD)
        results = measure(client, pages(queue), args.requests)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=20)
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    lines = [f"SMC workplace over HTTP: {queue['opinions']:,} opinions, {queue['open']:,} open, "
             f"{args.requests} requests per page (sequential, 127.0.0.1, serve in a subprocess)"]
    lines += report_lines(results)
    record = {"bench": "inbox", "opinions": queue["opinions"], "open": queue["open"],
              "requests": args.requests, "pages": results}
    emit(lines + [json.dumps(record, ensure_ascii=False)], args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
