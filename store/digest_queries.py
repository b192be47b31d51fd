"""Read-side SQL of the daily digest (digest/build.py turns these aggregates into figures).

Every function takes a UTC window [start, end) as ISO-8601 strings ('2026-11-23T15:00:00Z'),
so the range conditions reach `comments_created` / `comments_account_created` and only the
rows of that window are visited. Grouping happens here; the digest only sees aggregates,
except for `opinion_keywords` (per opinion, counted in Python: faster than in SQL),
`opinion_texts` (crisis words of rows stored before comments.crisis: regexes) and the
overdue list (its first rows; `overdue_rows` streams all of them for the CSV).

The `*_rolled` functions read the same figures from the per-Seoul-day rollups that triggers
keep (store/db.py ROLLUPS_DOC): O(days x accounts) rows instead of every opinion of the window.
They need windows made of whole Seoul days, and they judge "answered" by the end of each
opinion's day: equal to the live queries when the window ends at or before `now`
(digest.build picks one or the other per window; tests hold them equal).

"Answered" in every query means: an official answer in the thread that was posted before the
end of the opinion's own Seoul day (or before `now`, if that is earlier), or a staff status of
answered/resolved. So each day is judged the same way: answered the same Seoul day.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import sqlite_utils

from core.times import SEOUL_DAY_END, seoul_day_end_sql, seoul_day_sql, seoul_time_sql
from store.cases import ANSWERED, CLOSED

# Staff statuses that count as answered (resolved and reflected were answered on the way),
# and that close an opinion (dismissed: no longer waiting for the city, so never overdue,
# but not answered either): store/cases.py's.
ANSWERED_STAFF_STATUSES = ANSWERED
CLOSED_STAFF_STATUSES = CLOSED
# runs.status values (pipeline/ingest.py) that mean the account did not get its data.
FAILED_RUN_STATUSES = ("failed", "auth", "permission", "interrupted")
RATE_LIMITED_RUN_STATUSES = ("rate_limited",)

_ANSWERED_STAFF = ", ".join(f"'{s}'" for s in ANSWERED_STAFF_STATUSES)
_CLOSED = ", ".join(f"'{s}'" for s in CLOSED_STAFF_STATUSES)
# Seoul day D ends at D 15:00 UTC; min() of two ISO strings is the earlier time.
_END_OF = seoul_day_end_sql
_SPLIT_DAY = seoul_day_sql(':split')
_DAY_BEFORE_END = _END_OF(seoul_day_sql(':t', "'-1 day'"))
_ANSWERED = (
    f"(o.staff_status IN ({_ANSWERED_STAFF}) OR (o.first_response_at IS NOT NULL AND "
    f"o.first_response_at < min({_END_OF('o.seoul_day')}, :now)))"
)
_TIMED = (
    "(o.first_response_at IS NOT NULL AND o.response_minutes IS NOT NULL AND "
    f"o.first_response_at < min({_END_OF('o.seoul_day')}, :now))"
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


def _grouping(by: tuple[str, ...]) -> tuple[str, str, str]:
    """SQL pieces of a median per `by` group: the leading columns ('a, b, '), the window's
    PARTITION BY, the final GROUP BY/ORDER BY (all '' for one row over the window)."""
    unknown = set(by) - set(_GROUP_COLUMNS)
    if unknown:
        raise ValueError(f"cannot group by {sorted(unknown)}")
    if not by:
        return "", "", ""
    cols = ", ".join(by)
    return cols + ", ", f"PARTITION BY {cols} ", f"GROUP BY {cols} ORDER BY {cols}"


def response_medians(db: sqlite_utils.Database, start: str, end: str, now: str,
                     by: tuple[str, ...] = ()) -> list[dict]:
    """Median first-response minutes of the opinions answered the same day, per `by` group.

    `by` is a tuple of columns out of seoul_day, platform, account (empty: one row for the
    whole window). The median is taken in SQL with window functions (mean of the two middle
    values when the count is even), so only one row per group leaves the database.
    """
    lead, over, group = _grouping(by)
    select = "".join(f"o.{k} AS {k}, " for k in by)
    sql = f"""
    WITH r AS (
        SELECT {select}o.response_minutes AS m
        FROM opinions o
        WHERE o.created_at >= :start AND o.created_at < :end AND {_TIMED}
    ), ranked AS (
        SELECT {lead}m,
               row_number() OVER ({over}ORDER BY m) AS rn,
               count(*) OVER ({over.strip()}) AS n
        FROM r
    )
    SELECT {lead}avg(m) AS median_minutes, max(n) AS timed
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


