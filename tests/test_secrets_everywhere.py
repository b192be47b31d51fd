"""Issue #14 point 1: no credential value reaches any output, whatever fails, on any platform.

Every credential variable accounts.yaml names (and SMC_AUTHOR_KEY) holds a distinct fake value
`FAKE<nnn>secretvalue|<NAME>`; those values are the tokens and keys the collectors really send
(X: `Authorization: Bearer`, Graph: `access_token=` in the query, YouTube: `key=` in the
query). Every failure path is driven on every platform through the simulator's faults
(simulator/transport.py): DNS and connection errors, timeouts, 4xx and 5xx answers that echo
the request URL and Authorization header, expired / malformed tokens, quotas and rate limits.
Then no fake value, in any form (whole, URL-encoded, or only its first 14 characters, which
catches truncated copies), may appear on any surface:

- in process, per (platform x failure) case: the results, every log record as the CLI's text
  and JSON formatters write it (client libraries at DEBUG), every row of every table of the
  database (sqlite_master included) and the raw bytes of the db / -wal / -shm files, `status`,
  `status --json`, `status --check`, both digests (HTML, Markdown) and the overdue CSV;
- through the real CLI, per platform (the failures of the cases in sequence on different
  accounts, faults given with $SMC_SIM_FAULTS): stdout and stderr of `collect` in text and in
  JSON log format at debug level (one run with `--record`), of `status` (text, --json,
  --check) and of `digest`, both databases, the files the digest and the recording wrote,
  and the pages Datasette serves (/, the database, every table and view as HTML,
  `?_shape=array` JSON and CSV, every canned query);
- the recordings of real HTTP traffic (vcrpy over a local server, as test_recording.py);
- a database stored before the fix, once migrated: its rows and its files.

A leak is reported by surface with an excerpt around it; the excerpt is test data and is NOT
redacted.
"""
from __future__ import annotations

import asyncio
import json
import logging
import re
import sqlite3
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterable, Mapping
from urllib.parse import quote, quote_plus, urlsplit
from zoneinfo import ZoneInfo

import pytest
import yaml

import core.redact
from core.platforms import KEYS
from core.platforms import PLATFORMS as REGISTERED
from core.redact import PLACEHOLDER, redact
from pipeline.config import load_accounts
from pipeline.runner import RunOptions, collect
from pipeline.secrets import install_log_scrubber, secret_values
from simulator import Fault, SimTransport, World
from simulator.transport import FAULTS_ENV
from store.db import connect
from store.writer import Writer

ROOT = Path(__file__).resolve().parent.parent
PADDED = 2  # a platform with fewer city accounts gets copies (the generic plans need two)


def padded_config() -> Path:
    """The project's accounts.yaml plus copies of the accounts of any platform that has
    fewer than PADDED (each with its own key, handle and credential variables)."""
    doc = yaml.safe_load((ROOT / "config" / "accounts.yaml").read_text(encoding="utf-8"))
    entries = doc["accounts"]
    for platform in KEYS:
        mine = [e for e in entries if e["platform"] == platform]
        for n in range(len(mine), PADDED if mine else 0):
            first = mine[0]
            creds = first["credentials"]
            creds = [creds] if isinstance(creds, str) else creds
            entries.append({**first, "key": f"{first['key']}_{n}",
                            "id": f"{first['id']}{n}" if first.get("id") else None,
                            "handle": f"{first['handle']}_{n}",
                            "credentials": [f"{c}_{n}" for c in creds]})
    path = Path(tempfile.mkdtemp(prefix="smc-secrets-")) / "accounts.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


CONFIG = padded_config()
ACCOUNTS = load_accounts(CONFIG)
SEOUL = ZoneInfo("Asia/Seoul")

# --- the fake secrets ------------------------------------------------------------------------
CREDENTIAL_VARS = sorted({name for a in ACCOUNTS for name in a.credentials})
FAKE = {name: f"FAKE{n:03d}secretvalue|{name}"
        for n, name in enumerate([*CREDENTIAL_VARS, "SMC_AUTHOR_KEY"], start=1)}
NAME_OF = {value[:7]: name for name, value in FAKE.items()}  # "FAKE001" -> variable
LEAK = re.compile(r"FAKE(\d{3})secret")  # the head of every fake value, in every encoding
LEAK_BYTES = re.compile(rb"FAKE(\d{3})secret")
EXCERPT = 110

