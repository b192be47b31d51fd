"""The collecting process killed with SIGKILL at random points, again and again: every
killed run leaves a sound database, and a normal run afterwards makes it equal to the
database of one uninterrupted run.

All platforms, as cron runs it: `run_pipeline.py --db DB collect --simulate`. The Live Seoul
chat is included: `--live-seconds 60` is far more than the simulated chat needs (6 polls,
0.2 s apart), so every run that is not killed reads the chat to its end and the reference
holds all of it; a run killed mid-chat leaves its stored page token, and the next run
resumes from it.

Kill delays come from random.Random(SEED): uniform between 0.3 s and 95 % of how long a
re-run of a complete database takes, so nearly every kill lands while the process works
(a run that finishes first is not counted as a kill point). 4 kill points in `make test`,
20 with SMC_FAULTS_LONG=1 (`make faults`).
"""
from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from .conftest import LONG, ROOT, diff, integrity, snapshot

SEED = 20121101
KILLS = 20 if LONG else 4
COLLECT = ("collect", "--simulate", "--live-seconds", "60")


def start(db: Path, log: Path) -> subprocess.Popen:
    out = log.open("ab")
    return subprocess.Popen([sys.executable, "run_pipeline.py", "--db", str(db), *COLLECT],
                            cwd=ROOT, stdout=out, stderr=out)


def complete(db: Path, log: Path) -> float:
    """One uninterrupted run; returns how long it took (to aim the kills, never asserted)."""
    began = time.monotonic()
    proc = start(db, log)
    code = proc.wait(timeout=600)
    assert code == 0, log.read_text(errors="replace")[-3000:]
    return time.monotonic() - began


def test_sigkill_at_random_points_then_a_normal_run_equals_an_uninterrupted_run(
        tmp_path: Path) -> None:
    log = tmp_path / "collect.log"
    reference = tmp_path / "reference.db"
    complete(reference, log)
    want = snapshot(reference)
    assert len(want["comments"]) > 1000 and len(want["posts"]) > 100
    rerun = complete(reference, log)  # a second run changes nothing, and says how long it takes
    assert snapshot(reference) == want

    rng = random.Random(SEED)
    db = tmp_path / "smc.db"
    survived, finished, unfinished = 0, 0, 0
    while survived < KILLS and survived + finished < 4 * KILLS:
        delay = rng.uniform(0.3, max(0.6, 0.95 * rerun))
        proc = start(db, log)
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            assert proc.wait(timeout=60) == -signal.SIGKILL
            survived += 1
        else:
            assert proc.returncode == 0, log.read_text(errors="replace")[-3000:]
            finished += 1
        if db.exists():
            integrity(db)
            got = snapshot(db)
            unfinished += (got["posts"], got["comments"]) != (want["posts"], want["comments"])
    print(f"\nSIGKILL: survived {survived} kill points ({finished} runs finished before "
          f"their kill time; {unfinished} kills left rows to collect), seed {SEED}")
    assert survived == KILLS
    assert unfinished > 0, "no kill interrupted the collection of rows"

    complete(db, log)
    integrity(db)
    got = snapshot(db)
    assert got == want, diff(got, want)
    # The killed runs' rows were closed by the next run, not left 'running' for ever.
    states = dict(sqlite3.connect(db).execute(
        "SELECT status, count(*) FROM runs GROUP BY status").fetchall())
    assert "running" not in states and states.get("aborted", 0) >= 1
