"""The store: migrations, upsert semantics, one transaction per page."""
from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from normalize.schema import Comment, Post, Quarantine
from store.db import MIGRATIONS, connect, schema_version
from store.writer import Writer

import shipped_schema


def comment(i: int, text: str = "택시요금이 올랐어요", **kw: Any) -> Comment:
    base: dict[str, Any] = dict(id=f"x:{i}", platform="x", account="x_seoul_taxi", native_id=str(i),
                post_id="x:1", parent_id=None, author_key="k", author_name=None, is_official=0,
                text=text, lang="ko", created_at="2026-11-24T01:00:00Z", tokens="택시 요금")
    base.update(kw)
    return Comment(**base)


POST = Post(id="x:1", platform="x", account="x_seoul_taxi", native_id="1", text="공지",
            lang="ko", created_at="2026-11-23T01:00:00Z", comment_count=2)


def test_first_schema_version_upgrades_with_data_intact(tmp_path):
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    import sqlite_utils

    db = sqlite_utils.Database(conn)
    assert shipped_schema.migrate(db, target=1) == 1
    conn.execute("INSERT INTO comments (id, platform, account, native_id, text, lang, "
                 "created_at, content_hash, first_seen, last_seen) VALUES "
                 "('x:9', 'x', 'x_seoul_bus', '9', '침수됐어요', 'ko', '2026-11-24T00:00:00Z', "
                 "1, '2026-11-24T00:00:00Z', '2026-11-24T00:00:00Z')")
    conn.execute("INSERT INTO cursors VALUES ('x_seoul_bus', 'mentions', '9', "
                 "'2026-11-24T00:00:00Z', NULL)")
    conn.close()
    db = connect(path)  # upgrades to the current version
    assert schema_version(db) == len(MIGRATIONS) > 1
    row = db.execute("SELECT text, first_seen FROM comments WHERE id = 'x:9'").fetchone()
    assert row == ("침수됐어요", "2026-11-24T00:00:00Z")
    assert db.execute("SELECT value FROM cursors").fetchone() == ("9",)
    assert db.execute("SELECT status FROM opinions WHERE id = 'x:9'").fetchone() == ("received",)
    assert connect(path) and schema_version(db) == len(MIGRATIONS)  # idempotent


def test_upsert_counts_and_keeps_first_seen(tmp_path):
    clock = iter(["2026-11-25T00:00:00Z", "2026-11-25T01:00:00Z", "2026-11-25T02:00:00Z",
                  "2026-11-25T03:00:00Z"] * 3)
    writer = Writer(connect(tmp_path / "s.db"), clock=lambda: next(clock))
    raws = [{"id": "1"}, {"id": "2"}, {"id": "3"}]
    stats = writer.write_page("x_seoul_taxi", "comment", [POST, comment(2), comment(3)], raws)
    assert (stats.inserted, stats.updated, stats.unchanged) == (3, 0, 0)
    stats = writer.write_page("x_seoul_taxi", "comment",
                              [POST, comment(2), comment(3, text="택시요금 인상 반대합니다")], raws)
    assert (stats.inserted, stats.updated, stats.unchanged) == (0, 1, 2)
    row = writer.db.execute("SELECT first_seen, last_seen, edited_at FROM comments "
                            "WHERE id = 'x:3'").fetchone()
    # edited_at is the platform's, never the time we saw a change; the earlier text is kept
    assert row == ("2026-11-25T00:00:00Z", "2026-11-25T01:00:00Z", None)
    assert writer.db.execute("SELECT version, text, seen_at FROM versions WHERE id = 'x:3'"
                             ).fetchall() == [("seen:2026-11-25T00:00:00Z", comment(3).text,
                                               "2026-11-25T01:00:00Z")]
    assert writer.db.execute("SELECT count(*) FROM comments_fts WHERE comments_fts MATCH '택시'"
                             ).fetchone()[0] == 2


def test_answer_by_another_account_keeps_the_first_account(tmp_path):
    writer = Writer(connect(tmp_path / "s.db"))
    writer.write_page("x_seoul_taxi", "comment", [comment(5)], [{}])
    moved = comment(5, account="x_seoulmania")
    stats = writer.write_page("x_seoulmania", "comment", [moved], [{}])
    assert stats.unchanged == 1
    assert writer.db.execute("SELECT account FROM comments").fetchone() == ("x_seoul_taxi",)


def test_a_page_and_its_cursor_are_one_transaction(tmp_path):
    writer = Writer(connect(tmp_path / "s.db"))
    bad = comment(7, created_at=None)  # NOT NULL violation half-way through the page
    with pytest.raises(sqlite3.IntegrityError):
        writer.write_page("x_seoul_taxi", "comment", [comment(6), bad], [{}, {}],
                          cursor=("mentions", "7"))
    assert writer.db.execute("SELECT count(*) FROM comments").fetchone() == (0,)
    assert writer.db.execute("SELECT count(*) FROM cursors").fetchone() == (0,)


