"""The loop: take a page from a collector, normalize it, hand it to the store."""
from __future__ import annotations

import logging
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable, Sequence

from collectors.base import Collector, CollectorError, Page
from normalize.schema import Comment, Context, Outcome, Quarantine, Record, record_id
from pipeline.config import Account
from store import queries
from store.writer import PageStats, Writer

log = logging.getLogger(__name__)

# A platform's normalizer: one page in, (outcome, raw object it came from) pairs out.
PageNormalizer = Callable[[Page, Context], list[tuple[Outcome, dict]]]


@dataclass
class AccountResult:
    """How one account's collection went in one run."""

    account: str
    status: str  # ok, failed, skipped, rate_limited, auth, permission, interrupted
    stats: PageStats = field(default_factory=PageStats)
    requests: int = 0
    error: str | None = None
    retry_after: str | None = None

    @property
    def ok(self) -> bool:
        return self.status in ("ok", "skipped")


def split_outcomes(
    pairs: Sequence[tuple[Outcome, dict]],
) -> tuple[list[Record], list[dict], list[tuple[Quarantine, dict]]]:
    """Separate stored records (with their raw objects) from quarantined payloads."""
    records, raws, bad = [], [], []
    for outcome, raw in pairs:
        if isinstance(outcome, Quarantine):
            bad.append((outcome, raw))
        else:
            records.append(outcome)
            raws.append(raw)
    return records, raws, bad


def normalize_safely(normalize: PageNormalizer, page: Page,
                     ctx: Context) -> list[tuple[Outcome, dict]]:
    """Never let a normalizer bug stop the run: a crash quarantines the page's items."""
    try:
        return normalize(page, ctx)
    except Exception as exc:  # noqa: BLE001 - the payload is kept, with the reason
        log.exception("normalizer crashed on a %s page of %s", page.kind, ctx.account)
        reason = f"normalizer error: {type(exc).__name__}: {exc}"
        return [(Quarantine(reason=reason), item) for item in page.items]


def run_account(
    account: Account,
    collector: Collector,
    normalize: PageNormalizer,
    writer: Writer,
    ctx: Context,
    run_id: str,
    stop: threading.Event | None = None,
    on_page: Callable[[Account, PageStats], None] | None = None,
    full_refresh: bool = False,
) -> AccountResult:
    """Collect one account: every page and its cursor committed together.

    full_refresh: ignore the stored cursors (re-read what the API still serves; upserts make
    it harmless, and the cursors advance again at the end of each stream).
    """
    db = writer.db
    until = queries.retry_after(db, account.key)
    if until and until > writer.clock():
        return AccountResult(account.key, "rate_limited", retry_after=until,
                             error=f"rate limited until {until}; skipped this run")
    result = AccountResult(account.key, "ok")
    row = writer.start_run(run_id, account.key, account.platform)
    seen: dict[str, set[str]] = defaultdict(set)
    try:
        cursors = {} if full_refresh else queries.cursors(db, account.key)
        for page in collector.pages(account, cursors):
            result.requests += page.requests
            stats = store_page(account, page, normalize, writer, ctx, seen)
            result.stats.add(stats)
            if on_page:
                on_page(account, stats)
            if stop is not None and stop.is_set():
                result.status, result.error = "interrupted", "stopped by signal after a page"
                break
        if until:
            writer.set_retry_after(account.key, None)
    except CollectorError as exc:
        result.status, result.error, result.retry_after = exc.kind, str(exc), exc.retry_after
        if exc.retry_after:
            writer.set_retry_after(account.key, exc.retry_after)
    except Exception as exc:  # noqa: BLE001 - one account's failure never stops the others
        log.debug("unexpected error collecting %s", account.key, exc_info=True)
        result.status, result.error = "failed", f"{type(exc).__name__}: {exc}"
    writer.finish_run(row, result.status, result.stats, result.requests, result.error)
    return result


def store_page(account: Account, page: Page, normalize: PageNormalizer, writer: Writer,
               ctx: Context, seen: dict[str, set[str]] | None = None) -> PageStats:
    """Normalize one page and store it with its cursor; `seen` tracks ids for tombstones."""
    seen = defaultdict(set) if seen is None else seen
    records, raws, bad = split_outcomes(normalize_safely(normalize, page, ctx))
    for r in records:
        if isinstance(r, Comment) and r.post_id:
            seen[r.post_id].add(r.id)
    tombstone = None
    if page.scanned_post is not None:
        post = record_id(account.platform, page.scanned_post)
        tombstone = (post, seen.pop(post, set()))
    cursor = (page.cursor.stream, page.cursor.value) if page.cursor else None
    return writer.write_page(account.key, page.kind, records, raws, bad, cursor, tombstone,
                             platform=account.platform, cost=page.cost)
