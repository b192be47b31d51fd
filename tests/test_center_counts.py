"""The centre at a million (issue #17, migration 14): comments.status kept by the triggers on
answers and cases equals the derivation the views made before; the centre's count and facets
read from the rollups equal a count and GROUP BY over the `center` view; the page still
shows its facets."""
from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
import sqlite_utils
from conftest import sim_collect
from test_center import scenario_world
from test_rollups import IN_STEP, POST, answer, opinion

from store import cases
from store.db import connect, rebuild_rollups, rollup_drift
from store.writer import Writer

# The status as the views derived it before migration 14: the staff's, else answered when
# it has a derived answer, else received.
DERIVED = """
    SELECT c.id, COALESCE(k.status, CASE WHEN a.answer_id IS NOT NULL THEN 'answered'
                                    ELSE 'received' END)
    FROM comments c LEFT JOIN answers a ON a.comment_id = c.id
    LEFT JOIN cases k ON k.comment_id = c.id
    WHERE c.is_official = 0 ORDER BY c.id"""


def stored(db: sqlite_utils.Database) -> list[tuple]:
    return db.execute("SELECT id, status FROM comments WHERE is_official = 0 ORDER BY id"
                      ).fetchall()


def in_step(db: sqlite_utils.Database) -> None:
    assert stored(db) == db.execute(DERIVED).fetchall()
    assert rollup_drift(db) == IN_STEP


def test_status_follows_answers_cases_deletes_and_reopen(tmp_path):
    writer = Writer(connect(tmp_path / "s.db"))
    db = writer.db
    writer.write_page("x_seoul_taxi", "comment", [POST, opinion(2), opinion(3), opinion(4)],
                      [{}] * 4)
    assert {s for _, s in stored(db)} == {"received"}
    writer.write_page("x_seoul_taxi", "comment", [answer(5, 2, "2026-11-24T02:00:00Z")], [{}])
    writer.refresh_answers()
    in_step(db)
    assert dict(stored(db))["x:2"] == "answered"
    # staff override the derived answer, assign another, then reopen (received again)
    cases.set_status(db, cases.Change("x:2", "resolved", by="staff"))
    cases.set_status(db, cases.Change("x:3", "assigned", department="교통정책과", by="staff"))
    in_step(db)
    cases.set_status(db, cases.Change("x:3", "received", by="staff", action="reopen"))
    in_step(db)
    assert dict(stored(db)) == {"x:2": "resolved", "x:3": "received", "x:4": "received"}
    # a case removed by hand: back to the derivation (answered for x:2)
    db.execute("DELETE FROM cases WHERE comment_id = 'x:2'")
    in_step(db)
    assert dict(stored(db))["x:2"] == "answered"
    # the answer's comment deleted: its answers row goes with it (a trigger), status follows
    db.execute("DELETE FROM comments WHERE id = 'x:5'")
    db.execute("DELETE FROM answers WHERE comment_id = 'x:2'")
    in_step(db)
    assert dict(stored(db))["x:2"] == "received"
    # an answers row moved to another opinion (x:3's case, reopened, says received)
    db.execute("INSERT INTO answers VALUES ('x:4', 'x:9', '2026-11-24T03:00:00Z')")
    assert dict(stored(db))["x:4"] == "answered"
    db.execute("UPDATE answers SET comment_id = 'x:2' WHERE comment_id = 'x:4'")
    in_step(db)
    assert dict(stored(db)) == {"x:2": "answered", "x:3": "received", "x:4": "received"}
    # a comment row deleted and stored again keeps its case
    cases.set_status(db, cases.Change("x:4", "dismissed", by="staff"))
    db.execute("DELETE FROM comments WHERE id = 'x:4'")
    writer.write_page("x_seoul_taxi", "comment", [opinion(4)], [{}])
    in_step(db)
    assert dict(stored(db))["x:4"] == "dismissed"
    # a tombstone keeps its status and is still counted (the centre shows it)
    db.execute("UPDATE comments SET deleted = 1 WHERE id = 'x:3'")  # as a tombstone
    in_step(db)
    assert db.execute("SELECT sum(n) FROM center_counts WHERE deleted = 1").fetchone() == (1,)


def test_rebuild_recounts_the_centre_counts(tmp_path):
    writer = Writer(connect(tmp_path / "r.db"))
    db = writer.db
    writer.write_page("x_seoul_taxi", "comment", [POST, opinion(2), opinion(3)], [{}] * 3)
    db.execute("UPDATE center_counts SET n = n + 5")
    db.execute("DELETE FROM center_days")
    assert rollup_drift(db)["center_counts"] and rollup_drift(db)["center_days"]
    rebuild_rollups(db)
    assert rollup_drift(db) == IN_STEP


