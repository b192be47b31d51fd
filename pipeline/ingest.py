"""The loop: take a page from a collector, normalize it, hand it to the store.

Normalizing (PII masking, tags, Kiwi morphemes) costs about as much CPU as storing, so it can
run in worker processes (`NormalizePool`, `workers=N`) while this process fetches and writes:
pages are normalized ahead, in order, and written in the order they came, each page's cursor
with its rows. `ingest_pages` (bulk loads: import, backfill, the benchmark) also groups many
pages into one transaction (`commit_rows`): still every cursor is committed with its own
page's rows, so a killed run resumes from the last committed page.
"""
from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import pickle
import threading
from collections import defaultdict, deque
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence

from collectors.base import Collector, Page
from core.accounts import Account
from core.errors import CollectorError
from core.redact import error_text, redact
from normalize.common import token_fields
from normalize.schema import Context, Outcome, Quarantine, Record, Skipped, record_id
from store import queries
from store.writer import PageStats, Prepared, Writer, comment_posts, prepare

if TYPE_CHECKING:
    from normalize.tags import Rules, Tagger

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


def split_outcomes(
    pairs: Sequence[tuple[Outcome, dict]],
) -> tuple[list[Record], list[dict], list[tuple[Quarantine | Skipped, dict]]]:
    """Separate stored records (with their raw objects) from quarantined payloads and
    counted skips."""
    records: list[Record] = []
    raws: list[dict] = []
    bad: list[tuple[Quarantine | Skipped, dict]] = []
    for outcome, raw in pairs:
        if isinstance(outcome, (Quarantine, Skipped)):
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
    unchanged = UnchangedItems(writer)
    try:
        cursors = {} if full_refresh else queries.cursors(db, account.key)
        for page in collector.pages(account, cursors):
            result.requests += page.requests
            rest, known, hashes = unchanged.split(account, page, ctx)
            stats = store_page(account, rest, normalize, writer, ctx, seen, known=known,
                               hashes=hashes)
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


# Key in `seen` (never a record id): a page since the last closed scan had a quarantined
# payload, so the next scan to close tombstones nothing (it could be one of its comments).
_UNREADABLE = ""


# A normalized page, ready for the store: records prepared (content hash, raw JSON), the
# payloads that went to quarantine, and (when asked) per item: (records made, quarantined).
Normalized = tuple[list[Prepared], list[tuple[Quarantine | Skipped, dict]],
                   "list[tuple[int, int]] | None"]
# What an item that gave no outcome at all becomes: nothing is ever dropped silently.
NOTHING_MADE = "the normalizer made no record, quarantine or counted skip of this item"

# Part of every item hash: a change of the normalizers' output must change it (bump it).
NORMALIZE_VERSION = "2026-12-01.4"  # + search tokens: compound pieces, text order; answers ""


def normalize_prepared(normalize: PageNormalizer, page: Page, ctx: Context,
                       serialize: bool = False, per_item: bool = False) -> Normalized:
    """Normalize one page and prepare its records for the store (no database access).

    per_item: normalize item by item (morphemes still in one batch) and say what each item
    made, so unchanged items can be recognised on a re-run (`item_hashes`).
    """
    if not per_item:
        records, raws, bad = split_outcomes(normalize_safely(normalize, page, ctx))
        return prepare(records, raws, serialize), bad, None
    flat = replace(ctx, tokenize=False)
    pairs = normalize_safely(normalize, page, flat)
    if len(pairs) == len(page.items) and all(
            raw is item for (_, raw), item in zip(pairs, page.items)):
        # One outcome per item, in order (most pages): no need to normalize item by item.
        spans = [(0, 1) if isinstance(o, (Quarantine, Skipped)) else (1, 0) for o, _ in pairs]
    else:
        pairs, spans = [], []
        for item in page.items:
            got = normalize_safely(normalize, replace(page, items=[item]), flat)
            if not got:
                got = [(Quarantine(NOTHING_MADE), item)]
            n_bad = sum(isinstance(o, (Quarantine, Skipped)) for o, _ in got)
            spans.append((len(got) - n_bad, n_bad))
            pairs.extend(got)
    records, raws, bad = split_outcomes(pairs)
    return prepare(records, raws, serialize, token_fields(records, ctx)), bad, spans


