"""Cases: the processing result staff record for a citizen's opinion, and its history.

`cases` holds the current state of an opinion (upserted); `case_events` is its append-only
history (migration 3 makes UPDATE and DELETE on it abort). An opinion's status in the views
is the staff's status when set, else `answered` when an official account replied in its
thread, else `received` (see docs/SCHEMA.md). An import (import_changes) skips what changes
nothing, so a file imported twice, or an export imported back, records only its edits.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Iterable, Iterator, Sequence

import sqlite_utils

from core.times import ISO, SEOUL, utc_now

STATUSES = ("received", "assigned", "in_progress", "answered", "resolved", "dismissed",
            "reflected")
CLOSED = ("answered", "resolved", "dismissed", "reflected")  # no longer waiting for the city
# The three rates of issue #19, each over all opinions (the `reflection` view):
ANSWERED = ("answered", "resolved", "reflected")  # answer rate: the city replied
RESOLVED = ("resolved", "reflected")  # resolution rate: the matter was dealt with
REFLECTED = ("reflected",)  # policy-reflection rate: it fed into a policy or measure
RATES = {
    "answer_pct": "응답률 (answer rate): answered, resolved or reflected / all opinions",
    "resolution_pct": "처리율 (resolution rate): resolved or reflected / all opinions",
    "reflection_pct": "정책 반영률 (policy-reflection rate): reflected in a policy or measure "
                      "/ all opinions",
}
CLOCK_SKEW = timedelta(minutes=5)  # how far ahead of our clock an explicit time may be


class CaseError(ValueError):
    """Bad input for a case change; `field` names what was wrong (id, status, ...)."""

    def __init__(self, message: str, field: str = "", line: int | None = None):
        super().__init__(message)
        self.field, self.line = field, line


@dataclass(frozen=True)
class Change:
    """One status change staff ask for."""

    comment_id: str
    status: str
    department: str | None = None
    note: str | None = None
    by: str | None = None
    line: int | None = None  # where it came from, for messages (CSV import)
    action: str | None = None  # what the workplace did (assign, transfer, answer, ...)
    link: str | None = None  # the city's reply on the platform, when recorded with an answer
    policy: str | None = None  # reflected: the policy or measure the opinion fed into


@dataclass(frozen=True)
class Applied:
    """What an import recorded, and the changes it skipped because they changed nothing."""

    events: list[dict] = field(default_factory=list)
    skipped: list[Change] = field(default_factory=list)


@dataclass(frozen=True)
class _Current:
    """An opinion's case as the centre shows it."""

    status: str | None  # None: not shown (a deleted comment)
    staff_status: str | None
    department: str | None  # the staff's, else the account's
    note: str | None


