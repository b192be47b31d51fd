"""Operations commands: `schedule` (the APScheduler daemon) and `import` (saved API pages)."""
from __future__ import annotations

import argparse
import logging
import signal
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable
from zoneinfo import ZoneInfo

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from core.platforms import KEYS
from pipeline.cli import EXIT_OK, add_collect_options, load_config, read_db, run_collect
from pipeline.config import Account
from pipeline.importer import cmd_import

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
    """The morning job: yesterday's digest (Seoul)."""
    from digest.render import write_digest

    day = (datetime.now(SEOUL) - timedelta(days=1)).date()
    db = read_db(args)
    try:
        paths = write_digest(db, day, Path(args.digest_out))
    finally:
        db.conn.close()
    log.info("digest written: %s", ", ".join(str(p) for p in paths))


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

    p = sub.add_parser(
        "import", help="ingest saved API output (JSON or JSONL, format detected)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Read saved API output through the same normalizers and store as "
                    "collect. The format of each page is detected, no wrapping needed:\n"
                    + "\n".join(f"  {line}" for line in IMPORT_FORMATS)
                    + "\nEach file is one run: items read = stored + quarantined + skipped "
                      "(status --json, table runs).\nExit 0 all stored, 1 some lines or "
                      "items failed (quarantined), 2 usage error (nothing written).")
    p.add_argument("--platform", required=True, choices=KEYS,
                   help="the platform the pages come from")
    p.add_argument("--account", required=True, metavar="KEY",
                   help="the account (accounts.yaml key) the pages belong to")
    p.add_argument("--kind", default=None, choices=("post", "comment"),
                   help="force what the pages list (default: told from the items)")
    p.add_argument("--post", metavar="ID",
                   help="the video (YouTube live chat, comments.list) or Graph post the "
                        "file's items hang under, when the file does not say")
    p.add_argument("--workers", type=int, default=0, metavar="N",
                   help="normalizer processes beside this one (default 0)")
    p.add_argument("--demo-key", action="store_true",
                   help="simulated data only: hash authors with the fixed demo key")
    p.add_argument("files", nargs="+", metavar="FILE", help="JSON or JSONL files of pages")
    p.set_defaults(func=cmd_import)


IMPORT_FORMATS = (
    "X: twarc2 search / timeline / conversation pages (X API v2 responses), twarc2 filter /",
    "   sample stream lines, twarc2 flatten lines (tweet with `author`), single tweets",
    "Facebook, Instagram: Graph API pages (feed, comments, media; nested comments{...} too),",
    "   ?ids= batch responses, single objects, Instagram mentioned_comment / mentioned_media",
    "YouTube: commentThreads.list, comments.list, liveChatMessages.list, videos.list pages",
    "   (live chat: the video from --post VIDEO_ID or the page's videoId), single resources",
    "Any platform: Airbyte record lines ({\"type\": \"RECORD\", ...} or bare records) and Singer",
    "   record lines around any of the above; STATE, LOG, SCHEMA lines are passed over",
)
