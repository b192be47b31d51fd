"""The benchmark (issues #9, #17): ingest vs bare inserts, re-run, memory, digest, search, the
centre's pages, polling; at 100k, 300k and 1M comments of real Korean text.

`python -m bench [--n N | --sizes 100000,300000,1000000] [--texts real|templates]
[--workers W] [--out FILE] [--workdir DIR] [--keep] [--requests R]`

Per size N (in a work directory, removed after):
1. The bulk simulator renders the API responses for N comments to a file, streamed. Korean
   citizens write real comments (bench/corpus: 50,000 Naver movie reviews, CC0), drawn at
   random; `--texts templates` uses the simulator's ~40 templates instead.
2. Collect path, in a fresh process (bench/ingest.py, so peak RSS is the run's own): the
   pages through pipeline.ingest, first load then the same pages again (nothing new).
3. Import path, in a fresh process: the same pages saved as one JSONL file per account
   (bench/imports.py), `run_pipeline.py import` of all of them into a fresh database, then
   again (re-import, nothing new). Its time is the process's wall time, start-up included.
4. Baseline, in this process: the very rows the collect path stored (posts, comments with
   their tokens, raw payloads), read back, then inserted with plain `executemany` in ONE
   transaction into a fresh database made by `store.db.connect` (same schema, indexes, FTS
   and rollup triggers). Only the inserts and the commit are timed.
5. Digest of one Seoul day (digest.build.build_digest, from the rollups, and for comparison
   from the opinions themselves), 50 Korean searches (store.search.search), and the centre's
   pages over HTTP against `serve` (bench/center.py, when present).
At the first size with real text, the collect path also runs on template text (both
reported). Once: the requests an incremental collect pass makes per stream on a small
simulated world. Prints, per size, a table and one JSON line (appended to --out with the
tables), then the scaling table (each figure at every size) and the targets of issue #17.
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

from bench.ingest import ACCOUNTS, real_texts, write_pages  # noqa: E402
from bench.report import emit  # noqa: E402
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


SIZES = (100_000, 300_000, 1_000_000)


def import_path(pages: Path, workdir: Path, workers: int) -> dict:
    """`import` of the pages saved as files, first and again (nothing new)."""
    from bench.imports import run_import, save_pages

    files = save_pages(pages, workdir / "saved")
    db = workdir / "import.db"
    remove_database(db)
    first = run_import(files, db, workers)
    again = run_import(files, db, workers)
    shutil.rmtree(workdir / "saved", ignore_errors=True)
    return {"first": first, "again": again}


def center_pages(db: Path, requests: int) -> dict | None:
    """The centre's pages over HTTP (bench/center.py), when the bench has it."""
    try:
        measure = importlib.import_module("bench.center").measure
    except (ImportError, AttributeError):
        return None
    return measure(db, requests)


def measure_size(n: int, texts: list[str] | None, args: argparse.Namespace, workdir: Path,
                 log: Any, compare_templates: bool) -> dict:
    """Every figure at one size (see the module docstring)."""
    accounts = load_accounts(ACCOUNTS)
    t0 = time.perf_counter()
    pages = workdir / f"pages-{n}.bin"
    log(f"N = {n:,}: rendering API pages ({'real text' if texts else 'templates'})")
    write_pages(pages, accounts, n, args.zipf_words, texts)
    log(f"N = {n:,}: collect path (first load + re-run), fresh process")
    big = run_ingest(pages, workdir / "ingest.db", args.workers)
    log(f"N = {n:,}: import path (import + re-import of the saved pages), fresh process")
    imp = import_path(pages, workdir, args.workers)
    templates = None
    if compare_templates:
        log(f"N = {n:,}: collect path on template text, for comparison")
        write_pages(pages, accounts, n, args.zipf_words, None)
        templates = run_ingest(pages, workdir / "templates.db", args.workers)
        remove_database(workdir / "templates.db")
    pages.unlink()
    log(f"N = {n:,}: baseline: plain executemany of the same rows")
    base = baseline(workdir / "ingest.db", workdir / "baseline.db")
    remove_database(workdir / "baseline.db")
    log(f"N = {n:,}: digest, search, the centre's pages over HTTP")
    dig, dig_how = digest_seconds(workdir / "ingest.db")
    dig_live, _ = digest_seconds(workdir / "ingest.db", rollups=False)
    times, search_how, hits = search_ms(workdir / "ingest.db")
    center = center_pages(workdir / "ingest.db", args.requests)
    remove_database(workdir / "ingest.db")
    remove_database(workdir / "import.db")
    return figures(n, big, imp, base, (dig, dig_live, dig_how), (times, search_how, hits),
                   center, templates, args, time.perf_counter() - t0)


