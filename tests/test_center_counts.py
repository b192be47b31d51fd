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
        "select coalesce(sum(n), 0) from center_day_facets ",
        "select count(*) from center_rows "]
    # a quoted name the view lacks would be a string in SQLite: not that view
    assert rollup_queries('select count(*) from center where "district" = :p0 ') == [
        'select coalesce(sum(n), 0) from center_facets where "district" = :p0 ',
        'select count(*) from center_rows where "district" = :p0 ']
    assert rollup_queries('select count(*) from center where "text" = :p0 ') == []
    assert rollup_queries("select count(*) from comments ") == []
    assert rollup_queries("select count(*) from center_facets ") == []
    assert rollup_queries("select * from center order by created_at desc limit 51") == []


@pytest.mark.parametrize("query, first", [
    ("district=강남구&seoul_day=2026-11-24", "center_rows"), ("lang=ko", "center_rows"),
    ("category=complaint&seoul_day=2026-11-24", "center_day_facets"),
    ("category=complaint&status=received", "center_facets")])
def test_filters_read_the_narrowest_form_that_has_their_columns(centre_db, served, query,
                                                                first):
    """A category with a Seoul day: center_days; a district with a Seoul day, or a lang:
    center_rows (the rollups lack them), not the view; the count and facets are the view's."""
    from center.plugins.smc_center import rollup_queries

    where = " and ".join(f'"{k}" = :p{i}' for i, k in
                         enumerate(part.split("=")[0] for part in query.split("&")))
    tried = rollup_queries(f"select count(*) from center where {where}")
    assert tried and tried[0].split(" from ")[1].split()[0] == first, tried
    test_count_and_facets_equal_a_group_by_over_the_view(centre_db, served, query)


def plan(conn: sqlite3.Connection, sql: str, params: dict | None = None) -> str:
    return " | ".join(r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + sql, params or {}))


@pytest.mark.parametrize("where", ["", "WHERE district = '강남구'", "WHERE status = 'assigned'",
                                   "WHERE account = 'x_seoulmania'",
                                   "WHERE seoul_day = '2026-11-24'"])
def test_the_centre_list_reads_an_index_in_its_order(centre_db, where):
    """Newest first, filtered or not: an index in created_at order, no sort of every match
    (at a million opinions a district's 20,000 were sorted on every page)."""
    conn = sqlite3.connect(centre_db)
    shown = plan(conn, f"SELECT * FROM center {where} ORDER BY created_at DESC LIMIT 51")
    conn.close()
    assert "TEMP B-TREE" not in shown, shown
    assert "USING INDEX comments_" in shown, shown


def test_overdue_reads_the_open_opinions_index(centre_db):
    """The overdue query reads the open opinions oldest first from their index: its WHERE
    must stay the index's (comments_opinion_open) for SQLite to use it."""
    from center.app import datasette_metadata

    sql = datasette_metadata(centre_db)["databases"]["smc"]["queries"]["overdue"]["sql"]
    conn = sqlite3.connect(centre_db)
    shown = plan(conn, sql, {"hours": ""})
    open_ids = [r[0] for r in conn.execute(
        "SELECT id FROM center WHERE status NOT IN ('answered', 'resolved', 'dismissed') "
        "AND created_at < strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-24 hours') "
        "ORDER BY created_at, id LIMIT 1000")]
    got = [r[0] for r in conn.execute(sql, {"hours": ""})]
    conn.close()
    assert "USING INDEX comments_opinion_open" in shown and "TEMP B-TREE" not in shown, shown
    assert got == open_ids and got


def test_the_rows_written_in_python_are_datasettes_cells(served):
    """_table.html and query.html write their rows with smc_table_rows / smc_query_rows:
    every row and cell there, classes as Datasette's, text escaped, links and times kept."""
    import re

    page = get(served, "/smc/center?_size=7").text
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    rows = re.findall(r"<tr>(.*?)</tr>", body, re.DOTALL)
    assert len(rows) == 7
    columns = get(served, "/smc/center.json?_size=1").json()["columns"]
    assert all(len(re.findall(r'<td class="col-', row)) == len(columns) for row in rows)
    assert '<td class="col-id type-str"><a class="smc-opinion" href="/smc/opinion?id=' in body
    assert 'class="smc-kst"' in body
    overdue = get(served, "/smc/overdue?hours=0").text
    body = overdue.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    assert body.count("<tr>") == body.count("</tr>") > 0
    assert '<td class="col-hours_waiting">' in body and "<script" not in body


def test_cells_are_escaped_and_classed_as_datasette_does():
    from datasette.utils import to_css_class
    from markupsafe import Markup

    from center.plugins.smc_center import smc_query_rows, smc_table_rows

    rows = [[{"column": "text", "value": "<b>&", "value_type": "str"},
             {"column": "id", "value": Markup('<a href="x">x</a>'), "value_type": "str"},
             {"column": "a b", "value": None, "value_type": "none"}]]
    assert smc_table_rows(rows) == (
        '<tr><td class="col-text type-str">&lt;b&gt;&amp;</td>'
        '<td class="col-id type-str"><a href="x">x</a></td>'
        f'<td class="col-{to_css_class("a b")} type-none">None</td></tr>\n')
    assert smc_query_rows(["text", "n"], [["<b>&", 3]]) == (
        '<tr><td class="col-text">&lt;b&gt;&amp;</td><td class="col-n">3</td></tr>\n')


UNANSWERED_BY_DEPARTMENT = """
    SELECT department, count(*) AS open_opinions,
           sum(created_at < strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-24 hours')) AS overdue_24h,
           min(created_at) AS oldest, group_concat(DISTINCT account) AS accounts
    FROM center
    WHERE status NOT IN ('answered', 'resolved', 'dismissed')
    GROUP BY department"""


def test_unanswered_by_department_equals_a_group_by_over_the_centre(centre_db, tmp_path):
    """The canned query reads center_counts and the few open opinions a case moved or the
    last 24 hours hold: the same figures as a GROUP BY over every open opinion."""
    import shutil

    from center.app import datasette_metadata

    path = tmp_path / "smc.db"
    shutil.copy(centre_db, path)
    db = connect(path)
    ids = [r[0] for r in db.execute("SELECT id FROM opinions WHERE status = 'received' "
                                    "ORDER BY id")]
    for i, moved in enumerate(ids[:6]):  # cases that move opinions, or keep them, or close
        cases.set_status(db, cases.Change(moved, ("assigned", "in_progress", "dismissed")[i % 3],
                                          department=("문화정책과", None)[i % 2], by="staff"))
    db.execute("UPDATE comments SET created_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now', "
               "'-1 hours') WHERE id IN (?, ?, ?)", [ids[0], ids[7], ids[8]])
    db.conn.commit()
    sql = datasette_metadata(path)["databases"]["smc"]["queries"][
        "unanswered_by_department"]["sql"]

    def rows(query: str) -> list:
        return sorted((d, n, late, oldest, frozenset(accounts.split(",")))
                      for d, n, late, oldest, accounts in db.execute(query))

    want = rows(UNANSWERED_BY_DEPARTMENT)
    assert rows(sql) == want and len(want) > 1 and any(r[0] == "문화정책과" for r in want)
    assert any(r[1] > r[2] for r in want)  # some wait less than 24 h
    db.conn.close()
