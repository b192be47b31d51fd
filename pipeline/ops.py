"""Operations commands: `schedule` (the APScheduler daemon) and `import` (saved API pages)."""
from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Iterator
from zoneinfo import ZoneInfo

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from collectors.base import Page
from pipeline import platforms
from pipeline.cli import EXIT_OK, UsageError, add_collect_options, load_config, open_db, run_collect
from pipeline.config import Account
from pipeline.ingest import store_page
from pipeline.runner import author_secret, for_account, load_tagger, platform_context
from store.writer import PageStats, Writer

log = logging.getLogger("smc.ops")
SEOUL = ZoneInfo("Asia/Seoul")


# --- schedule ------------------------------------------------------------------------------
@dataclass(frozen=True)
class ScheduleConfig:
    """How the daemon paces its jobs."""

    jitter_seconds: int = 60
    misfire_grace_seconds: int = 300
    digest_time: str = "07:30"  # Seoul time, each morning


def build_scheduler(accounts: list[Account], collect_job: Callable[[str], Any],
                    digest_job: Callable[[], Any] | None,
                    config: ScheduleConfig = ScheduleConfig()) -> BlockingScheduler:
    """One interval job per account (its own interval), the digest each morning, in Seoul."""
    scheduler = BlockingScheduler(
        timezone=SEOUL,
        # One collector at a time: they share one SQLite writer and the platforms' limits.
        executors={"default": ThreadPoolExecutor(1), "digest": ThreadPoolExecutor(1)},
    )
    # Missed runs collapse into one, never two of the same job at once, late runs skipped.
    pacing = {"coalesce": True, "max_instances": 1,
              "misfire_grace_time": config.misfire_grace_seconds}
    for account in accounts:
        scheduler.add_job(
            collect_job, IntervalTrigger(minutes=account.interval_minutes, timezone=SEOUL,
                                         jitter=config.jitter_seconds),
            args=[account.key], id=f"collect:{account.key}", name=f"collect {account.key}",
            next_run_time=datetime.now(SEOUL), **pacing,  # first pass at start-up
        )
    if digest_job is not None:
        hour, minute = (int(x) for x in config.digest_time.split(":"))
        scheduler.add_job(digest_job, CronTrigger(hour=hour, minute=minute, timezone=SEOUL),
                          id="digest", name="daily digest", executor="digest", **pacing)
    return scheduler


def cmd_schedule(args: argparse.Namespace) -> int:
    from pipeline.lock import EXIT_LOCKED, Locked, RunLock

    accounts = load_config(args)
    stop = threading.Event()
    lock = RunLock(args.db, wait_seconds=args.lock_wait)
    try:
        lock.acquire()  # held for the daemon's life: a cron `collect` cannot overlap it
    except Locked as exc:
        log.error("schedule not started: %s", exc)
        return EXIT_LOCKED

    def collect_job(key: str) -> None:
        job_args = argparse.Namespace(**{**vars(args), "account": [key], "platform": None})
        code, results = run_collect(job_args, simulate=args.simulate, stop=stop)
        for r in results:
            log.info("job collect %s: %s", key, r.status)

    scheduler = build_scheduler(
        accounts, collect_job, lambda: run_digest(args),
        ScheduleConfig(args.jitter, args.misfire_grace, args.digest_time))

    def on_signal(signum: int, frame: object) -> None:
        log.warning("%s: finishing the page in hand, committing, exiting",
                    signal.Signals(signum).name)
        stop.set()
        scheduler.shutdown(wait=True)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    log.info("schedule: %d collect jobs and the digest at %s (Asia/Seoul)", len(accounts),
             args.digest_time)
    try:
        scheduler.start()
    finally:
        lock.release()
    return EXIT_OK


def run_digest(args: argparse.Namespace) -> None:
    """The morning job: yesterday's digest (Seoul), if the digest module is installed."""
    try:
        from digest.build import write_digest
    except ImportError:
        log.warning("digest job skipped: digest module not available")
        return
    day = (datetime.now(SEOUL) - timedelta(days=1)).date()
    paths = write_digest(open_db(args), day, Path(args.digest_out))
    log.info("digest written: %s", ", ".join(str(p) for p in paths))