def context_fingerprint(ctx: Context) -> bytes:
    """What, besides the payload, decides a normalizer's output."""
    rules = getattr(ctx.tagger, "rules", None) if ctx.tagger is not None else None
    if rules is not None:  # a frozenset's order changes with each process's hash seed
        rules = replace(rules, stop_nouns=tuple(sorted(rules.stop_nouns)))
    text = repr((NORMALIZE_VERSION, ctx.platform, ctx.account, ctx.secret,
                 sorted(ctx.official_ids), sorted(ctx.official_handles), ctx.account_native_id,
                 repr(rules) if ctx.tagger is not None else None, ctx.tokenize,
                 sorted(ctx.extra.items(), key=repr)))
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


def item_hashes(page: Page, fingerprint: bytes) -> list[int]:
    """A 63-bit hash per raw item: the item, what the page tells about it (includes; of X's
    users only the item's author), the page kind and the normalizer's context."""
    includes = dict(page.includes or {})
    users = includes.pop("users", None)
    by_id = {u.get("id"): u for u in users if isinstance(u, dict)} if isinstance(
        users, list) else {}
    base = hashlib.blake2b(fingerprint + page.kind.encode() + pickle.dumps(includes, 5),
                           digest_size=8)
    out = []
    for item in page.items:
        author = by_id.get(item.get("author_id")) if by_id and isinstance(item, dict) else None
        # pickle, not sorted JSON: ~4x cheaper; the same parsed payload pickles to the same
        # bytes in any process (keys in another order only cost one more normalization)
        h = base.copy()
        h.update(pickle.dumps((item, author), 5))
        out.append(int.from_bytes(h.digest(), "big") >> 1)
    return out


class UnchangedItems:
    """Recognises items a re-read brings back unchanged (their hash is in `item_seen` with
    records still stored as they made them): they are not normalized again."""

    def __init__(self, writer: Writer, enabled: bool = True):
        self.writer, self.enabled = writer, enabled
        self._fingerprints: dict[str, bytes] = {}

    def split(self, account: Account, page: Page,
              ctx: Context) -> tuple[Page, list, list[int] | None]:
        """The page minus its unchanged items, their records, the other items' hashes."""
        if not self.enabled or not page.items:
            return page, [], None
        fp = self._fingerprints.get(account.key)
        if fp is None:
            fp = self._fingerprints[account.key] = context_fingerprint(ctx)
        hashes = item_hashes(page, fp)
        known = self.writer.known_items(hashes)
        if not known:
            return page, [], hashes
        rest = [(item, h) for item, h in zip(page.items, hashes) if h not in known]
        records = [r for h in hashes if h in known for r in known[h]]
        return replace(page, items=[i for i, _ in rest]), records, [h for _, h in rest]