# --- the failures, as the faults that drive them ---------------------------------------------
PLATFORMS = KEYS
FAILURES = ("dns", "connection", "timeout", "4xx_echo", "5xx_echo", "expired_token", "quota")
FAULT_PLATFORM = {p.key: p.family for p in REGISTERED}
# Each failure as the fault kinds that drive it, one account each, in order.
PLAN: dict[str, dict[str, tuple[str, ...]]] = {
    "dns": {"x": ("dns",), "graph": ("dns",), "youtube": ("dns",)},
    "connection": {p: ("connection", "reset") for p in ("x", "graph", "youtube")},
    "timeout": {"x": ("timeout", "connect_timeout"), "graph": ("timeout", "connect_timeout"),
                "youtube": ("timeout",)},
    "4xx_echo": {p: ("4xx_echo",) for p in ("x", "graph", "youtube")},
    "5xx_echo": {p: ("5xx_echo",) for p in ("x", "graph", "youtube")},
    "expired_token": {"x": ("expired_token",),
                      "graph": ("expired_token", "graph:malformed_token"),
                      "youtube": ("expired_token", "youtube:keyInvalid")},
    "quota": {"x": ("quota",), "graph": ("graph:4", "graph:17", "graph:32", "graph:613"),
              "youtube": ("429", "quota")},
}
# Retried (3 attempts on every platform): the fault fires on every attempt, so the account
# ends with the last error, the one a person reads.
ATTEMPTS = 3
RETRIED = {"dns", "connection", "reset", "timeout", "connect_timeout", "5xx_echo"}
STATUS = {"dns": "failed", "connection": "failed", "timeout": "failed", "4xx_echo": "failed",
          "5xx_echo": "failed", "expired_token": "auth", "quota": "rate_limited"}
CLIENT_LOGGERS = ("tweepy", "facebook", "googleapiclient", "urllib3", "requests", "httplib2",
                  "vcr")
QUIET_LOGGERS = ("matplotlib", "PIL", "fontTools", "asyncio")  # the digest's charts: noise


def kinds_for(platform: str, failure: str) -> tuple[str, ...]:
    """The faults that drive a failure on a platform's server family (the generic kinds, for
    a family the plan does not name: every server renders them)."""
    plan = PLAN[failure]
    return plan.get(FAULT_PLATFORM[platform], plan["x"])


def fault(platform: str, kind: str) -> Fault:
    return Fault(kind, platform=FAULT_PLATFORM[platform],
                 times=ATTEMPTS if kind in RETRIED else 1)


def platform_accounts(platform: str) -> list:
    return [a for a in ACCOUNTS if a.platform == platform]


# --- finding leaks ---------------------------------------------------------------------------
def leaks(surfaces: Mapping[str, str | bytes]) -> list[str]:
    """Every fake value found on any surface: where, which variable, in which form, excerpt."""
    found = []
    for surface, content in surfaces.items():
        text = content.decode("utf-8", "replace") if isinstance(content, bytes) else content
        for match in LEAK.finditer(text):
            name = NAME_OF.get(text[match.start():match.start() + 7], "?")
            value = FAKE.get(name, "")
            at = text[match.start():]
            form = ("whole value" if at.startswith(value) else
                    "URL-encoded value" if at.startswith((quote_plus(value), quote(value, safe=""))) else "part of the value")
            lo, hi = max(0, match.start() - EXCERPT), match.end() + EXCERPT
            excerpt = text[lo:hi].replace("\n", "\\n")
            found.append(f"{surface}: {form} of {name}: ...{excerpt}...")
    return found


def assert_no_leak(surfaces: Mapping[str, str | bytes], what: str) -> None:
    assert surfaces, f"{what}: no surface gathered"
    found = leaks(surfaces)
    shown = "\n".join(found[:40]) + (f"\n... and {len(found) - 40} more" if len(found) > 40 else "")
    assert not found, (f"{what}: {len(found)} leaks on "
                       f"{len({f.split(':')[0] for f in found})} surfaces:\n{shown}")