def parse_time(text: str) -> datetime:
    """An ISO-8601 time (`2026-11-25T03:04:05Z`, or with an offset) as aware UTC."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def seoul_time(value: datetime | str) -> str:
    """A time as Seoul staff read it: `2026-11-25 10:00:00 KST`."""
    at = parse_time(value) if isinstance(value, str) else value
    return at.astimezone(SEOUL).strftime("%Y-%m-%d %H:%M:%S KST")


@contextlib.contextmanager
def _write(db: sqlite_utils.Database) -> Iterator[None]:
    """One write transaction, taken at once (BEGIN IMMEDIATE) so a collector writing at the
    same time makes us wait (busy_timeout) instead of failing half-way; nests as a savepoint."""
    conn = db.conn
    if conn.in_transaction:
        with db.atomic():
            yield
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


# --- reading -----------------------------------------------------------------------------
def opinion(db: sqlite_utils.Database, comment_id: str) -> dict | None:
    """One opinion as the centre shows it (None when the id is not a citizen's opinion)."""
    rows = list(db.query("SELECT * FROM center WHERE id = ?", [comment_id]))
    return rows[0] if rows else None


def validate(db: sqlite_utils.Database, change: Change) -> None:
    """Raise CaseError naming the field when the id or status is unknown."""
    where = f"line {change.line}: " if change.line is not None else ""
    if change.status not in STATUSES:
        raise CaseError(f"{where}status: unknown status {change.status!r} "
                        f"(expected one of {', '.join(STATUSES)})", "status", change.line)
    if not change.comment_id:
        raise CaseError(f"{where}id: missing opinion id", "id", change.line)
    if change.status == "reflected" and not (change.policy or "").strip():
        raise CaseError(f"{where}policy: a reflected opinion needs the policy or measure it "
                        "fed into (--policy)", "policy", change.line)
    row = db.execute("SELECT is_official FROM comments WHERE id = ?",
                     [change.comment_id]).fetchone()
    if row is None:
        raise CaseError(f"{where}id: unknown opinion id {change.comment_id!r}", "id", change.line)
    if row[0]:
        raise CaseError(f"{where}id: {change.comment_id!r} is an official answer, not a "
                        "citizen's opinion", "id", change.line)


def history(db: sqlite_utils.Database, comment_id: str) -> list[dict]:
    """Every change of one opinion, oldest first."""
    return list(db.query(
        "SELECT id, at, by, from_status, to_status, department, note, action, "
        "from_department, link, policy FROM case_events WHERE comment_id = ? ORDER BY at, id",
        [comment_id]))


def thread(db: sqlite_utils.Database, comment_id: str) -> dict:
    """The opinion in context: its post, the chain of comments it replies to (top first),
    the replies under it (in time order, official ones marked) and the official answer."""
    post = list(db.query(
        "SELECT p.id, p.account, p.title, p.text, p.created_at, p.url FROM posts p "
        "JOIN comments c ON c.post_id = p.id WHERE c.id = ?", [comment_id]))
    parents = list(db.query(
        """
        WITH RECURSIVE up(id, depth) AS (
            SELECT parent_id, 1 FROM comments WHERE id = :id AND parent_id IS NOT NULL
            UNION ALL
            SELECT c.parent_id, up.depth + 1 FROM up JOIN comments c ON c.id = up.id
            WHERE c.parent_id IS NOT NULL AND up.depth < 100
        )
        SELECT c.id, c.created_at, c.is_official, c.author_name, c.text, c.deleted
        FROM up JOIN comments c ON c.id = up.id ORDER BY up.depth DESC
        """, {"id": comment_id}))
    replies = list(db.query(
        """
        WITH RECURSIVE down(id, depth) AS (
            SELECT id, 0 FROM comments WHERE id = :id
            UNION ALL
            SELECT c.id, down.depth + 1 FROM down JOIN comments c ON c.parent_id = down.id
            WHERE down.depth < 100
        )
        SELECT c.id, c.parent_id, c.created_at, c.is_official, c.author_name, c.text, c.deleted
        FROM down JOIN comments c ON c.id = down.id WHERE down.depth > 0
        ORDER BY c.created_at, c.id
        """, {"id": comment_id}))
    answer = list(db.query(
        "SELECT a.id, a.created_at, a.author_name, a.text, a.url FROM opinions o "
        "JOIN comments a ON a.id = o.answer_id WHERE o.id = ?", [comment_id]))
    return {"post": post[0] if post else None, "parents": parents, "replies": replies,
            "answer": answer[0] if answer else None}


def cutoff(now: str | None, hours: float) -> str:
    """The ISO UTC time `hours` before `now` (default: the clock)."""
    at = parse_time(now) if now else datetime.now(timezone.utc)
    return (at - timedelta(hours=hours)).strftime(ISO)


def list_cases(db: sqlite_utils.Database, status: str | None = None,
               overdue_hours: float | None = None, now: str | None = None,
               account: str | None = None, limit: int | None = None) -> list[dict]:
    """Opinions of the centre. With `overdue_hours`: those not answered, resolved or
    dismissed that are older than that, oldest first; otherwise newest first."""
    where: list[str] = []
    params: dict[str, object] = {}
    if status:
        where.append("status = :status")
        params["status"] = status
    if account:
        where.append("account = :account")
        params["account"] = account
    if overdue_hours is not None:
        where.append(f"status NOT IN ({', '.join(repr(s) for s in CLOSED)})")
        where.append("created_at < :cutoff")
        params["cutoff"] = cutoff(now, overdue_hours)
    sql = ("SELECT id, created_at, status, platform, account, department, district, category, "
           "text, answer_text, answered_by, first_response_at, response_minutes, staff_note "
           "FROM center")
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY created_at" + (" , id" if overdue_hours is not None else " DESC, id DESC")
    if limit:
        sql += " LIMIT :limit"
        params["limit"] = int(limit)
    return list(db.query(sql, params))


def count_status(db: sqlite_utils.Database, overdue_hours: float = 24,
                 now: str | None = None) -> dict[str, int]:
    """Opinions by status, plus `overdue` (open and older than overdue_hours) and `total`."""
    counts = {s: 0 for s in STATUSES}
    for status, n in db.execute("SELECT status, count(*) FROM opinions GROUP BY status"):
        counts[status] = n
    counts["total"] = sum(counts[s] for s in STATUSES)
    counts["overdue"] = db.execute(
        f"SELECT count(*) FROM opinions WHERE status NOT IN ({', '.join('?' * len(CLOSED))}) "
        "AND created_at < ?", [*CLOSED, cutoff(now, overdue_hours)]).fetchone()[0]
    return counts


def rates(counts: dict[str, int]) -> dict[str, float | None]:
    """The three rates (RATES) in percent from counts of answered, resolved, reflected
    (each status alone) and opinions."""
    total = counts["opinions"]

    def pct(n: int) -> float | None:
        return round(100.0 * n / total, 1) if total else None

    answered, resolved, reflected = counts["answered"], counts["resolved"], counts["reflected"]
    return {"answer_pct": pct(answered + resolved + reflected),
            "resolution_pct": pct(resolved + reflected), "reflection_pct": pct(reflected)}


def reflection(db: sqlite_utils.Database) -> tuple[list[dict], dict]:
    """The answer, resolution and policy-reflection rates (RATES) per account (the
    `reflection` view) and overall."""
    rows = list(db.query("SELECT * FROM reflection ORDER BY platform, account"))
    overall: dict = {k: sum(r[k] for r in rows)
                     for k in ("opinions", "answered", "resolved", "reflected")}
    overall.update(rates(overall))
    return rows, overall


# --- writing -----------------------------------------------------------------------------
def check_future(at: str, now: datetime | None = None) -> None:
    """Raise CaseError when `at` is later than now (beyond CLOCK_SKEW)."""
    now = now or datetime.now(timezone.utc)
    if parse_time(at) > now + CLOCK_SKEW:
        raise CaseError(f"at: {seoul_time(at)} is in the future (now {seoul_time(now)}; "
                        f"at most {CLOCK_SKEW.seconds // 60} minutes ahead are allowed for "
                        "clock skew)", "at")


def check_at(db: sqlite_utils.Database, changes: Sequence[Change], at: str,
             now: datetime | None = None) -> None:
    """Raise CaseError when a time staff give (`case set --at`, `case import --at`) is in
    the future or before an opinion was written. The store's writers take any time (a
    backfill or a simulation may need one): the commands check theirs with this."""
    check_future(at, now)
    for change in changes:
        check_written(db, change, at)


def check_written(db: sqlite_utils.Database, change: Change, at: str) -> None:
    """Raise CaseError when `at` is before the opinion was written."""
    row = db.execute("SELECT created_at FROM comments WHERE id = ?",
                     [change.comment_id]).fetchone()
    if row and parse_time(at) < parse_time(row[0]):
        where = f"line {change.line}: " if change.line is not None else ""
        raise CaseError(f"{where}at: {seoul_time(at)} is before the opinion was written "
                        f"({seoul_time(row[0])})", "at", change.line)


def _current(db: sqlite_utils.Database, comment_id: str) -> _Current:
    row = db.execute(
        "SELECT o.status, o.staff_status, COALESCE(o.assigned_department, a.department), "
        "o.staff_note FROM opinions o LEFT JOIN accounts a ON a.key = o.account "
        "WHERE o.id = ?", [comment_id]).fetchone()
    return _Current(*(row or (None, None, None, None)))


def _as_imported(change: Change, current: _Current) -> Change:
    """A row of an edited export, read for what was edited. `received` for an opinion no
    staff has set a status for is what every export shows by default, not a decision: it
    keeps the current status (an official answer may have come since the export and must
    not be re-opened). The note the case already has is not a new note."""
    if change.status == "received" and current.status and current.staff_status is None:
        change = replace(change, status=current.status)
    if change.note is not None and change.note == current.note:
        change = replace(change, note=None)
    return change


def _changes_nothing(change: Change, current: _Current) -> bool:
    """Same status, and department and note empty (kept) or the same as shown."""
    return (change.status == current.status
            and change.department in (None, current.department)
            and change.note in (None, current.note))


def _apply(db: sqlite_utils.Database, change: Change, at: str) -> dict:
    conn = db.conn
    row = conn.execute(
        "SELECT o.status, COALESCE(o.assigned_department, a.department) FROM opinions o "
        "LEFT JOIN accounts a ON a.key = o.account WHERE o.id = ?",
        [change.comment_id]).fetchone()
    from_status, from_department = (row[0], row[1]) if row else (None, None)
    old = conn.execute("SELECT department, note, link, policy FROM cases WHERE comment_id = ?",
                       [change.comment_id]).fetchone()
    department = change.department or (old[0] if old else None)
    note = change.note if change.note else (old[1] if old else None)
    link = change.link if change.link else (old[2] if old else None)
    policy = change.policy if change.policy else (old[3] if old else None)
    conn.execute(
        "INSERT INTO cases (comment_id, status, department, note, updated_by, updated_at, "
        "link, policy) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(comment_id) DO UPDATE SET "
        "status = excluded.status, department = excluded.department, note = excluded.note, "
        "updated_by = excluded.updated_by, updated_at = excluded.updated_at, "
        "link = excluded.link, policy = excluded.policy",
        (change.comment_id, change.status, department, note, change.by, at, link, policy),
    )
    conn.execute(
        "INSERT INTO case_events (comment_id, at, by, from_status, to_status, department, "
        "note, action, from_department, link, policy) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (change.comment_id, at, change.by, from_status, change.status, department,
         change.note or None, change.action, from_department, change.link or None,
         change.policy or None),
    )
    return {"comment_id": change.comment_id, "at": at, "by": change.by,
            "from_status": from_status, "to_status": change.status,
            "department": department, "note": change.note or None,
            "action": change.action, "from_department": from_department,
            "link": change.link or None, "policy": change.policy or None}


