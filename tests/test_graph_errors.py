"""Graph API errors: each code gives its behaviour and a message a person can act on, and the
other accounts still run. Also the facebook-sdk workarounds of collectors/graph.py."""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import facebook
import pytest
import requests
import responses

from core.errors import (
    CollectorError,
    PaginationLoop,
    PermissionMissing,
    RateLimited,
    TransientError,
)
from collectors.facebook import FacebookCollector
from collectors.graph import (
    GRAPH_VERSION,
    GRAPH_VERSIONS,
    GraphClient,
    configured_version,
    version_notice,
)
from collectors.http import TimeoutSession
from core.accounts import Account
from pipeline.config import load_accounts
from pipeline.runner import RunOptions, collect, simulated_environ
from simulator import Fault, SimTransport, World
from simulator.graph import Server
from simulator.transport import SimRequest
from store import queries
from store.db import connect
from store.writer import Writer

ROOT = Path(__file__).resolve().parent.parent
FIX = Path(__file__).resolve().parent / "fixtures" / "facebook-graph"
NOW = datetime(2030, 1, 1, tzinfo=timezone.utc)  # the collector's clock for retry_after
MAYOR = "/100000000000002/"  # fb_mayor's page id
IG_CULTURE = "/17841000000000002/"


@pytest.fixture(scope="module")
def graph_accounts() -> list[Account]:
    """Two Facebook pages and two Instagram accounts: the faulty one and others that run."""
    keep = ("fb_seoul", "fb_mayor", "ig_seoul", "ig_seoul_culture")
    return [a for a in load_accounts(ROOT / "config" / "accounts.yaml") if a.key in keep]


def run(db_path: Path, accounts: list[Account], faults: list[Fault], **extra: Any):
    sleeps: list[float] = []
    transport = SimTransport(World(accounts), faults)
    writer = Writer(connect(db_path))
    options = RunOptions(simulate=True, extra={"sleep": sleeps.append, "clock": lambda: NOW,
                                               "lookback_days": 7, **extra})
    results = collect(writer, accounts, transport, simulated_environ(accounts), options)
    star = {a.key: queries.retry_after(writer.db, a.key) for a in accounts}
    writer.db.conn.close()
    return {r.account: r for r in results}, star, sleeps


def others_ok(results: dict, failed: str) -> None:
    assert all(r.status == "ok" for k, r in results.items() if k != failed), {
        k: (r.status, r.error) for k, r in results.items() if k != failed}


@pytest.mark.parametrize("kind, until", [
    ("graph:4", "2030-01-01T01:00:00Z"),
    ("graph:17", "2030-01-01T01:00:00Z"),
    ("graph:32", "2030-01-01T00:15:00Z"),  # X-Business-Use-Case-Usage says 15 minutes
    ("graph:613", "2030-01-01T01:00:00Z"),
    ("graph:usage", "2030-01-01T00:15:00Z"),  # a 200 OK, but usage at 100 %
    ("429", "2030-01-01T01:00:00Z"),
])
def test_rate_limits_stop_the_account_and_store_retry_after(
        tmp_path: Path, graph_accounts: list[Account], kind: str, until: str) -> None:
    db = tmp_path / "smc.db"
    fault = Fault(kind, platform="graph", path=MAYOR + "posts", times=-1)
    results, star, sleeps = run(db, graph_accounts, [fault])
    mayor = results["fb_mayor"]
    assert mayor.status == "rate_limited" and mayor.retry_after == until
    assert "fb_mayor" in mayor.error and until in mayor.error
    assert star["fb_mayor"] == until  # cursors table, stream '*'
    assert sleeps == []  # never sleeps for a rate limit
    others_ok(results, "fb_mayor")
    # the next run does not ask before retry_after (the runner's wall clock is before 2030)
    again, _, _ = run(db, graph_accounts, [])
    assert again["fb_mayor"].status == "rate_limited" and again["fb_mayor"].requests == 0


def test_expired_token_names_the_env_var(tmp_path: Path, graph_accounts: list[Account]) -> None:
    results, _, _ = run(tmp_path / "smc.db", graph_accounts,
                        [Fault("graph:190", platform="graph", path=MAYOR, times=-1)])
    mayor = results["fb_mayor"]
    assert mayor.status == "auth"
    assert "FB_PAGE_TOKEN_MAYOR" in mayor.error and "expired" in mayor.error
    others_ok(results, "fb_mayor")


def test_expired_instagram_token(tmp_path: Path, graph_accounts: list[Account]) -> None:
    results, _, _ = run(tmp_path / "smc.db", graph_accounts,
                        [Fault("expired_token", platform="graph", path=IG_CULTURE, times=-1)])
    assert results["ig_seoul_culture"].status == "auth"
    assert "IG_ACCESS_TOKEN" in results["ig_seoul_culture"].error
    others_ok(results, "ig_seoul_culture")


