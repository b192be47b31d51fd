"""The write side: batched upserts of records, with the cursor, in one transaction per page."""
from __future__ import annotations

import hashlib
import json
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, fields
from operator import attrgetter
from datetime import datetime, timezone
from typing import Callable, Iterable, Iterator, Mapping, Sequence
from zoneinfo import ZoneInfo

import sqlite_utils

from normalize.schema import Comment, Post, Quarantine, Record

PACIFIC = ZoneInfo("America/Los_Angeles")
_CHUNK = 500  # ids per IN (...) lookup, under SQLite's variable limit
_ANSWER_SLICE = 20_000  # comments (by rowid) per answers-derivation statement


def utc_now() -> str:
    """The current time as ISO-8601 UTC."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def quota_day(iso_utc: str) -> str:
    """The Pacific day an API quota is counted in (YouTube resets at midnight Pacific)."""
    at = datetime.strptime(iso_utc, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    return at.astimezone(PACIFIC).strftime("%Y-%m-%d")


@dataclass
class PageStats:
    """What one page did to the database."""

    fetched: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0
    tombstoned: int = 0

    def add(self, other: "PageStats") -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


def _upsert_sql(table: str, columns: Sequence[str]) -> str:
    """INSERT .. ON CONFLICT DO UPDATE that leaves unchanged rows and first_seen alone."""
    cols = [*columns, "content_hash", "first_seen", "last_seen"]
    # `account` is the account a record was first collected under: an answer by one city
    # account in another's thread reaches both, and must not flip between them.
    keep = ("id", "account", "first_seen", "edited_at")
    updates = [f"{c} = excluded.{c}" for c in cols if c not in keep]
    # A text change the platform does not date (Graph comments) is dated when we saw it.
    updates.append(
        f"edited_at = COALESCE(excluded.edited_at, CASE WHEN {table}.text IS NOT excluded.text "
        f"THEN excluded.last_seen ELSE {table}.edited_at END)"
    )
    return (
        f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)}) "
        f"ON CONFLICT(id) DO UPDATE SET {', '.join(updates)} "
        f"WHERE {table}.content_hash IS NOT excluded.content_hash"
    )


_POST_COLS = [f.name for f in fields(Post)]
_COMMENT_COLS = [f.name for f in fields(Comment)]
_SQL = {
    Post: ("posts", _upsert_sql("posts", _POST_COLS)),
    Comment: ("comments", _upsert_sql("comments", _COMMENT_COLS)),
}
# A record's values in column order (dataclasses.astuple deep-copies: ~10x slower).
_VALUES = {Post: attrgetter(*_POST_COLS), Comment: attrgetter(*_COMMENT_COLS)}
_TABLES = {"posts": _SQL[Post][1], "comments": _SQL[Comment][1]}
_POST_ID = _COMMENT_COLS.index("post_id")
_TOKENS = _COMMENT_COLS.index("tokens")
assert _COMMENT_COLS[_TOKENS:] == ["tokens", "keywords"]  # prepare(tokens=) replaces the tail

# json.dumps(raw, ensure_ascii=False), without a new encoder per call (~1 us of ~8)
_raw_json = json.JSONEncoder(ensure_ascii=False).encode

# A record made ready for the store, by `prepare` (anywhere: a worker process may do it):
# (table, values in column order, content hash, raw payload as JSON text or the raw dict).
Prepared = tuple[str, tuple, int, "str | dict"]


def prepare(records: Sequence[Record], raws: Sequence[dict], serialize: bool = False,
            tokens: Mapping[int, tuple[str | None, str | None]] | None = None) -> list[Prepared]:
    """Records with their content hash (and, when `serialize`, their raw payload as JSON).

    serialize: dump the raw payloads now (a worker process does, so the writer does not);
    otherwise the writer dumps only those of changed records.
    tokens: (tokens, keywords) of comments by index in `records`, in place of theirs
    (normalize.common.token_fields).
    """
    out: list[Prepared] = []
    for n, (record, raw) in enumerate(zip(records, raws)):
        kind = type(record)
        values = _VALUES[kind](record)
        if tokens and n in tokens:
            values = values[:_TOKENS] + tokens[n]
        digest = content_hash(values[:2] + values[3:])  # all but `account`
        out.append(("comments" if kind is Comment else "posts", values, digest,
                    _raw_json(raw) if serialize else raw))
    return out


def comment_posts(prepared: Sequence[Prepared]) -> list[tuple[str, str]]:
    """(comment id, post id) of the prepared comments that hang under a post (tombstones)."""
    return [(values[0], values[_POST_ID]) for table, values, _, _ in prepared
            if table == "comments" and values[_POST_ID]]


# Pairs each opinion with the official answers in its thread, for comments stored since the
# last refresh: up from new official comments to their ancestors, down from new citizen
# comments to their descendants (an answer may be stored before or after its question).
_ANSWERS_SQL = """
WITH RECURSIVE
up(answer_id, answered_at, node) AS (
    SELECT id, created_at, parent_id FROM comments
    WHERE rowid > :mark AND rowid <= :top AND is_official = 1 AND parent_id IS NOT NULL
    UNION
    SELECT up.answer_id, up.answered_at, c.parent_id FROM up JOIN comments c ON c.id = up.node
    WHERE c.parent_id IS NOT NULL
),
down(opinion, node) AS (
    SELECT id, id FROM comments WHERE rowid > :mark AND rowid <= :top AND is_official = 0
    UNION
    SELECT down.opinion, c.id FROM down JOIN comments c ON c.parent_id = down.node
),
pairs(opinion, answer_id, answered_at) AS (
    SELECT node, answer_id, answered_at FROM up
    UNION
    SELECT down.opinion, c.id, c.created_at FROM down JOIN comments c ON c.id = down.node
    WHERE c.is_official = 1
    UNION
    -- Facebook, Instagram and YouTube keep threads two levels deep: the city's answer to a
    -- follow-up is stored beside it (same parent), not under it.
    SELECT s.id, o.id, o.created_at FROM comments o JOIN comments s ON s.parent_id = o.parent_id
    WHERE o.rowid > :mark AND o.rowid <= :top AND o.is_official = 1 AND s.is_official = 0
      AND o.platform IN ('facebook', 'instagram', 'youtube')
    UNION
    SELECT s.id, o.id, o.created_at FROM comments s JOIN comments o ON o.parent_id = s.parent_id
    WHERE s.rowid > :mark AND s.rowid <= :top AND s.is_official = 0 AND o.is_official = 1
      AND s.platform IN ('facebook', 'instagram', 'youtube')
)
INSERT INTO answers (comment_id, answer_id, first_response_at)
SELECT p.opinion, p.answer_id, min(p.answered_at)
FROM pairs p JOIN comments o ON o.id = p.opinion
WHERE o.is_official = 0 AND p.answered_at >= o.created_at
GROUP BY p.opinion
ON CONFLICT(comment_id) DO UPDATE SET answer_id = excluded.answer_id,
    first_response_at = excluded.first_response_at
