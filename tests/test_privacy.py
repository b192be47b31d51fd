"""Privacy and secrets: tokens never leak, raw payloads expire, the author key is required."""
from __future__ import annotations

import logging
import sqlite3
import subprocess
import sys

from conftest import ROOT
from test_x import small_world

from pipeline.runner import RunOptions, collect
from pipeline.secrets import install_log_scrubber, secret_values
from simulator import Fault, SimTransport
from store.db import connect
from store.writer import Writer

SECRETS = {"X_BEARER_TOKEN": "AAAAknownFakeXtoken1234567890",
           "FB_PAGE_TOKEN_SEOUL": "EAAknownFakeGraphToken1234567890",
           "IG_ACCESS_TOKEN": "IGknownFakeToken1234567890",
           "YOUTUBE_API_KEY": "AIzaknownFakeYoutubeKey1234567890",
           "SMC_AUTHOR_KEY": "knownFakeAuthorKey1234567890"}


def _environ(accounts) -> dict[str, str]:
    env = {name: f"placeholder-{name}" for a in accounts for name in a.credentials}
    return {**env, **SECRETS}


def test_no_token_in_logs_db_or_errors(accounts, tmp_path, caplog):
    # Even at DEBUG, with the client libraries logging request URLs and headers:
    caplog.set_level(logging.DEBUG)
    for name in ("tweepy", "googleapiclient", "facebook", "urllib3", "requests"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    install_log_scrubber(secret_values(SECRETS))
    db = tmp_path / "smc.db"
    faults = [Fault("expired_token", platform="x", after=5),
              Fault("500", platform="x", after=20, times=4), Fault("429", platform="x", after=40)]
    writer = Writer(connect(db))
    results = collect(writer, accounts, SimTransport(small_world(accounts), faults),
                      _environ(accounts), RunOptions(simulate=False,
                                                     extra={"sleep": lambda s: None}))
    writer.db.conn.close()
    errors = " ".join(r.error or "" for r in results)
    assert "X_BEARER_TOKEN" in errors  # the message names the variable, not its value
    blob = db.read_bytes() + (tmp_path / "smc.db-wal").read_bytes() if (
        tmp_path / "smc.db-wal").exists() else db.read_bytes()
    for value in SECRETS.values():
        assert value not in caplog.text
        assert value not in errors
        assert value.encode() not in blob


def test_cli_debug_run_prints_no_token(tmp_path):
    env = {"PATH": "/usr/bin:/bin", **SECRETS}
    proc = subprocess.run([sys.executable, "run_pipeline.py", "--db", str(tmp_path / "d.db"),
                           "--log-level", "debug", "collect", "--simulate", "--platform", "x",
                           "--account", "x_seoulmania"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "x_seoulmania" in proc.stderr
    for value in SECRETS.values():
        assert value not in proc.stdout + proc.stderr
        assert value.encode() not in (tmp_path / "d.db").read_bytes()


def test_raw_payloads_past_retention_are_purged(accounts, tmp_path):
    from commands.common import purge_raw

    db = connect(tmp_path / "smc.db")
    db.conn.executemany("INSERT INTO raw (id, account, stream, fetched_at, payload) "
                        "VALUES (?, 'a', 'comment', ?, '{}')",
                        [("x:1", "2020-01-01T00:00:00Z"), ("x:2", "2099-01-01T00:00:00Z")])
    assert purge_raw(Writer(db), 30) == 1
    assert [r[0] for r in db.execute("SELECT id FROM raw")] == ["x:2"]


def test_author_key_is_a_keyed_hash(accounts, tmp_path):
    """Same citizen, same key -> same author_key; another secret -> another key; no raw id."""
    from pipeline.runner import simulated_environ

    keys = []
    for secret in ("secret-one-123456", "secret-one-123456", "secret-two-123456"):
        db = tmp_path / f"{len(keys)}.db"
        writer = Writer(connect(db))
        env = {**simulated_environ(accounts), "SMC_AUTHOR_KEY": secret}
        collect(writer, accounts, SimTransport(small_world(accounts)), env,
                RunOptions(simulate=True, accounts=("x_seoul_bus",)))
        keys.append([r[0] for r in writer.db.execute(
            "SELECT author_key FROM comments WHERE is_official = 0 ORDER BY id")])
    assert keys[0] == keys[1] != keys[2]
    conn = sqlite3.connect(tmp_path / "0.db")
    citizen_ids = {str(5_000_000 + uid) for uid in range(1, 2001)}
    texts = " ".join(r[0] for r in conn.execute("SELECT author_key FROM comments"))
    assert not any(cid in texts for cid in citizen_ids)
