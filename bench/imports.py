"""The `import` path of the benchmark: the bulk world's pages saved as people save API output,
then `run_pipeline.py import` in a fresh process (issue #17).

`save_pages(pages, folder)` writes one JSONL file per account (`ACCOUNT.jsonl`, one response
body a line, as twarc2 or a cron `curl` would): X and YouTube pages as served; a Graph comment
page as a `?ids=` batch under its post (a saved comments page does not name its post, the
batch form does). `run_import(folder, db, workers)` imports every file in one process, as an
operator backfilling an archive would, and reports its wall time and peak RSS (the process
and its normalizer workers).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import BinaryIO

from bench.ingest import read_pages
from core.shapes import SIMULATED_KEY

ROOT = Path(__file__).resolve().parent.parent


def save_pages(pages: Path, folder: Path) -> list[Path]:
    """The pages file as one saved JSONL file per account; the files, in account order."""
    folder.mkdir(parents=True, exist_ok=True)
    outs: dict[str, BinaryIO] = {}
    try:
        for head, body in read_pages(pages):
            out = outs.get(head["a"])
            if out is None:
                out = outs[head["a"]] = open(folder / f"{head['a']}.jsonl", "wb")
            post = (head.get("inc") or {}).get("post_id")
            if post and head["k"] == "comment":
                page = json.loads(body)
                body = json.dumps({post: page, SIMULATED_KEY: page.pop(SIMULATED_KEY, True)},
                                  ensure_ascii=False).encode()
            out.write(body.replace(b"\n", b" ") + b"\n")
    finally:
        for out in outs.values():
            out.close()
    return [folder / f"{key}.jsonl" for key in outs]


def run_import(files: list[Path], db: Path, workers: int) -> dict:
    """`import` of the files into the database, in a fresh process: seconds, peak RSS MB
    (its own, its workers'), the summary lines' totals."""
    cmd = [sys.executable, "run_pipeline.py", "--db", str(db), "import", "--demo-key",
           "--workers", str(workers), *map(str, files)]
    env = dict(os.environ, PYTHONHASHSEED="0")
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate()
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.stderr.write(err[-4000:])
        raise SystemExit(f"import failed ({proc.returncode})")
    return {"seconds": round(seconds, 3), "files": len(files), **_totals(out)}


def _totals(out: str) -> dict:
    """Sum of the summary lines' `N read = M stored (A new, B updated, C unchanged)`."""
    keys = ("read", "stored", "new", "updated", "unchanged", "quarantined", "skipped")
    line = re.compile(r"(\d+) read = (\d+) stored \((\d+) new, (\d+) updated, (\d+) "
                      r"unchanged\) \+ (\d+) quarantined \+ (\d+) skipped")
    total = dict.fromkeys(keys, 0)
    for m in line.finditer(out):
        for key, value in zip(keys, m.groups()):
            total[key] += int(value)
    return total
