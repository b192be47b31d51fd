"""Readers while the collector writes: an analyst's sqlite3 connection and Datasette, both
querying in a loop during a large simulated collect, never see "database is locked", an
error, or a partial page.

The writer process records, after each committed page, the cumulative comment count; every
count a reader observes must be one of those page boundaries (a page's rows, raw payloads
and cursor go in one transaction, so nothing in between may ever be visible).
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from store.db import open_plain

from .conftest import LONG, ROOT

HERE = Path(__file__).resolve().parent
# ~2.5x the demo's volume (~13k comments); the long suite writes ~4x more
SIZE = (16, 24) if LONG else (12, 16)


def spawn(*args: str, log: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = log.open("ab")
    return subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env, stdout=out, stderr=out)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(check, what: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")


def test_readers_see_only_whole_pages_and_never_a_lock(tmp_path: Path) -> None:
    db, side, log = tmp_path / "smc.db", tmp_path / "boundaries.txt", tmp_path / "procs.log"
    stop, seen_file = tmp_path / "stop", tmp_path / "reader.json"
    writer = spawn(str(HERE / "_rw.py"), "writer", str(db), str(side), *map(str, SIZE),
                   log=log)
    datasette = None
    try:
        wait_for(lambda: side.exists() and side.read_text().strip(), "the migrated database")
        reader = spawn(str(HERE / "_rw.py"), "reader", str(db), str(seen_file), str(stop),
                       log=log)
        port = free_port()
        datasette = spawn("-m", "datasette", "serve", str(db), "--host", "127.0.0.1",
                          "--port", str(port), "--setting", "default_allow_sql", "1",
                          "--setting", "sql_time_limit_ms", "10000", log=log)
        base = f"http://127.0.0.1:{port}"

        def up() -> bool:
            try:
                return get(f"{base}/-/versions.json")[0] == 200
            except OSError:
                return False

        wait_for(up, "Datasette")
        answers: list[tuple[str, int, str]] = []
        counts: list[int] = []
        done = threading.Event()

        def poll_datasette() -> None:
            queries = (f"{base}/smc.json?sql=select+count(*)+as+n+from+comments&_shape=array",
                       f"{base}/smc/comments.json?_size=1&_shape=objects")
            while not done.is_set():
                for url in queries:
                    status, body = get(url)
                    answers.append((url, status, body[:300]))
                    if status == 200 and "_shape=array" in url:
                        counts.append(json.loads(body)[0]["n"])

        poller = threading.Thread(target=poll_datasette)
        poller.start()
        try:
            code = writer.wait(timeout=900)
        finally:
            done.set()
            poller.join(timeout=120)
            stop.touch()
        assert code == 0, log.read_text(errors="replace")[-3000:]
        assert reader.wait(timeout=120) == 0, log.read_text(errors="replace")[-3000:]
    finally:
        for proc in (writer, datasette):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=30)

    lines = side.read_text().splitlines()
    assert lines[-1] == "done []", lines[-1]  # every account collected fine
    boundaries = {int(n) for n in lines[:-1]}
    assert max(boundaries) > 10_000 and len(boundaries) > 100

    seen = json.loads(seen_file.read_text())
    assert seen["errors"] == [], seen["errors"][:5]  # no "database is locked", nothing
    with open_plain(db) as conn:  # every comment got its raw payload
        assert conn.execute("SELECT count(*) FROM comments WHERE id NOT IN "
                            "(SELECT id FROM raw)").fetchone() == (0,)
    assert set(seen["seen"]) <= boundaries, sorted(set(seen["seen"]) - boundaries)[:5]
    assert len(set(seen["seen"])) >= 3, "the reader did not overlap the writing"

    failed = [a for a in answers if a[1] != 200 or "locked" in a[2].lower()]
    assert failed == [], failed[:3]
    assert set(counts) <= boundaries, sorted(set(counts) - boundaries)[:5]
    assert len(set(counts)) >= 2, "Datasette did not overlap the writing"
    print(f"\nreaders: {len(boundaries)} page boundaries written; the sqlite3 reader saw "
          f"{len(set(seen['seen']))} of them, Datasette {len(set(counts))} in "
          f"{len(answers)} answers")