# --- gathering surfaces ----------------------------------------------------------------------
def db_surfaces(db: Path, label: str) -> dict[str, str | bytes]:
    """Every row of every table (sqlite_master included) and the raw bytes of the files."""
    out: dict[str, str | bytes] = {}
    for suffix in ("", "-wal", "-shm"):
        path = db.with_name(db.name + suffix)
        if path.exists():
            out[f"{label} file {path.name} (raw bytes)"] = path.read_bytes()
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        out[f"{label} sqlite_master"] = "\n".join(
            repr(r) for r in conn.execute("SELECT * FROM sqlite_master"))
        tables = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        for table in tables:
            rows = conn.execute(f'SELECT * FROM "{table}"').fetchall()
            out[f"{label} table {table}"] = "\n".join(repr(r) for r in rows)
    finally:
        conn.close()
    return out


def db_text(db: Path, sql: str) -> list:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def tree_surfaces(folder: Path, label: str) -> dict[str, bytes]:
    """Every file under a folder (digests, recordings)."""
    return {f"{label} {p.relative_to(folder)}": p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def served_pages(db: Path) -> dict[str, str]:
    """What Datasette serves of the database: /, the database, every table and view (HTML,
    JSON rows, CSV, hidden ones included), every canned query, the metadata."""
    from center.app import build_datasette, datasette_metadata

    name = db.stem
    relations = [r[0] for r in db_text(db, "SELECT name FROM sqlite_master "
                                           "WHERE type IN ('table', 'view') ORDER BY name")]
    paths = ["/", f"/{name}", f"/{name}.json", "/-/metadata.json"]
    for rel in relations:
        base = f"/{name}/{quote(rel)}"
        paths += [f"{base}?_size=max", f"{base}.json?_shape=array&_size=max",
                  f"{base}.csv?_size=max"]
    queries = datasette_metadata(db)["databases"].get(name, {}).get("queries", {})
    for query, spec in queries.items():
        params = "&".join(f"{p}={v}" for p, v in (("q", "서울"), ("id", "x:1"), ("hours", "24"))
                          if f":{p}" in spec["sql"])
        paths += [f"/{name}/{query}?{params}", f"/{name}/{query}.json?_shape=array&{params}"]
    ds = build_datasette(db)

    async def fetch() -> dict[str, str]:
        await ds.invoke_startup()
        pages = {}
        for path in paths:
            response = await ds.client.get(path)
            pages[f"served {path}"] = f"HTTP {response.status_code}\n{response.text}"
        return pages

    pages = asyncio.run(fetch())
    runs = pages[f"served /{name}/runs.json?_shape=array&_size=max"]
    assert runs.startswith("HTTP 200"), runs[:300]  # the runs table is served without login
    return pages


def seoul_today() -> str:
    return datetime.now(timezone.utc).astimezone(SEOUL).date().isoformat()


# --- logging as the CLI sets it up, in process ------------------------------------------------
@pytest.fixture
def cli_logging(caplog):
    """The CLI's scrubber (commands.setup_logging) over the fake environment, with the
    client libraries at DEBUG (stricter than the CLI, which keeps them at WARNING)."""
    factory = logging.getLogRecordFactory()
    known = set(core.redact._known)  # registered values live for the process: restore them
    levels = {name: logging.getLogger(name).level for name in CLIENT_LOGGERS + QUIET_LOGGERS}
    caplog.set_level(logging.DEBUG)
    for name in CLIENT_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    install_log_scrubber(secret_values(FAKE))
    try:
        yield caplog
    finally:
        logging.setLogRecordFactory(factory)
        with core.redact._lock:
            core.redact._known.clear()
            core.redact._known.update(known)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def log_surfaces(records: Iterable[logging.LogRecord]) -> dict[str, str]:
    """The records as the CLI writes them: its text format and its JSON format."""
    from commands import JsonFormatter

    text = logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S")
    records = list(records)
    return {"log (text format)": "\n".join(text.format(r) for r in records),
            "log (JSON format)": "\n".join(JsonFormatter().format(r) for r in records)}


# --- in process: one case ---------------------------------------------------------------------
@dataclass
class Case:
    platform: str
    failure: str
    kinds: tuple[str, ...]
    db: Path
    results: list
    faults: list[Fault]


def run_case(platform: str, failure: str, tmp_path: Path) -> Case:
    """One collect pass of a tiny world: an account per fault, in order, then a healthy one
    when the platform has an account left."""
    from commands.common import log_result

    kinds = kinds_for(platform, failure)
    available = platform_accounts(platform)
    chosen = available[:min(len(kinds) + 1, len(available))]
    assert len(chosen) >= len(kinds), f"{platform} has too few accounts for {kinds}"
    world = World(chosen, seed=14, days=3, posts_per_account=2, comments_per_post=3)
    faults = [fault(platform, kind) for kind in kinds]
    db = tmp_path / "smc.db"
    writer = Writer(connect(db))
    options = RunOptions(simulate=True, accounts=tuple(a.key for a in chosen),
                         extra={"sleep": lambda s: None, "lookback_days": 7, "live_seconds": 2})
    results = collect(writer, ACCOUNTS, SimTransport(world, faults), dict(FAKE), options,
                      on_result=log_result)
    writer.db.conn.close()
    # The case drove what it says: every fault fired on every attempt, on its own account.
    for f in faults:
        assert f.fired == f.times, f"{platform}/{failure}: fault {f.kind} fired {f.fired}x"
    expected = STATUS[failure]
    got = [(r.account, r.status) for r in results[:len(kinds)]]
    assert got == [(a.key, expected) for a in chosen[:len(kinds)]], (
        got, [r.error for r in results])
    assert all(r.error for r in results[:len(kinds)])
    return Case(platform, failure, kinds, db, results, faults)


def status_outputs(db: Path, capsys) -> dict[str, str]:
    """`status`, `status --json` and `status --check`, in process."""
    import commands

    out = {}
    for flags in ((), ("--json",), ("--check",)):
        args = commands.build_parser().parse_args(
            ["--db", str(db), "--config", str(CONFIG), "status",
             *flags])
        code = args.func(args)
        captured = capsys.readouterr()
        out[f"status {' '.join(flags)} (exit {code})".replace("  ", " ")] = (
            captured.out + captured.err)
    return out


def digest_files(db: Path, out: Path) -> dict[str, bytes]:
    from digest.render import write_digest

    database = connect(db)
    try:
        paths = write_digest(database, seoul_today(), out, now=datetime.now(timezone.utc))
    finally:
        database.conn.close()
    assert {p.suffix for p in paths} >= {".html", ".md"}, paths
    return tree_surfaces(out, "digest")


@pytest.mark.parametrize("failure", FAILURES)
@pytest.mark.parametrize("platform", PLATFORMS)
def test_no_secret_on_any_surface(platform, failure, tmp_path, cli_logging, capsys):
    case = run_case(platform, failure, tmp_path)
    surfaces: dict[str, str | bytes] = {}
    surfaces["results (error, retry_after)"] = "\n".join(
        f"{r.account} {r.status} {r.error} {r.retry_after}" for r in case.results)
    records = list(cli_logging.records)
    surfaces.update(log_surfaces(records))
    surfaces["log exc_text"] = "\n".join(r.exc_text or "" for r in records)
    surfaces.update(db_surfaces(case.db, "db"))
    assert db_text(case.db, "SELECT count(*) FROM runs WHERE error IS NOT NULL")[0][0] >= len(
        case.kinds)  # the errors are stored: the surfaces below show them
    surfaces.update(status_outputs(case.db, capsys))
    surfaces.update(digest_files(case.db, tmp_path / "digest"))
    surfaces.update(db_surfaces(case.db, "db after status and digest"))
    assert_no_leak(surfaces, f"{platform} x {failure} ({', '.join(case.kinds)})")


# --- through the real CLI, per platform -------------------------------------------------------
def cli_plan(platform: str) -> list[list[tuple[str, str]]]:
    """The failures of the cases as collect runs: (failure, fault kind) per account, each run
    at most as many faults as the platform has accounts; quotas last (a rate-limited account
    is skipped by later runs)."""
    size = len(platform_accounts(platform))
    runs: list[list[tuple[str, str]]] = [[]]
    for failure in FAILURES:
        step = [(failure, kind) for kind in kinds_for(platform, failure)]
        if len(runs[-1]) + len(step) > size:
            runs.append([])
        runs[-1].extend(step)
    return runs


def cli_env(extra: Mapping[str, str] = {}) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "LANG": "C.UTF-8",
            "PYTHONIOENCODING": "utf-8", "SMC_CONFIG": str(CONFIG), **FAKE, **extra}