def test_quarantine_is_deduplicated_and_counted(tmp_path):
    writer = Writer(connect(tmp_path / "s.db"))
    for _ in range(3):
        writer.write_page("x_seoul_taxi", "comment", [], [],
                          [(Quarantine("tweet without text", "12"), {"id": "12"})], platform="x")
    assert writer.db.execute("SELECT reason, times_seen FROM quarantine").fetchall() == [
        ("tweet without text", 3)]


def test_tombstone_marks_unseen_comments_deleted_and_keeps_rows(tmp_path):
    writer = Writer(connect(tmp_path / "s.db"))
    writer.write_page("x_seoul_taxi", "comment", [POST, comment(2), comment(3)], [{}] * 3)
    stats = writer.write_page("x_seoul_taxi", "comment", [comment(2)], [{}],
                              tombstone=("x:1", ["x:2"]))
    assert stats.tombstoned == 1
    assert writer.db.execute("SELECT id, deleted FROM comments ORDER BY id").fetchall() == [
        ("x:2", 0), ("x:3", 1)]
    stats = writer.write_page("x_seoul_taxi", "comment", [comment(3)], [{}])
    assert stats.updated == 1  # it came back: no longer a tombstone
    assert writer.db.execute("SELECT deleted FROM comments WHERE id = 'x:3'").fetchone() == (0,)


def test_answers_derive_from_threads_in_any_order(tmp_path):
    writer = Writer(connect(tmp_path / "s.db"))
    answer = comment(30, text="답변드립니다", is_official=1, parent_id="x:21",
                     created_at="2026-11-24T03:00:00Z")
    writer.write_page("x_seoul_taxi", "comment", [answer], [{}])  # the answer arrives first
    writer.refresh_answers()
    question = comment(20)
    follow_up = comment(21, parent_id="x:20", created_at="2026-11-24T02:00:00Z")
    writer.write_page("x_seoul_taxi", "comment", [question, follow_up], [{}, {}])
    writer.refresh_answers()
    rows = dict(writer.db.execute("SELECT id, status FROM opinions").fetchall())
    assert rows == {"x:20": "answered", "x:21": "answered"}
    minutes = writer.db.execute("SELECT response_minutes FROM opinions WHERE id = 'x:20'"
                                ).fetchone()[0]
    assert minutes == 120


@pytest.mark.parametrize("before, column, value", [(4, "keywords", "침수"),
                                                   (6, "crisis", "flooding")])
def test_column_migrations_keep_the_views(tmp_path, before, column, value):
    """Migrations 5 and 7 add comments.keywords / comments.crisis (NULL for rows stored
    before), exposed by `opinions`; the views built on `opinions` still work."""
    import sqlite_utils

    path = tmp_path / f"v{before}.db"
    conn = sqlite3.connect(path, isolation_level=None)
    assert shipped_schema.migrate(sqlite_utils.Database(conn), target=before) == before
    conn.execute("INSERT INTO comments (id, platform, account, native_id, text, lang, "
                 "created_at, content_hash, first_seen, last_seen) VALUES "
                 "('x:9', 'x', 'x_seoul_bus', '9', '침수됐어요', 'ko', '2026-11-24T00:00:00Z', "
                 "1, '2026-11-24T00:00:00Z', '2026-11-24T00:00:00Z')")
    conn.close()
    db = connect(path)
    assert schema_version(db) == len(MIGRATIONS) > before
    assert db.execute(f"SELECT {column}, status FROM opinions WHERE id = 'x:9'").fetchone() == (
        None, "received")
    for view in ("center", "daily_stats", "reflection"):
        db.execute(f"SELECT * FROM {view}").fetchall()
    db.execute(f"UPDATE comments SET {column} = ? WHERE id = 'x:9'", [value])
    assert db.execute(f"SELECT {column} FROM opinions").fetchone() == (value,)


def test_make_comment_tags_crisis_for_citizens_only():
    from dataclasses import replace as dc_replace
    from pathlib import Path

    from normalize.common import make_comment
    from normalize.schema import Context
    from normalize.tags import Tagger, load_rules

    rules = Path(__file__).resolve().parent.parent / "config" / "rules.yaml"
    ctx = Context(platform="x", account="x_seoul_bus", secret=b"s" * 32,
                  tagger=Tagger(load_rules(rules)))

    def made(text: str, official: bool = False, c: Context = ctx):
        return make_comment(c, native_id="1", post_native=None, parent_native=None,
                            author_id=None, author_name=None, is_official=official, text=text,
                            created_at="2026-11-24T00:00:00Z").crisis

    assert made("지하차도가 침수됐어요") == "flooding"
    assert made("버스 시간 문의") == ""  # tagged, no crisis
    assert made("지하차도가 침수됐어요", official=True) is None
    assert made("지하차도가 침수됐어요", c=dc_replace(ctx, tagger=None)) is None
