"""The normalize step of every ingest (collect, import, the bulk loader and the bench).

A page goes in; typed records ready for the store come out (`Normalized`): each page item
normalized once, search tokens filled in one batch (normalize.common.add_tokens), content
hashes made, and per item what it made, for the unchanged-item cache. The step runs here
(`LocalStep`) or in worker processes (`NormalizePool`); `SkipUnchanged` wraps either so that
items a re-read brings back unchanged are not normalized again.
"""
from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import pickle
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, NamedTuple, Protocol

from collectors.base import Page
from core.accounts import Account
from core.platforms import load as load_target
from core.platforms import spec
from normalize.common import ItemNormalizer, Pairs, add_tokens
from normalize.schema import Comment, Context, Quarantine, Record, Skipped

if TYPE_CHECKING:
    from normalize.tags import Rules, Tagger
    from store.ready import Ready
    from store.writer import Writer

log = logging.getLogger(__name__)

# What an item that gave no outcome at all becomes: nothing is ever dropped silently.
NOTHING_MADE = "the normalizer made no record, quarantine or counted skip of this item"
Held = list[tuple[Quarantine | Skipped, dict]]


class Known(NamedTuple):
    """A record an unchanged item made, as the item cache (`item_seen`) remembers it."""

    table: str
    id: str
    post_id: str | None
    digest: int


@dataclass
class Normalized:
    """One page, normalized for the store."""

    ready: list[Ready] = field(default_factory=list)  # records with tokens and hashes
    held: Held = field(default_factory=list)  # quarantined payloads and counted skips
    # (item hash, the records it made as JSON) of items that made records and no
    # quarantine: the cache remembers them for the next re-read
    items: list[tuple[int, str]] = field(default_factory=list)
    known: list[Known] = field(default_factory=list)  # records of unchanged items


def normalizer(platform: str) -> ItemNormalizer:
    """A platform's item normalizer, from the registry."""
    return load_target(spec(platform).normalizer)


# --- the version of the normalizers' output ----------------------------------------------
_SOURCES = Path(__file__).resolve().parent.parent / "normalize"