def run_cli(args: list[str], env: Mapping[str, str], timeout: int = 120) -> \
        subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "run_pipeline.py", *args], cwd=ROOT, env=dict(env),
                          capture_output=True, text=True, timeout=timeout, check=False)


def collect_chain(platform: str, db: Path, log_format: str, record: Path | None) -> \
        dict[str, str]:
    """Every planned collect run of a platform on one database; their stdout and stderr."""
    accounts = platform_accounts(platform)
    out: dict[str, str] = {}
    for n, run in enumerate(cli_plan(platform), start=1):
        chosen = accounts[:len(run)]
        faults = [{"kind": k, "platform": FAULT_PLATFORM[platform],
                   "times": ATTEMPTS if k in RETRIED else 1} for _, k in run]
        args = ["--db", str(db), "--log-format", log_format, "--log-level", "debug",
                "collect", "--simulate", "--platform", platform, "--max-sleep", "0",
                "--live-seconds", "2"]
        for a in chosen:
            args += ["--account", a.key]
        if record is not None and n == 1:
            args += ["--record", str(record)]
        proc = run_cli(args, cli_env({FAULTS_ENV: json.dumps(faults)}))
        label = f"cli collect --log-format {log_format} run {n} ({', '.join(k for _, k in run)})"
        assert proc.returncode in (0, 1), f"{label}: exit {proc.returncode}\n{proc.stderr}"
        check_statuses(label, proc.stderr, log_format, chosen, run)
        out[f"{label} stdout"] = proc.stdout
        out[f"{label} stderr"] = proc.stderr
    return out


