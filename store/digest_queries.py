"""Read-side SQL of the daily digest (digest/build.py turns these aggregates into figures).

Every function takes a UTC window [start, end) as ISO-8601 strings ('2026-11-23T15:00:00Z'),
so the range conditions reach `comments_created` / `comments_account_created` and only the
rows of that window are visited. Grouping happens here; the digest only sees aggregates,
except for `opinion_keywords` (per opinion, counted in Python: faster than in SQL),
`opinion_texts` (crisis words of rows stored before comments.crisis: regexes) and the
overdue list (its first rows; `overdue_rows` streams all of them for the CSV).

"Answered" in every query means: an official answer in the thread that was posted before the
end of the opinion's own Seoul day (or before `now`, if that is earlier), or a staff status of
answered/resolved. So each day is judged the same way: answered the same Seoul day.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import sqlite_utils

# Staff statuses (store/cases.py STATUSES) that count as answered, and that close an opinion
# (dismissed: no longer waiting for the city, so never overdue, but not answered either).
ANSWERED_STAFF_STATUSES = ("answered", "resolved")
CLOSED_STAFF_STATUSES = ("answered", "resolved", "dismissed")
# runs.status values (pipeline/ingest.py) that mean the account did not get its data.
FAILED_RUN_STATUSES = ("failed", "auth", "permission", "interrupted")
RATE_LIMITED_RUN_STATUSES = ("rate_limited",)

_ANSWERED_STAFF = ", ".join(f"'{s}'" for s in ANSWERED_STAFF_STATUSES)
_CLOSED = ", ".join(f"'{s}'" for s in CLOSED_STAFF_STATUSES)
# Seoul day D ends at D 15:00 UTC; min() of two ISO strings is the earlier time.
_ANSWERED = (
    f"(o.staff_status IN ({_ANSWERED_STAFF}) OR (o.first_response_at IS NOT NULL AND "
    "o.first_response_at < min(o.seoul_day || 'T15:00:00Z', :now)))"
)
_TIMED = (
    "(o.first_response_at IS NOT NULL AND o.response_minutes IS NOT NULL AND "
    "o.first_response_at < min(o.seoul_day || 'T15:00:00Z', :now))"
)
_GROUP_COLUMNS = ("seoul_day", "platform", "account")


def opinion_counts(db: sqlite_utils.Database, start: str, end: str, now: str) -> list[dict]:
    """Per Seoul day, platform and account: opinions received and answered the same day."""
    sql = f"""
    SELECT o.seoul_day, o.platform, o.account, COALESCE(a.name, o.account) AS account_name,
           count(*) AS received, sum({_ANSWERED}) AS answered
    FROM opinions o LEFT JOIN accounts a ON a.key = o.account
    WHERE o.created_at >= :start AND o.created_at < :end
    GROUP BY o.seoul_day, o.platform, o.account
    ORDER BY o.seoul_day, o.platform, o.account
    """
    return list(db.query(sql, {"start": start, "end": end, "now": now}))


def response_medians(db: sqlite_utils.Database, start: str, end: str, now: str,
                     by: tuple[str, ...] = ()) -> list[dict]:
    """Median first-response minutes of the opinions answered the same day, per `by` group.

    `by` is a tuple of columns out of seoul_day, platform, account (empty: one row for the
    whole window). The median is taken in SQL with window functions (mean of the two middle
    values when the count is even), so only one row per group leaves the database.
    """
    unknown = set(by) - set(_GROUP_COLUMNS)
    if unknown:
        raise ValueError(f"cannot group by {sorted(unknown)}")
    cols = ", ".join(by)
    select = "".join(f"o.{k} AS {k}, " for k in by)
    over = f"PARTITION BY {cols} " if by else ""
    group = f"GROUP BY {cols} ORDER BY {cols}" if by else ""
    sql = f"""
    WITH r AS (
        SELECT {select}o.response_minutes AS m
        FROM opinions o
        WHERE o.created_at >= :start AND o.created_at < :end AND {_TIMED}
    ), ranked AS (
        SELECT {cols + ", " if by else ""}m,
               row_number() OVER ({over}ORDER BY m) AS rn,
               count(*) OVER ({over.strip()}) AS n
        FROM r
    )
    SELECT {cols + ", " if by else ""}avg(m) AS median_minutes, max(n) AS timed
    FROM ranked WHERE rn IN ((n + 1) / 2, (n + 2) / 2)
    {group}
    """
    return list(db.query(sql, {"start": start, "end": end, "now": now}))


def tag_counts(db: sqlite_utils.Database, start: str, end: str) -> list[dict]:
    """Opinions per Seoul day, district, category and language (the stored tag columns)."""
    sql = """
    SELECT seoul_day, district, category, lang, count(*) AS n
    FROM opinions
    WHERE created_at >= :start AND created_at < :end
    GROUP BY seoul_day, district, category, lang
    """
    return list(db.query(sql, {"start": start, "end": end}))


def opinion_keywords(db: sqlite_utils.Database, start: str, end: str,
                     day: str) -> list[tuple[int, str]]:
    """(1 if on Seoul day `day` else 0, keywords) of the window's opinions whose keywords
    were computed at ingest (comments.keywords; the empty ones left out).

    Counted in Python (Counter over str.split): ~1.5x faster than splitting in SQL with
    json_each or a recursive CTE and GROUP BY (measured at 20k opinions, 100k rows)."""
    sql = """
    SELECT seoul_day = :day, keywords FROM opinions
    WHERE created_at >= :start AND created_at < :end AND keywords IS NOT NULL
      AND keywords <> ''
    """
    return db.execute(sql, {"start": start, "end": end, "day": day}).fetchall()


def opinion_texts_without_keywords(db: sqlite_utils.Database, start: str, end: str,
                                   day: str) -> list[tuple[int, str]]:
    """(1 if on `day` else 0, text) of the window's opinions stored before keywords were
    (comments.keywords IS NULL: the digest analyses those itself)."""
    sql = """
    SELECT seoul_day = :day, text FROM opinions
    WHERE created_at >= :start AND created_at < :end AND keywords IS NULL
    """
    return db.execute(sql, {"start": start, "end": end, "day": day}).fetchall()


def crisis_counts(db: sqlite_utils.Database, start: str, end: str) -> list[tuple[str, str, int]]:
    """(seoul_day, crisis kind, opinions) of the window's opinions tagged at ingest
    (comments.crisis; '' = tagged, no crisis, and NULL = never tagged are left out)."""
    sql = """
    SELECT seoul_day, crisis, count(*) FROM opinions
    WHERE created_at >= :start AND created_at < :end AND crisis <> ''
    GROUP BY seoul_day, crisis
    """
    return db.execute(sql, {"start": start, "end": end}).fetchall()


def crisis_firsts(db: sqlite_utils.Database, start: str, end: str,
                  n: int) -> list[sqlite3.Row]:
    """id, crisis, created_at of the first `n` opinions (oldest first) of each crisis kind
    tagged at ingest in the window (the digest's examples)."""
    sql = """
    SELECT id, crisis, created_at FROM (
        SELECT id, crisis, created_at,
               row_number() OVER (PARTITION BY crisis ORDER BY created_at, id) AS rn
        FROM opinions
        WHERE created_at >= :start AND created_at < :end AND crisis <> ''
    ) WHERE rn <= :n
    ORDER BY created_at, id
    """
    cursor = db.conn.cursor()
    cursor.row_factory = sqlite3.Row
    return cursor.execute(sql, {"start": start, "end": end, "n": n}).fetchall()


def opinion_texts(db: sqlite_utils.Database, start: str, end: str) -> list[sqlite3.Row]:
    """id, seoul_day, created_at, text of the window's opinions never tagged for crisis words
    (comments.crisis IS NULL: stored before migration 7; the digest runs the regexes on
    those), oldest first (rows read by column name; `opinions_by_id` has the rest of the few
    the digest quotes)."""
    sql = """
    SELECT id, seoul_day, created_at, text FROM opinions
    WHERE created_at >= :start AND created_at < :end AND crisis IS NULL
    ORDER BY created_at, id
    """
    cursor = db.conn.cursor()
    cursor.row_factory = sqlite3.Row
    return cursor.execute(sql, {"start": start, "end": end}).fetchall()


def opinions_by_id(db: sqlite_utils.Database, ids: list[str]) -> dict[str, dict]:
    """Opinions quoted in the digest, by id: when, where, account and its name, text."""
    if not ids:
        return {}
    sql = f"""
    SELECT o.id, o.created_at, o.account, COALESCE(a.name, o.account) AS account_name,
           o.platform, o.url, o.text
    FROM opinions o LEFT JOIN accounts a ON a.key = o.account
    WHERE o.id IN ({", ".join("?" * len(ids))})
    """
    return {r["id"]: r for r in db.query(sql, ids)}


_OVERDUE_WHERE = f"""
    WHERE o.created_at <= :threshold
      AND (o.staff_status IS NULL OR o.staff_status NOT IN ({_CLOSED}))
      AND (o.first_response_at IS NULL OR o.first_response_at >= :ref)
"""


def overdue_count(db: sqlite_utils.Database, ref: str, threshold: str) -> int:
    """How many opinions created at or before `threshold` are still unanswered at `ref`."""
    sql = f"SELECT count(*) FROM opinions o {_OVERDUE_WHERE}"
    return db.execute(sql, {"ref": ref, "threshold": threshold}).fetchone()[0]


def overdue_rows(db: sqlite_utils.Database, ref: str, threshold: str,
                 limit: int | None = None) -> Iterator[tuple]:
    """Opinions created at or before `threshold` and still unanswered at `ref`, oldest first,
    as tuples in the field order of digest.build.OverdueItem, streamed from a cursor (there
    may be many: the digest's CSV writes them as they come; tuples and the Seoul time made
    here are ~5x cheaper than dicts and a strptime per row). `limit`: only the first rows.

    Unanswered at ref: no official answer before ref and no closing staff status
    (answered, resolved, dismissed).
    """
    sql = f"""
    SELECT o.id, o.created_at,
           strftime('%Y-%m-%d %H:%M', o.created_at, '+9 hours') AS seoul_time,
           round((julianday(:ref) - julianday(o.created_at)) * 24, 1) AS hours_open,
           o.platform, o.account, COALESCE(a.name, o.account) AS account_name,
           COALESCE(o.assigned_department, a.department) AS department,
           COALESCE(o.staff_status, 'received') AS status, o.url, o.text
    FROM opinions o LEFT JOIN accounts a ON a.key = o.account
    {_OVERDUE_WHERE}
    ORDER BY o.created_at, o.id
    LIMIT :limit
    """
    cursor = db.conn.cursor()  # its own cursor: other queries may run while this one streams
    yield from cursor.execute(sql, {"ref": ref, "threshold": threshold,
                                    "limit": -1 if limit is None else limit})


def overdue(db: sqlite_utils.Database, ref: str, threshold: str,
            limit: int | None = None) -> list[tuple]:
    """`overdue_rows` as a list."""
    return list(overdue_rows(db, ref, threshold, limit))


def runs_summary(db: sqlite_utils.Database, start: str, end: str) -> list[dict]:
    """Per account, the runs started in the window: how many, failed, rate-limited, last error."""
    failed = ", ".join(f"'{s}'" for s in FAILED_RUN_STATUSES)
    limited = ", ".join(f"'{s}'" for s in RATE_LIMITED_RUN_STATUSES)
    sql = f"""
    SELECT r.account, r.platform, COALESCE(a.name, r.account) AS account_name,
           count(*) AS runs,
           sum(r.status = 'ok') AS ok,
           sum(r.status IN ({failed})) AS failed,
           sum(r.status IN ({limited})) AS rate_limited,
           (SELECT r2.error FROM runs r2 WHERE r2.account = r.account
              AND r2.started_at >= :start AND r2.started_at < :end AND r2.error IS NOT NULL
            ORDER BY r2.started_at DESC, r2.id DESC LIMIT 1) AS last_error,
           (SELECT r3.status FROM runs r3 WHERE r3.account = r.account
              AND r3.started_at >= :start AND r3.started_at < :end
            ORDER BY r3.started_at DESC, r3.id DESC LIMIT 1) AS last_status
    FROM runs r LEFT JOIN accounts a ON a.key = r.account
    WHERE r.started_at >= :start AND r.started_at < :end
    GROUP BY r.account, r.platform
    ORDER BY r.platform, r.account
    """
    return list(db.query(sql, {"start": start, "end": end}))


def quota_days(db: sqlite_utils.Database, platform: str, days: list[str]) -> dict[str, int]:
    """Quota units a platform spent on each of the given Pacific days (0 when none)."""
    found = dict(db.execute(
        f"SELECT day, units FROM quota WHERE platform = ? AND day IN ({', '.join('?' * len(days))})",
        [platform, *days],
    ).fetchall()) if days else {}
    return {d: found.get(d, 0) for d in days}


def latest_opinion_day(db: sqlite_utils.Database) -> str | None:
    """The Seoul day of the newest opinion (the demo digests that day), or None if none."""
    row = db.execute(
        "SELECT created_at FROM opinions ORDER BY created_at DESC LIMIT 1").fetchone()
    if row is None:
        return None
    return db.execute("SELECT date(?, '+9 hours')", [row[0]]).fetchone()[0]