def restricted_counts(db: sqlite_utils.Database, start: str, end: str) -> list[tuple[str, int]]:
    """(restriction kind, opinions) of the window's opinions the platform served a notice
    for instead of their words (withheld, suspended, ...): shown as such, not as text."""
    sql = """
    SELECT restricted, count(*) FROM comments INDEXED BY comments_restricted
    WHERE restricted IS NOT NULL AND is_official = 0 AND deleted = 0
      AND created_at >= ? AND created_at < ?
    GROUP BY restricted ORDER BY 2 DESC, 1
    """
    return [(k, n) for k, n in db.execute(sql, [start, end])]


def crisis_counts(db: sqlite_utils.Database, start: str, end: str) -> list[tuple[str, str, int]]:
    """(seoul_day, crisis kind, opinions) of the window's opinions tagged at ingest
    (comments.crisis; '' = tagged, no crisis, and NULL = never tagged are left out)."""
    sql = """
    SELECT seoul_day, crisis, count(*) FROM opinions
    WHERE created_at >= :start AND created_at < :end AND crisis <> ''
    GROUP BY seoul_day, crisis
    """
    return db.execute(sql, {"start": start, "end": end}).fetchall()


def crisis_firsts(db: sqlite_utils.Database, start: str, end: str, n: int,
                  kinds: list[str]) -> list[sqlite3.Row]:
    """id, crisis, created_at of the first `n` opinions (oldest first) of each crisis kind
    tagged at ingest in the window (the digest's examples). One seek per kind in the partial
    index comments_crisis (the repeated `crisis <> ''` lets the planner use it)."""
    sql = """
    SELECT id, crisis, created_at FROM opinions
    WHERE crisis = :kind AND crisis <> '' AND created_at >= :start AND created_at < :end
    ORDER BY created_at, id LIMIT :n
    """
    cursor = db.conn.cursor()
    cursor.row_factory = sqlite3.Row
    rows = [r for kind in kinds
            for r in cursor.execute(sql, {"kind": kind, "start": start, "end": end, "n": n})]
    return sorted(rows, key=lambda r: (r["created_at"], r["id"]))


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
           {seoul_time_sql('o.created_at')} AS seoul_time,
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
              AND r2.kind = 'collect'
            ORDER BY r2.started_at DESC, r2.id DESC LIMIT 1) AS last_error,
           (SELECT r3.status FROM runs r3 WHERE r3.account = r.account
              AND r3.started_at >= :start AND r3.started_at < :end AND r3.kind = 'collect'
            ORDER BY r3.started_at DESC, r3.id DESC LIMIT 1) AS last_status
    FROM runs r LEFT JOIN accounts a ON a.key = r.account
    WHERE r.started_at >= :start AND r.started_at < :end AND r.kind = 'collect'
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
    return db.execute(f"SELECT {seoul_day_sql('?')}", [row[0]]).fetchone()[0]


# --- the same figures from the rollups (store/db.py migration 8) ---------------------------
_DAYS = f"seoul_day >= {seoul_day_sql(':start')} AND seoul_day < {seoul_day_sql(':end')}"
# Same-day official answer, as answer_days files it (minutes -1: answered after the day).
_SAME_DAY = f"(a.first_response_at < {_END_OF(seoul_day_sql('c.created_at'))})"


def whole_days(start: str, end: str) -> bool:
    """The UTC window [start, end) is made of whole Seoul days (what the rollups can count)."""
    return start.endswith(SEOUL_DAY_END) and end.endswith(SEOUL_DAY_END)


def _check_days(start: str, end: str) -> dict[str, str]:
    if not whole_days(start, end):
        raise ValueError(f"rollups count whole Seoul days: [{start}, {end}) is not")
    return {"start": start, "end": end}


def opinion_counts_rolled(db: sqlite_utils.Database, start: str, end: str) -> list[dict]:
    """`opinion_counts` from the rollups: received from opinion_days, answered = same-day
    answers (answer_days) plus staff answered/resolved without one (cases: few rows)."""
    sql = f"""
    WITH r AS (
        SELECT seoul_day, platform, account, sum(n) AS received FROM opinion_days
        WHERE {_DAYS} GROUP BY 1, 2, 3 HAVING sum(n) > 0
    ), t AS (
        SELECT seoul_day, platform, account, sum(n) AS timed FROM answer_days
        WHERE {_DAYS} AND minutes >= 0 GROUP BY 1, 2, 3
    ), s AS (
        SELECT {seoul_day_sql('c.created_at')} AS seoul_day, c.platform, c.account,
               count(*) AS staff
        FROM cases k JOIN comments c ON c.id = k.comment_id
        LEFT JOIN answers a ON a.comment_id = c.id
        WHERE k.status IN ({_ANSWERED_STAFF}) AND c.is_official = 0 AND c.deleted = 0
          AND c.created_at >= :start AND c.created_at < :end
          AND NOT coalesce({_SAME_DAY}, 0)
        GROUP BY 1, 2, 3
    )
    SELECT r.seoul_day, r.platform, r.account, COALESCE(ac.name, r.account) AS account_name,
           r.received, coalesce(t.timed, 0) + coalesce(s.staff, 0) AS answered
    FROM r
    LEFT JOIN t ON (t.seoul_day, t.platform, t.account) = (r.seoul_day, r.platform, r.account)
    LEFT JOIN s ON (s.seoul_day, s.platform, s.account) = (r.seoul_day, r.platform, r.account)
    LEFT JOIN accounts ac ON ac.key = r.account
    ORDER BY r.seoul_day, r.platform, r.account
    """
    return list(db.query(sql, _check_days(start, end)))