def check_statuses(label: str, stderr: str, log_format: str, chosen: list,
                   run: list[tuple[str, str]]) -> None:
    """The run drove its failures: each account ended with the status its fault causes."""
    if log_format == "json":
        lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
        got = {e["account"]: e["status"] for e in lines if "account" in e and "status" in e}
    else:
        got = {}
        for a in chosen:
            match = re.search(rf" {re.escape(a.key)}\s+(\w+)\s+fetched=", stderr)
            got[a.key] = match.group(1) if match else None
    want = {a.key: STATUS[failure] for a, (failure, _) in zip(chosen, run)}
    assert got == want, f"{label}: {got} != {want}\n{stderr[-3000:]}"


def cli_outputs(name: str, args: list[str], check=lambda code: code in (0, 1)) -> \
        dict[str, str]:
    proc = run_cli(args, cli_env())
    assert check(proc.returncode), f"{name}: exit {proc.returncode}\n{proc.stderr}"
    return {f"{name} (exit {proc.returncode}) stdout": proc.stdout,
            f"{name} (exit {proc.returncode}) stderr": proc.stderr}


@pytest.mark.parametrize("platform", PLATFORMS)
def test_cli_prints_stores_and_serves_no_secret(platform, tmp_path):
    dbs = {label: tmp_path / label / "smc.db" for label in ("json", "text")}
    for db in dbs.values():
        db.parent.mkdir()
    record = tmp_path / "recording"
    surfaces: dict[str, str | bytes] = {}
    with ThreadPoolExecutor(2) as pool:  # two databases, two independent chains
        chains = [pool.submit(collect_chain, platform, dbs["json"], "json", None),
                  pool.submit(collect_chain, platform, dbs["text"], "text", record)]
        for chain in chains:
            surfaces.update(chain.result())
        planned = sum(len(run) for run in cli_plan(platform))
        commands = []
        for label, db in dbs.items():
            errors = db_text(db, "SELECT count(*) FROM runs WHERE error IS NOT NULL")[0][0]
            assert errors >= planned, f"{label} db: {errors} runs with an error, {planned} faults"
            for flags in ((), ("--json",), ("--check",)):
                commands.append((f"cli status {' '.join(flags)} ({label} db)".replace("  ", " "),
                                 ["--db", str(db), "status", *flags]))
            commands.append((f"cli digest ({label} db)",
                             ["--db", str(db), "--log-level", "debug", "digest", "--date",
                              seoul_today(), "--out", str(tmp_path / f"digest-{label}")]))
        for outputs in pool.map(lambda c: cli_outputs(*c), commands):
            surfaces.update(outputs)
    for label, db in dbs.items():
        surfaces.update(tree_surfaces(tmp_path / f"digest-{label}", f"cli digest ({label} db)"))
        surfaces.update(db_surfaces(db, f"cli {label} db"))
    surfaces.update(served_pages(dbs["json"]))
    surfaces.update(db_surfaces(dbs["json"], "cli json db after serving"))
    # --simulate --record: the simulator's adapter bypasses urllib3/httplib2, so vcrpy sees
    # no traffic; whatever it wrote is checked (test_recorded_traffic covers real HTTP).
    assert record.is_dir()
    surfaces.update(tree_surfaces(record, "cli --record"))
    assert_no_leak(surfaces, f"CLI on {platform}")