def store_page(account: Account, page: Page, normalize: PageNormalizer, writer: Writer,
               ctx: Context, seen: dict[str, set[str]] | None = None,
               normalized: Normalized | None = None,
               known: Sequence[list] = (), hashes: Sequence[int] | None = None) -> PageStats:
    """Normalize one page and store it with its cursor; `seen` tracks ids for tombstones.

    normalized: the page already normalized (by a NormalizePool worker).
    known: records of the page's items seen unchanged ([table, id, post_id, hash]): they
    were not normalized again and only get last_seen. hashes: the item hash of each item
    of `page` (normalized per item), remembered with the records each item made.
    """
    seen = defaultdict(set) if seen is None else seen
    if normalized is None:
        normalized = normalize_prepared(normalize, page, ctx, per_item=hashes is not None)
    prepared, bad, spans = normalized
    for comment_id, post_id in comment_posts(prepared):
        seen[post_id].add(comment_id)
    for table, rid, post_id, _ in known:
        if table == "comments" and post_id:
            seen[post_id].add(rid)
    items = []
    if hashes is not None and spans is not None:
        at = 0
        for digest, (n, n_bad) in zip(hashes, spans):
            made = prepared[at:at + n]
            at += n
            if n and not n_bad:
                items.append((digest, json.dumps(
                    [[t, v[0], v[4] if t == "comments" else None, h] for t, v, h, _ in made])))
    if any(isinstance(q, Quarantine) for q, _ in bad):
        # a payload we could not read may be a stored comment: the scan is not conclusive
        seen[_UNREADABLE] = set()
    tombstone = None
    if page.scanned_post is not None:
        post = record_id(account.platform, page.scanned_post)
        ids = seen.pop(post, set())
        if seen.pop(_UNREADABLE, None) is None:
            tombstone = (post, ids)
    cursor = (page.cursor.stream, page.cursor.value) if page.cursor else None
    return writer.write_prepared(account.key, page.kind, prepared, bad, cursor, tombstone,
                                 platform=account.platform, cost=page.cost,
                                 known=[(t, rid) for t, rid, _, _ in known], items=items)


# --- normalizing in worker processes -------------------------------------------------------
_worker_contexts: dict[int, Context] = {}
_worker_taggers: dict[int, Tagger] = {}
_worker_normalizers: dict[str, PageNormalizer] = {}


def _worker_normalize(platform: str, kind: str, items: list, includes: Mapping,
                      ctx_key: int, ctx_blob: bytes, per_item: bool = False) -> Normalized:
    """In a worker: normalize one page's items, raw payloads serialized here."""
    ctx = _worker_contexts.get(ctx_key)
    if ctx is None:
        stripped, tagger_key, rules = pickle.loads(ctx_blob)
        ctx = _worker_contexts[ctx_key] = replace(stripped,
                                                  tagger=_worker_tagger(tagger_key, rules))
    normalize = _worker_normalizers.get(platform)
    if normalize is None:
        from pipeline import platforms
        normalize = _worker_normalizers[platform] = platforms.load(platform)[1]
    page = Page(kind=kind, items=items, includes=includes)  # type: ignore[arg-type]
    return normalize_prepared(normalize, page, ctx, serialize=True, per_item=per_item)


def _worker_tagger(key: int, rules: Rules | None) -> Tagger | None:
    """The worker's Tagger for the main process's tagger `key`: one for all the contexts that
    share it there (building one compiles a few hundred regexes: ~0.1 s per context)."""
    if rules is None:
        return None
    tagger = _worker_taggers.get(key)
    if tagger is None:
        from normalize.tags import Tagger
        tagger = _worker_taggers[key] = Tagger(rules)
    return tagger


def morph_cache_info() -> dict[str, int]:
    """Hits and misses of this process's per-word morpheme cache."""
    from normalize.morph import cache_info
    return cache_info()