@pytest.mark.parametrize("kind, path, account, permission", [
    ("graph:200", "/comments", "fb_mayor", "pages_read_user_content"),
    ("graph:10", "/comments", "fb_mayor", "pages_read_user_content"),
    ("graph:200", MAYOR + "posts", "fb_mayor", "pages_read_engagement"),
    ("graph:10", IG_CULTURE + "media", "ig_seoul_culture", "instagram_basic"),
    ("permission", "/comments", "ig_seoul_culture", "instagram_manage_comments"),
])
def test_missing_permission_names_it(tmp_path: Path, graph_accounts: list[Account], kind: str,
                                     path: str, account: str, permission: str) -> None:
    accounts = graph_accounts
    world_key = account
    fault_path = path
    if path == "/comments":  # one post (FB) / media (IG) of the account
        world = World(accounts)
        post = world.visible_posts(world_key)[-1]
        native = world.accounts[world_key].native_id
        from simulator.graph import MEDIA_BASE
        fault_path = (f"/{native}_{post.seq}/comments" if account.startswith("fb")
                      else f"/{MEDIA_BASE + post.seq}/comments")
    results, _, _ = run(tmp_path / "smc.db", accounts,
                        [Fault(kind, platform="graph", path=fault_path, times=-1)])
    result = results[account]
    assert result.status == "permission"
    assert f"'{permission}'" in result.error
    env = "FB_PAGE_TOKEN_MAYOR" if account == "fb_mayor" else "IG_ACCESS_TOKEN"
    assert env in result.error
    others_ok(results, account)


@pytest.mark.parametrize("kind", ["500", "503", "timeout", "bad_json", "truncated"])
def test_transient_errors_are_retried_then_fail(tmp_path: Path, graph_accounts: list[Account],
                                                kind: str) -> None:
    results, _, sleeps = run(tmp_path / "smc.db", graph_accounts,
                             [Fault(kind, platform="graph", path=MAYOR, times=-1)])
    mayor = results["fb_mayor"]
    assert mayor.status == "failed" and "gave up after 3 attempts" in mayor.error
    assert len(sleeps) == 2 and all(0 <= s <= 2 for s in sleeps)  # small, bounded backoff
    others_ok(results, "fb_mayor")


@pytest.mark.parametrize("kind", ["500", "timeout", "bad_json"])
def test_one_transient_error_is_retried_and_the_run_succeeds(
        tmp_path: Path, graph_accounts: list[Account], kind: str) -> None:
    results, _, sleeps = run(tmp_path / "smc.db", graph_accounts,
                             [Fault(kind, platform="graph", path="/comments", after=3, times=1)])
    assert all(r.status == "ok" for r in results.values())
    assert len(sleeps) == 1


def test_missing_access_token_is_a_190_in_graph_shape(graph_accounts: list[Account]) -> None:
    server = Server(World(graph_accounts))
    answer = server.handle(SimRequest("GET", "graph.facebook.com",
                                      "/v21.0/100000000000001/posts", {}, {}))
    assert answer.status == 401
    assert answer.body["error"]["code"] == 190
    assert answer.body["error"]["type"] == "OAuthException" and answer.body["error"]["fbtrace_id"]
    unknown = server.handle(SimRequest("GET", "graph.facebook.com", "/v21.0/42/feed",
                                       {"access_token": "x"}, {}))
    assert unknown.status == 400 and unknown.body["error"]["code"] == 100


# --- the client on its own, through `responses` ----------------------------------------------
class PlainTransport:
    def session(self):
        return TimeoutSession()

    def httplib2(self):  # pragma: no cover
        raise NotImplementedError


def client(**options: Any) -> GraphClient:
    return GraphClient(PlainTransport(), "tok", account="fb_test", env_var="FB_PAGE_TOKEN_TEST",
                       options={"sleep": lambda s: None, "clock": lambda: NOW, **options})


def test_version_workaround() -> None:
    with pytest.raises(facebook.GraphAPIError):
        facebook.GraphAPI("tok", version="21.0")  # the 2018 library refuses current versions
    assert client().api.version == GRAPH_VERSION == "v25.0"
    assert client(graph_version="v22.0").version == "v22.0"
    with pytest.raises(CollectorError, match="graph_version"):
        client(graph_version="22")


@responses.activate
def test_requests_use_our_version_token_and_timeout() -> None:
    responses.add(responses.GET, "https://graph.facebook.com/v22.0/1/posts", json={"data": []})
    c = client(graph_version="v22.0", graph_timeout=7)
    assert list(c.pages("1", "posts", {"limit": 5}, permission="p", what="w")) == [
        ({"data": []}, True)]
    url = responses.calls[0].request.url
    assert url is not None and "access_token=tok" in url
    assert c.requests == 1 and c.take_requests() == 1 and c.take_requests() == 0