# --- recordings of real HTTP ------------------------------------------------------------------
RECORDED_FAILURES = ("4xx_echo", "5xx_echo", "expired_token", "quota")  # HTTP answers only


class _Httplib2ToLocal:
    """A real httplib2.Http whose requests go to the local server (vcrpy records them)."""

    timeout = 10

    def __init__(self, port: int):
        import httplib2

        self.http = httplib2.Http(timeout=self.timeout)
        self.port = port

    def request(self, uri: str, method: str = "GET", body: Any = None, headers: Any = None,
                redirections: int = 5, connection_type: Any = None) -> tuple[Any, bytes]:
        parts = urlsplit(uri)
        local = f"http://127.0.0.1:{self.port}/{parts.netloc}{parts.path}" + (
            f"?{parts.query}" if parts.query else "")
        return self.http.request(local, method, body=body, headers=headers,
                                 redirections=redirections)

    def close(self) -> None:
        pass


@pytest.mark.parametrize("platform", PLATFORMS)
def test_recorded_traffic_holds_no_secret(platform: str, tmp_path: Path,
                                         cli_logging: pytest.LogCaptureFixture) -> None:
    """`collect --record` as the CLI does it (recorded_traffic, the credential values of
    accounts.yaml as secrets) over real HTTP to the simulator, with the HTTP failures."""
    from test_recording import LocalTransport, _Handler

    from collectors.recording import recorded_traffic

    available = platform_accounts(platform)
    kinds = [k for failure in RECORDED_FAILURES for k in kinds_for(platform, failure)]
    kinds = kinds[:len(available) - 1]  # and one healthy account: paging.next links, tokens
    chosen = available[:len(kinds) + 1]
    world = World(chosen, seed=14, days=3, posts_per_account=2, comments_per_post=3)
    faults = [fault(platform, kind) for kind in kinds]
    handler = type("H", (_Handler,), {"sim": SimTransport(world, faults)})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    transport = LocalTransport(port)
    transport.httplib2 = lambda: _Httplib2ToLocal(port)  # type: ignore[method-assign]
    secrets = [FAKE[n] for a in ACCOUNTS for n in a.credentials]  # commands.common.traffic
    db = tmp_path / "smc.db"
    try:
        with recorded_traffic(tmp_path / "recording", "record", secrets):
            writer = Writer(connect(db))
            results = collect(writer, ACCOUNTS, transport, dict(FAKE), RunOptions(
                simulate=True, accounts=tuple(a.key for a in chosen),
                extra={"sleep": lambda s: None, "lookback_days": 7, "live_seconds": 2}))
            writer.db.conn.close()
    finally:
        server.shutdown()
    assert all(f.fired == f.times for f in faults), [(f.kind, f.fired) for f in faults]
    assert results[-1].status == "ok", results[-1].error
    cassette = tmp_path / "recording" / "traffic.yaml"
    assert cassette.exists() and PLACEHOLDER in cassette.read_text(encoding="utf-8")
    # The recording and what vcrpy logged (the results are the cases' business).
    surfaces: dict[str, str | bytes] = dict(tree_surfaces(tmp_path / "recording", "recording"))
    surfaces.update(log_surfaces(cli_logging.records))
    assert_no_leak(surfaces, f"recording of {platform} ({', '.join(kinds)})")


