"""Issue #14: citizens' links and handles, deletions honoured, unmasked payloads in a file of
their own, compliance output applied, bad databases refused (the secrets: test_secrets_
everywhere.py; CSV and shown text: test_center.py, test_digest_render.py)."""
from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from normalize.common import CITIZEN_HANDLE, mask_handles
from normalize.schema import Comment, Context, Quarantine
from normalize.x import compliance_event, normalize_tweet
from core.accounts import Account
from store.db import (
    DELETED_TEXT, MIGRATIONS, UNMASKED, UnusableDatabase, connect, open_plain,
    unmasked_path,
)
from store.writer import Writer

import shipped_schema
from conftest import FIXTURES, ROOT, sim_collect
from test_x import small_world

KEY = b"security-test-key-" + b"k" * 24
CTX = Context(platform="x", account="x_seoulmania", secret=KEY,
              official_ids=frozenset({"100"}), official_handles=frozenset({"seoulmania"}))


def cli(*args: str, db: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "run_pipeline.py", "--db", str(db), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", **(env or {})})


# --- 2. links and handles name no citizen --------------------------------------------------
def test_citizens_x_links_carry_no_handle_and_official_ones_keep_theirs():
    users = {"7": {"id": "7", "username": "alex1059", "name": "Alex"},
             "100": {"id": "100", "username": "seoulmania", "name": "서울특별시"}}
    citizen = normalize_tweet({"id": "21", "text": "@seoulmania @bob_99 택시 잡기 힘들어요",
                               "author_id": "7", "created_at": "2026-11-30T01:00:00.000Z",
                               "conversation_id": "20",
                               "referenced_tweets": [{"type": "replied_to", "id": "20"}]},
                              users, CTX)
    official = normalize_tweet({"id": "20", "text": "공지", "author_id": "100",
                                "created_at": "2026-11-30T00:00:00.000Z"}, users, CTX)
    assert citizen.url == "https://x.com/i/web/status/21"
    assert citizen.text == f"@seoulmania {CITIZEN_HANDLE} 택시 잡기 힘들어요"
    assert citizen.author_name is None and "alex" not in repr(citizen).lower()
    assert official.url == "https://x.com/seoulmania/status/20"


@pytest.mark.parametrize("text, expected", [
    ("@alex1059 동의합니다 👍", f"{CITIZEN_HANDLE} 동의합니다 👍"),
    ("＠alex1059 full-width at", f"{CITIZEN_HANDLE} full-width at"),
    ("@SeoulMania 시청 답변 부탁", "@SeoulMania 시청 답변 부탁"),  # the city, any case
    ("메일 hong@naver.com 로 주세요", "메일 hong@naver.com 로 주세요"),  # not a handle
    ("https://x.com/@abc/status/1", "https://x.com/@abc/status/1"),
    (f"{CITIZEN_HANDLE} 이미 가림", f"{CITIZEN_HANDLE} 이미 가림"),  # idempotent
])
def test_mask_handles(text, expected):
    assert mask_handles(text, frozenset({"seoulmania"})) == expected


def test_no_stored_or_served_column_names_a_citizen(accounts, tmp_path):
    db_path = tmp_path / "smc.db"
    world = small_world(accounts)
    sim_collect(db_path, accounts, world)
    conn = open_plain(db_path)
    handles = {a.handle.lower() for a in accounts}
    for platform, url in conn.execute("SELECT platform, url FROM comments WHERE "
                                      "is_official = 0 AND url IS NOT NULL"):
        if platform == "x":
            assert re.fullmatch(r"https://x\.com/i/web/status/\d+", url), url
        elif platform == "youtube":
            assert re.fullmatch(r"https://www\.youtube\.com/watch\?v=[\w-]+(&lc=[\w.-]+)?",
                                url), url
    assert conn.execute("SELECT count(*) FROM comments WHERE is_official = 0 AND "
                        "author_name IS NOT NULL").fetchone() == (0,)
    # an Instagram comment links to its media in the centre
    ig = conn.execute("SELECT c.url, p.url FROM center c JOIN posts p ON p.id = c.post_id "
                      "WHERE c.platform = 'instagram' LIMIT 1").fetchone()
    assert ig and ig[0] == ig[1] and ig[0].startswith("https://www.instagram.com/")
    for (text,) in conn.execute("SELECT text FROM center WHERE text LIKE '%@%'"):
        for handle in re.findall(r"@([A-Za-z0-9_.]+)", text):
            assert handle.lower() in handles, text


# --- 3. deletions --------------------------------------------------------------------------
def _comment(n: int, text: str, **kw) -> Comment:
    return Comment(id=f"x:{n}", platform="x", account="x_seoulmania", native_id=str(n),
                   post_id="x:1", parent_id=None, author_key="k", author_name=None,
                   is_official=0, text=text, lang="ko", district=None, category=None,
                   created_at="2026-11-30T00:00:00Z", tokens="택시 요금", keywords="택시 요금",
                   **kw)


def test_a_tombstone_keeps_id_times_and_history_but_not_its_words(tmp_path):
    writer = Writer(connect(tmp_path / "smc.db"), clock=lambda: "2026-11-30T01:00:00Z")
    writer.sync_accounts([Account("x_seoulmania", "x", "seoulmania", "서울시", "city", "general",
                                  "시민소통과", "ko", ("X_BEARER_TOKEN",), 15)])
    writer.write_page("x_seoulmania", "mentions", [_comment(2, "택시 요금이 너무 비싸요")],
                      [{"id": "2", "text": "택시 요금이 너무 비싸요"}],
                      [(Quarantine("bad", native_id="2"), {"id": "2", "text": "택시"})],
                      platform="x")
    writer.write_page("x_seoulmania", "mentions", [_comment(2, "택시 요금이 많이 비싸요")],
                      [{"id": "2", "text": "edited"}])  # an earlier version kept in versions
    db = writer.db
    db.execute("INSERT INTO cases (comment_id, status, updated_at) VALUES "
               "('x:2', 'assigned', '2026-11-30T01:00:00Z')")
    assert db.execute("SELECT count(*) FROM versions").fetchone() == (1,)
    with db.atomic():
        assert writer._tombstone("x:1", []) == 1
    row = writer.start_run("r", "x_seoulmania", "x")
    writer.finish_run(row, "ok", writer.write_page("x_seoulmania", "m", [], []), 1)
    assert db.execute("SELECT deleted, text, tokens, keywords, created_at FROM comments"
                      ).fetchall() == [(1, "", "", None, "2026-11-30T00:00:00Z")]
    # the search index agrees with the table, row for row
    db.execute("INSERT INTO comments_fts (comments_fts, rank) VALUES ('integrity-check', 1)")
    assert db.execute("SELECT count(*) FROM versions").fetchone() == (0,)
    assert db.execute("SELECT count(*) FROM comments_fts WHERE comments_fts MATCH '택시'"
                      ).fetchone() == (0,)
    for table in ("raw", "quarantine", "erasures"):
        assert db.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,), table
    assert db.execute("SELECT text, status, deleted FROM center").fetchone() == (
        DELETED_TEXT, "assigned", 1)
    assert db.execute("SELECT count(*) FROM opinions").fetchone() == (0,)


