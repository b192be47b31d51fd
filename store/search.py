"""Korean full-text search over opinions: FTS5 on morphemes, newest first.

`comments_fts` indexes `comments.tokens` (morphemes in text order, compound pieces, words,
Han/kana bigrams: normalize/morph.py) of citizens' comments, kept in step with upserts by
the triggers of store/sql/triggers.sql. Official answers have tokens "" (no term), so the FTS
count of a query is the number of opinions it finds (every stored opinion belongs to an
account of `accounts`, which is never emptied).

Results come newest first: ORDER BY created_at DESC, id DESC, as the centre lists them.
Two plans give the same rows (measured on bench's bulk database, 1M comments):
- many matches (>= SCAN_FROM): walk `comments_created` from the newest, probing the set of
  matching rowids (read from the FTS once), and stop when the page is full: 2-10 ms where
  sorting 80,000 matches took ~115 ms;
- few matches: sort them (~2 ms at 1,400 matches; the walk would read the whole index when
  matches are rare, ~65 ms for none).
With a filter (account, status, platform), one pass over the matches filters, counts and
sorts them (~100-350 ms for a word found 40,000 times at 1M comments).
"""
from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import sqlite_utils

from normalize.morph import query_tokens

COLUMNS = ("id, seoul_day, created_at, status, platform, account, account_name, field, "
           "department, district, category, text, answer_text, answered_by, url")
SCAN_FROM = 2_000  # matches from which walking the time index beats sorting them
STALE_KEY = "tokens_stale"  # meta: why the stored tokens predate the tokenizer (`reindex`)

# Control characters separate words. NUL cannot be searched at all: FTS5 reads the expression
# only up to it, mid-quote ("unterminated string").
_CONTROLS = re.compile(r"[\x01-\x1f\x7f-\x9f]")
_MATCHES = "SELECT rowid FROM comments_fts WHERE comments_fts MATCH :match"
# The status the centre shows (the view's own expression, looked up per candidate).
_STATUS = "(SELECT o.status FROM opinion_records o WHERE o.id = c.id) = :status"


@dataclass(frozen=True)
class Found:
    """One page of results (rows of the `center` view, newest first) and how many match."""

    rows: list[dict]
    total: int


def match_expression(query: str | None) -> str:
    """The FTS5 MATCH expression of a user's query ("" when it has no searchable term;
    a query holding NUL finds nothing)."""
    if not query or "\x00" in query:
        return ""
    return query_tokens(_CONTROLS.sub(" ", query))


def _filters(account: str | None, status: str | None,
             platform: str | None) -> tuple[list[str], dict[str, str]]:
    """SQL conditions on `comments c` and their parameters. The unary + keeps SQLite from
    driving the query by the account index and probing the FTS per row (~20x slower)."""
    where, params = [], {}
    for column, value in (("account", account), ("platform", platform)):
        if value:
            where.append(f"+c.{column} = :{column}")
            params[column] = value
    if status:
        where.append(_STATUS)
        params["status"] = status
    return where, params


_ORDER = "ORDER BY c.created_at DESC, c.id DESC LIMIT :limit OFFSET :offset"


def match_count(db: sqlite_utils.Database, expression: str, where: list[str],
                params: dict[str, str]) -> int:
    """How many opinions match (an FTS5 count alone when nothing else filters)."""
    if not where:
        sql = "SELECT count(*) FROM comments_fts WHERE comments_fts MATCH :match"
    else:
        sql = (f"SELECT count(*) FROM comments c WHERE c.rowid IN ({_MATCHES}) "
               f"AND c.is_official = 0 AND " + " AND ".join(where))
    return db.execute(sql, {"match": expression, **params}).fetchone()[0]