@responses.activate
def test_repeating_cursor_raises_pagination_loop() -> None:
    body = {"data": [{"id": "1"}], "paging": {"cursors": {"after": "SAME"},
                                              "next": "https://graph.facebook.com/v9.0/1/x"}}
    responses.add(responses.GET, f"https://graph.facebook.com/{GRAPH_VERSION}/1/comments",
                  json=body)
    with pytest.raises(PaginationLoop, match="same paging cursor"):
        list(client().pages("1", "comments", {}, permission="p", what="comments"))


@responses.activate
def test_next_url_without_token_is_followed() -> None:
    """facebook-sdk's get_all_connections crashes here (KeyError: 'access_token')."""
    first = {"data": [{"id": "1"}], "paging": {
        "next": "https://graph.facebook.com/v10.0/4/posts?until=1624385168&__paging_token=t"}}
    responses.add(responses.GET, f"https://graph.facebook.com/{GRAPH_VERSION}/4/posts",
                  json=first, match=[responses.matchers.query_param_matcher(
                      {"access_token": "tok"})])
    responses.add(responses.GET, f"https://graph.facebook.com/{GRAPH_VERSION}/4/posts",
                  json={"data": [{"id": "2"}]}, match=[responses.matchers.query_param_matcher(
                      {"access_token": "tok", "until": "1624385168", "__paging_token": "t"})])
    api = facebook.GraphAPI("tok", version="3.1", session=TimeoutSession())
    api.version = GRAPH_VERSION
    with pytest.raises(KeyError):
        list(api.get_all_connections("4", "posts"))
    got = [b["data"][0]["id"] for b, _ in client().pages("4", "posts", {}, permission="p",
                                                         what="posts")]
    assert got == ["1", "2"]


@responses.activate
def test_recorded_error_body_names_the_permission() -> None:
    body = json.loads((FIX / "base_error_data.json").read_text())
    responses.add(responses.GET, f"https://graph.facebook.com/{GRAPH_VERSION}/1/posts",
                  json=body, status=400)
    with pytest.raises(PermissionMissing) as err:
        client().get("1/posts", {}, permission="pages_read_user_content", what="posts")
    assert "'pages_read_engagement'" in str(err.value)
    assert "FB_PAGE_TOKEN_TEST" in str(err.value)


@responses.activate
def test_other_code_fails_with_the_graph_message() -> None:
    responses.add(responses.GET, f"https://graph.facebook.com/{GRAPH_VERSION}/1/posts",
                  json={"error": {"message": "(#100) Tried accessing nonexisting field (x)",
                                  "type": "OAuthException", "code": 100}}, status=400)
    with pytest.raises(CollectorError) as err:
        client().get("1/posts", {}, permission="p", what="posts")
    assert type(err.value) is CollectorError and "nonexisting field" in str(err.value)


@responses.activate
def test_app_usage_header_near_100_percent_on_a_success() -> None:
    responses.add(responses.GET, f"https://graph.facebook.com/{GRAPH_VERSION}/1/posts",
                  json={"data": []},
                  headers={"X-App-Usage": json.dumps({"call_count": 97, "total_cputime": 10,
                                                      "total_time": 12})})
    with pytest.raises(RateLimited) as err:
        client().get("1/posts", {}, permission="p", what="posts")
    assert err.value.retry_after == "2030-01-01T01:00:00Z" and "97%" in str(err.value)
    responses.replace(responses.GET, f"https://graph.facebook.com/{GRAPH_VERSION}/1/posts",
                      json={"data": []},
                      headers={"X-App-Usage": json.dumps({"call_count": 40})})
    assert client().get("1/posts", {}, permission="p", what="posts") == {"data": []}


@responses.activate
def test_connection_error_and_graph_transient_code() -> None:
    url = f"https://graph.facebook.com/{GRAPH_VERSION}/1/posts"
    responses.add(responses.GET, url, body=requests.ConnectionError("refused"))
    with pytest.raises(TransientError, match="connection failed"):
        client().get("1/posts", {}, permission="p", what="posts")
    responses.replace(responses.GET, url, status=200, json={"error": {
        "message": "An unknown error occurred", "type": "OAuthException", "code": 1,
        "is_transient": True}})
    with pytest.raises(TransientError, match="unknown error"):
        client().get("1/posts", {}, permission="p", what="posts")
    assert len(responses.calls) == 6


@responses.activate
def test_html_answer_is_transient() -> None:
    responses.add(responses.GET, f"https://graph.facebook.com/{GRAPH_VERSION}/1/posts",
                  body="<html>captive portal</html>", content_type="text/html")
    with pytest.raises(TransientError, match="not a Graph API answer"):
        client().get("1/posts", {}, permission="p", what="posts")