def test_a_comment_that_arrives_deleted_is_stored_without_words():
    deleted = normalize_tweet({"id": "21", "text": "지운 글", "author_id": "7",
                               "created_at": "2026-11-30T01:00:00.000Z"}, {}, CTX)
    assert deleted.text != ""  # a live tweet keeps its words ...
    from normalize.common import make_comment
    gone = make_comment(CTX, native_id="22", post_native=None, parent_native=None,
                        author_id="7", author_name=None, is_official=False, text="지운 글",
                        created_at="2026-11-30T01:00:00Z", deleted=True)
    assert gone.text == "" and gone.district is None  # ... a deleted one none


@pytest.mark.parametrize("line, expected", [
    ({"id": "5", "action": "delete", "reason": "deleted", "created_at": "2026-01-01T00:00:00Z",
      "redacted_at": "2026-11-25T12:40:00.603Z"}, ("delete", "5", "deleted", None)),
    ({"id": "5", "action": "delete", "reason": "protected"}, ("delete", "5", "protected", None)),
    ({"data": {"delete": {"tweet": {"id": "6", "author_id": "1"},
                          "event_at": "2026-11-25T12:00:00.000Z"}}}, ("delete", "6", "delete", None)),
    ({"data": {"withheld": {"tweet": {"id": "7", "author_id": "1"},
                            "withheld_in_countries": ["KR", "DE"]}}},
     ("withheld", "7", "withheld", "DE,KR")),
])
def test_x_compliance_lines(line, expected):
    event = compliance_event(line)
    assert (event.action, event.native_id, event.reason, event.countries) == expected