def figures(n: int, big: dict, imp: dict, base: dict, digest: tuple, search: tuple,
            center: dict | None, templates: dict | None, args: argparse.Namespace,
            seconds: float) -> dict:
    """One size's JSON figures."""
    rows = big["comments"]
    ingest_rate = rows / big["first_seconds"]
    rerun_rate = rows / big["rerun_seconds"]
    items = imp["first"]["read"]
    import_rate = items / imp["first"]["seconds"]
    reimport_rate = imp["again"]["read"] / imp["again"]["seconds"]
    times, search_how, hits = search
    q = statistics.quantiles(times, n=20)
    cache = big.get("morph_cache") or {}
    looked = cache.get("hits", 0) + cache.get("misses", 0)
    # RUSAGE_CHILDREN's peak is the largest child's: each worker counted at it (a bound)
    tree = big["peak_rss_self_mb"] + big["peak_rss_workers_mb"] * max(1, args.workers)
    pages = (center or {}).get("pages", {})
    worst = max(pages.items(), key=lambda kv: kv[1]["p95_ms"]) if pages else None
    return {
        "n": n, "texts": args.texts, "comments": rows, "posts": big["posts"],
        "workers": args.workers, "zipf_words": args.zipf_words,
        "ingest_seconds": big["first_seconds"], "ingest_rows_per_s": round(ingest_rate),
        "baseline_seconds": base["seconds"], "baseline_rows_per_s": base["rows_per_s"],
        "ingest_ratio": round(ingest_rate / base["rows_per_s"], 3),
        "rerun_seconds": big["rerun_seconds"], "rerun_rows_per_s": round(rerun_rate),
        "rerun_speedup": round(rerun_rate / ingest_rate, 2),
        "import_seconds": imp["first"]["seconds"], "import_items": items,
        "import_items_per_s": round(import_rate),
        "import_ratio": round(import_rate / base["rows_per_s"], 3),
        "reimport_seconds": imp["again"]["seconds"],
        "reimport_speedup": round(reimport_rate / import_rate, 2),
        "import_stored": imp["first"]["stored"], "import_quarantined": imp["first"]["quarantined"],
        "reimport_unchanged": imp["again"]["unchanged"],
        "peak_rss_mb": big["peak_rss_self_mb"], "peak_rss_worker_mb": big["peak_rss_workers_mb"],
        "peak_rss_tree_mb": round(tree, 1),
        "digest_seconds": round(digest[0], 3), "digest_seconds_without_rollups": round(digest[1], 3),
        "answers_seconds": big.get("first_answers_seconds"),
        "groups_seconds": big.get("first_groups_seconds"),
        "search_p50_ms": round(statistics.median(times), 2), "search_p95_ms": round(q[18], 2),
        "search_max_ms": round(max(times), 2),
        "center_worst_p95_ms": worst[1]["p95_ms"] if worst else None,
        "center_worst_page": worst[0] if worst else None,
        "center": center,
        "morph_cache_hit_rate": round(cache.get("hits", 0) / looked, 4) if looked else None,
        "morph_cache_words": cache.get("size"),
        "templates_ingest_rows_per_s": (round(templates["comments"] / templates["first_seconds"])
                                        if templates else None),
        "templates_morph_cache_hit_rate": _hit_rate(templates),
        "rerun_stats": big.get("rerun"),
        "digest_timed": digest[2], "search_timed": search_how, "search_hits_taxi": hits,
        "size_seconds": round(seconds, 1),
    }


def _hit_rate(run: dict | None) -> float | None:
    cache = (run or {}).get("morph_cache") or {}
    looked = cache.get("hits", 0) + cache.get("misses", 0)
    return round(cache.get("hits", 0) / looked, 4) if looked else None


