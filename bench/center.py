"""How long the centre's pages take over real HTTP, with `serve` running (issue #17).

`python -m bench.center --db PATH [--requests N] [--out FILE]`; `measure(db, requests)` for
bench/run.py.

It copies the database (the original is left alone; a serve of an older schema upgrades the
copy: `migrate` of the serving checkout, timed), starts `smc serve` on a free port of 127.0.0.1 in a subprocess, and requests each
centre page (Datasette's `center` table, plain and with a facet applied, and the canned
queries overdue, unanswered_by_department, answer_rate_by_account, sns_map, opinion,
search) once and then N times
in turn: the first request's time and p50 / p95 / max of the rest per page, and one JSON
line. For the table pages it reads the page's JSON once as well: the row count shown and
any facet that timed out (a facet Datasette gave up on is not a fast page). Requests are
sequential, bounded in number, only to 127.0.0.1. Timings are measured here, never asserted
in tests.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.http import Client, free_port, report_lines, serve, time_pages  # noqa: E402
from bench.inbox import PASSWORD, USER  # noqa: E402
from bench.report import emit  # noqa: E402

SERVED = "smc"  # the copy's name: the centre's pages are under /smc/
FACETS = ("platform", "account", "field", "status", "district", "category", "seoul_day")  # metadata


def copy(source: Path, target: Path) -> dict:
    """Copy the database (SQLite's backup: consistent while a collector writes); what the
    pages need from it: counts, a real opinion with a thread, the busiest district."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    src.backup(dst)
    src.close()
    facts = {
        "opinions": dst.execute("SELECT count(*) FROM comments WHERE is_official = 0")
        .fetchone()[0],
        # the newest answered opinion: a thread with the city's reply in it
        "opinion": dst.execute("SELECT a.comment_id FROM answers a JOIN comments c "
                               "ON c.id = a.comment_id WHERE c.deleted = 0 "
                               "ORDER BY a.rowid DESC LIMIT 1").fetchone()[0],
        "district": dst.execute("SELECT district FROM comments WHERE is_official = 0 AND "
                                "district IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC "
                                "LIMIT 1").fetchone()[0],
    }
    dst.close()
    return facts


def add_user(target: Path) -> None:
    """The bench's staff login in the copy."""
    from datetime import datetime, timezone

    import sqlite_utils

    from store.users import get_user
    from workplace import auth

    db = sqlite_utils.Database(sqlite3.connect(target))
    if get_user(db, USER) is None:
        auth.add_user(db, USER, "staff", None, PASSWORD, datetime.now(timezone.utc))
    db.conn.commit()
    db.conn.close()


def pages(facts: dict) -> dict[str, str]:
    base, q = f"/{SERVED}", urllib.parse.quote
    return {
        "center": f"{base}/center",
        "center ?platform=youtube": f"{base}/center?platform=youtube",
        "center ?status=received": f"{base}/center?status=received",
        "center ?district=(busiest)": f"{base}/center?district={q(facts['district'])}",
        "overdue": f"{base}/overdue",
        "unanswered_by_department": f"{base}/unanswered_by_department",
        "answer_rate_by_account": f"{base}/answer_rate_by_account",
        "sns_map": f"{base}/sns_map",
        "opinion (with its thread)": f"{base}/opinion?id={q(facts['opinion'], safe='')}",
        "search 택시": f"{base}/search?q={q('택시')}",
    }


def table_facts(client: Client, path: str) -> dict:
    """What a table page showed: its row count and the facets that timed out."""
    page, _, query = path.partition("?")
    try:
        _, body, _ = client.get(f"{page}.json?{query}" if query else f"{page}.json")
    except urllib.error.HTTPError as exc:  # e.g. 400: a query over the time limit
        return {"json_error": f"{exc.code} {exc.reason}"}
    data = json.loads(body)
    shown = sorted(data.get("facet_results", {}))
    # the JSON leaves out a facet that timed out (the page says "These facets timed out")
    return {"rows": data.get("filtered_table_rows_count"), "facets": shown,
            "facets_timed_out": sorted(set(FACETS) - set(shown))}


def measure(db: Path, requests: int = 30, root: Path = ROOT,
            workdir: Path | None = None) -> dict:
    """Per centre page: first / p50 / p95 / max ms over HTTP, with `serve` of the checkout at
    root (default: this one) on a copy of db."""
    work = Path(workdir or tempfile.mkdtemp(prefix="smc-bench-center-"))
    work.mkdir(parents=True, exist_ok=True)
    proc = None
    try:
        target = work / f"{SERVED}.db"
        facts = copy(Path(db), target)
        t0 = time.perf_counter()  # serve reads the schema it knows: the copy is upgraded
        subprocess.run([sys.executable, "run_pipeline.py", "--db", str(target), "migrate"],
                       cwd=root, check=True, capture_output=True)
        facts["migrate_seconds"] = round(time.perf_counter() - t0, 1)
        add_user(target)
        port = free_port()
        proc = serve(target, port, work / "serve.log", root)
        client = Client(f"http://127.0.0.1:{port}")
        client.login(USER, PASSWORD)  # the centre is behind the workplace's login
        paths = pages(facts)
        results = time_pages(client, paths, requests)
        for name, path in paths.items():
            if name.startswith("center"):
                results[name].update(table_facts(client, path))
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
        if workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    return {"bench": "center", "opinions": facts["opinions"], "requests": requests,
            "migrate_seconds": facts["migrate_seconds"], "pages": results}


def report(record: dict) -> str:
    lines = [f"SMC centre over HTTP: {record['opinions']:,} opinions (deleted ones included), "
             f"{record['requests']} requests per page (sequential, 127.0.0.1, serve in a "
             "subprocess)"]
    lines += report_lines(record["pages"], width=30)
    for name, r in record["pages"].items():
        if r.get("facets_timed_out"):
            lines.append(f"  ! {name}: facets timed out: {', '.join(r['facets_timed_out'])}")
    return "\n".join(lines) + "\n" + json.dumps(record, ensure_ascii=False)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.center", description=__doc__.split("\n")[0])
    ap.add_argument("--db", required=True, help="the database to measure (copied first)")
    ap.add_argument("--requests", type=int, default=30, help="requests per page (default 30)")
    ap.add_argument("--out", help="append the report and the JSON line to this file")
    ap.add_argument("--root", help="serve with the checkout there (e.g. main, for a before)")
    ap.add_argument("--workdir", help="where the copy goes (default: a temp dir, removed)")
    args = ap.parse_args(argv)
    record = measure(Path(args.db), args.requests, Path(args.root) if args.root else ROOT,
                     Path(args.workdir) if args.workdir else None)
    emit([report(record)], args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