def test_collector_without_token_is_skipped() -> None:
    account = Account(key="fb_x", platform="facebook", handle="h", name="n", owner="city",
                      field="f", department="d", language="ko", credentials=("FB_X",),
                      interval_minutes=30, native_id="1")
    collector = FacebookCollector(PlainTransport(), {}, [account], {})
    with pytest.raises(CollectorError, match="FB_X is not set") as err:
        list(collector.pages(account, {}))
    assert err.value.kind == "skipped"


# --- the Graph API version (issue #15, point 10) ---------------------------------------------
def test_version_comes_from_the_environment_and_is_checked(graph_accounts) -> None:
    assert configured_version({}) == GRAPH_VERSION and GRAPH_VERSIONS[GRAPH_VERSION][1]
    assert configured_version({"SMC_GRAPH_VERSION": " v27.0 "}) == "v27.0"
    for bad in ("27", "v27", "27.0", "v27.0/", "latest"):
        with pytest.raises(ValueError, match="SMC_GRAPH_VERSION"):
            configured_version({"SMC_GRAPH_VERSION": bad})
    env = {**simulated_environ(graph_accounts), "SMC_GRAPH_VERSION": "v22.0"}
    collector = FacebookCollector(PlainTransport(), env, graph_accounts, {})
    assert collector.client(graph_accounts[0]).version == "v22.0"
    env["SMC_GRAPH_VERSION"] = "22"  # each Graph account fails naming the variable; no crash
    with pytest.raises(CollectorError, match="SMC_GRAPH_VERSION='22'"):
        FacebookCollector(PlainTransport(), env, graph_accounts, {}).client(graph_accounts[0])


def test_version_notice_warns_90_days_before_the_end() -> None:
    end = GRAPH_VERSIONS["v21.0"][1]
    assert end == date(2027, 1, 21)
    notice, warning = version_notice("v21.0", end - timedelta(days=91))
    assert not warning and "available until 2027-01-21" in notice
    notice, warning = version_notice("v21.0", end - timedelta(days=90))
    assert warning and "ends on 2027-01-21, in 90 days" in notice
    assert version_notice("v21.0", end)[1] and "in 0 days" in version_notice("v21.0", end)[0]
    notice, warning = version_notice("v21.0", end + timedelta(days=1))
    assert warning and "ended on 2027-01-21" in notice
    notice, warning = version_notice("v99.0", date(2026, 12, 1))
    assert warning and "not in the table" in notice
    notice, warning = version_notice("v27.0", date(2026, 12, 1))
    assert not warning and "not announced" in notice
    assert not version_notice(GRAPH_VERSION, date(2026, 12, 1))[1]  # the default is safe now


@pytest.mark.parametrize("today,warned", [("2026-10-22", False), ("2026-10-23", True),
                                          ("2027-02-01", True)])
def test_status_warns_before_the_configured_version_ends(tmp_path, monkeypatch, capsys,
                                                         today, warned) -> None:
    import commands
    from store import writer

    monkeypatch.setenv("SMC_GRAPH_VERSION", "v21.0")  # ends 2027-01-21: warned from 10-23 on
    monkeypatch.setattr(writer, "utc_now", lambda: f"{today}T00:00:00Z")
    db = str(tmp_path / "smc.db")
    assert commands.main(["--db", db, "migrate"]) == 0  # status never creates one
    capsys.readouterr()
    assert commands.main(["--db", db, "status"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if "graph api:" in x)
    assert line.startswith("WARNING ") is warned and "v21.0" in line
    assert commands.main(["--db", db, "status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["graph_api"]["warning"] is warned
    monkeypatch.setenv("SMC_GRAPH_VERSION", "v31.0")
    assert commands.main(["--db", db, "status"]) == 0
    assert "WARNING graph api: v31.0 is not in the table" in capsys.readouterr().out


def test_simulator_serves_any_version(graph_accounts) -> None:
    server = Server(World(graph_accounts))
    page = "100000000000001"
    for version in ("v21.0", "v25.0", "v99.9"):
        answer = server.handle(SimRequest("GET", "graph.facebook.com", f"/{version}/{page}/posts",
                                          {"access_token": "x", "limit": "1"}, {}))
        assert answer.status == 200, version
        assert f"/{version}/" in answer.body["paging"]["next"]  # links name the version asked



def test_check_config_names_the_version_and_refuses_a_bad_one(monkeypatch, capsys) -> None:
    import commands

    monkeypatch.delenv("SMC_GRAPH_VERSION", raising=False)
    assert commands.main(["check-config"]) == 0
    assert f"graph api version: {GRAPH_VERSION}" in capsys.readouterr().out
    monkeypatch.setenv("SMC_GRAPH_VERSION", "v21")
    assert commands.main(["check-config"]) == 2
    assert "SMC_GRAPH_VERSION='v21'" in capsys.readouterr().err
