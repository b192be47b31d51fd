"""Issue #15: commands tell the truth about the database they are given (read commands never
create or change one; status --check fails on what it cannot vouch for)."""
from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import shipped_schema
import sqlite_utils
from conftest import ROOT, sim_collect
from test_x import small_world

from pipeline.config import load_accounts
from store.db import MIGRATIONS, UnusableDatabase, open_readonly

READ_COMMANDS = (("status",), ("status", "--check"), ("search", "택시"), ("case", "show", "x:1"),
                 ("case", "list"), ("digest", "--date", "2026-11-30"))


def cli(*args: str, db: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "run_pipeline.py", "--db", str(db), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
                          env={"PATH": "/usr/bin:/bin"})


@pytest.mark.parametrize("command", READ_COMMANDS, ids=" ".join)
def test_a_read_command_never_creates_a_database(tmp_path, command):
    path = tmp_path / "typo" / "smc.db"
    proc = cli(*command, db=path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"no database at {path} (run collect or demo first)" in proc.stderr
    assert "Traceback" not in proc.stderr and not path.parent.exists()


def test_read_commands_open_read_only_and_change_nothing(accounts, tmp_path):
    path = tmp_path / "smc.db"
    sim_collect(path, accounts, small_world(accounts), platforms=("x",))
    before = path.read_bytes()
    for command in READ_COMMANDS[:5]:
        proc = cli(*command, db=path)
        assert proc.returncode in (0, 1, 2) and "Traceback" not in proc.stderr, command
    assert path.read_bytes() == before
    db = open_readonly(path)
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        db.execute("DELETE FROM comments")


def test_an_older_schema_is_not_upgraded_by_a_read_command(tmp_path):
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    oldest = len(shipped_schema.MIGRATIONS)  # the newest the frozen copy builds
    assert oldest < len(MIGRATIONS)
    shipped_schema.migrate(sqlite_utils.Database(conn), oldest)
    conn.close()
    with pytest.raises(UnusableDatabase, match="needs upgrading"):
        open_readonly(path)
    proc = cli("status", db=path)
    assert proc.returncode == 2 and "run `migrate`" in proc.stderr
    assert cli("migrate", db=path).returncode == 0
    assert cli("status", db=path).returncode == 0


def test_status_check_fails_on_an_empty_database_naming_each_account(tmp_path):
    path = tmp_path / "smc.db"
    assert cli("migrate", db=path).returncode == 0
    proc = cli("status", "--check", db=path)
    assert proc.returncode == 1
    configured = len(load_accounts(ROOT / "config" / "accounts.yaml"))
    assert f"0/{configured} accounts succeeded" in proc.stdout
    assert "over its lag limit: x_seoulmania: never ran; limit 60 min" in proc.stderr


def test_status_check_names_accounts_over_their_limit_with_it(accounts, tmp_path):
    path = tmp_path / "smc.db"
    sim_collect(path, accounts, small_world(accounts), platforms=("x",))
    proc = cli("status", "--check", db=path)
    assert proc.returncode == 1  # the other platforms never ran
    assert "fb_seoul: never ran; limit" in proc.stderr
    assert "x_seoulmania" not in proc.stderr
    with sqlite3.connect(path) as conn:  # its last success two hours ago
        conn.execute("UPDATE runs SET finished_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now', "
                     "'-120 minutes') WHERE account = 'x_seoulmania'")
    proc = cli("status", "--check", "--max-lag", "60", db=path)
    assert "over its lag limit: x_seoulmania: last success 120 min ago, over its limit of " \
           "60 min" in proc.stderr


def test_status_columns_agree(accounts, tmp_path):
    import json

    path = tmp_path / "smc.db"
    sim_collect(path, accounts, small_world(accounts))
    rows = json.loads(cli("status", "--json", db=path).stdout)["accounts"]
    for r in rows:
        if r["stored_comments"] is not None:
            assert r["stored_comments"] <= r["comments"], r["account"]
    assert sum(r["comments"] for r in rows) == sqlite3.connect(path).execute(
        "SELECT count(*) FROM comments WHERE deleted = 0").fetchone()[0]


# --- no traceback reaches a user -------------------------------------------------------------
def test_an_unexpected_error_is_one_line_and_debug_shows_the_traceback(monkeypatch, capsys):
    import commands
    import commands.status

    def broken(args):
        raise RuntimeError("boom access_token=EAAsecretvalue123")

    monkeypatch.setattr(commands.status, "cmd_check_config", broken)
    assert commands.main(["check-config"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "check-config failed unexpectedly: RuntimeError: boom" in err
    assert "--debug" in err and "EAAsecretvalue123" not in err
    assert commands.main(["--debug", "check-config"]) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "EAAsecretvalue123" not in err


def test_a_pipe_into_head_ends_quietly(accounts, tmp_path):
    path = tmp_path / "smc.db"
    sim_collect(path, accounts, small_world(accounts), platforms=("x",))
    proc = subprocess.run(f"{sys.executable} run_pipeline.py --db {path} status | head -1; "
                          "exit ${PIPESTATUS[0]}", shell=True, executable="/bin/bash",
                          cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert proc.stderr == "" and proc.stdout.startswith("account")
    # 141 when head closed the pipe before status was done; 0 when all of it fit the buffer
    assert proc.returncode in (0, 141)


def test_a_digest_is_written_whole_or_not_at_all(accounts, tmp_path, monkeypatch):
    from digest import render

    path = tmp_path / "smc.db"
    sim_collect(path, accounts, small_world(accounts), platforms=("x",))
    out = tmp_path / "out"
    db = open_readonly(path)
    first = render.write_digest(db, "2026-11-30", out)
    kept = {p.name: p.read_bytes() for p in first}

    def full_disk(d):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(render, "render_markdown", full_disk)
    with pytest.raises(OSError):
        render.write_digest(db, "2026-11-30", out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == kept  # no half file, no temp


def test_a_read_only_folder_for_the_digest_is_one_clear_line(accounts, tmp_path):
    path = tmp_path / "smc.db"
    sim_collect(path, accounts, small_world(accounts), platforms=("x",))
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")  # a folder path through a file: unwritable
    proc = cli("digest", "--date", "2026-11-30", "--out", str(blocker / "out"), db=path)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("error: digest: ") and str(blocker) in proc.stderr


# --- the commands the demo prints work as printed ---------------------------------------------
def test_the_demo_prints_commands_that_work(tmp_path):
    script = Path(sys.executable).parent / "smc"
    assert script.exists(), "pip install -e . makes the smc console script"
    proc = subprocess.run([str(script), "--db", str(tmp_path / "d.db"), "demo", "--digest-out",
                           str(tmp_path / "out")], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr
    printed = [line.split("#")[0].strip() for line in proc.stdout.splitlines()
               if "smc --db" in line]
    assert len(printed) == 4
    for line in printed:
        run = subprocess.run(line, shell=True, cwd=ROOT, capture_output=True, text=True,
                             timeout=300, check=False, env={"PATH": "/usr/bin:/bin"}) \
            if not line.endswith("serve") else None
        assert run is None or run.returncode in (0, 1), (line, run.stderr)
    # a demo staff login, printed as made for the demo, that logs in
    assert "FOR THE DEMO ONLY" in proc.stdout
    found = re.search(r"name (\S+)\s+password (\S+)\s+staff$", proc.stdout, re.MULTILINE)
    assert found, proc.stdout[-1500:]
    from datetime import datetime, timezone

    from store.db import connect
    from workplace import auth

    db = connect(tmp_path / "d.db", unmasked=False)
    got = auth.login(db, found.group(1), found.group(2), "test", datetime.now(timezone.utc),
                     auth.SessionPolicy())
    db.conn.close()
    assert got.token and got.actor is not None and got.actor.role == "staff"
    elsewhere = subprocess.run([str(script), "--db", str(tmp_path / "d.db"), "status"],
                               cwd=tmp_path, capture_output=True, text=True, timeout=120,
                               check=False)
    assert elsewhere.returncode == 0, elsewhere.stderr  # the project's config, from anywhere


# --- progress and logs ----------------------------------------------------------------------
def test_progress_shows_account_n_of_total_and_its_own_rows(accounts):
    import io

    from commands.common import Progress
    from pipeline.ingest import AccountResult
    from store.writer import PageStats

    out, lines = io.StringIO(), []
    progress = Progress(2, out)
    on_result = progress.wrap(lambda a, r: lines.append(a.key))
    first, second = accounts[0], accounts[1]
    progress.page(first, PageStats(fetched=30))
    progress.page(first, PageStats(fetched=12))
    on_result(first, AccountResult(first.key, "ok"))
    progress.page(second, PageStats(fetched=5))
    shown = out.getvalue()
    assert f"[1/2] {first.key}: 42 rows read" in shown
    assert f"[2/2] {second.key}: 5 rows read" in shown  # its own rows, not a running total
    assert lines == [first.key]


@pytest.mark.parametrize("level, quiet", [("info", True), ("debug", False)])
def test_apscheduler_speaks_only_when_debugging(level, quiet):
    import logging

    import commands

    commands.setup_logging(level, "text")
    assert logging.getLogger("apscheduler").isEnabledFor(logging.INFO) is not quiet
    commands.setup_logging("info", "text")
