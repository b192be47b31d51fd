"""Operations: scheduler, lock, signals, rate limits, import, health check."""
from __future__ import annotations

import gzip
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from conftest import FIXTURES, ROOT, sim_collect
from test_x import db_rows, small_world

import commands
from pipeline.lock import EXIT_LOCKED, Locked, RunLock
from pipeline.schedule import ScheduleConfig, build_scheduler
from simulator import Fault
from simulator.transport import SimRequest
from simulator.x import Server as XServer
from store import queries
from store.db import connect, open_plain

PY = sys.executable


def cli(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([PY, "run_pipeline.py", *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


# --- scheduler -----------------------------------------------------------------------------
def test_scheduler_jobs_come_from_config(accounts):
    scheduler = build_scheduler(accounts, lambda key: None, lambda: None,
                                ScheduleConfig(jitter_seconds=30, misfire_grace_seconds=120,
                                               digest_time="06:45"))
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert len(jobs) == len(accounts) + 1 and "digest" in jobs
    for account in accounts:
        job = jobs[f"collect:{account.key}"]
        assert isinstance(job.trigger, IntervalTrigger)
        assert job.trigger.interval == timedelta(minutes=account.interval_minutes)
        assert str(job.trigger.timezone) == "Asia/Seoul" and job.trigger.jitter == 30
        assert job.args == (account.key,)
        assert (job.coalesce, job.max_instances, job.misfire_grace_time) == (True, 1, 120)
    live = jobs["collect:yt_live_seoul"].trigger.interval
    assert live == timedelta(minutes=5)  # the live chat account is polled often
    digest = jobs["digest"].trigger
    assert isinstance(digest, CronTrigger) and str(digest.timezone) == "Asia/Seoul"
    fields = {f.name: str(f) for f in digest.fields}
    assert (fields["hour"], fields["minute"]) == ("6", "45")


# --- lock ----------------------------------------------------------------------------------
def test_lock_excludes_a_second_holder(tmp_path):
    db = tmp_path / "smc.db"
    with RunLock(db):
        with pytest.raises(Locked, match=f"pid {os.getpid()}"):
            RunLock(db, wait_seconds=0.2).acquire()
    with RunLock(db, wait_seconds=0.2):  # released: free again
        pass


def test_two_concurrent_collects_one_runs_the_other_exits_cleanly(tmp_path):
    db = str(tmp_path / "smc.db")
    first = cli("--db", db, "collect", "--simulate", "--platform", "x")
    lock = Path(db + ".lock")
    deadline = time.monotonic() + 60
    while not (lock.exists() and lock.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.05)
    second = cli("--db", db, "collect", "--simulate", "--platform", "x", "--lock-wait", "0.3")
    out2, err2 = second.communicate(timeout=120)
    out1, err1 = first.communicate(timeout=300)
    assert first.returncode == 0, err1
    assert second.returncode == EXIT_LOCKED
    assert "another run" in err2 and "is collecting into this database" in err2
    assert sqlite3.connect(db).execute("SELECT count(DISTINCT run_id) FROM runs").fetchone()[0] == 1


# --- signals -------------------------------------------------------------------------------
def test_sigterm_during_collect_leaves_a_consistent_db_that_the_next_run_completes(tmp_path):
    reference = tmp_path / "reference.db"
    done = cli("--db", str(reference), "collect", "--simulate", "--platform", "x")
    assert done.wait(timeout=300) == 0
    db = tmp_path / "smc.db"
    proc = cli("--db", str(db), "collect", "--simulate", "--platform", "x")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        time.sleep(0.1)
        try:
            n = sqlite3.connect(db).execute("SELECT count(*) FROM runs").fetchone()[0]
        except sqlite3.Error:
            continue
        if n >= 3:
            break
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "SIGTERM received" in err
    conn = open_plain(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("SELECT count(*) FROM runs WHERE status = 'running'").fetchone()[0] == 0
    stored = conn.execute("SELECT count(*) FROM comments").fetchone()[0]
    assert 0 < stored < sqlite3.connect(reference).execute(
        "SELECT count(*) FROM comments").fetchone()[0]
    assert conn.execute("SELECT count(*) FROM comments WHERE id NOT IN (SELECT id FROM raw)"
                        ).fetchone()[0] == 0  # rows and their raw payloads went in together
    again = cli("--db", str(db), "collect", "--simulate", "--platform", "x")
    assert again.wait(timeout=300) == 0
    assert db_rows(db) == db_rows(reference)


# --- rate limits and retries ---------------------------------------------------------------
def test_429_with_reset_stores_retry_after_and_the_next_run_resumes(accounts, db_path):
    from store.writer import Writer

    world = small_world(accounts)
    results, _ = sim_collect(db_path, accounts, world,
                             [Fault("429", platform="x", path="/mentions", after=3)],
                             platforms=("x",))
    limited = [r for r in results if r.status == "rate_limited"]
    assert len(limited) == 1
    key, until = limited[0].account, limited[0].retry_after
    reset = int(world.now.timestamp()) + 900  # the simulator's x-rate-limit-reset
    assert until == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(reset))
    # Before the reset the account is skipped without a request; after it, it resumes.
    from pipeline.ingest import run_account  # noqa: F401  (the path under test)
    writer = Writer(connect(db_path), clock=lambda: "2026-11-25T00:05:00Z")
    assert queries.retry_after(writer.db, key) == until
    skipped, transport = _collect_with_clock(db_path, accounts, world, "2026-11-25T00:05:00Z")
    assert [r.status for r in skipped if r.account == key] == ["rate_limited"]
    resumed, _ = _collect_with_clock(db_path, accounts, world, "2026-11-25T00:20:00Z")
    assert [r.status for r in resumed if r.account == key] == ["ok"]
    assert queries.retry_after(connect(db_path), key) is None
    reference = db_path.parent / "reference.db"
    sim_collect(reference, accounts, small_world(accounts), platforms=("x",))
    assert db_rows(db_path)["comments"] == db_rows(reference)["comments"]


def _collect_with_clock(db_path, accounts, world, now: str):
    from pipeline.runner import RunOptions, collect, simulated_environ
    from simulator import SimTransport
    from store.writer import Writer

    transport = SimTransport(world)
    writer = Writer(connect(db_path), clock=lambda: now)
    options = RunOptions(simulate=True, platforms=("x",), extra={"sleep": lambda s: None})
    return collect(writer, accounts, transport, simulated_environ(accounts), options), transport


def test_5xx_storm_ends_in_bounded_retries(accounts, db_path):
    world = small_world(accounts)
    storm = Fault("500", platform="x", times=-1)
    waits: list[float] = []
    results, transport = sim_collect(db_path, accounts, world, [storm], platforms=("x",),
                                     sleep=waits.append)
    assert all(r.status == "failed" for r in results)
    assert all("gave up after 3 attempts" in r.error for r in results)
    assert transport.requests["x"] == 3 * 31  # 3 attempts per account, then the next account
    assert len(waits) == 2 * 31 and max(waits) <= 8.0


# --- import --------------------------------------------------------------------------------
def twarc2_lines(accounts) -> list[str]:
    """Pages as twarc2 writes them: the API's response plus its __twarc metadata."""
    world = small_world(accounts)
    server = XServer(world)
    lines = []
    token = None
    while True:
        params = {"max_results": "10", "tweet.fields": "created_at,author_id,conversation_id,"
                  "referenced_tweets,public_metrics,lang,edit_history_tweet_ids",
                  "expansions": "author_id"}
        if token:
            params["pagination_token"] = token
        req = SimRequest("GET", "api.twitter.com",
                         f"/2/users/{server.user_ids['x_seoul_bus']}/mentions", params,
                         {"authorization": "Bearer x"})
        body = server.handle(req).body
        body["__twarc"] = {"url": "https://api.twitter.com/2/users/x/mentions",
                           "version": "2.14.0", "retrieved_at": "2026-11-25T00:00:00+00:00"}
        lines.append(json.dumps(body, ensure_ascii=False))
        token = body["meta"].get("next_token")
        if not token:
            return lines


def test_import_twarc2_jsonl(accounts, tmp_path, capsys):
    lines = twarc2_lines(accounts)
    path = tmp_path / "mentions.jsonl"
    path.write_text("\n".join(lines + ["{not json"]) + "\n", encoding="utf-8")
    db = tmp_path / "smc.db"
    args = ["--db", str(db), "import", "--platform", "x", "--account", "x_seoul_bus",
            "--demo-key", str(path)]
    assert commands.main(args) == 1  # a bad line: exit 1, saying where it went
    out = capsys.readouterr().out
    served = sum(len(json.loads(line).get("data", [])) for line in lines)
    assert f"{served + 1} read = {served} stored ({served} new, 0 updated" in out
    assert "+ 1 quarantined" in out and "1 lines failed and went to quarantine" in out
    assert "mentions.jsonl:4" in out
    conn = open_plain(db)
    assert conn.execute("SELECT count(*) FROM comments WHERE account = 'x_seoul_bus'"
                        ).fetchone()[0] == served
    reason = conn.execute("SELECT reason FROM quarantine").fetchone()[0]
    assert "mentions.jsonl:" in reason and "not JSON" in reason
    assert commands.main(args) == 1  # importing again changes nothing
    assert (f"{served + 1} read = {served} stored (0 new, 0 updated, {served} unchanged)"
            in capsys.readouterr().out)


def test_import_of_tweepys_recorded_response(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SMC_AUTHOR_KEY", "k" * 32)  # real data: a real key, never --demo-key
    """A real X API v2 response body (from tweepy's cassette) imported as a saved page."""
    cassette = yaml.safe_load((FIXTURES / "x-api-v2" / "test_client_get_users_mentions.yaml")
                              .read_text())
    body = gzip.decompress(cassette["interactions"][0]["response"]["body"]["string"])
    path = tmp_path / "page.json"
    path.write_bytes(body)
    code = commands.main(["--db", str(tmp_path / "d.db"), "import", "--platform", "x",
                          "--account", "x_seoulmania", str(path)])
    assert code == 0
    n = len(json.loads(body)["data"])
    assert f"{n} read = {n} stored" in capsys.readouterr().out


def test_import_usage_errors(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SMC_AUTHOR_KEY", "k" * 32)
    base = ["--db", str(tmp_path / "d.db"), "import"]
    assert commands.main(base + ["--platform", "x", "--account", "nobody", "f.json"]) == 2
    assert "unknown account 'nobody'" in capsys.readouterr().err
    assert commands.main(base + ["--platform", "facebook", "--account", "x_seoulmania",
                                 "f.json"]) == 2
    assert "is on x, not facebook" in capsys.readouterr().err
    assert commands.main(base + ["--platform", "x", "--account", "x_seoulmania",
                                 str(tmp_path / "missing.json")]) == 2
    assert "no such file" in capsys.readouterr().err


# --- health --------------------------------------------------------------------------------
def test_status_check_watches_lag_and_integrity(accounts, tmp_path, capsys):
    db = tmp_path / "smc.db"
    sim_collect(db, accounts, small_world(accounts), platforms=("x",))
    base = ["--db", str(db), "status"]
    assert commands.main(base + ["--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["integrity_check"] == "ok"
    assert len(report["accounts"]) == len(accounts)
    healthy = {r["account"] for r in report["accounts"] if r["healthy"]}
    assert len(healthy) == 31 and all(k.startswith("x_") for k in healthy)
    assert commands.main(base + ["--check"]) == 1  # 13 accounts never succeeded
    out = capsys.readouterr().out
    assert f"31/{len(accounts)} accounts succeeded" in out
    assert commands.main(["--db", str(db), "--config", str(_x_only(tmp_path)),
                          "status", "--check"]) == 0


def _x_only(tmp_path: Path) -> Path:
    doc = yaml.safe_load((ROOT / "config" / "accounts.yaml").read_text(encoding="utf-8"))
    doc["accounts"] = [a for a in doc["accounts"] if a["platform"] == "x"]
    path = tmp_path / "x.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


def test_schedule_daemon_collects_and_stops_cleanly_on_sigterm(tmp_path):
    db = tmp_path / "smc.db"
    proc = cli("--db", str(db), "schedule", "--simulate", "--jitter", "0",
               "--digest-out", str(tmp_path / "digest"))
    deadline = time.monotonic() + 120
    done = 0
    while time.monotonic() < deadline and done < 3:
        time.sleep(0.2)
        try:
            done = sqlite3.connect(db).execute(
                "SELECT count(*) FROM runs WHERE status = 'ok'").fetchone()[0]
        except sqlite3.Error:
            continue
    assert done >= 3, "the scheduler ran no collect job"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "collect jobs" in err and "job collect" in err
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("SELECT count(*) FROM runs WHERE status = 'running'").fetchone()[0] == 0
    with RunLock(db, wait_seconds=0.1):  # the daemon released its lock
        pass


def test_schedule_writes_the_morning_digest_through_the_scheduler(tmp_path):
    """The digest job, due a minute or two from now in Seoul, fires from APScheduler's own
    cron trigger (not called by hand) and writes yesterday's digest."""
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    db, out = tmp_path / "smc.db", tmp_path / "digest"
    assert cli("--db", str(db), "migrate").wait(timeout=60) == 0
    now = datetime.now(ZoneInfo("Asia/Seoul"))
    due = now + timedelta(minutes=1 if now.second < 45 else 2)
    proc = cli("--db", str(db), "schedule", "--simulate", "--jitter", "0",
               "--digest-time", due.strftime("%H:%M"), "--digest-out", str(out))
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and len(list(out.glob("*.html"))) == 0:
            time.sleep(0.5)
        yesterday = (due - timedelta(days=1)).date()
        assert (out / f"{yesterday}.html").exists(), "the scheduler wrote no digest"
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "digest written" in err and "skipped" not in err


def test_staff_writing_cases_never_fails_a_collect(accounts, tmp_path):
    """50 case changes a second on their own connection, all through a collect: no account
    fails with "database is locked" (every write transaction begins IMMEDIATE) and every
    staff write lands."""
    import threading

    from conftest import sim_collect
    from store import cases
    from test_x import small_world

    db_path = tmp_path / "smc.db"
    connect(db_path).conn.close()
    stop, written, errors = threading.Event(), [], []

    def staff() -> None:
        db = connect(db_path, unmasked=False)
        ids: list[str] = []
        n = 0
        while not stop.is_set():
            if len(ids) < 20:  # opinions arrive as the collect goes
                ids = [r[0] for r in db.execute("SELECT id FROM opinions LIMIT 50")]
                time.sleep(0.02)
                continue
            try:
                cases.apply_all(db, [cases.Change(ids[n % len(ids)],
                                                  ("assigned", "received")[n % 2], by="김주무관")])
                written.append(n)
            except Exception as exc:  # noqa: BLE001 - the test counts them
                errors.append(repr(exc))
            n += 1
            time.sleep(0.02)

    worker = threading.Thread(target=staff)
    worker.start()
    try:
        results, _ = sim_collect(db_path, accounts, small_world(accounts))
    finally:
        stop.set()
        worker.join(timeout=60)
    assert [(r.account, r.error) for r in results if r.status != "ok"] == []
    assert errors == [] and len(written) > 10, (errors[:3], len(written))


def _tweepy_page() -> bytes:
    cassette = yaml.safe_load((FIXTURES / "x-api-v2" / "test_client_get_users_mentions.yaml")
                              .read_text())
    return gzip.decompress(cassette["interactions"][0]["response"]["body"]["string"])


def test_import_of_an_archive_takes_each_files_account_from_its_name(tmp_path, capsys,
                                                                      monkeypatch):
    """Real recorded pages of two platforms named ACCOUNT[.anything].json, one command: each
    file is its account's run, on its account's platform."""
    monkeypatch.setenv("SMC_AUTHOR_KEY", "k" * 32)
    x_page = _tweepy_page()
    (tmp_path / "x_seoulmania.2026-11.json").write_bytes(x_page)
    youtube = FIXTURES / "youtube-data-v3" / "comment_threads_by_channel.json"
    (tmp_path / "yt_seoul.json").write_bytes(youtube.read_bytes())
    db = tmp_path / "d.db"
    files = [str(tmp_path / "x_seoulmania.2026-11.json"), str(tmp_path / "yt_seoul.json")]
    assert commands.main(["--db", str(db), "import", "--workers", "0", *files]) == 0
    out = capsys.readouterr().out
    assert "import x_seoulmania x_seoulmania.2026-11.json" in out
    assert "import yt_seoul yt_seoul.json" in out
    conn = open_plain(db)
    runs = dict(conn.execute("SELECT account, platform FROM runs WHERE kind = 'import'"))
    assert runs == {"x_seoulmania": "x", "yt_seoul": "youtube"}
    stored = dict(conn.execute("SELECT account, count(*) FROM comments GROUP BY 1"))
    assert stored["x_seoulmania"] == len(json.loads(x_page)["data"])
    assert stored["yt_seoul"] > 0


def test_import_without_account_names_the_files_that_name_none(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SMC_AUTHOR_KEY", "k" * 32)
    (tmp_path / "x_seoulmania.json").write_bytes(_tweepy_page())
    (tmp_path / "mentions.json").write_bytes(_tweepy_page())
    base = ["--db", str(tmp_path / "d.db"), "import"]
    assert commands.main(base + [str(tmp_path / "x_seoulmania.json"),
                                 str(tmp_path / "mentions.json")]) == 2
    err = capsys.readouterr().err
    assert "mentions.json" in err and "x_seoulmania.json" not in err.split(":", 1)[1]
    assert not (tmp_path / "d.db").exists()  # nothing written
    assert commands.main(base + ["--platform", "youtube", str(tmp_path / "x_seoulmania.json")]) == 2
    assert "x_seoulmania is on x, not youtube" in capsys.readouterr().err


def test_the_command_modules_a_worker_re_imports_are_light():
    """A spawned normalizer worker imports the parent's main script: run_pipeline.py and the
    `smc` script (`from commands import main`) and bench.ingest must not bring the store,
    sqlite-utils and pandas into every worker."""
    code = ("import sys, runpy; runpy.run_path('run_pipeline.py', run_name='__mp_main__'); "
            "import commands, bench.ingest; "
            "print(sorted(m for m in ('pandas', 'numpy', 'sqlite_utils', 'store.db', "
            "'datasette', 'kiwipiepy') if m in sys.modules))")
    done = subprocess.run([PY, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"
