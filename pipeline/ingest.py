"""The loop: take an event from a collector, normalize its page, hand it to the store.

Every ingest (collect, import, the bulk loader, the benchmark) goes through the same
machinery: the normalize step of pipeline/normalizing.py (here or in worker processes,
`workers=N`, pages normalized ahead in order and written in the order they came), wrapped
in the unchanged-item cache, and the writer, each page's cursor committed with its rows.
`ingest_pages` groups many pages into one transaction (`commit_rows`); `run_account`
commits event by event (collectors.base: a Page, Checkpoint, ScanComplete or Spend). A
killed run resumes from the last committed page.
"""
from __future__ import annotations

import logging
import threading
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping

from collectors.base import Checkpoint, Collector, Event, Page, ScanComplete, Spend, spent
from core.accounts import Account
from core.errors import CollectorError
from core.redact import error_text, redact
from normalize.schema import Context, Quarantine, record_id
from pipeline.normalizing import Normalized, NormalizePool, SkipUnchanged, Step, make_step
from store import queries
from store.ready import comment_posts
from store.writer import PageStats, Writer

log = logging.getLogger(__name__)


@dataclass
class AccountResult:
    """How one account's collection went in one run."""

    account: str
    status: str  # ok, failed, skipped, rate_limited, auth, permission, interrupted
    stats: PageStats = field(default_factory=PageStats)
    requests: int = 0
    error: str | None = None
    retry_after: str | None = None

    def __post_init__(self) -> None:
        self.fail(self.status, self.error)

    def fail(self, status: str, error: str | BaseException | None) -> None:
        """Set the outcome; the error is redacted here, where it becomes a result."""
        self.status = status
        if isinstance(error, BaseException):
            error = error_text(error)
        self.error = None if error is None else redact(error)

    @property
    def ok(self) -> bool:
        return self.status in ("ok", "skipped")


def run_account(
    account: Account,
    collector: Collector,
    writer: Writer,
    ctx: Context,
    run_id: str,
    stop: threading.Event | None = None,
    on_page: Callable[[Account, PageStats], None] | None = None,
    full_refresh: bool = False,
    step: Step | None = None,
) -> AccountResult:
    """Collect one account: every event in its own transaction (a page with its cursor).

    full_refresh: ignore the stored cursors (re-read what the API still serves; upserts make
    it harmless, and the cursors advance again at the end of each stream).
    step: where pages are normalized (default: here).
    """
    db = writer.db
    until = queries.retry_after(db, account.key)
    if until and until > writer.clock():
        return AccountResult(account.key, "rate_limited", retry_after=until,
                             error=f"rate limited until {until}; skipped this run")
    result = AccountResult(account.key, "ok")
    row = writer.start_run(run_id, account.key, account.platform)
    seen: dict[str, set[str]] = defaultdict(set)
    normalize = SkipUnchanged(step or make_step(0), writer)
    try:
        cursors = {} if full_refresh else queries.cursors(db, account.key)
        for event in collector.pages(account, cursors):
            result.requests += spent(event).requests
            if isinstance(event, Page):
                stats = store_page(account, event, normalize.submit(account, event, ctx)(),
                                   writer, seen)
            else:
                stats = store_event(account, event, writer, seen)
            result.stats.add(stats)
            if on_page:
                on_page(account, stats)
            if stop is not None and stop.is_set():
                result.fail("interrupted", "stopped by signal after a page")
                break
        if until:
            writer.set_retry_after(account.key, None)
    except CollectorError as exc:
        result.fail(exc.kind, exc)
        result.retry_after = exc.retry_after
        if exc.retry_after:
            writer.set_retry_after(account.key, exc.retry_after)
    except Exception as exc:  # noqa: BLE001 - one account's failure never stops the others
        log.debug("unexpected error collecting %s", account.key, exc_info=True)
        result.fail("failed", error_text(exc, f"{type(exc).__name__}: "))
    if not result.stats.balanced() and result.status == "ok":
        result.fail("failed", unbalanced(result.stats))
    writer.finish_run(row, result.status, result.stats, result.requests, result.error)
    return result


def unbalanced(stats: PageStats) -> str:
    """The error of a run whose counts do not add up (a bug: an item went missing)."""
    return (f"counts do not balance: {stats.fetched} read, but {stats.stored} stored + "
            f"{stats.quarantined} quarantined + {stats.skipped} skipped")


# Key in `seen` (never a record id): a page since the last ScanComplete had a quarantined
# payload, so the next ScanComplete tombstones nothing (it could be one of its comments).
_UNREADABLE = ""