# --- rows stored before the fix ----------------------------------------------------------------
SHIPPED_VERSION = 10  # the schema of the databases that hold unredacted errors (issue #14)


def leaked_errors() -> list[tuple[str, str, str]]:
    """(account, platform, runs.error) as the code before the fix stored them (taken from the
    cases above on that code): URLs with access_token / key, an echoed Authorization header,
    and a token quoted bare by Graph."""
    fb, fb2, ig = FAKE["FB_PAGE_TOKEN_SEOUL"], FAKE["FB_PAGE_TOKEN_MAYOR"], FAKE["IG_ACCESS_TOKEN"]
    x, yt = FAKE["X_BEARER_TOKEN"], FAKE["YOUTUBE_API_KEY"]
    return [
        ("fb_seoul", "facebook",
         ("fb_seoul: GET the posts of page 100000000000001: gave up after 3 attempts: _Retry: "
          "connection failed: HTTPSConnectionPool(host='graph.facebook.com', port=443): Max "
          "retries exceeded with url: /v21.0/100000000000001/posts?fields=id%2Cmessage&limit=100"
          f"&access_token={quote_plus(fb)} (Caused by NameResolutionError(\"HTTPSConnection("
          "host='graph.facebook.com', port=443): Failed to resolve 'graph.facebook.com'\"))")),
        ("fb_mayor", "facebook",
         ("fb_mayor: the access token in FB_PAGE_TOKEN_MAYOR was rejected (Graph error 190: "
          f"Malformed access token {fb2}); it has expired or been revoked: generate a new token "
          "and set FB_PAGE_TOKEN_MAYOR")),
        ("ig_seoul", "instagram",
         ("ig_seoul: the Graph API refused to serve the media of 17841000000000001 (HTTP 400) "
          "(Graph error 100: (#100) Invalid parameter: the request GET https://graph.facebook.com"
          f"/v21.0/17841000000000001/media?limit=25&access_token={quote_plus(ig)} could not be "
          "served)")),
        ("x_seoulmania", "x",
         ("x_seoulmania: X user lookup: gave up after 3 attempts: TwitterServerError: 503 Error\n"
          "Service Unavailable while proxying GET https://api.twitter.com/2/users/by/username/"
          f"seoulmania (Authorization: Bearer {x})")),
        ("yt_seoul", "youtube",
         ("yt_seoul: YouTube channels.list answered HTTP 400 badRequest (Invalid request: GET "
          "https://youtube.googleapis.com/youtube/v3/channels?part=contentDetails&maxResults=1"
          f"&key={quote_plus(yt)}&alt=json)")),
    ]


def old_database(path: Path) -> None:
    """A database at the shipped schema, holding the errors the old code stored."""
    import sqlite_utils
    from shipped_schema import migrate

    db = sqlite_utils.Database(sqlite3.connect(str(path), isolation_level=None))
    migrate(db, SHIPPED_VERSION)
    for n, (account, platform, error) in enumerate(leaked_errors()):
        db.execute("INSERT INTO runs (run_id, account, platform, started_at, finished_at, "
                   "status, error) VALUES (?, ?, ?, ?, ?, 'failed', ?)",
                   (f"old{n}", account, platform, "2026-11-25T00:00:00Z",
                    "2026-11-25T00:00:01Z", error))
    db.conn.close()


@pytest.fixture
def migrated(tmp_path, monkeypatch) -> Path:
    """The old database opened as every command opens it (store.db.connect migrates), in an
    environment holding the fake values, as the CLI's would."""
    db = tmp_path / "old.db"
    old_database(db)
    assert leaks(db_surfaces(db, "before"))  # the rows do hold the values
    for name, value in FAKE.items():
        monkeypatch.setenv(name, value)
    connect(db).conn.close()
    return db


def test_migration_scrubs_rows_already_stored(migrated):
    rows = db_surfaces(migrated, "migrated db")
    assert_no_leak({k: v for k, v in rows.items() if "raw bytes" not in k},
                   "rows stored before the fix, after the migration")
    errors = [r[0] for r in db_text(migrated, "SELECT error FROM runs ORDER BY id")]
    assert len(errors) == len(leaked_errors()) and all(PLACEHOLDER in e for e in errors), errors