# --- import --------------------------------------------------------------------------------
def read_pages(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, parsed JSON or the raw line when it is not JSON) of a .json/.jsonl file."""
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix == ".jsonl":
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                yield number, _parse(line)
        return
    doc = _parse(text)
    for page in doc if isinstance(doc, list) else [doc]:
        yield 1, page


def _parse(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        return _NotJson(text[:2000], str(exc))


@dataclass
class _NotJson:
    text: str
    error: str


def page_of(platform: str, doc: dict, kind: str) -> Page:
    """An API response page (twarc2 line, Graph page, YouTube list) or a single object."""
    listing = "items" if platform == "youtube" else "data"
    items = doc.get(listing)
    if isinstance(items, list):
        return Page(kind=kind, items=items, includes=doc.get("includes") or {}, requests=0)
    return Page(kind=kind, items=[doc], requests=0)


def cmd_import(args: argparse.Namespace) -> int:
    accounts = load_config(args)
    account = next((a for a in accounts if a.key == args.account), None)
    if account is None:
        raise UsageError(f"{args.config}: unknown account {args.account!r}")
    if account.platform != args.platform:
        raise UsageError(f"account {account.key} is on {account.platform}, not {args.platform}")
    missing = [str(f) for f in args.files if not Path(f).is_file()]
    if missing:
        raise UsageError(f"no such file: {', '.join(missing)}")
    writer = Writer(open_db(args))
    writer.sync_accounts(accounts)
    _, normalize = platforms.load(args.platform)
    secret = author_secret(dict(os.environ), simulate=args.demo_key)
    ctx = for_account(platform_context(writer, accounts, args.platform, secret, load_tagger()),
                      account)
    total = PageStats()
    for file in args.files:
        for line, doc in read_pages(Path(file)):
            if not isinstance(doc, dict):
                reason = (f"{file}:{line}: not JSON ({doc.error})" if isinstance(doc, _NotJson)
                          else f"{file}:{line}: a page must be a JSON object")
                payload = {"line": doc.text} if isinstance(doc, _NotJson) else {"value": doc}
                from normalize.schema import Quarantine

                writer.write_page(account.key, "import", [], [], [(Quarantine(reason), payload)],
                                  platform=args.platform)
                total.quarantined += 1
                continue
            total.add(store_page(account, page_of(args.platform, doc, args.kind), normalize,
                                 writer, ctx))
    writer.refresh_answers()
    print(f"import {account.key}: {total.fetched} read, {total.inserted} stored, "
          f"{total.updated} updated, {total.unchanged} unchanged, "
          f"{total.quarantined} quarantined")
    return EXIT_OK


# --- registration --------------------------------------------------------------------------
def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("schedule", help="run as a daemon: per-account intervals, daily digest",
                       description="APScheduler daemon in Asia/Seoul: one job per account at its "
                                   "interval, the digest each morning. SIGTERM/SIGINT finish "
                                   "the page in hand, commit and exit 0.")
    p.add_argument("--simulate", action="store_true",
                   help="collect from the simulated platforms (for trying it out)")
    # A live broadcast is followed for most of each 5-minute run of the live chat account.
    add_collect_options(p, live_seconds=270)
    p.add_argument("--jitter", type=int, default=60, metavar="SECONDS",
                   help="random delay added to each job run (default 60)")
    p.add_argument("--misfire-grace", type=int, default=300, metavar="SECONDS",
                   help="a job later than this is skipped, not run late (default 300)")
    p.add_argument("--digest-time", default="07:30", metavar="HH:MM",
                   help="when to write yesterday's digest, Seoul time (default 07:30)")
    p.add_argument("--digest-out", default="out/digest", metavar="DIR",
                   help="where the digest files go (default out/digest)")
    p.add_argument("--lock-wait", type=float, default=10.0, metavar="SECONDS",
                   help="wait this long for another run's lock, then exit 75 (default 10)")
    p.set_defaults(func=cmd_schedule, account=None, platform=None, since=None,
                   full_refresh=False, record=None, replay=None)

    p = sub.add_parser("import", help="ingest saved API response pages (JSON or JSONL)",
                       description="Read API response pages saved as JSON or JSONL (twarc2 "
                                   "output for X, Graph API pages, YouTube API pages) through "
                                   "the same normalizers and store.")
    p.add_argument("--platform", required=True, choices=tuple(platforms.REGISTRY),
                   help="the platform the pages come from")
    p.add_argument("--account", required=True, metavar="KEY",
                   help="the account (accounts.yaml key) the pages belong to")
    p.add_argument("--kind", default="comment", choices=("post", "comment"),
                   help="what the pages list: the account's posts or comments (default comment)")
    p.add_argument("--demo-key", action="store_true",
                   help="hash authors with the fixed demo key when SMC_AUTHOR_KEY is unset")
    p.add_argument("files", nargs="+", metavar="FILE", help="JSON or JSONL files of pages")
    p.set_defaults(func=cmd_import)
