"""The write side: batched upserts of records, with the cursor, in one transaction per page."""
from __future__ import annotations

import hashlib
import json
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field, fields
from typing import Callable, Iterable, Iterator, Sequence

import sqlite_utils

from core.platforms import flat_threads, spec, sql_list
from core.redact import redact
from core.times import day_in_zone, utc_now
from normalize.schema import (
    Comment,
    Compliance,
    Post,
    Quarantine,
    Record,
    Skipped,
    id_order,
    record_id,
)
from store.db import erase_pending
from store.ready import Ready, prepare, raw_json

_CHUNK = 500  # ids per IN (...) lookup, under SQLite's variable limit
_ANSWER_SLICE = 20_000  # comments (by rowid) per answers-derivation statement


def quota_day(iso_utc: str, platform: str) -> str:
    """The day a platform's API quota is counted in (its spec's zone: YouTube resets at
    midnight Pacific); UTC days for platforms without a daily quota."""
    quota = spec(platform).quota
    return day_in_zone(iso_utc, quota.zone if quota else "UTC")


@dataclass
class PageStats:
    """What one page did to the database."""

    fetched: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0
    tombstoned: int = 0
    skipped: int = 0  # items that carry no opinion, by a counted rule
    skip_reasons: dict[str, int] = field(default_factory=dict)
    quarantine_reasons: dict[str, int] = field(default_factory=dict)

    def add(self, other: "PageStats") -> None:
        for f in fields(self):
            mine, theirs = getattr(self, f.name), getattr(other, f.name)
            if isinstance(mine, dict):
                for reason, n in theirs.items():
                    mine[reason] = mine.get(reason, 0) + n
            else:
                setattr(self, f.name, mine + theirs)

    @property
    def stored(self) -> int:
        return self.inserted + self.updated + self.unchanged

    def balanced(self) -> bool:
        """Every item read is stored, quarantined or skipped by a counted rule."""
        return self.fetched == self.stored + self.quarantined + self.skipped and (
            sum(self.skip_reasons.values()) == self.skipped)


def _upsert_sql(table: str, columns: Sequence[str]) -> str:
    """INSERT .. ON CONFLICT DO UPDATE that leaves unchanged rows and first_seen alone."""
    cols = [*columns, "content_hash", "first_seen", "last_seen", "restricted_at"]
    # `account` is the account a record was first collected under: an answer by one city
    # account in another's thread reaches both, and must not flip between them. edited_at
    # is the platform's own (never the time we saw a change: `versions` keeps that).
    keep = ("id", "account", "first_seen", "restricted_at")
    # A payload that lacks a link (the post, the parent, the author: endpoints differ in
    # what they say) never erases one we hold, so the order files arrive in does not matter.
    merged = ("post_id", "parent_id", "author_key", "author_name", "url")
    updates = [f"{c} = COALESCE(excluded.{c}, {table}.{c})" if c in merged
               else f"{c} = excluded.{c}" for c in cols if c not in keep]
    updates.append(  # when a restriction was first seen; cleared when it is lifted
        f"restricted_at = CASE WHEN excluded.restricted IS NULL THEN NULL "
        f"ELSE COALESCE({table}.restricted_at, excluded.restricted_at) END")
    return (
        f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)}) "
        f"ON CONFLICT(id) DO UPDATE SET {', '.join(updates)} "
        f"WHERE {table}.content_hash IS NOT excluded.content_hash"
    )


_POST_COLS = list(Post._fields)
_COMMENT_COLS = list(Comment._fields)
# table -> its upsert; a record's fields are its columns, in order
_TABLES = {"posts": _upsert_sql("posts", _POST_COLS),
           "comments": _upsert_sql("comments", _COMMENT_COLS)}

