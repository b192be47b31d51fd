"""One ingest measurement, meant to run in a fresh process (so its peak RSS is its own).

`python -m bench.ingest --pages FILE --db PATH [--workers W]` streams the bulk simulator's
response bodies (rendered to FILE beforehand by `write_pages`, so the simulator's own work
is not timed) through the real path twice (first load, then the same pages again, nothing
new) and prints one JSON object: seconds, rows, peak RSS of this process and of its worker
processes, the morpheme cache's hit rate.

The real path: `json.loads` of each response body -> a collector `Page` (and the
`ScanComplete` after a post's last comment page) -> pipeline.ingest
(normalizer of the platform: PII masking, language, district/category tags, morphemes;
then the store: content-hash upserts, raw payloads, FTS triggers, cursors, tombstones),
then the derived answers (`Writer.refresh_answers`) and the near-duplicate groups
(`store.grouping.refresh_groups`), as `collect` does.
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from collectors.base import Cursor, Event, Page, ScanComplete
from core.accounts import Account
from core.platforms import KEYS
from pipeline.config import load_accounts
from simulator.bulk import bulk_pages

if TYPE_CHECKING:
    from store.writer import PageStats, Writer
# The pipeline and the store are imported where they are used: the normalizer worker
# processes (spawned) import this module, and need neither.

ROOT = Path(__file__).resolve().parent.parent
ACCOUNTS = ROOT / "config" / "accounts.yaml"
BENCH_NOW = "2026-11-25T00:00:00Z"
CORPUS = ROOT / "bench" / "corpus" / "nsmc-reviews-50k.txt"  # real comments, CC0: its README


def real_texts(path: Path = CORPUS) -> list[str]:
    """The real Korean comments the bench's citizens write (one a line)."""
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def write_pages(path: Path, accounts: list[Account], n: int, zipf_words: int = 0,
                texts: list[str] | None = None) -> int:
    """Render the bulk simulator's pages for N comments to a file, streamed (not timed).

    texts: real comments for the Korean citizens (`real_texts`), else the templates.
    Each record: one JSON header line (account, kind, items key, includes, cursor, the post
    whose scan the page completes, body length), then the response body bytes as served.
    """
    pages = 0
    with open(path, "wb") as f:
        for bp in bulk_pages(accounts, n, zipf_words=zipf_words, texts=texts):
            head = {"a": bp.account, "k": bp.kind, "i": bp.items_key, "inc": bp.includes,
                    "c": bp.cursor, "s": bp.scan_complete, "len": len(bp.body)}
            f.write(json.dumps(head, ensure_ascii=False).encode() + b"\n")
            f.write(bp.body)
            pages += 1
    return pages


def read_pages(path: Path) -> Iterator[tuple[dict, bytes]]:
    """The (header, body) records of a pages file, one at a time."""
    with open(path, "rb") as f:
        while True:
            line = f.readline()
            if not line:
                return
            head = json.loads(line)
            yield head, f.read(head["len"])


def as_events(head: dict, body: bytes) -> list[Event]:
    """What the collector would yield for this response (json.loads is part of the path)."""
    parsed = json.loads(body)
    page = Page(kind=head["k"], items=list(parsed.get(head["i"]) or []),
                cursor=Cursor(*head["c"]) if head["c"] else None, includes=head["inc"])
    return [page, ScanComplete(head["s"])] if head["s"] else [page]


def load(writer: Writer, accounts: list[Account], source: Path, workers: int) -> PageStats:
    """One pass of N comments through the real path."""
    from pipeline import ingest
    from pipeline.runner import DEMO_AUTHOR_KEY, for_account, load_tagger, platform_context

    by_key = {a.key: a for a in accounts}
    tagger = load_tagger()
    bases = {p: platform_context(writer, accounts, p, DEMO_AUTHOR_KEY, tagger)
             for p in KEYS}
    contexts = {a.key: for_account(bases[a.platform], a) for a in accounts
                if a.platform in bases}

    def pages() -> Iterator[tuple[Account, Event]]:
        for head, body in read_pages(source):
            for event in as_events(head, body):
                yield by_key[head["a"]], event

    stats = ingest.ingest_pages(pages(), writer, contexts, workers=workers)
    global last_cache_info
    last_cache_info = ingest.last_cache_info
    from store.grouping import refresh_groups

    global last_answers_seconds, last_groups_seconds
    t0 = time.perf_counter()
    writer.refresh_answers()
    t1 = time.perf_counter()
    refresh_groups(writer.db)  # near-duplicate groups, as collect and import do after a run
    last_answers_seconds, last_groups_seconds = t1 - t0, time.perf_counter() - t1
    return stats


last_answers_seconds = 0.0  # of the last `load`: the answers derivation after the pages
last_groups_seconds = 0.0  # of the last `load`: the near-duplicate grouping after it
last_cache_info: dict = {}  # of the last `load`: the morpheme cache's counts


def rss_mb(who: int) -> float:
    """Peak RSS in MB. This process's: VmHWM, its own memory's high-water mark. ru_maxrss
    is not: Linux keeps across exec the peak of the image it forked from, so a child of a
    4 GB bench process reported ~4 GB (the bench holds the baseline's rows)."""
    if who == resource.RUSAGE_SELF:
        try:
            with open("/proc/self/status", encoding="ascii") as status:
                for line in status:
                    if line.startswith("VmHWM:"):
                        return round(int(line.split()[1]) / 1024, 1)
        except OSError:
            pass
    return round(resource.getrusage(who).ru_maxrss / 1024, 1)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.ingest")
    ap.add_argument("--pages", required=True, help="file made by write_pages")
    ap.add_argument("--db", required=True)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--no-rerun", action="store_true")
    args = ap.parse_args(argv)
    from store.db import connect, remove_database
    from store.writer import Writer

    accounts = load_accounts(ACCOUNTS)
    remove_database(args.db)
    writer = Writer(connect(args.db), clock=lambda: BENCH_NOW)
    writer.sync_accounts(accounts)
    out: dict = {"workers": args.workers}
    t0 = time.perf_counter()
    first = load(writer, accounts, Path(args.pages), args.workers)
    out["first_seconds"] = round(time.perf_counter() - t0, 3)
    out["first"] = vars(first)
    out["first_answers_seconds"] = round(last_answers_seconds, 3)
    out["first_groups_seconds"] = round(last_groups_seconds, 3)
    out["rss_after_first_mb"] = rss_mb(resource.RUSAGE_SELF)
    out["morph_cache"] = last_cache_info  # the first load's: the rerun's calls none
    if not args.no_rerun:
        t0 = time.perf_counter()
        again = load(writer, accounts, Path(args.pages), args.workers)
        out["rerun_seconds"] = round(time.perf_counter() - t0, 3)
        out["rerun"] = vars(again)
    conn = writer.db.conn
    out["comments"] = conn.execute("SELECT count(*) FROM comments").fetchone()[0]
    out["posts"] = conn.execute("SELECT count(*) FROM posts").fetchone()[0]
    out["morph_cache_rerun"] = last_cache_info
    conn.close()
    out["peak_rss_self_mb"] = rss_mb(resource.RUSAGE_SELF)
    out["peak_rss_workers_mb"] = rss_mb(resource.RUSAGE_CHILDREN)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