def set_status(db: sqlite_utils.Database, change: Change, at: str | None = None) -> dict:
    """Record one change: upsert `cases`, append to `case_events`; returns the event."""
    return apply_all(db, [change], at)[0]


def apply_all(db: sqlite_utils.Database, changes: Sequence[Change] | Iterable[Change],
              at: str | None = None) -> list[dict]:
    """Validate every change, then apply them all in ONE transaction (all or nothing)."""
    return _run(db, list(changes), at, skip_unchanged=False).events


class Conflict(CaseError):
    """The opinion changed since the person looked at it (another person acted first)."""


def act(db: sqlite_utils.Database, changes: Sequence[Change], allowed: Sequence[str],
        at: str | None = None) -> list[dict]:
    """apply_all for the workplace: each opinion's status must still be one of `allowed`
    when the write transaction begins, else Conflict (nothing is written). Checked inside
    the transaction, so two people acting on one opinion at once cannot both win."""
    stamp = at or utc_now()
    with _write(db):
        for change in changes:
            validate(db, change)
            current = _current(db, change.comment_id)
            if current.status not in allowed:
                raise Conflict(f"status: {change.comment_id} is {current.status or 'gone'} "
                               "now (someone changed it meanwhile)", "status")
        return [_apply(db, change, stamp) for change in changes]


