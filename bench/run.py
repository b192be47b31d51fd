"""The benchmark of issue #9: ingest vs bare inserts, re-run, memory, digest, search, polling.

`python -m bench [--n N] [--out FILE] [--workers W] [--zipf-words K] [--workdir DIR]`

1. The bulk simulator renders the API responses for N comments (and N/10) to files, streamed.
2. In a fresh process each (bench/ingest.py, so peak RSS is the run's own): the real path,
   first load then the same pages again (nothing new), at N and at N/10.
3. Baseline, in this process: the very rows the real path stored (posts, comments with their
   tokens, raw payloads), read back, then inserted with plain `executemany` in ONE
   transaction into a fresh database made by `store.db.connect` (same schema, indexes, FTS
   and rollup triggers). Only the inserts and the commit are timed.
4. Digest of one Seoul day on the N-row database (digest.build.build_digest, from the
   rollups and, for comparison, from the opinions themselves), 50 Korean searches
   (store.search.search when it exists, else FTS5 MATCH newest first), and the requests an incremental collect
   pass makes per stream on a small simulated world.
Prints a table and one JSON line (also appended to --out).
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ingest import ACCOUNTS, write_pages  # noqa: E402
from pipeline.config import load_accounts  # noqa: E402
from store.db import connect, remove_database  # noqa: E402

DIGEST_DAY = date(2026, 11, 24)  # the Seoul day before the simulator's clock (SIM_NOW)
QUERIES = [
    "택시", "택시요금", "요금", "심야버스", "버스", "정류장", "지하철", "혼잡", "따릉이", "대여소",
    "신호", "어르신", "월세", "청년", "재개발", "설명회", "전세", "사기", "공공임대", "입주",
    "전통시장", "주차장", "상품권", "카드", "침수", "폭우", "반지하", "지하차도", "빗물받이",
    "하천", "공원", "화장실", "쓰레기통", "조명", "가로등", "공사장", "과속", "화재", "도서관",
    "축제", "박물관", "급식소", "콜택시", "돌봄", "청년수당", "미세먼지", "분리수거", "소음",
    "강남구 침수", "마포구 버스",
]


def run_ingest(pages: Path, db: Path, workers: int) -> dict:
    """bench.ingest in a fresh process; its JSON report."""
    cmd = [sys.executable, "-m", "bench.ingest", "--pages", str(pages), "--db", str(db),
           "--workers", str(workers)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"bench.ingest failed ({done.returncode})")
    return json.loads(done.stdout.strip().splitlines()[-1])


def baseline(source: Path, target: Path) -> dict:
    """Plain executemany of the stored rows into a fresh database, one transaction."""
    src = connect(source).conn
    tables = {}
    for table in ("posts", "comments", "raw"):
        cols = [r[1] for r in src.execute(f"PRAGMA table_info({table})")]
        rows = src.execute(f"SELECT {', '.join(cols)} FROM {table} ORDER BY rowid").fetchall()
        tables[table] = (cols, rows)
    src.close()
    remove_database(target)
    db = connect(target)
    conn = db.conn
    t0 = time.perf_counter()
    conn.execute("BEGIN")
    for table, (cols, rows) in tables.items():
        conn.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES "
                         f"({', '.join('?' * len(cols))})", rows)
    conn.execute("COMMIT")
    seconds = time.perf_counter() - t0
    n = len(tables["comments"][1])
    fts = conn.execute("SELECT count(*) FROM comments_fts").fetchone()[0]
    conn.close()
    return {"seconds": round(seconds, 3), "comments": n, "fts_rows": fts,
            "rows_per_s": round(n / seconds)}


def digest_seconds(path: Path, rollups: bool = True) -> tuple[float, str]:
    """One Seoul day's digest on the database (second call; the first warms caches, rules,
    Kiwi); what was timed. rollups=False: the digest that reads every opinion instead."""
    from digest.build import build_digest
    from simulator import SIM_NOW

    db = connect(path)
    build_digest(db, DIGEST_DAY, now=SIM_NOW, rollups=rollups)
    t0 = time.perf_counter()
    build_digest(db, DIGEST_DAY, now=SIM_NOW, rollups=rollups)
    seconds = time.perf_counter() - t0
    db.conn.close()
    return seconds, f"digest.build.build_digest(rollups={rollups}), second call"


def search_ms(path: Path) -> tuple[list[float], str, int]:
    """Latency of each of the 50 queries (ms), what was timed, and the hits of the first."""
    db = connect(path)
    try:
        search = importlib.import_module("store.search").search
        how = "store.search.search(db, q, limit=20)"
    except (ImportError, AttributeError):
        from normalize.morph import query_tokens

        def search(db: Any, q: str, limit: int = 20) -> list:
            return db.execute("SELECT rowid FROM comments_fts WHERE comments_fts MATCH ? "
                              "ORDER BY rowid DESC LIMIT ?", [query_tokens(q), limit]).fetchall()
        how = "FTS5 MATCH query_tokens(q) ORDER BY rowid DESC LIMIT 20"
    search(db, "택시", limit=20)  # warm-up: Kiwi for the query words
    times, hits = [], 0
    for i, q in enumerate(QUERIES):
        t0 = time.perf_counter()
        got = search(db, q, limit=20)
        times.append((time.perf_counter() - t0) * 1000)
        hits = hits or (len(got) if i == 0 else 0)
    db.conn.close()
    return times, how, hits


def incremental_requests(workdir: Path) -> dict:
    """Requests per stream of a second collect pass over a small world (nothing new)."""
    from pipeline.runner import RunOptions, collect, simulated_environ
    from simulator import SimTransport, World
    from store.writer import Writer

    accounts = load_accounts(ACCOUNTS)
    world = World(accounts)
    path = workdir / "incremental.db"
    remove_database(path)
    writer = Writer(connect(path))
    options = RunOptions(simulate=True, extra={"sleep": lambda s: None, "live_seconds": 0})
    env = simulated_environ(accounts)
    collect(writer, accounts, SimTransport(world), env, options)
    second = SimTransport(world)
    results = collect(writer, accounts, second, env, options)
    streams = writer.db.execute(
        "SELECT a.platform, count(*) FROM cursors c JOIN accounts a ON a.key = c.account "
        "WHERE c.stream != '*' AND c.value IS NOT NULL GROUP BY 1").fetchall()
    writer.db.conn.close()
    per_platform_streams = dict(streams)
    total_requests = sum(second.requests.values())
    # A stream is one listing the pass reads: a cursor stream (X timelines and mentions,
    # YouTube videos and threads) or, on Facebook/Instagram, each post inside the look-back
    # window whose comments are re-read by design (issue #3). Nothing new: one request each.
    paging = {"pageToken", "pagination_token", "after", "before", "until", "since",
              "__paging_token", "since_id", "access_token", "key"}
    listings = {(r.host, r.path, tuple(sorted((k, v) for k, v in r.params.items()
                                              if k not in paging)))
                for r in second.log}
    inserted = sum(r.stats.inserted for r in results)
    return {"requests": dict(second.requests), "cursor_streams": per_platform_streams,
            "streams_read": len(listings),
            "per_stream": round(total_requests / max(1, len(listings)), 2),
            "inserted_second_pass": inserted}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000, help="comments (default 1,000,000)")
    ap.add_argument("--out", help="append the JSON line (and the report) to this file")
    ap.add_argument("--workers", type=int, default=1,
                    help="normalizer worker processes (0: normalize in the writer's process)")
    ap.add_argument("--zipf-words", type=int, default=0,
                    help="add K Zipf-drawn words to each Korean opinion (morpheme cache realism)")
    ap.add_argument("--workdir", help="where the databases go (default: a temp dir, removed)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args(argv)
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="smc-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    accounts = load_accounts(ACCOUNTS)
    n, small = args.n, max(1, args.n // 10)
    log = lambda msg: print(f"[bench] {msg}", file=sys.stderr, flush=True)  # noqa: E731
    started = time.perf_counter()
    try:
        log(f"rendering API pages for {n:,} and {small:,} comments")
        pages_n, pages_small = workdir / f"pages-{n}.bin", workdir / f"pages-{small}.bin"
        write_pages(pages_n, accounts, n, args.zipf_words)
        write_pages(pages_small, accounts, small, args.zipf_words)
        log(f"ingest of {n:,} (first load + re-run), fresh process")
        big = run_ingest(pages_n, workdir / "ingest.db", args.workers)
        log(f"ingest of {small:,}, fresh process")
        tenth = run_ingest(pages_small, workdir / "ingest-small.db", args.workers)
        log("baseline: plain executemany of the same rows")
        base = baseline(workdir / "ingest.db", workdir / "baseline.db")
        log("digest, search, incremental collect")
        dig, dig_how = digest_seconds(workdir / "ingest.db")
        dig_live, _ = digest_seconds(workdir / "ingest.db", rollups=False)
        times, search_how, hits = search_ms(workdir / "ingest.db")
        inc = incremental_requests(workdir)
    finally:
        if not args.keep and not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    rows = big["comments"]
    ingest_rate = rows / big["first_seconds"]
    rerun_rate = rows / big["rerun_seconds"]
    q = statistics.quantiles(times, n=20)
    cache = big.get("morph_cache") or {}
    looked = cache.get("hits", 0) + cache.get("misses", 0)
    result = {
        "n": n,
        "comments": rows,
        "posts": big["posts"],
        "workers": args.workers,
        "zipf_words": args.zipf_words,
        "ingest_seconds": big["first_seconds"],
        "ingest_rows_per_s": round(ingest_rate),
        "baseline_seconds": base["seconds"],
        "baseline_rows_per_s": base["rows_per_s"],
        "ingest_ratio": round(ingest_rate / base["rows_per_s"], 3),
        "rerun_seconds": big["rerun_seconds"],
        "rerun_rows_per_s": round(rerun_rate),
        "rerun_speedup": round(rerun_rate / ingest_rate, 2),
        "peak_rss_mb": big["peak_rss_self_mb"],
        "peak_rss_mb_tenth": tenth["peak_rss_self_mb"],
        "peak_rss_ratio": round(big["peak_rss_self_mb"] / tenth["peak_rss_self_mb"], 3),
        "peak_rss_worker_mb": big["peak_rss_workers_mb"],
        "peak_rss_worker_mb_tenth": tenth["peak_rss_workers_mb"],
        "digest_seconds": round(dig, 3),
        "digest_seconds_without_rollups": round(dig_live, 3),
        "answers_seconds": big.get("first_answers_seconds"),
        "search_p50_ms": round(statistics.median(times), 2),
        "search_p95_ms": round(q[18], 2),
        "search_max_ms": round(max(times), 2),
        "incremental_requests_per_stream": inc["per_stream"],
        "morph_cache_hit_rate": round(cache.get("hits", 0) / looked, 4) if looked else None,
        "morph_cache_words": cache.get("size"),
        "tenth_ingest_rows_per_s": round(tenth["comments"] / tenth["first_seconds"]),
        "tenth_rerun_rows_per_s": round(tenth["comments"] / tenth["rerun_seconds"]),
        "rerun_stats": big.get("rerun"),
        "digest_timed": dig_how,
        "search_timed": search_how,
        "search_hits_taxi": hits,
        "incremental": inc,
        "bench_seconds": round(time.perf_counter() - started, 1),
    }
    table = [
        ("comments stored", f"{rows:,} (+{big['posts']:,} posts)"),
        ("ingest (real path)", f"{ingest_rate:,.0f} rows/s  ({big['first_seconds']:.1f} s, "
                               f"{args.workers} normalizer worker(s))"),
        ("baseline executemany", f"{base['rows_per_s']:,.0f} rows/s  ({base['seconds']:.1f} s)"),
        ("ingest / baseline", f"{result['ingest_ratio']:.2f}   (target >= 0.5)"),
        ("  of which answers", f"{result['answers_seconds'] or 0:.1f} s  (derived after the pages)"),
        ("re-run, nothing new", f"{rerun_rate:,.0f} rows/s  ({big['rerun_seconds']:.1f} s)"),
        ("re-run speedup", f"{result['rerun_speedup']:.2f}x  (target >= 2)"),
        ("peak RSS at N / N/10", f"{result['peak_rss_mb']:.0f} / {result['peak_rss_mb_tenth']:.0f}"
                                 f" MB = {result['peak_rss_ratio']:.2f}x  (target <= 1.3x, < 300)"),
        ("worker peak RSS N, N/10", f"{result['peak_rss_worker_mb']:.0f} / "
                                    f"{result['peak_rss_worker_mb_tenth']:.0f} MB (Kiwi model)"),
        ("digest, one Seoul day", f"{dig:.3f} s  (target < 1)"),
        ("  same, without rollups", f"{dig_live:.3f} s  (reading every opinion of the week)"),
        ("search p50 / p95", f"{result['search_p50_ms']:.1f} / {result['search_p95_ms']:.1f} ms"
                             "  (target p95 < 50)"),
        ("incremental requests", f"{inc['per_stream']} per stream  (target 1)"),
        ("morpheme cache hits", f"{result['morph_cache_hit_rate']}  "
                                f"({cache.get('size')} distinct words)"),
    ]
    width = max(len(k) for k, _ in table)
    lines = [f"SMC bench, N = {n:,}"] + [f"  {k.ljust(width)}  {v}" for k, v in table]
    print("\n".join(lines))
    line = json.dumps(result, ensure_ascii=False)
    print(line)
    if args.out:
        with open(args.out, "a", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n" + line + "\n")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
