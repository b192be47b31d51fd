"""Korean full-text search over opinions: FTS5 on morphemes, newest first.

`comments_fts` indexes `comments.tokens` (morphemes + words + Han/kana bigrams, see
normalize/morph.py) and is kept in step with upserts by the triggers of migration 2.
Results are ranked by recency through the FTS rowid (= the comment's rowid, i.e. the order
stored), which costs ~0.1 ms for a top-20 at a million rows where bm25 costs ~600 ms.
"""
from __future__ import annotations

import re

import sqlite_utils

from normalize.morph import query_tokens

COLUMNS = ("id, seoul_day, created_at, status, platform, account, account_name, field, "
           "department, district, category, text, answer_text, answered_by, url")


# Control characters separate words. NUL cannot be searched at all: FTS5 reads the expression
# only up to it, mid-quote ("unterminated string").
_CONTROLS = re.compile(r"[\x01-\x1f\x7f-\x9f]")


def match_expression(query: str | None) -> str:
    """The FTS5 MATCH expression of a user's query ("" when it has no searchable term;
    a query holding NUL finds nothing)."""
    if not query or "\x00" in query:
        return ""
    return query_tokens(_CONTROLS.sub(" ", query))


def search(db: sqlite_utils.Database, query: str, limit: int = 20, *,
           account: str | None = None, status: str | None = None,
           platform: str | None = None, offset: int = 0) -> list[dict]:
    """Opinions (rows of the `center` view) matching `query`, newest stored first.

    An empty query (or one with nothing to search for) returns no rows rather than
    everything: MATCH is skipped and nothing is listed.
    """
    expression = match_expression(query)
    if not expression:
        return []
    where = ["comments_fts MATCH :match"]
    params: dict[str, str | int] = {"match": expression}
    for column, value in (("account", account), ("status", status), ("platform", platform)):
        if value:
            where.append(f"o.{column} = :{column}")
            params[column] = value
    params.update(limit=int(limit), offset=int(offset))
    sql = f"""
    SELECT {', '.join('o.' + c.strip() for c in COLUMNS.split(','))}
    FROM comments_fts
    JOIN comments c ON c.rowid = comments_fts.rowid
    JOIN center o ON o.id = c.id
    WHERE {' AND '.join(where)}
    ORDER BY comments_fts.rowid DESC
    LIMIT :limit OFFSET :offset
    """
    return list(db.query(sql, params))
