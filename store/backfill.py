"""Keywords and crisis tags for citizens' comments stored before migrations 5 and 7.

Rows stored before those migrations hold comments.keywords / comments.crisis NULL until
they are next updated; the digest analyses their texts itself on every run (digest.build
`_keywords`, `_crisis`). `backfill_tags` gives them the values a fresh normalization would
(the caller supplies the analysis: commands/backfill.py), batch by batch, each batch in its
own transaction: a run can be stopped and started again, and a second run finds nothing.
The rollups follow through their update trigger (it watches keywords and crisis).

Only NULL columns are filled, and only while the row still holds the text that was
analysed (a collect may update it meanwhile, with values of its own). content_hash is left
alone: it is the normalizer's hash of the record it made, which a re-fetch compares with.
"""
from __future__ import annotations

import time
from collections.abc import Callable

import sqlite_utils

# What a backfill fills: live citizens' comments without keywords, or without a crisis tag
# although they have words to tag (an empty text gets none at ingest either).
PENDING = ("is_official = 0 AND deleted = 0 "
           "AND (keywords IS NULL OR (crisis IS NULL AND text <> ''))")

# texts -> (keywords, crisis) per text, as the normalizer computes them
Analyse = Callable[[list[str]], list[tuple[str | None, str | None]]]


def pending_count(db: sqlite_utils.Database) -> int:
    """How many comments a backfill would fill."""
    return db.execute(f"SELECT count(*) FROM comments WHERE {PENDING}").fetchone()[0]


def backfill_tags(db: sqlite_utils.Database, analyse: Analyse, batch: int = 2_000,
                  progress: Callable[[int, int], None] | None = None) -> dict[str, int]:
    """Fill the NULL keywords and crisis of the PENDING comments with `analyse`, in rowid
    order, one transaction per batch. Returns rows read, rows changed, keywords and crisis
    tags filled, and seconds."""
    started = time.monotonic()
    todo = pending_count(db)
    done = {"rows": 0, "changed": 0, "keywords": 0, "crisis": 0}
    last = 0
    while True:
        rows = db.execute(f"SELECT rowid, text, keywords, crisis FROM comments "
                          f"WHERE rowid > ? AND {PENDING} ORDER BY rowid LIMIT ?",
                          [last, batch]).fetchall()
        if not rows:
            break
        updates = []
        for (rowid, text, keywords, crisis), (new_keywords, new_crisis) in zip(
                rows, analyse([r[1] for r in rows]), strict=True):
            fill_keywords = keywords is None and new_keywords is not None
            fill_crisis = crisis is None and new_crisis is not None
            if fill_keywords or fill_crisis:
                updates.append(((new_keywords if fill_keywords else keywords,
                                 new_crisis if fill_crisis else crisis,
                                 rowid, text, keywords, crisis), fill_keywords, fill_crisis))
        with db.atomic():
            for values, fill_keywords, fill_crisis in updates:
                # only if the row is still as it was read
                if db.conn.execute("UPDATE comments SET keywords = ?, crisis = ? "
                                   "WHERE rowid = ? AND text = ? AND keywords IS ? "
                                   "AND crisis IS ?", values).rowcount:
                    done["changed"] += 1
                    done["keywords"] += fill_keywords
                    done["crisis"] += fill_crisis
        done["rows"] += len(rows)
        last = rows[-1][0]
        if progress:
            progress(done["rows"], todo)
    done["seconds"] = round(time.monotonic() - started)
    return done