def size_table(r: dict) -> list[str]:
    """The per-size table."""
    table = [
        ("comments stored", f"{r['comments']:,} (+{r['posts']:,} posts), {r['texts']} text"),
        ("collect path ingest", f"{r['ingest_rows_per_s']:,} rows/s  ({r['ingest_seconds']:.1f} s, "
                                f"{r['workers']} normalizer worker(s))"),
        ("  of which answers, groups", f"{r['answers_seconds'] or 0:.1f} s, "
                                       f"{r['groups_seconds'] or 0:.1f} s  (after the pages)"),
        ("import path ingest", f"{r['import_items_per_s']:,} items/s  ({r['import_seconds']:.1f} s, "
                               f"one process, start-up included)"),
        ("baseline executemany", f"{r['baseline_rows_per_s']:,} rows/s  ({r['baseline_seconds']:.1f} s)"),
        ("collect / baseline", f"{r['ingest_ratio']:.2f}   (target >= 0.5)"),
        ("import / baseline", f"{r['import_ratio']:.2f}   (target >= 0.5)"),
        ("re-run speed-up", f"{r['rerun_speedup']:.2f}x  (target >= 5)"),
        ("re-import speed-up", f"{r['reimport_speedup']:.2f}x  (target >= 5)"),
        ("peak RSS collector+workers", f"{r['peak_rss_mb']:.0f} + {max(1, r['workers'])} x "
                                       f"{r['peak_rss_worker_mb']:.0f} = "
                                       f"{r['peak_rss_tree_mb']:.0f} MB  (target < 500)"),
        ("digest, one Seoul day", f"{r['digest_seconds']:.3f} s  (target < 0.3)"),
        ("  same, without rollups", f"{r['digest_seconds_without_rollups']:.3f} s"),
        ("search p50 / p95", f"{r['search_p50_ms']:.1f} / {r['search_p95_ms']:.1f} ms  (target p95 < 20)"),
        ("centre pages, worst p95", (f"{r['center_worst_p95_ms']:.0f} ms ({r['center_worst_page']})"
                                     "  (target < 300)") if r["center"] else "not measured"),
        ("morpheme cache hits", f"{r['morph_cache_hit_rate']}  ({r['morph_cache_words']} words)"),
    ]
    if r["templates_ingest_rows_per_s"]:
        table.insert(2, ("  same, template text", f"{r['templates_ingest_rows_per_s']:,} rows/s "
                                                  f"(cache hits {r['templates_morph_cache_hit_rate']})"))
    for name, page in ((r["center"] or {}).get("pages") or {}).items():
        table.append((f"  {name}", f"p50 {page['p50_ms']:.0f} / p95 {page['p95_ms']:.0f} ms"))
    width = max(len(k) for k, _ in table)
    return [f"SMC bench, N = {r['n']:,}"] + [f"  {k.ljust(width)}  {v}" for k, v in table]


SCALING = (("collect rows/s", "ingest_rows_per_s", "{:,}"), ("import items/s", "import_items_per_s", "{:,}"),
           ("baseline rows/s", "baseline_rows_per_s", "{:,}"), ("collect / baseline", "ingest_ratio", "{:.2f}"),
           ("import / baseline", "import_ratio", "{:.2f}"), ("re-run speed-up", "rerun_speedup", "{:.1f}x"),
           ("re-import speed-up", "reimport_speedup", "{:.1f}x"),
           ("peak RSS tree MB", "peak_rss_tree_mb", "{:.0f}"), ("digest s", "digest_seconds", "{:.3f}"),
           ("search p95 ms", "search_p95_ms", "{:.1f}"), ("centre worst p95 ms", "center_worst_p95_ms", "{:.0f}"),
           ("morph cache hits", "morph_cache_hit_rate", "{:.3f}"))


def scaling_table(results: list[dict]) -> list[str]:
    """Each figure at every size: how each cost grows."""
    head = ["figure"] + [f"{r['n']:,}" for r in results]
    rows = [[label] + ["-" if r.get(key) is None else fmt.format(r[key]) for r in results]
            for label, key, fmt in SCALING]
    widths = [max(len(row[i]) for row in [head] + rows) for i in range(len(head))]
    return ["Scaling"] + ["  " + "  ".join(c.rjust(w) if i else c.ljust(w)
                                          for i, (c, w) in enumerate(zip(row, widths)))
                         for row in [head] + rows]


