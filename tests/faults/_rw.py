"""The two processes of tests/faults/test_readers.py (run as scripts, PYTHONPATH = the repo).

writer DB SIDE POSTS COMMENTS: a large simulated collect of every platform into DB; after
    each committed page it appends the cumulative comment count to SIDE (one per line), then
    "done".
reader DB OUT STOP: queries DB in a loop on one connection that never waits for a lock
    (timeout 0) until the file STOP exists; writes what it saw to OUT as JSON.
"""
from __future__ import annotations

import json
import sqlite3
import sys
import time
from pathlib import Path


def writer(db: str, side: str, posts: int, comments: int) -> None:
    from pipeline.config import load_accounts
    from pipeline.runner import RunOptions, collect, simulated_environ
    from simulator import SimTransport, World
    from store.db import connect
    from store.writer import Writer

    root = Path(__file__).resolve().parents[2]
    accounts = load_accounts(root / "config" / "accounts.yaml")
    world = World(accounts, posts_per_account=posts, comments_per_post=comments)
    w = Writer(connect(db))
    with open(side, "a", buffering=1) as out:

        def boundary(*_: object) -> None:
            count = w.db.execute("SELECT count(*) FROM comments").fetchone()[0]
            out.write(f"{count}\n")

        boundary()  # the migrated, empty database
        options = RunOptions(simulate=True, extra={"sleep": lambda s: None, "live_seconds": 60})
        results = collect(w, accounts, SimTransport(world), simulated_environ(accounts), options,
                          on_page=boundary)
        bad = [(r.account, r.status, r.error) for r in results if r.status != "ok"]
        out.write(f"done {json.dumps(bad)}\n")


def reader(db: str, out: str, stop: str) -> None:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0, isolation_level=None)
    seen: list[int] = []
    errors: list[str] = []
    orphans = 0
    while not Path(stop).exists():
        try:
            # one statement, one snapshot of the main file (raw payloads are in the unmasked
            # one, committed with it but not atomically with it: checked at the end)
            count, orphan = conn.execute("SELECT count(*), 0 FROM comments").fetchone()
        except sqlite3.Error as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
            time.sleep(0.01)
            continue
        orphans += orphan or 0
        if not seen or seen[-1] != count:
            seen.append(count)
    conn.close()
    Path(out).write_text(json.dumps({"seen": seen, "errors": errors, "orphans": orphans}))


if __name__ == "__main__":
    mode, *args = sys.argv[1:]
    if mode == "writer":
        writer(args[0], args[1], int(args[2]), int(args[3]))
    else:
        reader(*args)