# json.dumps(raw, ensure_ascii=False), without a new encoder per call (~1 us of ~8)
# Pairs each opinion with the official answers in its thread, for comments stored since the
# last refresh: up from new official comments to their ancestors, down from new citizen
# comments to their descendants (an answer may be stored before or after its question).
_ANSWERS_TEMPLATE = """
WITH RECURSIVE
up(answer_id, answered_at, node) AS (
    SELECT id, created_at, parent_id FROM comments
    WHERE {new} AND is_official = 1 AND parent_id IS NOT NULL
    UNION
    SELECT up.answer_id, up.answered_at, c.parent_id FROM up JOIN comments c ON c.id = up.node
    WHERE c.parent_id IS NOT NULL
),
down(opinion, node) AS (
    SELECT id, id FROM comments WHERE {new} AND is_official = 0
    UNION
    SELECT down.opinion, c.id FROM down JOIN comments c ON c.parent_id = down.node
),
pairs(opinion, answer_id, answered_at) AS (
    SELECT node, answer_id, answered_at FROM up
    UNION
    SELECT down.opinion, c.id, c.created_at FROM down JOIN comments c ON c.id = down.node
    WHERE c.is_official = 1
    UNION
    -- Platforms with flat threads (two levels deep: core.platforms) store the city's answer
    -- to a follow-up beside it (same parent), not under it.
    SELECT s.id, o.id, o.created_at FROM comments o JOIN comments s ON s.parent_id = o.parent_id
    WHERE {new_o} AND o.is_official = 1 AND s.is_official = 0
      AND o.platform IN {flat}
    UNION
    SELECT s.id, o.id, o.created_at FROM comments s JOIN comments o ON o.parent_id = s.parent_id
    WHERE {new_s} AND s.is_official = 0 AND o.is_official = 1
      AND s.platform IN {flat}
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
# The comments stored since the watermark, or those an alias re-linked (answers_pending).
_ANSWERS_SQL = _ANSWERS_TEMPLATE.format(
    flat=sql_list(flat_threads()),
    **{k: f"{p}rowid > :mark AND {p}rowid <= :top" for k, p in (("new", ""), ("new_o", "o."),
                                                                ("new_s", "s."))})
_PENDING_SQL = _ANSWERS_TEMPLATE.format(
    flat=sql_list(flat_threads()),
    **{k: f"{p}id IN (SELECT id FROM answers_pending)" for k, p in (
        ("new", ""), ("new_o", "o."), ("new_s", "s."))})


class Writer:
    """Owns every write: records, raw payloads, quarantine, cursors, runs."""

    def __init__(self, db: sqlite_utils.Database, clock: Callable[[], str] = utc_now):
        self.db = db
        self.clock = clock
        self._grouped = False
        self._has_aliases: bool | None = None  # read lazily (see _aliased)
        self._has_orphans: bool | None = None

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
                conn.execute("BEGIN IMMEDIATE")

        self._grouped = True
        try:
            if not conn.in_transaction:
                conn.execute("BEGIN IMMEDIATE")
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
        quarantined: Sequence[tuple[Quarantine | Skipped, dict]] = (),
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
        prepared: Sequence[Ready],
        quarantined: Sequence[tuple[Quarantine | Skipped, dict]] = (),
        cursor: tuple[str, str] | None = None,
        tombstone: tuple[str, Iterable[str]] | None = None,
        platform: str = "",
        cost: int = 0,
        known: Sequence[tuple[str, str]] = (),
        items: Sequence[tuple[int, str]] = (),
    ) -> PageStats:
        """`write_page` of records made ready by `prepare` (e.g. in a worker).

        known: (table, id) of records whose raw item was seen unchanged (`known_items`):
        they only get last_seen. items: (item hash, records JSON) to remember for re-runs.
        """
        now = self.clock()
        stats = PageStats(fetched=len(prepared) + len(quarantined) + len(known))
        grouped = self._grouped and self.db.conn.in_transaction
        held = [(q, p) for q, p in quarantined if isinstance(q, Quarantine)]
        if held and not grouped:
            # Its own transaction, before the page's: the unmasked file is committed after
            # the main one in a shared transaction, so a crash between would lose payloads
            # whose cursor already moved on. This way it can only repeat them.
            with self.db.atomic():
                self._quarantine_all(platform, account, held, now)
            held = []
        with nullcontext() if grouped else self.db.atomic():
            for table in ("posts", "comments"):
                batch = [r for r in prepared if r.table == table]
                if batch:
                    self._upsert(table, batch, account, stream, now, stats)
                ids = [rid for t, rid in known if t == table]
                self._touch(table, ids, now)
                stats.unchanged += len(ids)
            if items:
                self.db.conn.executemany(
                    "INSERT INTO item_seen (hash, records) VALUES (?, ?) ON CONFLICT(hash) "
                    "DO UPDATE SET records = excluded.records", items)
            for q, _ in quarantined:
                reasons = stats.skip_reasons if isinstance(q, Skipped) else stats.quarantine_reasons
                reasons[q.reason] = reasons.get(q.reason, 0) + 1
            self._quarantine_all(platform, account, held, now)
            stats.skipped = sum(stats.skip_reasons.values())
            stats.quarantined = len(quarantined) - stats.skipped
            if tombstone is not None:
                stats.tombstoned = self._tombstone(*tombstone)
            if cursor is not None:
                self.set_cursor(account, cursor[0], cursor[1])
            if cost:
                self.db.conn.execute(
                    "INSERT INTO quota (day, platform, units) VALUES (?, ?, ?) ON CONFLICT "
                    "(day, platform) DO UPDATE SET units = units + excluded.units",
                    (quota_day(now, platform), platform, cost),
                )
        return stats

    def _upsert(self, table: str, batch: list[Ready], account: str, stream: str, now: str,
                stats: PageStats) -> None:
        sql = _TABLES[table]
        found = self._rows(f"SELECT id, content_hash, version_id FROM {table} WHERE id IN ({{}})",
                           [r.record.id for r in batch])
        stored = {rid: digest for rid, digest, _ in found}
        held = {rid: version for rid, _, version in found if version is not None}
        if table == "comments" and self._aliased():
            batch = self._resolve_aliases(batch)
        changed, unchanged, payloads = [], [], []
        notices: list[Record] = []
        versions: list[tuple] = []
        histories: list[tuple[str, str]] = []
        for record, digest, raw in batch:
            rid, version = record.id, record.version_id
            if record.edit_ids:
                histories.append((rid, record.edit_ids))
            old = stored.get(rid)
            if old == digest:
                unchanged.append(rid)
                continue
            if old is not None and record.restricted is not None and not record.text:
                notices.append(record)  # a notice never replaces the words we hold
                continue
            older = version is not None and rid in held and id_order(version) < id_order(
                held[rid])
            if older or (version is not None and record.edit_ids):
                versions.append((rid, version, record.text,
                                 record.edited_at or record.created_at, now))
            if older:
                unchanged.append(rid)  # older than the version held: kept in versions only
                continue
            stats.inserted += old is None
            stats.updated += old is not None
            restricted_at = now if record.restricted is not None else None
            changed.append((record, digest, now, restricted_at))
            if record.deleted:
                continue  # no payload kept of what its author deleted
            if not isinstance(raw, str):
                raw = raw_json(raw)
            payloads.append((rid, account, stream, now, raw))
        conn = self.db.conn
        if changed:
            conn.executemany(sql, [(*r, d, at, at, since) for r, d, at, since in changed])
            conn.executemany(
                "INSERT INTO raw (id, account, stream, fetched_at, payload) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET fetched_at = excluded.fetched_at, "
                "payload = excluded.payload",
                payloads,
            )
        unchanged += self._restrict(table, notices, now, stats)
        stats.unchanged += len(unchanged)
        self._touch(table, unchanged, now)
        if versions:
            conn.executemany("INSERT OR IGNORE INTO versions (id, version, text, created_at, "
                             "seen_at) VALUES (?, ?, ?, ?, ?)", versions)
        if histories:
            self._add_aliases(histories)
        if table == "comments" and changed:
            self._inherit_posts([c for c, *_ in changed if type(c) is Comment])

    def _restrict(self, table: str, notices: Sequence[Record], now: str,
                  stats: PageStats) -> list[str]:
        """Record the restriction of stored records a notice came for; the ids it left as
        they were (the same restriction was already recorded)."""
        same = []
        for record in notices:
            kind, countries = record.restricted, record.restricted_countries
            cur = self.db.conn.execute(
                f"UPDATE {table} SET restricted = ?, restricted_countries = ?, "
                f"restricted_at = COALESCE(restricted_at, ?), last_seen = ? WHERE id = ? "
                f"AND (restricted, restricted_countries) IS NOT (?, ?)",
                (kind, countries, now, now, record.id, kind, countries))
            if cur.rowcount:
                stats.updated += 1
            else:
                same.append(record.id)
        return same

    def _aliased(self) -> bool:
        """Whether any edit history has given a record more than one id (read once)."""
        if self._has_aliases is None:
            self._has_aliases = self.db.conn.execute(
                "SELECT 1 FROM record_aliases LIMIT 1").fetchone() is not None
        return self._has_aliases

    def _resolve_aliases(self, batch: list[Ready]) -> list[Ready]:
        """Comments whose parent or post is named by a later id of an edit history point at
        the one row of that history instead."""
        comments = [(r, r.record) for r in batch if type(r.record) is Comment]
        wanted = sorted({v for _, c in comments for v in (c.parent_id, c.post_id) if v})
        found = dict(self._rows("SELECT alias, id FROM record_aliases WHERE alias IN ({})",
                                wanted))
        if not found:
            return batch
        out = []
        for ready in batch:
            c = ready.record
            if type(c) is Comment and (c.parent_id in found or c.post_id in found):
                parent, post = c.parent_id, c.post_id
                c = c._replace(parent_id=found.get(parent, parent) if parent else parent,
                               post_id=found.get(post, post) if post else post)
                ready = ready._replace(record=c)
            out.append(ready)
        return out

    def _add_aliases(self, histories: Sequence[tuple[str, str]]) -> None:
        """Every id of an edit history names its row: stored links to a later id are moved
        to the row, and their answers derived again (answers_pending)."""
        conn = self.db.conn
        for rid, edit_ids in histories:
            prefix = rid.split(":", 1)[0]
            for native in json.loads(edit_ids):
                alias = f"{prefix}:{native}"
                if alias == rid or not conn.execute(
                        "INSERT OR IGNORE INTO record_aliases (alias, id) VALUES (?, ?)",
                        (alias, rid)).rowcount:
                    continue
                self._has_aliases = True
                conn.execute("INSERT OR IGNORE INTO answers_pending (id) SELECT id FROM comments "
                             "WHERE parent_id = ? OR id = ?", (alias, rid))
                conn.execute("UPDATE comments SET parent_id = ? WHERE parent_id = ?", (rid, alias))
                conn.execute("UPDATE comments SET post_id = ? WHERE post_id = ?", (rid, alias))

    def _inherit_posts(self, changed: Sequence[Comment]) -> None:
        """A reply the platform served without its post (YouTube comments.list, X without
        conversation_id) takes its parent's post, whichever of the two is stored first."""
        conn = self.db.conn
        orphans = [c.id for c in changed if c.post_id is None and c.parent_id is not None]
        if orphans:
            conn.execute("UPDATE comments SET post_id = (SELECT p.post_id FROM comments p "
                         "WHERE p.id = comments.parent_id) WHERE post_id IS NULL AND id IN "
                         "(SELECT value FROM json_each(?))", (json.dumps(orphans),))
            self._has_orphans = True
        if self._has_orphans is None:
            self._has_orphans = conn.execute(
                "SELECT 1 FROM comments WHERE post_id IS NULL AND parent_id IS NOT NULL "
                "LIMIT 1").fetchone() is not None
        parents = [c.id for c in changed if c.post_id is not None]
        if self._has_orphans and parents:
            conn.execute("UPDATE comments SET post_id = (SELECT p.post_id FROM comments p "
                         "WHERE p.id = comments.parent_id) WHERE post_id IS NULL AND parent_id "
                         "IN (SELECT value FROM json_each(?))", (json.dumps(parents),))

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
        found = {h: json.loads(r) for h, r in self._rows(
            "SELECT hash, records FROM item_seen WHERE hash IN ({})", hashes)}
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
        return dict(self._rows(f"SELECT id, content_hash FROM {table} WHERE id IN ({{}})", ids))

    def _rows(self, sql: str, keys: Sequence) -> list[tuple]:
        """The rows of `sql` for all keys: its IN list ({}) is filled in chunks, under
        SQLite's variable limit."""
        rows: list[tuple] = []
        for start in range(0, len(keys), _CHUNK):
            chunk = list(keys[start:start + _CHUNK])
            rows += self.db.conn.execute(sql.format(", ".join("?" * len(chunk))),
                                         chunk).fetchall()
        return rows

    def _quarantine_all(self, platform: str, account: str,
                        held: Sequence[tuple[Quarantine | Skipped, dict]], now: str) -> None:
        for q, payload in held:
            if isinstance(q, Quarantine):
                self._quarantine(platform, account, q, payload, now)

    def _quarantine(self, platform: str, account: str, q: Quarantine, payload: dict,
                    now: str) -> None:
        text = json.dumps(payload, ensure_ascii=False, sort_keys=True, default=repr)
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        self.db.conn.execute(
            "INSERT INTO quarantine (platform, account, native_id, reason, payload, payload_hash, "
            "first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(platform, payload_hash) DO UPDATE SET last_seen = excluded.last_seen, "
            "reason = excluded.reason, times_seen = times_seen + 1",
            (platform, account, q.native_id, redact(q.reason), text, digest, now, now),
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
            changed = 0
            if conn.execute("SELECT 1 FROM answers_pending LIMIT 1").fetchone():
                conn.execute(_PENDING_SQL)
                changed += conn.execute("SELECT changes()").fetchone()[0]
                conn.execute("DELETE FROM answers_pending")
            if top <= mark:
                return changed
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

    def apply_compliance(self, platform: str, events: Sequence[Compliance]) -> PageStats:
        """Apply compliance output to what we hold, in one transaction: a deletion blanks
        the words (the erase trigger; payloads at the run's end), a withholding records its
        countries. Each event is read once: updated when it changed a row, unchanged when
        already applied, skipped when we hold no such item."""
        stats = PageStats(fetched=len(events))
        now = self.clock()
        with self.db.atomic():
            for event in events:
                rid = self._resolve(record_id(platform, event.native_id))
                changed = sum(self._comply(table, rid, event, now)
                              for table in ("comments", "posts"))
                held = changed or self._holds(rid)
                if not held:
                    reason = f"compliance {event.action}: an item we do not hold"
                    stats.skip_reasons[reason] = stats.skip_reasons.get(reason, 0) + 1
                stats.updated += bool(changed)
                stats.unchanged += bool(held and not changed)
            stats.skipped = sum(stats.skip_reasons.values())
        return stats

    def _comply(self, table: str, rid: str, event: Compliance, now: str) -> int:
        conn = self.db.conn
        if event.action == "delete":
            blank = ", text = ''" if table == "posts" else ""  # comments: the erase trigger
            return conn.execute(f"UPDATE {table} SET deleted = 1, content_hash = 0{blank} "
                                "WHERE id = ? AND deleted = 0", (rid,)).rowcount
        return conn.execute(
            f"UPDATE {table} SET restricted = 'withheld', restricted_countries = ?, "
            "restricted_at = coalesce(restricted_at, ?) WHERE id = ? AND "
            "(restricted, restricted_countries) IS NOT ('withheld', ?)",
            (event.countries, event.at or now, rid, event.countries)).rowcount

    def _resolve(self, rid: str) -> str:
        """The row an id names: itself, or the row its edit history belongs to."""
        row = self.db.conn.execute("SELECT id FROM record_aliases WHERE alias = ?",
                                   (rid,)).fetchone()
        return row[0] if row else rid

    def _holds(self, rid: str) -> bool:
        return any(self.db.conn.execute(f"SELECT 1 FROM {t} WHERE id = ?", (rid,)).fetchone()
                   for t in ("comments", "posts"))

    def purge_raw(self, older_than: str) -> int:
        """Delete raw payloads fetched before `older_than` (ISO UTC): the only unmasked copy."""
        with self.db.atomic():
            return self.db.conn.execute("DELETE FROM raw WHERE fetched_at < ?",
                                        (older_than,)).rowcount

    def purge_quarantine(self, older_than: str) -> int:
        """Delete quarantined payloads last seen before `older_than` (ISO UTC); their counts
        and reasons stay in `runs`."""
        with self.db.atomic():
            return self.db.conn.execute("DELETE FROM quarantine WHERE last_seen < ?",
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

    def start_run(self, run_id: str, account: str, platform: str, kind: str = "collect") -> int:
        """Open the runs row of one account in this run (kind: collect, or import of a file)."""
        with self.db.atomic():
            cur = self.db.conn.execute(
                "INSERT INTO runs (run_id, account, platform, started_at, kind) "
                "VALUES (?, ?, ?, ?, ?)", (run_id, account, platform, self.clock(), kind),
            )
        assert cur.lastrowid is not None  # an INSERT into a rowid table
        return cur.lastrowid

    def finish_run(self, row: int, status: str, stats: PageStats, requests: int,
                   error: str | None = None) -> None:
        """Close a runs row with its outcome and counts."""
        with self.db.atomic():
            self.db.conn.execute(
                "UPDATE runs SET finished_at = ?, status = ?, fetched = ?, inserted = ?, "
                "updated = ?, unchanged = ?, quarantined = ?, skipped = ?, skip_reasons = ?, "
                "quarantine_reasons = ?, requests = ?, error = ? WHERE id = ?",
                (self.clock(), status, stats.fetched, stats.inserted, stats.updated,
                 stats.unchanged, stats.quarantined, stats.skipped,
                 json.dumps(stats.skip_reasons, ensure_ascii=False, sort_keys=True),
                 json.dumps(stats.quarantine_reasons, ensure_ascii=False, sort_keys=True),
                 requests, None if error is None else redact(error), row),
            )
        erase_pending(self.db)  # payloads of what this run found deleted