class NormalizePool:
    """Normalizer worker processes: pages go in, prepared records come back.

    Each context goes to the workers as a pickled blob made once (its tagger as its Rules,
    rebuilt there once for all the contexts that share it). Use as a context manager, or
    call close().
    """

    def __init__(self, workers: int = 1):
        self.workers = max(1, workers)
        self.executor = ProcessPoolExecutor(
            self.workers, mp_context=multiprocessing.get_context("spawn"))
        self._keys: dict[int, tuple[int, bytes, Context]] = {}
        self._taggers: dict[int, tuple[int, Tagger | None]] = {}
        self.cache_info: dict[str, int] = {}

    def _context(self, ctx: Context) -> tuple[int, bytes]:
        entry = self._keys.get(id(ctx))
        if entry is None or entry[2] is not ctx:
            rules = getattr(ctx.tagger, "rules", None)
            if ctx.tagger is not None and rules is None:
                raise ValueError("a NormalizePool needs a tagger built from Rules")
            blob = pickle.dumps((replace(ctx, tagger=None), self._tagger_key(ctx.tagger), rules))
            entry = (len(self._keys) + 1, blob, ctx)  # holding ctx keeps its id unique
            self._keys[id(ctx)] = entry
        return entry[0], entry[1]

    def _tagger_key(self, tagger: Tagger | None) -> int:
        """The same key for the same tagger object (held: its id stays unique)."""
        entry = self._taggers.get(id(tagger))
        if entry is None or entry[1] is not tagger:
            entry = self._taggers[id(tagger)] = (len(self._taggers) + 1, tagger)
        return entry[0]

    def submit(self, platform: str, page: Page, ctx: Context,
               per_item: bool = False) -> "Future[Normalized]":
        """Normalize a page in a worker."""
        key, blob = self._context(ctx)
        return self.executor.submit(_worker_normalize, platform, page.kind, page.items,
                                    page.includes, key, blob, per_item)

    def close(self) -> None:
        """Stop the workers (after reading a worker's morpheme cache counts)."""
        try:
            self.cache_info = self.executor.submit(morph_cache_info).result(timeout=60)
        except Exception:  # noqa: BLE001 - counts are informative only
            self.cache_info = {}
        self.executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> "NormalizePool":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


last_cache_info: dict[str, int] = {}  # morpheme cache counts of the last ingest_pages


def ingest_pages(
    pages: Iterable[tuple[Account, Page]],
    normalizers: Mapping[str, PageNormalizer],
    writer: Writer,
    contexts: Mapping[str, Context],
    *,
    workers: int = 0,
    commit_rows: int = 50_000,
    window: int = 16,
    skip_unchanged: bool = True,
) -> PageStats:
    """Store pages of any accounts (bulk loads: import, backfill, the benchmark).

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
    """
    global last_cache_info
    total = PageStats()
    # Comments seen per post for tombstones, of the account being read: its pages come
    # together (a pass); when another account's page comes, that pass is over.
    seen: dict[str, set[str]] = defaultdict(set)
    current: list[str] = [""]
    pool = NormalizePool(workers) if workers > 0 else None
    try:
        with writer.group(commit_rows) as done:
            unchanged = UnchangedItems(writer, enabled=skip_unchanged)

            def write(account: Account, page: Page, normalized: Normalized | None,
                      known: list, hashes: list[int] | None) -> None:
                if account.key != current[0]:
                    seen.clear()
                    current[0] = account.key
                stats = store_page(account, page, normalizers[account.platform], writer,
                                   contexts[account.key], seen, normalized, known, hashes)
                total.add(stats)
                done(stats.fetched + 1)

            if pool is None:
                for account, page in pages:
                    rest, known, hashes = unchanged.split(account, page, contexts[account.key])
                    write(account, rest, None, known, hashes)
            else:
                queue: deque[tuple[Account, Page, Future | None, list, list[int] | None]] = deque()
                for account, page in pages:
                    rest, known, hashes = unchanged.split(account, page, contexts[account.key])
                    future = pool.submit(account.platform, rest, contexts[account.key],
                                         per_item=hashes is not None) if rest.items else None
                    queue.append((account, rest, future, known, hashes))
                    while len(queue) >= window or (queue and queue[0][2] is None):
                        account, rest, future, known, hashes = queue.popleft()
                        write(account, rest, future.result() if future else ([], [], []),
                              known, hashes)
                while queue:
                    account, rest, future, known, hashes = queue.popleft()
                    write(account, rest, future.result() if future else ([], [], []),
                          known, hashes)
    finally:
        if pool is not None:
            pool.close()
            last_cache_info = pool.cache_info
        else:
            last_cache_info = morph_cache_info()
    return total