def response_medians_rolled(db: sqlite_utils.Database, start: str, end: str,
                            by: tuple[str, ...] = ()) -> list[dict]:
    """`response_medians` from answer_days: the weighted median of the minutes histogram
    (mean of the values at positions (n+1)/2 and (n+2)/2, as the live query takes it)."""
    lead, over, group = _grouping(by)
    sql = f"""
    WITH h AS (
        SELECT {lead}minutes, sum(n) AS n FROM answer_days
        WHERE {_DAYS} AND minutes >= 0 GROUP BY {lead}minutes HAVING sum(n) > 0
    ), c AS (
        SELECT {lead}minutes, n,
               sum(n) OVER ({over}ORDER BY minutes) AS upto,
               sum(n) OVER ({over.strip()}) AS total
        FROM h
    )
    SELECT {lead}avg(minutes) AS median_minutes, max(total) AS timed
    FROM c
    WHERE (total + 1) / 2 BETWEEN upto - n + 1 AND upto
       OR (total + 2) / 2 BETWEEN upto - n + 1 AND upto
    {group}
    """
    return list(db.query(sql, _check_days(start, end)))


def tag_counts_rolled(db: sqlite_utils.Database, start: str, end: str) -> list[dict]:
    """`tag_counts` from opinion_days."""
    sql = f"""
    SELECT seoul_day, nullif(district, '') AS district, nullif(category, '') AS category,
           lang, sum(n) AS n
    FROM opinion_days WHERE {_DAYS}
    GROUP BY seoul_day, district, category, lang HAVING sum(n) > 0
    """
    return list(db.query(sql, _check_days(start, end)))


def crisis_counts_rolled(db: sqlite_utils.Database, start: str,
                         end: str) -> list[tuple[str, str, int]]:
    """`crisis_counts` from opinion_days."""
    sql = f"""
    SELECT seoul_day, crisis, sum(n) FROM opinion_days
    WHERE {_DAYS} AND crisis <> '' GROUP BY seoul_day, crisis HAVING sum(n) > 0
    """
    return db.execute(sql, _check_days(start, end)).fetchall()


def keyword_counts_rolled(db: sqlite_utils.Database, start: str, end: str,
                          day: str) -> list[tuple[int, str, int]]:
    """(1 if on Seoul day `day` else 0, word, opinions) from keyword_days."""
    sql = f"""
    SELECT seoul_day = :day, word, n FROM keyword_days WHERE {_DAYS} AND n > 0
    """
    return db.execute(sql, {**_check_days(start, end), "day": day}).fetchall()


def keyword_counts_picked(db: sqlite_utils.Database, start: str, end: str, day: str,
                          min_count: int, top: int) -> list[tuple[int, str, int]]:
    """`keyword_counts_rolled` for the words the digest can show only: the day's words with
    at least `min_count` opinions or among its `top` (ties by word), and for those words
    their counts on the days before (`keyword_days` primary key lookups, day by day). At a
    million opinions a week holds ~10^5 words; the digest shows 25."""
    days = db.execute(f"SELECT DISTINCT seoul_day FROM keyword_days WHERE {_DAYS} "
                      "AND seoul_day <> :day", {**_check_days(start, end), "day": day})
    before = [d for (d,) in days.fetchall()]
    marks = ", ".join("?" * len(before)) or "NULL"
    sql = f"""
    WITH today AS (SELECT word, n FROM keyword_days WHERE seoul_day = ? AND n > 0),
    picked AS (SELECT word, n FROM today WHERE n >= ?
               UNION SELECT word, n FROM (SELECT word, n FROM today ORDER BY n DESC, word LIMIT ?))
    SELECT 1, word, n FROM picked
    UNION ALL
    SELECT 0, k.word, k.n FROM picked p CROSS JOIN keyword_days k  -- p first: lookups
        ON k.seoul_day IN ({marks}) AND k.word = p.word AND k.n > 0
    """
    return db.execute(sql, [day, min_count, top, *before]).fetchall()


def untagged_rolled(db: sqlite_utils.Database, start: str, end: str) -> tuple[int, int]:
    """(opinions without crisis tag, opinions without keywords) of the window: stored before
    migrations 7 and 5; when 0, the digest need not read any text."""
    sql = ("SELECT coalesce(sum(untagged), 0), coalesce(sum(unkeyed), 0) FROM opinion_days "
           f"WHERE {_DAYS}")
    return tuple(db.execute(sql, _check_days(start, end)).fetchone())


