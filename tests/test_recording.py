"""`collect --record/--replay`: real HTTP through vcrpy, every secret scrubbed.

The simulator is served over real HTTP on 127.0.0.1 so that the client libraries' requests
leave through urllib3/httplib2, exactly where vcrpy records live traffic.
"""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from requests.adapters import HTTPAdapter
from test_x import db_rows, small_world

from collectors.http import TimeoutSession
from collectors.recording import PLACEHOLDER, recorded_traffic, scrub_text, scrub_url
from pipeline.runner import RunOptions, collect, simulated_environ
from simulator import SimTransport
from simulator.transport import SimRequest
from store.db import connect
from store.writer import Writer

TOKENS = {"X_BEARER_TOKEN": "AAAAsecretXbearer0123456789",
          "SMC_AUTHOR_KEY": "author-key-secret-987654321"}


class _Handler(BaseHTTPRequestHandler):
    sim: SimTransport

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        host, _, rest = self.path.lstrip("/").partition("/")
        parts = urlsplit("/" + rest)
        req = SimRequest("GET", host, parts.path, dict(parse_qsl(parts.query)),
                         {k.lower(): v for k, v in self.headers.items()})
        answer = self.sim.handle(req)
        body = answer.content()
        self.send_response(answer.status)
        for name, value in {"content-type": "application/json", **answer.headers}.items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


class _ToLocalhost(HTTPAdapter):
    """Sends https://HOST/path to http://127.0.0.1:PORT/HOST/path: real sockets, local only."""

    def __init__(self, port: int):
        super().__init__()
        self.port = port

    def send(self, request: requests.PreparedRequest, *args: Any,
             **kwargs: Any) -> requests.Response:
        assert request.url is not None
        parts = urlsplit(request.url)
        request.url = f"http://127.0.0.1:{self.port}/{parts.netloc}{parts.path}" + (
            f"?{parts.query}" if parts.query else "")
        return super().send(request, *args, **kwargs)


class LocalTransport:
    def __init__(self, port: int):
        self.port = port

    def session(self) -> requests.Session:
        session = TimeoutSession()
        session.mount("https://", _ToLocalhost(self.port))
        return session

    def httplib2(self) -> Any:
        raise NotImplementedError


@pytest.fixture
def sim_server(accounts):
    world = small_world(accounts)
    handler = type("H", (_Handler,), {"sim": SimTransport(world)})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


def _collect(db: Path, accounts, transport) -> list:
    writer = Writer(connect(db))
    options = RunOptions(simulate=False, platforms=("x",), extra={"sleep": lambda s: None})
    results = collect(writer, accounts, transport, dict(TOKENS), options)
    writer.db.conn.close()
    return results


def test_record_scrubs_every_secret_and_replay_reproduces_the_run(accounts, sim_server, tmp_path):
    transport = LocalTransport(sim_server.server_address[1])
    recorded = tmp_path / "recorded.db"
    with recorded_traffic(tmp_path / "traffic", "record", TOKENS.values()):
        results = _collect(recorded, accounts, transport)
    assert all(r.status == "ok" for r in results)
    cassette = (tmp_path / "traffic" / "traffic.yaml").read_text(encoding="utf-8")
    assert "api.twitter.com/2/users" in cassette and PLACEHOLDER in cassette
    for secret in TOKENS.values():
        assert secret not in cassette
    assert "Bearer " + PLACEHOLDER in cassette or f"- {PLACEHOLDER}" in cassette
    sim_server.shutdown()  # offline from here on
    replayed = tmp_path / "replayed.db"
    with recorded_traffic(tmp_path / "traffic", "replay", TOKENS.values()):
        results = _collect(replayed, accounts, transport)
    assert all(r.status == "ok" for r in results), [r.error for r in results if r.error]
    assert db_rows(replayed) == db_rows(recorded)
    for secret in TOKENS.values():
        assert secret.encode() not in replayed.read_bytes()


def test_scrub_helpers():
    url = "https://graph.facebook.com/v21.0/1/comments?access_token=EAAB123&after=QVF&key=AIza9"
    assert scrub_url(url, []) == (f"https://graph.facebook.com/v21.0/1/comments?access_token="
                                  f"{PLACEHOLDER}&after=QVF&key={PLACEHOLDER}")
    body = '{"paging": {"next": "https://graph.facebook.com/x?access_token=EAAB123&limit=25"}}'
    assert "EAAB123" not in scrub_text(body, [])
    assert scrub_text("Authorization: Bearer abc.def", []) == f"Authorization: Bearer {PLACEHOLDER}"
    assert scrub_text("token mysecretvalue in text", ["mysecretvalue"]) == \
        f"token {PLACEHOLDER} in text"


def test_replay_without_recording_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no recorded traffic"):
        with recorded_traffic(tmp_path / "none", "replay", []):
            pass


def test_graph_traffic_recorded_at_an_older_version_replays_at_the_default(
        accounts, sim_server, tmp_path, monkeypatch):
    """A cassette holds v21.0 URLs; the collectors now ask for another version. Replay
    matching ignores Graph's version segment, so the run is reproduced offline."""
    from collectors.graph import GRAPH_VERSION

    graph = [a for a in accounts if a.key in ("fb_seoul", "ig_seoul")]
    env = {**simulated_environ(graph), "SMC_AUTHOR_KEY": TOKENS["SMC_AUTHOR_KEY"]}
    transport = LocalTransport(sim_server.server_address[1])

    def run(db: Path, version: str) -> list:
        monkeypatch.setenv("SMC_GRAPH_VERSION", version)
        writer = Writer(connect(db))
        options = RunOptions(simulate=False, platforms=("facebook", "instagram"),
                             extra={"sleep": lambda s: None})
        results = collect(writer, graph, transport, {**env, "SMC_GRAPH_VERSION": version},
                          options)
        writer.db.conn.close()
        return results

    with recorded_traffic(tmp_path / "traffic", "record", env.values()):
        results = run(tmp_path / "recorded.db", "v21.0")
    assert [r.status for r in results] == ["ok", "ok"]
    cassette = (tmp_path / "traffic" / "traffic.yaml").read_text(encoding="utf-8")
    assert "graph.facebook.com/v21.0/" in cassette and GRAPH_VERSION != "v21.0"
    sim_server.shutdown()  # offline from here on
    with recorded_traffic(tmp_path / "traffic", "replay", env.values()):
        results = run(tmp_path / "replayed.db", GRAPH_VERSION)
    assert [r.status for r in results] == ["ok", "ok"], [r.error for r in results]
    assert db_rows(tmp_path / "replayed.db") == db_rows(tmp_path / "recorded.db")
