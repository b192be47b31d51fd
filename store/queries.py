"""The read side: every query the CLI, digest and center make."""
from __future__ import annotations

import sqlite3

import sqlite_utils


def cursors(db: sqlite_utils.Database, account: str) -> dict[str, str]:
    """Stored cursor values of one account, by stream."""
    return {
        stream: value
        for stream, value in db.execute(
            "SELECT stream, value FROM cursors WHERE account = ? AND stream != '*' "
            "AND value IS NOT NULL",
            [account],
        ).fetchall()
    }


def retry_after(db: sqlite_utils.Database, account: str) -> str | None:
    """When a rate-limited account may be asked again (ISO UTC), if it was limited."""
    row = db.execute(
        "SELECT retry_after FROM cursors WHERE account = ? AND stream = '*'", [account]
    ).fetchone()
    return row[0] if row else None


def table_counts(db: sqlite_utils.Database) -> dict[str, int | None]:
    """Row counts of the main tables (raw and quarantine: None when the unmasked file is
    not attached to this connection)."""
    counts: dict[str, int | None] = {}
    for name in ("posts", "comments", "quarantine", "raw", "runs"):
        try:
            counts[name] = db.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
        except sqlite3.OperationalError:  # no such table: the unmasked file is elsewhere
            counts[name] = None
    return counts


def comment_counts(db: sqlite_utils.Database) -> dict[str, int]:
    """Citizens' comments, official answers and threaded replies."""
    row = db.execute(
        "SELECT count(*), sum(is_official = 0), sum(is_official = 1), "
        "sum(parent_id IS NOT NULL), count(DISTINCT account) FROM comments"
    ).fetchone()
    keys = ("comments", "citizen", "official", "replies", "accounts")
    return {k: v or 0 for k, v in zip(keys, row)}


def account_status(db: sqlite_utils.Database, counts: bool = True,
                   posts_since: str | None = None) -> list[dict]:
    """Per account: last run, last success, cursors, counts, retry_after, completeness.

    counts=False leaves out the comments held per account (0): counting them reads every
    comment, which the digest's health section does not need. posts_since: completeness of
    the posts published since then only (the digest's week: at a million opinions, counting
    the stored comments of every post ever read took 0.3 s)."""
    # Comments held: live ones, under the account's posts (whoever collected them) or
    # collected by it outside any post: the completeness figure counts a subset of these.
    held = ("SELECT coalesce(p.account, c.account) AS account, count(*) AS comments, "
            "sum(c.is_official = 0) AS citizen, "
            "sum(c.is_official = 0 AND c.restricted IS NOT NULL) AS restricted "
            "FROM comments c LEFT JOIN posts p ON p.id = c.post_id WHERE c.deleted = 0 "
            "GROUP BY 1") if counts else \
        "SELECT NULL AS account, 0 AS comments, 0 AS citizen, 0 AS restricted WHERE 0"
    since = "AND p.created_at >= :since" if posts_since else ""
    sql = f"""
    WITH last_run AS (
        SELECT account, max(id) AS id FROM runs WHERE kind = 'collect' GROUP BY account
    ), last_ok AS (
        SELECT account, max(finished_at) AS at FROM runs
        WHERE status = 'ok' AND kind = 'collect' GROUP BY account
    ), held AS (
        {held}
    ), gap AS (
        SELECT p.account, sum(p.comment_count) AS reported,
               sum((SELECT count(*) FROM comments c
                    WHERE c.post_id = p.id AND c.deleted = 0)) AS stored
        FROM posts p WHERE p.comment_count IS NOT NULL {since} GROUP BY p.account
    )
    SELECT a.key AS account, a.platform, a.name, a.interval_minutes,
           r.status AS last_status, r.finished_at AS last_run, o.at AS last_success,
           r.error AS last_error, coalesce(h.comments, 0) AS comments,
           coalesce(h.citizen, 0) AS citizen,
           (SELECT group_concat(stream || '=' || value, ' ') FROM cursors c
             WHERE c.account = a.key AND c.stream != '*') AS cursors,
           (SELECT retry_after FROM cursors c WHERE c.account = a.key AND c.stream = '*')
             AS retry_after,
           g.reported AS reported_comments, g.stored AS stored_comments,
           r.fetched AS last_read, r.inserted + r.updated + r.unchanged AS last_stored,
           r.quarantined AS last_quarantined, r.skipped AS last_skipped,
           r.skip_reasons AS last_skip_reasons, r.quarantine_reasons AS last_quarantine_reasons,
           coalesce(h.restricted, 0) AS restricted
    FROM accounts a
    LEFT JOIN last_run lr ON lr.account = a.key
    LEFT JOIN runs r ON r.id = lr.id
    LEFT JOIN last_ok o ON o.account = a.key
    LEFT JOIN held h ON h.account = a.key
    LEFT JOIN gap g ON g.account = a.key
    ORDER BY a.platform, a.key
    """
    return list(db.query(sql, {"since": posts_since}))


def official_native_ids(db: sqlite_utils.Database, platform: str) -> frozenset[str]:
    """Native ids of the city's accounts on one platform, as far as they are known."""
    rows = db.execute(
        "SELECT native_id FROM accounts WHERE platform = ? AND native_id IS NOT NULL", [platform]
    ).fetchall()
    return frozenset(r[0] for r in rows)


def quota_used(db: sqlite_utils.Database, platform: str, day: str) -> int:
    """Quota units a platform spent on one Pacific day."""
    row = db.execute("SELECT units FROM quota WHERE day = ? AND platform = ?",
                     [day, platform]).fetchone()
    return row[0] if row else 0


def integrity(db: sqlite_utils.Database) -> str:
    """PRAGMA integrity_check: 'ok' or the first problems found (also when the check itself
    cannot read the file)."""
    try:
        rows = db.execute("PRAGMA integrity_check").fetchall()
    except sqlite3.DatabaseError as exc:
        return f"integrity check failed: {exc}"
    return "; ".join(r[0] for r in rows[:5])


def meta(db: sqlite_utils.Database, key: str) -> str | None:
    """One bookkeeping value of table `meta`, or None."""
    row = db.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
    return row[0] if row else None