def test_x_compliance_output_is_imported_and_applied(accounts, tmp_path):
    db_path = tmp_path / "smc.db"
    sim_collect(db_path, accounts, small_world(accounts), platforms=("x",))
    conn = open_plain(db_path)
    gone, held = [r[0] for r in conn.execute(
        "SELECT native_id FROM comments WHERE platform = 'x' AND is_official = 0 LIMIT 2")]
    conn.close()
    lines = [{"id": gone, "action": "delete", "reason": "deleted"},
             {"data": {"withheld": {"tweet": {"id": held}, "withheld_in_countries": ["KR"]}}},
             {"id": "1", "action": "delete", "reason": "suspended"},  # an item we do not hold
             {"id": gone, "action": "delete", "reason": "deleted"}]  # again: unchanged
    saved = tmp_path / "compliance.jsonl"
    saved.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    proc = cli("import", "--platform", "x", "--account", "x_seoulmania", "--demo-key",
               str(saved), db=db_path)
    assert proc.returncode == 0, proc.stderr
    assert "4 read = 3 stored (0 new, 2 updated, 1 unchanged)" in proc.stdout
    conn = open_plain(db_path)
    assert conn.execute("SELECT deleted, text FROM comments WHERE native_id = ?",
                        (gone,)).fetchone() == (1, "")
    assert conn.execute("SELECT count(*) FROM raw WHERE id = ?", (f"x:{gone}",)).fetchone() == (0,)
    assert conn.execute("SELECT restricted, restricted_countries FROM comments WHERE "
                        "native_id = ?", (held,)).fetchone() == ("withheld", "KR")


def test_quarantine_expires_like_raw(tmp_path):
    from commands.common import purge_raw

    times = iter(["2020-01-01T00:00:00Z", "2099-01-01T00:00:00Z"])
    writer = Writer(connect(tmp_path / "smc.db"), clock=lambda: next(times))
    for n in (1, 2):
        writer.write_page("x_seoulmania", "m", [], [], [(Quarantine(f"bad {n}"), {"n": n})])
    assert purge_raw(writer, 30, quarantine_days=30) == 1
    assert writer.db.execute("SELECT reason FROM quarantine").fetchall() == [("bad 2",)]


# --- 4. unmasked payloads are out of the served file's reach --------------------------------
def test_unmasked_payloads_live_in_their_own_file_that_serve_never_opens(accounts, tmp_path):
    from center.app import build_datasette

    db_path = tmp_path / "smc.db"
    sim_collect(db_path, accounts, small_world(accounts), platforms=("x",))
    served = connect(db_path, unmasked=False)
    tables = {r[0] for r in served.execute("SELECT name FROM sqlite_master")}
    assert not {"raw", "quarantine"} & tables
    assert [r[1] for r in served.execute("PRAGMA database_list")] == ["main"]
    served.conn.close()
    assert Path(unmasked_path(db_path)).stat().st_mode & 0o077 == 0  # owner only
    ds = build_datasette(db_path, sql=True)  # analyst mode: any read-only SQL

    def sql(q: str) -> dict:
        return asyncio.run(ds.client.get(f"/smc.json?sql={q}&_shape=objects")).json()

    for query in ("select count(*) from raw", "select * from unmasked.quarantine",
                  f"attach database '{unmasked_path(db_path)}' as u"):
        assert not sql(query).get("ok", True) or sql(query).get("rows") == [], query
    assert [r["name"] for r in sql("select name from pragma_database_list")["rows"]] == ["main"]