def targets_table(results: list[dict], inc: dict) -> list[str]:
    """Issue #17's targets at the largest size (RSS: also its growth from the smallest)."""
    big, small = results[-1], results[0]
    growth = big["peak_rss_tree_mb"] / small["peak_rss_tree_mb"]
    rows = [
        ("collect path ingest / baseline", ">= 0.5", big["ingest_ratio"] >= 0.5, f"{big['ingest_ratio']:.2f}"),
        ("import path ingest / baseline", ">= 0.5", big["import_ratio"] >= 0.5, f"{big['import_ratio']:.2f}"),
        ("re-run vs first load", ">= 5x", big["rerun_speedup"] >= 5, f"{big['rerun_speedup']:.1f}x"),
        ("re-import vs first import", ">= 5x", big["reimport_speedup"] >= 5, f"{big['reimport_speedup']:.1f}x"),
        ("peak RSS, collector + workers", "< 500 MB", big["peak_rss_tree_mb"] < 500,
         f"{big['peak_rss_tree_mb']:.0f} MB"),
        (f"  growth {small['n']:,} -> {big['n']:,}", "<= 1.3x", growth <= 1.3, f"{growth:.2f}x"),
        ("digest of one Seoul day", "< 0.3 s", big["digest_seconds"] < 0.3, f"{big['digest_seconds']:.3f} s"),
        ("search p95, real text", "< 20 ms", big["search_p95_ms"] < 20, f"{big['search_p95_ms']:.1f} ms"),
        ("centre pages p95, over HTTP", "< 300 ms",
         big["center_worst_p95_ms"] is not None and big["center_worst_p95_ms"] < 300,
         "-" if big["center_worst_p95_ms"] is None else f"{big['center_worst_p95_ms']:.0f} ms"),
        ("incremental pass, nothing new", "1 request/stream", inc["per_stream"] <= 1.0,
         f"{inc['per_stream']} per stream"),
    ]
    out = [f"Targets at N = {big['n']:,} ({big['texts']} text)"]
    out += [f"  {name:32s} {target:>17s}  {value:>14s}  {'met' if ok else 'MISSED'}"
            for name, target, ok, value in rows]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, help="one size: N comments")
    ap.add_argument("--sizes", default=",".join(map(str, SIZES)),
                    help="comma-separated sizes (default 100000,300000,1000000)")
    ap.add_argument("--texts", choices=("real", "templates"), default="real",
                    help="what Korean citizens write: real comments (bench/corpus, default) "
                         "or the simulator's templates")
    ap.add_argument("--out", help="append the tables and JSON lines to this file")
    ap.add_argument("--workers", type=int, default=1,
                    help="normalizer worker processes (0: normalize in the writer's process)")
    ap.add_argument("--requests", type=int, default=30, help="requests per centre page")
    ap.add_argument("--zipf-words", type=int, default=0,
                    help="add K Zipf-drawn words to each Korean opinion (morpheme cache realism)")
    ap.add_argument("--workdir", help="where the databases go (default: a temp dir, removed)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args(argv)
    try:
        sizes = [args.n] if args.n else [int(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        ap.error(f"--sizes: not a comma-separated list of numbers: {args.sizes!r}")
    if not sizes or min(sizes) < 1:
        ap.error("sizes must be positive")
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="smc-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    texts = real_texts() if args.texts == "real" else None
    log = lambda msg: print(f"[bench] {msg}", file=sys.stderr, flush=True)  # noqa: E731
    started = time.perf_counter()
    results: list[dict] = []
    try:
        for i, n in enumerate(sorted(sizes)):
            result = measure_size(n, texts, args, workdir, log, bool(texts) and i == 0)
            results.append(result)
            emit(size_table(result) + [json.dumps(result, ensure_ascii=False)], args.out)
        log("incremental collect on a small world")
        inc = incremental_requests(workdir)
    finally:
        if not args.keep and not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    summary = {"bench": "summary", "sizes": [r["n"] for r in results], "texts": args.texts,
               "incremental": inc, "incremental_requests_per_stream": inc["per_stream"],
               "bench_seconds": round(time.perf_counter() - started, 1)}
    lines = (scaling_table(results) if len(results) > 1 else []) + targets_table(results, inc)
    emit(lines + [json.dumps(summary, ensure_ascii=False)], args.out)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