def _page(db: sqlite_utils.Database, expression: str, where: list[str],
          params: dict[str, str | int]) -> tuple[list[str], int]:
    """The ids of one page, newest first, and how many opinions match."""
    values = {"match": expression, **params}
    if where:  # one pass over the matches: filtered, counted and sorted
        rows = db.execute(f"SELECT c.id, count(*) OVER () FROM comments c "
                          f"WHERE c.rowid IN ({_MATCHES}) AND c.is_official = 0 AND "
                          f"{' AND '.join(where)} {_ORDER}", values).fetchall()
        if rows:
            return [r[0] for r in rows], rows[0][1]
        filters = {k: v for k, v in params.items() if isinstance(v, str)}
        return [], match_count(db, expression, where, filters) if params["offset"] else 0
    total = match_count(db, expression, [], {})
    if not total or int(params["offset"]) >= total:
        return [], total
    if total >= SCAN_FROM:
        sql = (f"SELECT c.id FROM comments c INDEXED BY comments_created "
               f"WHERE c.rowid IN ({_MATCHES}) AND c.is_official = 0 {_ORDER}")
    else:
        sql = (f"SELECT c.id FROM comments_fts JOIN comments c ON c.rowid = comments_fts.rowid "
               f"WHERE comments_fts MATCH :match AND c.is_official = 0 {_ORDER}")
    return [r[0] for r in db.execute(sql, values).fetchall()], total


def find(db: sqlite_utils.Database, query: str, limit: int = 20, *,
         account: str | None = None, status: str | None = None,
         platform: str | None = None, offset: int = 0) -> Found:
    """Opinions matching `query`: a page of rows of the `center` view, newest first
    (created_at, then id, descending), and the number of all that match.

    An empty query (or one with nothing to search for) finds nothing rather than everything.
    """
    expression = match_expression(query)
    if not expression:
        return Found([], 0)
    where, filters = _filters(account, status, platform)
    ids, total = _page(db, expression, where,
                       {"limit": int(limit), "offset": int(offset), **filters})
    if not ids:
        return Found([], total)
    sql = f"""
    SELECT {', '.join('o.' + c.strip() for c in COLUMNS.split(','))}
    FROM center o WHERE o.id IN (SELECT value FROM json_each(:ids))
    ORDER BY o.created_at DESC, o.id DESC
    """
    return Found(list(db.query(sql, {"ids": json.dumps(ids)})), total)


def search(db: sqlite_utils.Database, query: str, limit: int = 20, *,
           account: str | None = None, status: str | None = None,
           platform: str | None = None, offset: int = 0) -> list[dict]:
    """The rows of `find` (opinions matching `query`, newest first)."""
    return find(db, query, limit, account=account, status=status, platform=platform,
                offset=offset).rows


# --- rebuilding the tokens -----------------------------------------------------------------
def stale_tokens(db: sqlite_utils.Database) -> str | None:
    """Why the stored tokens predate the tokenizer (a migration says so), or None."""
    row = db.execute("SELECT value FROM meta WHERE key = ?", [STALE_KEY]).fetchone()
    return row[0] if row else None


def rebuild_tokens(db: sqlite_utils.Database, tokens_of: Callable[[list[str]], list[str]],
                   batch: int = 2_000,
                   progress: Callable[[int, int], None] | None = None) -> dict[str, int]:
    """Recompute `comments.tokens` with `tokens_of` (normalize.morph.search_tokens_many)
    from the stored text of citizens' comments, "" for official answers (as
    normalize.common.add_tokens), none for tombstones; one transaction per batch of rows,
    so a run can be stopped and started again. The FTS follows through its update trigger.
    Clears the stale mark at the end. Returns rows read, rows changed and seconds."""
    started, last, read, changed = time.monotonic(), 0, 0, 0
    todo = db.execute("SELECT count(*) FROM comments").fetchone()[0]
    while True:
        rows = db.execute("SELECT rowid, is_official, deleted, text, tokens FROM comments "
                          "WHERE rowid > ? ORDER BY rowid LIMIT ?", [last, batch]).fetchall()
        if not rows:
            break
        indexed = [r for r in rows if not r[1] and not r[2] and r[3]]
        new: dict[int, str | None] = dict(zip((r[0] for r in indexed),
                                              tokens_of([r[3] for r in indexed])))
        # answers, tombstones, empty texts: an FTS row without terms (never NULL: the
        # index's integrity check wants a row for every comment)
        new.update((r[0], "") for r in rows if r[0] not in new)
        updates = [(new.get(r[0]), r[0]) for r in rows if new.get(r[0]) != r[4]]
        with db.atomic():
            db.conn.executemany("UPDATE comments SET tokens = ? WHERE rowid = ?", updates)
        read, changed, last = read + len(rows), changed + len(updates), rows[-1][0]
        if progress:
            progress(read, todo)
    with db.atomic():
        db.execute("DELETE FROM meta WHERE key = ?", [STALE_KEY])
    return {"rows": read, "changed": changed, "seconds": round(time.monotonic() - started)}
