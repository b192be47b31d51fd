"""`backfill`: keywords and crisis tags for comments stored before migrations 5 and 7 get the
values a fresh normalization gives them; the digest then re-analyses no text, the rollups
stay in step, and a second run changes nothing."""
from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import pytest
from conftest import ROOT, sim_collect
from test_x import small_world

import commands
from digest.build import build_digest, day_window
from store import digest_queries as q
from store.backfill import pending_count
from store.db import connect, rollup_drift

IN_STEP = {"opinion_days": 0, "keyword_days": 0, "answer_days": 0, "center_counts": 0,
           "center_days": 0}
DAY = "2026-11-24"
NOW = "2026-11-25T00:00:00Z"
TAGS = "SELECT id, keywords, crisis FROM comments ORDER BY id"


@pytest.fixture(scope="module")
def collected(tmp_path_factory, accounts) -> Path:
    """A simulated collect: every comment as the normalizer stores it today."""
    path = tmp_path_factory.mktemp("backfill") / "smc.db"
    sim_collect(path, accounts, small_world(accounts), platforms=("x", "youtube"))
    return path


def whole_window() -> tuple[str, str]:
    """From well before the data to well after it: every opinion."""
    return day_window("2026-10-01")[0], day_window("2026-12-31")[1]


def reanalysed(path: Path) -> tuple[int, int, int]:
    """What the digest would analyse itself: (opinions without a crisis tag, without
    keywords) of the rollups, and the texts it would read for them."""
    db = connect(path)
    start, end = whole_window()
    untagged, unkeyed = q.untagged_rolled(db, start, end)
    texts = len(q.opinion_texts(db, start, end)) + len(
        q.opinion_texts_without_keywords(db, start, end, DAY))
    return untagged, unkeyed, texts


def backfill(path: Path, capsys, *options: str) -> tuple[str, str]:
    assert commands.main(["--db", str(path), "backfill", *options]) == 0
    out = capsys.readouterr()
    return out.out, out.err


def test_backfill_gives_old_rows_what_a_fresh_normalization_does(collected, tmp_path, capsys):
    path = tmp_path / "old.db"
    shutil.copy(collected, path)
    fresh = connect(path).execute(TAGS).fetchall()
    digest = asdict(build_digest(connect(path), DAY, now=NOW))
    assert reanalysed(path) == (0, 0, 0)
    conn = sqlite3.connect(path)  # rows as stored before migrations 5 and 7
    conn.execute("UPDATE comments SET keywords = NULL, crisis = NULL "
                 "WHERE is_official = 0 AND rowid % 3 = 0")
    conn.execute("UPDATE comments SET keywords = NULL WHERE is_official = 0 AND rowid % 3 = 1")
    conn.execute("UPDATE comments SET crisis = NULL WHERE is_official = 0 AND rowid % 3 = 2")
    conn.commit()
    conn.close()
    untagged, unkeyed, texts = reanalysed(path)
    assert untagged and unkeyed and texts
    todo = pending_count(connect(path))
    assert todo > 50

    out, err = backfill(path, capsys, "--batch", "7")
    assert f"{todo:,} comments read, {todo:,} filled" in out and len(out.splitlines()) == 1
    assert f"backfill: {todo:,} of {todo:,} comments" in err  # progress on stderr
    db = connect(path)
    assert db.execute(TAGS).fetchall() == fresh
    assert reanalysed(path) == (0, 0, 0)
    assert rollup_drift(db) == IN_STEP
    assert asdict(build_digest(db, DAY, now=NOW)) == digest

    out, _ = backfill(path, capsys)  # again: nothing to do, nothing changed
    assert "nothing to fill" in out
    assert connect(path).execute(TAGS).fetchall() == fresh


def test_backfill_leaves_what_the_normalizer_leaves(collected, tmp_path, capsys):
    """Official answers keep no keywords and no tag, tombstones stay blank, an empty citizen
    text gets keywords '' and no tag (as make_comment gives it); a row the collector filled
    meanwhile keeps its values."""
    path = tmp_path / "old.db"
    shutil.copy(collected, path)
    db = connect(path)
    official, citizen = (db.execute("SELECT id FROM comments WHERE is_official = ? "
                                    "ORDER BY id LIMIT 1", [n]).fetchone()[0] for n in (1, 0))
    db.execute("UPDATE comments SET deleted = 1 WHERE id = ?", [citizen])  # tombstone
    empty = db.execute("SELECT id FROM comments WHERE is_official = 0 AND deleted = 0 "
                       "ORDER BY id LIMIT 1").fetchone()[0]
    db.execute("UPDATE comments SET text = '', keywords = NULL, crisis = NULL WHERE id = ?",
               [empty])
    before = db.execute(TAGS).fetchall()
    out, _ = backfill(path, capsys)
    assert "1 comments read, 1 filled (1 keywords, 0 crisis tags)" in out
    after = {i: (k, c) for i, k, c in connect(path).execute(TAGS).fetchall()}
    assert after[official] == (None, None)
    assert after[citizen] == (None, {i: c for i, _, c in before}[citizen])
    assert after[empty] == ("", None)
    assert rollup_drift(connect(path)) == IN_STEP


def test_backfill_skips_a_row_that_changed_since_it_was_read(collected, tmp_path):
    from store.backfill import backfill_tags

    path = tmp_path / "old.db"
    shutil.copy(collected, path)
    db = connect(path)
    target = db.execute("SELECT id FROM comments WHERE is_official = 0 AND deleted = 0 "
                        "ORDER BY rowid LIMIT 1").fetchone()[0]
    db.execute("UPDATE comments SET keywords = NULL WHERE id = ?", [target])

    def analyse(texts: list[str]) -> list[tuple[str | None, str | None]]:
        # a collect stores the row again while the batch is being analysed
        db.execute("UPDATE comments SET keywords = 'collector' WHERE id = ?", [target])
        return [("backfill", "") for _ in texts]

    got = backfill_tags(db, analyse)
    assert (got["rows"], got["changed"]) == (1, 0)
    assert db.execute("SELECT keywords FROM comments WHERE id = ?", [target]).fetchone() == (
        "collector",)


@pytest.mark.parametrize("make, words", [
    (None, "no database at"),
    (lambda p: p.mkdir(), "a directory"),
    (lambda p: p.write_text("not a database", encoding="utf-8"), "is not an SQLite database"),
])
def test_backfill_without_a_usable_database_says_so_in_one_line(tmp_path, make, words):
    path = tmp_path / "smc.db"
    if make:
        make(path)
    proc = subprocess.run([sys.executable, "run_pipeline.py", "backfill", "--db", str(path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and words in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert make or not path.exists()  # a missing database is not created


def test_backfill_has_help():
    parser = commands.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    command = sub.choices["backfill"]
    assert command.description
    assert all(a.help for a in command._actions)