def overdue_count_rolled(db: sqlite_utils.Database, ref: str, threshold: str) -> int:
    """`overdue_count` from the rollups: opinions of the Seoul days before the threshold's day
    that never got an answer (opinion_days - answer_days), plus those answered only at or
    after `ref`, minus those staff closed; the threshold's own day counted live."""
    # The first second of the threshold's Seoul day (Seoul day D begins at D-1 15:00 UTC).
    split = db.execute(f"SELECT {_DAY_BEFORE_END}",
                       {"t": threshold}).fetchone()[0]
    sql = f"""
    SELECT
      (SELECT coalesce(sum(n), 0) FROM opinion_days WHERE seoul_day < {_SPLIT_DAY})
      - (SELECT coalesce(sum(n), 0) FROM answer_days WHERE seoul_day < {_SPLIT_DAY})
      -- CROSS JOIN keeps answers outermost: few answers come after ref, many opinions
      -- precede split (without ANALYZE statistics the planner would walk the opinions)
      + (SELECT count(*) FROM answers a CROSS JOIN comments c
         LEFT JOIN cases k ON k.comment_id = c.id
         WHERE c.id = a.comment_id AND a.first_response_at >= :ref AND c.created_at < :split
           AND c.is_official = 0 AND c.deleted = 0
           AND (k.status IS NULL OR k.status NOT IN ({_CLOSED})))
      - (SELECT count(*) FROM cases k JOIN comments c ON c.id = k.comment_id
         LEFT JOIN answers a ON a.comment_id = c.id
         WHERE k.status IN ({_CLOSED}) AND c.created_at < :split
           AND c.is_official = 0 AND c.deleted = 0 AND a.first_response_at IS NULL)
      + (SELECT count(*) FROM opinions o {_OVERDUE_WHERE} AND o.created_at >= :split)
    """
    return db.execute(sql, {"ref": ref, "threshold": threshold, "split": split}).fetchone()[0]


# --- issue #19: routing backlog, the day's largest groups, the three rates ---------------
def routing_backlog(db: sqlite_utils.Database, start: str, end: str) -> list[dict]:
    """Per suggested department: the opinions written in [start, end) (the digest's day)
    still open (received, assigned, in progress) that routing suggests to it, and how many
    of them no staff has touched yet (no case), most first. The day's, not all time's: the
    whole backlog is the workplace's inbox (reading every open opinion took ~2 s at 1M)."""
    return [dict(r) for r in db.query(
        "SELECT c.suggested_department AS department, count(*) AS open, "
        "sum(k.comment_id IS NULL) AS unassigned FROM comments c "
        "LEFT JOIN cases k ON k.comment_id = c.id "
        "WHERE c.created_at >= :start AND c.created_at < :end "
        "AND c.is_official = 0 AND c.deleted = 0 "
        "AND c.status IN ('received', 'assigned', 'in_progress') "
        "AND c.suggested_department IS NOT NULL "
        "GROUP BY 1 ORDER BY open DESC, department", {"start": start, "end": end})]


def largest_groups(db: sqlite_utils.Database, start: str, end: str, n: int) -> list[dict]:
    """The groups with the most opinions written in [start, end): size that day, size in
    all, and the text of the group's first opinion (masked, as stored; abusive text left
    out)."""
    return [dict(r) for r in db.query(
        "SELECT g.group_id, g.today, (SELECT count(*) FROM comments c2 "
        "WHERE c2.group_id = g.group_id AND c2.deleted = 0) AS members, "
        "CASE WHEN f.abusive = 1 THEN '' ELSE f.text END AS text, f.account "
        "FROM (SELECT group_id, count(*) AS today FROM comments "
        "WHERE group_id IS NOT NULL AND is_official = 0 AND deleted = 0 "
        "AND created_at >= :start AND created_at < :end GROUP BY group_id) g "
        "JOIN comments f ON f.id = g.group_id "
        "ORDER BY g.today DESC, g.group_id LIMIT :n", {"start": start, "end": end, "n": n})]


def status_totals(db: sqlite_utils.Database) -> dict[str, int]:
    """All opinions, and those answered, resolved, reflected (each status alone), now: from
    center_counts (its rows with deleted = 0 are the opinions), not every opinion."""
    row = db.execute(
        "SELECT coalesce(sum(n), 0), coalesce(sum(n * (status = 'answered')), 0), "
        "coalesce(sum(n * (status = 'resolved')), 0), "
        "coalesce(sum(n * (status = 'reflected')), 0) "
        "FROM center_counts WHERE deleted = 0").fetchone()
    return dict(zip(("opinions", "answered", "resolved", "reflected"), row))
