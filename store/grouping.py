"""Near-duplicate groups of opinions (issue #19), kept incrementally after each run.

Like the derived answers (Writer.refresh_answers): a rowid watermark in `meta`
(groups_rowid) says which comments were grouped; each refresh takes the citizens' comments
stored since, computes their LSH band keys (normalize.similar, datasketch MinHash over
character shingles), finds earlier opinions sharing a band through the indexed
group_bands table, and joins the most similar one (exact Jaccard >= THRESHOLD) to its
group. A group's id is the id of its earliest-written opinion (so the same opinions stored
in another order get the same ids); an opinion alone has group_id NULL. Groups are never
merged or split afterwards, and an opinion edited later keeps its group.
"""
from __future__ import annotations

import json
import sqlite3

import sqlite_utils

from normalize.similar import THRESHOLD, band_keys, jaccard, shingles

BATCH = 2_000  # comments per step (one MinHash.bulk call)
CANDIDATES = 40  # at most this many earlier opinions checked per opinion (newest first)
MARK = "groups_rowid"


def refresh_groups(db: sqlite_utils.Database, batch: int = BATCH) -> int:
    """Group the opinions stored since the last refresh; returns how many joined a group."""
    conn = db.conn
    joined = 0
    with db.atomic():
        row = conn.execute("SELECT value FROM meta WHERE key = ?", [MARK]).fetchone()
        mark = int(row[0]) if row else 0
        top = conn.execute("SELECT max(rowid) FROM comments").fetchone()[0] or 0
        while mark < top:
            rows = conn.execute(
                "SELECT rowid, id, text, district FROM comments WHERE rowid > ? AND rowid <= ? "
                "AND is_official = 0 AND deleted = 0 AND text <> '' ORDER BY rowid LIMIT ?",
                (mark, top, batch)).fetchall()
            if not rows:
                break
            joined += _group(conn, rows)
            mark = rows[-1][0]
        conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE "
                     "SET value = excluded.value", (MARK, str(top)))
    return joined


def _group(conn: sqlite3.Connection, rows: list[tuple]) -> int:
    grams = [shingles(text) for _, _, text, _ in rows]
    keys = band_keys([(g, district) for g, (_, _, _, district) in zip(grams, rows)])
    known: dict[int, frozenset[str]] = {}  # rowid -> shingles, of this batch and candidates
    joined = 0
    for (rowid, cid, _, _), g, bands in zip(rows, grams, keys):
        if not bands:
            continue
        found = [r[0] for r in conn.execute(
            "SELECT DISTINCT comment_rowid FROM group_bands WHERE band IN "
            "(SELECT value FROM json_each(?)) ORDER BY comment_rowid DESC LIMIT ?",
            (json.dumps(bands), CANDIDATES))]
        best = _best(conn, g, found, known)
        if best is not None:
            _join(conn, rowid, cid, best)
            joined += 1
        conn.executemany("INSERT OR IGNORE INTO group_bands (band, comment_rowid) VALUES (?, ?)",
                         [(b, rowid) for b in bands])
        known[rowid] = g
    return joined


def _join(conn: sqlite3.Connection, rowid: int, cid: str, best: int) -> None:
    """Put opinion `rowid` in the group of `best`. The group's id is its earliest-written
    opinion (created_at, id), whatever order they were stored in (a re-fetched page, a
    later import): a new member written earlier renames the group."""
    gid, first_at = conn.execute(
        "SELECT coalesce(b.group_id, b.id), g.created_at FROM comments b LEFT JOIN comments g "
        "ON g.id = coalesce(b.group_id, b.id) WHERE b.rowid = ?", [best]).fetchone()
    conn.execute("UPDATE comments SET group_id = ? WHERE rowid IN (?, ?) "
                 "AND group_id IS NOT ?", (gid, best, rowid, gid))
    if first_at is None:  # the group's first opinion is gone (erased): the earliest left
        first = conn.execute("SELECT id FROM comments WHERE group_id = ? "
                             "ORDER BY created_at, id LIMIT 1", [gid]).fetchone()[0]
    else:  # the id is the earliest member's: only the new one can be earlier
        at = conn.execute("SELECT created_at FROM comments WHERE rowid = ?",
                          [rowid]).fetchone()[0]
        first = cid if (at, cid) < (first_at, gid) else gid
    if first != gid:
        conn.execute("UPDATE comments SET group_id = ? WHERE group_id = ?", (first, gid))


def _best(conn: sqlite3.Connection, grams: frozenset[str], found: list[int],
          known: dict[int, frozenset[str]]) -> int | None:
    """The most similar candidate at or above THRESHOLD (the earliest on a tie)."""
    missing = [r for r in found if r not in known]
    if missing:
        for rowid, text in conn.execute(
                "SELECT rowid, text FROM comments WHERE rowid IN "
                "(SELECT value FROM json_each(?)) AND deleted = 0", [json.dumps(missing)]):
            known[rowid] = shingles(text)
    scored = [(jaccard(grams, known[r]), -r) for r in found if r in known]
    top = max(scored, default=None)
    return -top[1] if top and top[0] >= THRESHOLD else None