def import_changes(db: sqlite_utils.Database, changes: Sequence[Change],
                   at: str | None = None) -> Applied:
    """apply_all, but a change that changes nothing (see _changes_nothing, after
    _as_imported) is skipped, so importing a file again records nothing twice."""
    return _run(db, list(changes), at, skip_unchanged=True)


def _run(db: sqlite_utils.Database, changes: list[Change], at: str | None,
         skip_unchanged: bool) -> Applied:
    stamp = at or utc_now()  # one time for the whole transaction
    with _write(db):
        for change in changes:  # validated inside the transaction: nothing moves under us
            validate(db, change)
        settled = _settled(db, changes) if skip_unchanged else set()
        applied = Applied()
        for change in changes:  # one by one: a row repeating the one before it changes nothing
            if skip_unchanged:
                current = _current(db, change.comment_id)
                change = _as_imported(change, current)
                if change.comment_id in settled or _changes_nothing(change, current):
                    applied.skipped.append(change)
                    continue
            applied.events.append(_apply(db, change, stamp))
        return applied


def _settled(db: sqlite_utils.Database, changes: list[Change]) -> set[str]:
    """Opinions whose last row in the file changes nothing: the file ends where the case
    already is, so its earlier rows for them (a history imported before) are skipped too."""
    last = {change.comment_id: change for change in changes}
    settled = set()
    for cid, change in last.items():
        current = _current(db, cid)
        if _changes_nothing(_as_imported(change, current), current):
            settled.add(cid)
    return settled