@lru_cache(maxsize=1)
def normalize_version() -> str:
    """A hash of what decides the normalizers' output besides the payload and the context:
    the sources of normalize/ (every platform's normalizer and what they share), of this
    step, and the versions of Kiwi and its model. Part of every item hash: an edited rule
    or an upgraded Kiwi makes every item normalize again on its next read, and no stored
    row keeps old output because a hand-kept version string was not bumped."""
    digest = hashlib.blake2b(digest_size=8)
    for path in sorted(_SOURCES.glob("*.py")) + [Path(__file__).resolve()]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    for package in ("kiwipiepy", "kiwipiepy_model"):
        try:
            digest.update(f"{package}={metadata.version(package)}".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{package}=none".encode())
    return digest.hexdigest()


def context_fingerprint(ctx: Context) -> bytes:
    """What, besides the payload, decides a normalizer's output."""
    rules = getattr(ctx.tagger, "rules", None) if ctx.tagger is not None else None
    if rules is not None:  # a frozenset's order changes with each process's hash seed
        rules = replace(rules, stop_nouns=tuple(sorted(rules.stop_nouns)))
    text = repr((normalize_version(), ctx.platform, ctx.account, ctx.secret,
                 sorted(ctx.official_ids), sorted(ctx.official_handles), ctx.account_native_id,
                 ctx.account_department, repr(rules) if ctx.tagger is not None else None,
                 ctx.tokenize,
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


# --- the step ------------------------------------------------------------------------------
def normalize_items_safely(normalize: ItemNormalizer, page: Page, ctx: Context) -> list[Pairs]:
    """Per page item, its outcomes. Never lets a normalizer bug stop the run: a crash
    quarantines the page's items, and an item that made nothing is quarantined too."""
    try:
        groups = normalize(page, ctx)
    except Exception as exc:  # noqa: BLE001 - the payload is kept, with the reason
        log.exception("normalizer crashed on a %s page of %s", page.kind, ctx.account)
        reason = f"normalizer error: {type(exc).__name__}: {exc}"
        return [[(Quarantine(reason=reason), item)] for item in page.items]
    if len(groups) != len(page.items):  # a normalizer bug: keep every payload, say why
        reason = f"normalizer error: {len(groups)} results for {len(page.items)} items"
        return [[(Quarantine(reason=reason), item)] for item in page.items]
    return [group or [(Quarantine(NOTHING_MADE), item)] for group, item in zip(groups, page.items)]


def normalize_page(normalize: ItemNormalizer, page: Page, ctx: Context,
                   hashes: list[int] | None = None, serialize: bool = False) -> Normalized:
    """Normalize one page for the store (no database access: runs in a worker too).

    hashes: the item hash of each item (`item_hashes`), to remember what each item made.
    serialize: dump the raw payloads to JSON here (a worker does, so the writer does not).
    """
    from store.ready import prepare

    out = Normalized()
    records: list[Record] = []
    raws: list[dict] = []
    spans: list[tuple[int, int]] = []  # per item: (records made, quarantined or skipped)
    for group in normalize_items_safely(normalize, page, ctx):
        bad = 0
        for outcome, raw in group:
            if isinstance(outcome, (Quarantine, Skipped)):
                out.held.append((outcome, raw))
                bad += 1
            else:
                records.append(outcome)
                raws.append(raw)
        spans.append((len(group) - bad, bad))
    if ctx.tokenize:
        records = add_tokens(records)
    out.ready = prepare(records, raws, serialize)
    if hashes is not None:
        out.items = _item_records(out.ready, spans, hashes)
    return out


def _item_records(ready: list[Ready], spans: list[tuple[int, int]],
                  hashes: list[int]) -> list[tuple[int, str]]:
    """(item hash, its records as JSON) of the items that made records and nothing else."""
    items, at = [], 0
    for digest, (n, bad) in zip(hashes, spans):
        mine = ready[at:at + n]
        at += n
        if n and not bad:
            items.append((digest, json.dumps([list(_known(r)) for r in mine])))
    return items


def _known(r: Ready) -> Known:
    post = r.record.post_id if type(r.record) is Comment else None
    return Known(r.table, r.record.id, post, r.digest)


class Step(Protocol):
    """Where pages are normalized: here, or in worker processes."""

    def submit(self, platform: str, page: Page, ctx: Context,
               hashes: list[int] | None = None) -> "Future[Normalized]": ...

    def close(self) -> None: ...


def _done(value: Normalized) -> "Future[Normalized]":
    future: Future[Normalized] = Future()
    future.set_result(value)
    return future


class LocalStep:
    """Normalizes in this process, when asked."""

    def __init__(self) -> None:
        self.cache_info: dict[str, int] = {}

    def submit(self, platform: str, page: Page, ctx: Context,
               hashes: list[int] | None = None) -> "Future[Normalized]":
        return _done(normalize_page(normalizer(platform), page, ctx, hashes))

    def close(self) -> None:
        self.cache_info = morph_cache_info()


def morph_cache_info() -> dict[str, int]:
    """Hits and misses of this process's per-word morpheme cache."""
    from normalize.morph import cache_info
    return cache_info()


# --- normalizing in worker processes -------------------------------------------------------
_worker_contexts: dict[int, Context] = {}
_worker_taggers: dict[int, "Tagger"] = {}


def _worker_normalize(platform: str, kind: str, items: list, includes: Mapping,
                      ctx_key: int, ctx_blob: bytes, hashes: list[int] | None) -> Normalized:
    """In a worker: normalize one page's items, raw payloads serialized here."""
    ctx = _worker_contexts.get(ctx_key)
    if ctx is None:
        stripped, tagger_key, rules = pickle.loads(ctx_blob)
        ctx = _worker_contexts[ctx_key] = replace(stripped,
                                                  tagger=_worker_tagger(tagger_key, rules))
    page = Page(kind=kind, items=items, includes=includes)  # type: ignore[arg-type]
    return normalize_page(normalizer(platform), page, ctx, hashes, serialize=True)


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


class NormalizePool:
    """Normalizer worker processes: pages go in, records ready for the store come back.

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
               hashes: list[int] | None = None) -> "Future[Normalized]":
        """Normalize a page in a worker."""
        key, blob = self._context(ctx)
        return self.executor.submit(_worker_normalize, platform, page.kind, page.items,
                                    page.includes, key, blob, hashes)

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


def make_step(workers: int) -> Step:
    """The normalize step: `workers` processes working ahead of this one, or here (0)."""
    return NormalizePool(workers) if workers > 0 else LocalStep()


# --- the unchanged-item cache --------------------------------------------------------------
class SkipUnchanged:
    """The unchanged-item cache around a step: items a re-read brings back unchanged (their
    hash is in `item_seen` with records still stored as they made them) are not normalized
    again; their records come back as `Normalized.known` and only get last_seen."""

    def __init__(self, step: Step, writer: Writer, enabled: bool = True):
        self.step, self.writer, self.enabled = step, writer, enabled
        self._fingerprints: dict[str, bytes] = {}

    def submit(self, account: Account, page: Page, ctx: Context) -> Callable[[], Normalized]:
        """Start normalizing a page; call the result for the page normalized."""
        if not page.items:
            return lambda: Normalized()
        if not self.enabled:
            return self.step.submit(account.platform, page, ctx).result
        fp = self._fingerprints.get(account.key)
        if fp is None:
            fp = self._fingerprints[account.key] = context_fingerprint(ctx)
        hashes = item_hashes(page, fp)
        seen = self.writer.known_items(hashes)
        known = [Known(*r) for h in hashes if h in seen for r in seen[h]]
        rest = [(item, h) for item, h in zip(page.items, hashes) if h not in seen]
        if not rest:
            return lambda: Normalized(known=known)
        if known:
            page = replace(page, items=[i for i, _ in rest])
        future = self.step.submit(account.platform, page, ctx, [h for _, h in rest])

        def result() -> Normalized:
            done = future.result()
            done.known = known
            return done
        return result

    def close(self) -> None:
        self.step.close()

    @property
    def cache_info(self) -> dict[str, int]:
        return getattr(self.step, "cache_info", {})