def test_migration_leaves_no_copy_in_the_database_file(migrated):
    """Rewritten rows stay in SQLite's free pages and the WAL until overwritten (backups copy
    them): the scrub needs secure_delete / a VACUUM and a checkpoint."""
    assert_no_leak({k: v for k, v in db_surfaces(migrated, "migrated db").items()
                    if "raw bytes" in k}, "database files after the migration")


# --- the redaction function itself ------------------------------------------------------------
TOKEN = "EAAGm0PX4ZCpsBAsecretPAGEtoken123"  # unknown to redact: only its context gives it away
GRAPH = "https://graph.facebook.com/v21.0/1/posts"


@pytest.mark.parametrize("text", [
    pytest.param(f"{GRAPH}?limit=25&access_token={TOKEN}&after=QVF", id="access_token="),
    pytest.param(f"{GRAPH}?appsecret_proof={TOKEN}&limit=25", id="appsecret_proof="),
    pytest.param(f"https://youtube.googleapis.com/youtube/v3/channels?part=id&key={TOKEN}&alt=json",
                 id="key="),
    pytest.param(f"client_id=1&client_secret={TOKEN}&grant_type=client_credentials",
                 id="client_secret="),
    pytest.param(f"Authorization: Bearer {TOKEN}", id="Authorization: Bearer"),
    pytest.param(f"authorization: bearer {TOKEN}", id="authorization: bearer"),
    pytest.param(f'{{"Authorization": "OAuth {TOKEN}"}}', id="json Authorization OAuth"),
    pytest.param(f"{{'Authorization': 'Bearer {TOKEN}'}}", id="dict Authorization Bearer"),
    pytest.param(f'{{"error": {{"message": "bad", "access_token": "{TOKEN}"}}}}',
                 id="json access_token"),
    pytest.param(f"Max retries exceeded with url: /v21.0/1/posts?fields=id%2Cmessage&access_token="
                 f"{TOKEN} (Caused by NameResolutionError(...))", id="urllib3 MaxRetryError"),
    pytest.param(f"access_token%3D{TOKEN}", id="access_token%3D"),
    pytest.param(f"next=https%3A%2F%2Fgraph.facebook.com%2Fv21.0%2F1%2Fposts%3Faccess_token%3D"
                 f"{TOKEN}%26after%3DQVF", id="%3Faccess_token%3D (URL-encoded URL)"),
    pytest.param(f"u=https%3A%2F%2Fyoutube.googleapis.com%2Fyoutube%2Fv3%2Fvideos%3Fid%3D1%26key%3D"
                 f"{TOKEN}", id="%26key%3D (URL-encoded URL)"),
])
def test_redact_removes_secret_parameters_and_headers(text):
    redacted = redact(text)
    assert TOKEN[:12] not in redacted, redacted
    assert PLACEHOLDER in redacted


KNOWN = ["FAKE100secretvalue|TOKEN", "ya29.a0AfH6SMBx-secret_9", "AIzaSyD-secretKEY_0123456789"]


@pytest.mark.parametrize("value", KNOWN)
def test_redact_removes_known_values_anywhere(value):
    for text in (f"x{value}y", f"({value})", f"'{value}'", f"<b>{value}</b>",
                 f"Malformed access token {value}", f"error: {value}\nnext line",
                 f"{value}{value}", f"token={value}"):
        redacted = redact(text, [value])
        assert value not in redacted and value[:12] not in redacted, (text, redacted)


@pytest.mark.parametrize("value", KNOWN)
@pytest.mark.parametrize("encode", [quote_plus, lambda v: quote(v, safe="")],
                         ids=["quote_plus", "quote"])
def test_redact_removes_url_encoded_known_values(value, encode):
    """A known value as a URL carries it (e.g. a Graph token with '|' becomes %7C), without
    a parameter name in front that the patterns would recognise."""
    text = f"GET https://example.org/cb?state={encode(value)}"
    redacted = redact(text, [value])
    assert encode(value) not in redacted and value[:12] not in redacted, redacted


def test_redact_keeps_ordinary_text():
    text = ("fb_seoul: the Graph API refused to serve the posts of page 1 (HTTP 400): "
            "the access token in FB_PAGE_TOKEN_SEOUL was rejected; key points: retry later")
    assert redact(text) == text