# --- 1. migration 11 rewrites what was stored -----------------------------------------------
def test_migration_11_rewrites_links_scrubs_errors_and_moves_payloads(tmp_path):
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    import sqlite_utils
    shipped_schema.migrate(sqlite_utils.Database(conn), 10)
    token = "EAAGoldGraphPageToken1234567890"
    conn.executescript(f"""
        INSERT INTO comments (id, platform, account, native_id, post_id, author_key,
            is_official, text, lang, created_at, url, content_hash, first_seen, last_seen,
            deleted, tokens, keywords)
        VALUES ('x:5', 'x', 'x_seoulmania', '5', NULL, 'k', 0, '택시', 'ko', '2026-11-30T00:00:00Z',
                'https://x.com/alex1059/status/5', 1, 'n', 'n', 0, '택시', '택시'),
               ('x:6', 'x', 'x_seoulmania', '6', NULL, 'k', 0, '지운 글', 'ko',
                '2026-11-30T00:00:00Z', 'https://x.com/bob/status/6', 1, 'n', 'n', 1, '지운',
                '지운');
        INSERT INTO raw (id, account, stream, fetched_at, payload)
        VALUES ('x:5', 'a', 's', 'n', '{{"username": "alex1059"}}'),
               ('x:6', 'a', 's', 'n', '{{"username": "bob"}}');
        INSERT INTO runs (run_id, account, platform, started_at, status, error)
        VALUES ('r', 'fb_seoul', 'facebook', 'n', 'failed',
                'ConnectionError: Max retries exceeded with url: /v21.0/1/feed?access_token={token}&limit=25');
    """)
    conn.close()
    db = connect(path)
    assert db.execute("SELECT url FROM comments ORDER BY id").fetchall() == [
        ("https://x.com/i/web/status/5",), ("https://x.com/i/web/status/6",)]
    assert db.execute("SELECT text, tokens FROM comments WHERE id = 'x:6'").fetchone() == ("", "")
    assert token not in db.execute("SELECT error FROM runs").fetchone()[0]
    assert db.execute("SELECT id FROM raw").fetchall() == [("x:5",)]  # moved; x:6's erased
    assert not db.execute("SELECT 1 FROM main.sqlite_master WHERE name = 'raw'").fetchone()
    done = json.loads(db.execute("SELECT value FROM meta WHERE key = 'migration_11'").fetchone()[0])
    assert done == {"runs.error": 1, "quarantine.reason": 0, "x_links": 2, "tombstones": 1}
    db.conn.close()
    assert token.encode() not in path.read_bytes() and b"alex1059" not in path.read_bytes()


# --- 8. bad databases ------------------------------------------------------------------------
def test_a_database_of_a_newer_version_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "new.db"
    connect(path).conn.close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    conn.close()
    before = path.read_bytes()
    with pytest.raises(UnusableDatabase, match="newer version"):
        connect(path)
    for command in (("status",), ("collect", "--simulate"), ("search", "택시")):
        proc = cli(*command, db=path)
        assert proc.returncode == 2 and "made by a newer version" in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr
    assert path.read_bytes() == before


@pytest.mark.parametrize("make, words", [
    (lambda p: p.write_text("not a database", encoding="utf-8"), "is not an SQLite database"),
    (lambda p: p.mkdir(), "a directory"),
])
def test_an_unusable_path_gives_one_line_and_exit_2(tmp_path, make, words):
    path = tmp_path / "bad.db"
    make(path)
    for command in (("status",), ("migrate",)):  # a reading and a writing command
        proc = cli(*command, db=path)
        assert proc.returncode == 2 and words in proc.stderr and "Traceback" not in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1


def _corrupt_table(path: Path, table: str) -> None:
    """Overwrite the pages of one table (the file still opens)."""
    conn = sqlite3.connect(path)
    size = conn.execute("PRAGMA page_size").fetchone()[0]
    pages = [r[0] for r in conn.execute("SELECT pageno FROM dbstat WHERE name = ?", (table,))]
    conn.close()
    with path.open("r+b") as f:
        for page in pages:
            f.seek((page - 1) * size)
            f.write(b"\xa5" * size)


def test_status_check_reports_a_corrupted_database(accounts, tmp_path):
    path = tmp_path / "smc.db"
    sim_collect(path, accounts, small_world(accounts), platforms=("x",))
    connect(path).conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    _corrupt_table(path, "runs")
    proc = cli("status", "--check", db=path)
    assert proc.returncode == 1, proc.stderr
    assert "corrupted" in proc.stderr and "Traceback" not in proc.stderr + proc.stdout
    proc = cli("status", db=path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