def store_page(account: Account, page: Page, normalized: Normalized, writer: Writer,
               seen: dict[str, set[str]] | None = None) -> PageStats:
    """Store one normalized page with its cursor and spend; `seen` tracks the comment ids
    seen per post for `ScanComplete` (store_event).

    normalized.known: records of the page's items seen unchanged: they were not normalized
    again and only get last_seen. normalized.items: what each new item made, remembered
    for re-runs.
    """
    seen = defaultdict(set) if seen is None else seen
    for comment_id, post_id in comment_posts(normalized.ready):
        seen[post_id].add(comment_id)
    for known in normalized.known:
        if known.table == "comments" and known.post_id:
            seen[known.post_id].add(known.id)
    if any(isinstance(q, Quarantine) for q, _ in normalized.held):
        # a payload we could not read may be a stored comment: the scan is not conclusive
        seen[_UNREADABLE] = set()
    cursor = (page.cursor.stream, page.cursor.value) if page.cursor else None
    return writer.write_prepared(account.key, page.kind, normalized.ready, normalized.held,
                                 cursor, None, platform=account.platform,
                                 cost=page.spend.units,
                                 known=[(k.table, k.id) for k in normalized.known],
                                 items=normalized.items)


def store_event(account: Account, event: Checkpoint | ScanComplete | Spend, writer: Writer,
                seen: dict[str, set[str]]) -> PageStats:
    """Store an event without data in its own transaction: a Checkpoint's cursor, a
    ScanComplete's tombstones, and the quota units it spent.

    A ScanComplete follows its post's last page, whose rows are committed already: if the
    run dies between the two, no tombstone is written (nothing is lost: the comment stays
    live until the next run re-scans the post and completes the scan).
    """
    cursor: tuple[str, str] | None = None
    tombstone: tuple[str, set[str]] | None = None
    if isinstance(event, Checkpoint):
        cursor = (event.cursor.stream, event.cursor.value)
    elif isinstance(event, ScanComplete):
        post = record_id(account.platform, event.post)
        ids = seen.pop(post, set())
        if seen.pop(_UNREADABLE, None) is None:
            tombstone = (post, ids)
    return writer.write_prepared(account.key, "", [], (), cursor, tombstone,
                                 platform=account.platform, cost=spent(event).units)


last_cache_info: dict[str, int] = {}  # morpheme cache counts of the last ingest_pages


def ingest_pages(
    pages: Iterable[tuple[Account, Event]],
    writer: Writer,
    contexts: Mapping[str, Context],
    *,
    workers: int = 0,
    commit_rows: int = 50_000,
    window: int = 16,
    skip_unchanged: bool = True,
    step: Step | None = None,
) -> PageStats:
    """Store the events of any accounts (bulk loads: import, backfill, the benchmark).

    workers: normalizer processes working ahead of this one (0: normalize here);
    commit_rows: rows per transaction (Writer.group: each page's cursor still goes with its
    own rows; an error rolls back the pages since the last commit, cursors included). Large:
    a commit writes every page the transaction dirtied, and random keys (ids, item hashes,
    FTS terms) dirty most of an index's pages however few rows there are (at 1M rows,
    5,000-row transactions spent ~3x as long on item_seen alone as 50,000-row ones);
    window: pages normalized ahead of the writer. Tombstones as in collect, an account's
    consecutive pages taken as one pass of it.
    skip_unchanged: items whose hash (item_hashes) is stored with records still as they
    made them are not normalized again (store: item_seen); their records get last_seen.
    step: a normalize step the caller keeps open across calls (an import of many files
    starts its workers once); default: one made here of `workers`, closed at the end.
    """
    global last_cache_info
    total = PageStats()
    # Comments seen per post for tombstones, of the account being read: its pages come
    # together (a pass); when another account's page comes, that pass is over.
    seen: dict[str, set[str]] = defaultdict(set)
    current = ""
    normalize = SkipUnchanged(step or make_step(workers), writer, enabled=skip_unchanged)
    # pages normalized elsewhere are worth queueing; here, each is written as it is made
    ahead = window if isinstance(normalize.step, NormalizePool) else 1
    # an event without data waits in the queue for the pages before it
    queue: deque[tuple[Account, Event, Callable[[], Normalized] | None]] = deque()
    try:
        with writer.group(commit_rows) as done:
            def write_next() -> None:
                nonlocal current
                account, event, result = queue.popleft()
                if account.key != current:
                    seen.clear()
                    current = account.key
                if isinstance(event, Page):
                    assert result is not None
                    stats = store_page(account, event, result(), writer, seen)
                else:
                    stats = store_event(account, event, writer, seen)
                total.add(stats)
                done(stats.fetched + 1)

            for account, event in pages:
                queue.append((account, event,
                              normalize.submit(account, event, contexts[account.key])
                              if isinstance(event, Page) else None))
                while len(queue) >= max(1, ahead):
                    write_next()
            while queue:
                write_next()
    finally:
        if step is None:
            normalize.close()
        last_cache_info = normalize.cache_info
    return total
