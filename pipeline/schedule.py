"""The daemon's scheduler (APScheduler, Asia/Seoul): one collect job per account at its
interval, the digest each morning. `schedule` (commands/ops.py) runs it."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable
from zoneinfo import ZoneInfo

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from core.accounts import Account

SEOUL = ZoneInfo("Asia/Seoul")


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