# --- the served centre: counts and facets from the rollups equal the view's ---------------
@pytest.fixture(scope="module")
def centre_db(accounts, tmp_path_factory) -> Path:
    """The X scenario world collected, with staff cases and a tombstone."""
    world, _ = scenario_world(accounts, "x")
    chosen = [a for a in accounts if a.key in world.accounts]
    path = tmp_path_factory.mktemp("centre") / "smc.db"
    sim_collect(path, chosen, world, platforms=("x",))
    db = connect(path)
    ids = [r[0] for r in db.execute("SELECT id FROM opinions ORDER BY id")]
    cases.set_status(db, cases.Change(ids[0], "dismissed", by="staff"))
    cases.set_status(db, cases.Change(ids[1], "in_progress", department="교통정책과",
                                      by="staff"))
    db.execute("UPDATE comments SET deleted = 1 WHERE id = ?", [ids[2]])
    in_step(db)
    db.conn.close()
    return path


def get(ds, path: str):
    return asyncio.run(ds.client.get(path))


@pytest.fixture(scope="module")
def served(centre_db):
    from center.app import build_datasette

    ds = build_datasette(centre_db)
    asyncio.run(ds.invoke_startup())
    return ds


FACETS = ("platform", "account", "field", "status", "district", "category", "seoul_day")


@pytest.mark.parametrize("query", ["", "status=received", "platform=x", "district=강남구",
                                   "status=answered&category=complaint", "deleted=1",
                                   "seoul_day=2026-11-24", "field=transport&status=dismissed",
                                   "text__contains=택시", "department=교통정책과"])
def test_count_and_facets_equal_a_group_by_over_the_view(centre_db, served, query):
    """Whatever the filter (one the rollups answer or not: text, department), the centre's
    count and every facet's counts are the view's."""
    data = get(served, f"/smc/center.json?{query}&_size=1").json()
    conn = sqlite3.connect(centre_db)
    where, params = [], []
    for part in filter(None, query.split("&")):
        key, value = part.split("=")
        if key.endswith("__contains"):
            where.append(f"{key[:-10]} LIKE ?")
            params.append(f"%{value}%")
        else:
            where.append(f"{key} = ?")
            params.append(value)
    sql_where = f"WHERE {' AND '.join(where)}" if where else ""
    count = conn.execute(f"SELECT count(*) FROM center {sql_where}", params).fetchone()[0]
    assert data["filtered_table_rows_count"] == count
    assert sorted(data["facet_results"]) == sorted(FACETS)  # none timed out
    for facet in FACETS:
        want = conn.execute(f"SELECT {facet}, count(*) FROM center {sql_where} "
                            f"{'AND' if where else 'WHERE'} {facet} IS NOT NULL "
                            f"GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 30", params).fetchall()
        got = [(r["value"], r["count"]) for r in data["facet_results"][facet]["results"]]
        assert got == [tuple(w) for w in want], (query, facet)
    conn.close()


def test_the_centre_page_shows_its_facets_count_and_links(centre_db, served):
    page = get(served, "/smc/center?status=received")
    assert page.status_code == 200
    html = page.text
    conn = sqlite3.connect(centre_db)
    received = conn.execute("SELECT count(*) FROM center WHERE status = 'received'"
                            ).fetchone()[0]
    assert f"{received:,} row" in html
    for facet in FACETS:
        assert f'data-column="{facet}"' in html, facet
    assert 'class="smc-opinion"' in html and "/smc/opinion?id=" in html
    assert "Suggested facets" not in html


def test_rollup_queries_leave_other_sql_alone():
    from center.plugins.smc_center import rollup_queries

    assert rollup_queries("select count(*) from center ") == [
        "select coalesce(sum(n), 0) from center_facets ",
        "select coalesce(sum(n), 0) from center_day_facets "]
    # a quoted name the view lacks would be a string in SQLite: not that view
    assert rollup_queries('select count(*) from center where "district" = :p0 ') == [
        'select coalesce(sum(n), 0) from center_facets where "district" = :p0 ']
    assert rollup_queries('select count(*) from center where "text" = :p0 ') == []
    assert rollup_queries("select count(*) from comments ") == []
    assert rollup_queries("select count(*) from center_facets ") == []
    assert rollup_queries("select * from center order by created_at desc limit 51") == []