WHERE excluded.first_response_at < answers.first_response_at
"""


def content_hash(values: tuple) -> int:
    """A stable 63-bit hash of a record's values (Python's hash() is salted per process)."""
    digest = hashlib.blake2b(repr(values).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


class Writer:
    """Owns every write: records, raw payloads, quarantine, cursors, runs."""

    def __init__(self, db: sqlite_utils.Database, clock: Callable[[], str] = utc_now):
        self.db = db
        self.clock = clock
        self._grouped = False

    @contextmanager
    def group(self, rows: int = 5000) -> Iterator[Callable[[int], None]]:
        """Many pages per transaction (bulk loads): yields `done(n)`, to call after each page.

        A transaction is committed after ~`rows` rows, always between pages, so each cursor
        is still committed with its own page's rows. Pages inside a group are written
        without savepoints (a savepoint makes FTS5 flush its pending terms: ~1.5x slower),
        so an error rolls back the pages since the last commit, cursors included, and a
        rerun resumes from the last committed page. Nested groups join the outer one.
        """
        conn = self.db.conn
        if self._grouped:
            yield lambda n: None
            return
        pending = 0

        def done(n: int) -> None:
            nonlocal pending
            pending += n
            if pending >= rows and conn.in_transaction:
                conn.execute("COMMIT")
                pending = 0
            if not conn.in_transaction:
                conn.execute("BEGIN")

        self._grouped = True
        try:
            if not conn.in_transaction:
                conn.execute("BEGIN")
            yield done
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        else:
            if conn.in_transaction:
                conn.execute("COMMIT")
        finally:
            self._grouped = False

    def write_page(
        self,
        account: str,
        stream: str,
        records: Sequence[Record],
        raws: Sequence[dict],
        quarantined: Sequence[tuple[Quarantine, dict]] = (),
        cursor: tuple[str, str] | None = None,
        tombstone: tuple[str, Iterable[str]] | None = None,
        platform: str = "",
        cost: int = 0,
    ) -> PageStats:
        """Store one page's records, raw payloads, quarantine and cursor in ONE transaction."""
        return self.write_prepared(account, stream, prepare(records, raws), quarantined,
                                   cursor, tombstone, platform, cost)

    def write_prepared(
        self,
        account: str,
        stream: str,
        prepared: Sequence[Prepared],
        quarantined: Sequence[tuple[Quarantine, dict]] = (),
        cursor: tuple[str, str] | None = None,
        tombstone: tuple[str, Iterable[str]] | None = None,
        platform: str = "",
        cost: int = 0,
        known: Sequence[tuple[str, str]] = (),
        items: Sequence[tuple[int, str]] = (),
    ) -> PageStats:
        """`write_page` of records already made ready by `prepare` (e.g. in a worker).

        known: (table, id) of records whose raw item was seen unchanged (`known_items`):
        they only get last_seen. items: (item hash, records JSON) to remember for re-runs.
        """
        now = self.clock()
        stats = PageStats(fetched=len(prepared) + len(quarantined) + len(known))
        grouped = self._grouped and self.db.conn.in_transaction
        with nullcontext() if grouped else self.db.atomic():
            for table in ("posts", "comments"):
                batch = [p for p in prepared if p[0] == table]
                if batch:
                    self._upsert(table, batch, account, stream, now, stats)
                ids = [rid for t, rid in known if t == table]
                self._touch(table, ids, now)
                stats.unchanged += len(ids)
            if items:
                self.db.conn.executemany(
                    "INSERT INTO item_seen (hash, records) VALUES (?, ?) ON CONFLICT(hash) "
                    "DO UPDATE SET records = excluded.records", items)
            for q, payload in quarantined:
                self._quarantine(platform, account, q, payload, now)
            stats.quarantined = len(quarantined)
            if tombstone is not None:
                stats.tombstoned = self._tombstone(*tombstone)
            if cursor is not None:
                self.set_cursor(account, cursor[0], cursor[1])
            if cost:
                self.db.conn.execute(
                    "INSERT INTO quota (day, platform, units) VALUES (?, ?, ?) ON CONFLICT "
                    "(day, platform) DO UPDATE SET units = units + excluded.units",
                    (quota_day(now), platform, cost),
                )
        return stats

    def _upsert(self, table: str, batch: list[Prepared], account: str, stream: str, now: str,
                stats: PageStats) -> None:
        sql = _TABLES[table]
        stored = self._stored_hashes(table, [values[0] for _, values, _, _ in batch])
        changed, unchanged, payloads = [], [], []
        for _, values, digest, raw in batch:
            rid = values[0]
            old = stored.get(rid)
            if old == digest:
                unchanged.append(rid)
                continue
            stats.inserted += old is None
            stats.updated += old is not None
            changed.append((*values, digest, now, now))
            if not isinstance(raw, str):
                raw = _raw_json(raw)
            payloads.append((rid, account, stream, now, raw))
        stats.unchanged += len(unchanged)
        conn = self.db.conn
        self._touch(table, unchanged, now)
        if changed:
            conn.executemany(sql, changed)
            conn.executemany(
                "INSERT INTO raw (id, account, stream, fetched_at, payload) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET fetched_at = excluded.fetched_at, "
                "payload = excluded.payload",
                payloads,
            )

    def _touch(self, table: str, ids: Sequence[str], now: str) -> None:
        """Unchanged records: only last_seen moves."""
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start:start + _CHUNK]
            self.db.conn.execute(
                f"UPDATE {table} SET last_seen = ? WHERE id IN ({', '.join('?' * len(chunk))})",
                [now, *chunk],
            )

    def known_items(self, hashes: Sequence[int]) -> dict[int, list[list]]:
        """Items already stored unchanged: hash -> its records [table, id, post_id, hash],
        only when every record is still stored with the content hash the item made."""
        found: dict[int, list[list]] = {}
        conn = self.db.conn
        for start in range(0, len(hashes), _CHUNK):
            chunk = list(hashes[start:start + _CHUNK])
            found.update((h, json.loads(r)) for h, r in conn.execute(
                f"SELECT hash, records FROM item_seen WHERE hash IN "
                f"({', '.join('?' * len(chunk))})", chunk))
        if not found:
            return {}
        wanted: dict[str, list[str]] = {"posts": [], "comments": []}
        for records in found.values():
            for table, rid, _, _ in records:
                wanted[table].append(rid)
        stored = {table: self._stored_hashes(table, ids) for table, ids in wanted.items() if ids}
        return {h: records for h, records in found.items()
                if all(stored.get(t, {}).get(rid) == digest for t, rid, _, digest in records)}

    def _stored_hashes(self, table: str, ids: list[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start:start + _CHUNK]
            found.update(self.db.conn.execute(
                f"SELECT id, content_hash FROM {table} WHERE id IN ({', '.join('?' * len(chunk))})",
                chunk,
            ).fetchall())
        return found

    def _quarantine(self, platform: str, account: str, q: Quarantine, payload: dict,
                    now: str) -> None:
        text = json.dumps(payload, ensure_ascii=False, sort_keys=True, default=repr)
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        self.db.conn.execute(
            "INSERT INTO quarantine (platform, account, native_id, reason, payload, payload_hash, "
            "first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(platform, payload_hash) DO UPDATE SET last_seen = excluded.last_seen, "
            "reason = excluded.reason, times_seen = times_seen + 1",
            (platform, account, q.native_id, q.reason, text, digest, now, now),
        )

    def _tombstone(self, post_id: str, seen_ids: Iterable[str]) -> int:
        """Mark comments of a fully re-scanned post that were not seen as deleted."""
        cur = self.db.conn.execute(
            "UPDATE comments SET deleted = 1, content_hash = 0 WHERE post_id = ? AND deleted = 0 "
            "AND id NOT IN (SELECT value FROM json_each(?))",
            (post_id, json.dumps(list(seen_ids))),
        )
        return cur.rowcount

    def refresh_answers(self) -> int:
        """Derive each opinion's first official answer from comments stored since last time.

        A rowid watermark in `meta` makes this incremental and crash-safe: whatever a killed
        run stored is picked up by the next refresh.
        """
        conn = self.db.conn
        with self.db.atomic():
            row = conn.execute("SELECT value FROM meta WHERE key = 'answers_rowid'").fetchone()
            mark = int(row[0]) if row else 0
            top = conn.execute("SELECT max(rowid) FROM comments").fetchone()[0] or 0
            if top <= mark:
                return 0
            changed = 0
            # In slices: the recursive walks of a bulk load would otherwise build their
            # temporary tables for every new comment at once (memory grows with N).
            for low in range(mark, top, _ANSWER_SLICE):
                high = min(top, low + _ANSWER_SLICE)
                conn.execute(_ANSWERS_SQL, {"mark": low, "top": high})
                # not .rowcount: sqlite3 reports -1 for a statement that begins with WITH
                changed += conn.execute("SELECT changes()").fetchone()[0]
            conn.execute("INSERT INTO meta (key, value) VALUES ('answers_rowid', ?) "
                         "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (str(top),))
        return changed

    def set_meta(self, key: str, value: str) -> None:
        """Remember one bookkeeping value (table `meta`)."""
        with self.db.atomic():
            self.db.conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) "
                                 "DO UPDATE SET value = excluded.value", (key, value))

    def purge_raw(self, older_than: str) -> int:
        """Delete raw payloads fetched before `older_than` (ISO UTC): the only unmasked copy."""
        with self.db.atomic():
            return self.db.conn.execute("DELETE FROM raw WHERE fetched_at < ?",
                                        (older_than,)).rowcount

    def set_cursor(self, account: str, stream: str, value: str | None) -> None:
        """Advance one stream's cursor (call inside the page's transaction)."""
        self.db.conn.execute(
            "INSERT INTO cursors (account, stream, value, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(account, stream) DO UPDATE SET value = excluded.value, "
            "updated_at = excluded.updated_at",
            (account, stream, value, self.clock()),
        )

    def set_retry_after(self, account: str, until: str | None) -> None:
        """Remember (or clear) when a rate-limited account may be asked again."""
        with self.db.atomic():
            self.db.conn.execute(
                "INSERT INTO cursors (account, stream, value, updated_at, retry_after) "
                "VALUES (?, '*', NULL, ?, ?) ON CONFLICT(account, stream) DO UPDATE SET "
                "retry_after = excluded.retry_after, updated_at = excluded.updated_at",
                (account, self.clock(), until),
            )

    def sync_accounts(self, accounts: Iterable) -> None:
        """Mirror accounts.yaml into the accounts table."""
        rows = [
            (a.key, a.platform, a.handle, a.native_id, a.name, a.owner, a.field, a.department,
             a.language, a.interval_minutes, int(a.placeholder))
            for a in accounts
        ]
        with self.db.atomic():
            self.db.conn.executemany(
                "INSERT INTO accounts (key, platform, handle, native_id, name, owner, field, "
                "department, language, interval_minutes, placeholder) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET "
                "platform = excluded.platform, handle = excluded.handle, "
                "native_id = COALESCE(excluded.native_id, accounts.native_id), "
                "name = excluded.name, owner = excluded.owner, field = excluded.field, "
                "department = excluded.department, language = excluded.language, "
                "interval_minutes = excluded.interval_minutes, placeholder = excluded.placeholder",
                rows,
            )

    def close_dead_runs(self) -> int:
        """Runs rows still 'running' belong to a process that died (the caller holds the
        run lock): close them as 'aborted' so status does not show them running forever."""
        with self.db.atomic():
            return self.db.conn.execute(
                "UPDATE runs SET status = 'aborted', finished_at = ?, "
                "error = 'the run ended without finishing (killed or crashed)' "
                "WHERE status = 'running'", (self.clock(),)).rowcount

    def start_run(self, run_id: str, account: str, platform: str) -> int:
        """Open the runs row of one account in this run."""
        with self.db.atomic():
            cur = self.db.conn.execute(
                "INSERT INTO runs (run_id, account, platform, started_at) VALUES (?, ?, ?, ?)",
                (run_id, account, platform, self.clock()),
            )
        return cur.lastrowid

    def finish_run(self, row: int, status: str, stats: PageStats, requests: int,
                   error: str | None = None) -> None:
        """Close a runs row with its outcome and counts."""
        with self.db.atomic():
            self.db.conn.execute(
                "UPDATE runs SET finished_at = ?, status = ?, fetched = ?, inserted = ?, "
                "updated = ?, quarantined = ?, requests = ?, error = ? WHERE id = ?",
                (self.clock(), status, stats.fetched, stats.inserted, stats.updated,
                 stats.quarantined, requests, error, row),
            )
