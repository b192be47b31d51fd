"""The workplace (issue #18) over HTTP, in process: logins, sessions, CSRF, throttling, roles,
every action in case_events with the logged-in person, Datasette behind the login, the
workplace's tables never served, `user` commands, `publish` (the browser: test_browser_
workplace.py)."""
from __future__ import annotations

import asyncio
import re
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from conftest import ROOT, sim_collect
from test_center import opinion_by_marker, scenario_world

import commands
from store import cases
from store.db import connect
from workplace import auth

PASSWORDS = {"kim": "kim-password-1", "taxi": "taxi-password-1", "lee": "lee-password-1",
             "other": "other-password-1"}
NOW = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)  # Wednesday 10:00 in Seoul


@pytest.fixture(scope="module")
def world_db(accounts, tmp_path_factory) -> Path:
    """The X scenario world with its users: kim (staff), taxi (department of the first
    account), other (department of another), lee (viewer)."""
    world, _ = scenario_world(accounts, "x")
    chosen = [a for a in accounts if a.key in world.accounts]
    path = tmp_path_factory.mktemp("workplace") / "smc.db"
    sim_collect(path, chosen, world, platforms=("x",))
    db = connect(path)
    home = opinion_by_marker(db, "SCNA")["department"]
    other = next(a.department for a in chosen if a.department != home)
    for name, role, department in (("kim", "staff", None), ("taxi", "department", home),
                                   ("other", "department", other), ("lee", "viewer", None)):
        auth.add_user(db, name, role, department, PASSWORDS[name], NOW)
    db.conn.close()
    return path


@pytest.fixture
def db_file(world_db, tmp_path) -> Path:
    target = tmp_path / "smc.db"
    src, dst = sqlite3.connect(world_db), sqlite3.connect(target)
    src.backup(dst)
    src.close()
    dst.close()
    return target


class Clock:
    def __init__(self, now: datetime = NOW):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Browser:
    """An HTTP client with a cookie jar on the served app, as one browser (one client
    address) would use it."""

    def __init__(self, app, client: tuple[str, int] = ("127.0.0.1", 40000)):
        self.app, self.client = app, client
        self.cookies = httpx.Cookies()
        self.loop = asyncio.new_event_loop()

    def request(self, method: str, path: str, **kwargs) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app, client=self.client)
            async with httpx.AsyncClient(transport=transport, base_url="http://localhost",
                                         cookies=self.cookies) as c:
                response = await c.request(method, path, **kwargs)
                self.cookies.update(c.cookies)
                for name in [n for n in self.cookies if not self.cookies.get(n)]:
                    self.cookies.delete(name)
                return response
        return self.loop.run_until_complete(go())

    def get(self, path: str) -> httpx.Response:
        return self.request("GET", path)

    def post(self, path: str, data: dict | list) -> httpx.Response:
        return self.request("POST", path, data=data)

    def token(self, path: str = "/login") -> str:
        page = self.get(path)
        found = re.search(r'name="csrftoken" value="([^"]+)"', page.text)
        assert found, page.text[:500]
        return unescape(found.group(1))

    def login(self, name: str, password: str | None = None) -> httpx.Response:
        return self.post("/login", {"csrftoken": self.token(), "name": name,
                                    "password": password or PASSWORDS[name], "next": "/inbox"})

    def form(self, path: str, page: str, **fields: str) -> httpx.Response:
        return self.post(path, {"csrftoken": self.token(page), **fields})


@pytest.fixture
def served(db_file):
    from workplace.app import build_server

    clock = Clock()
    ds = build_server(db_file, clock=clock)
    app = ds.app()
    yield app, clock, db_file, ds
    ds.smc_workplace.close()


def browser(served, client=("127.0.0.1", 40000)) -> Browser:
    return Browser(served[0], client)


def ids(db_file: Path) -> dict[str, dict]:
    db = connect(db_file)
    found = {m: opinion_by_marker(db, m) for m in ("SCNA", "SCNB", "SCNC", "SCND", "SCNE")}
    db.conn.close()
    return found


def open_opinions(db_file: Path, department: str | None = None,
                  not_department: str | None = None) -> list[dict]:
    """Received opinions (oldest first), of a department or not of one."""
    db = connect(db_file)
    rows = [r for r in db.query("SELECT id, department, status FROM center WHERE status = "
                                "'received' ORDER BY created_at, id")
            if (department is None or r["department"] == department)
            and (not_department is None or r["department"] != not_department)]
    db.conn.close()
    return rows


def events(db_file: Path, oid: str) -> list[dict]:
    db = connect(db_file)
    rows = cases.history(db, oid)
    db.conn.close()
    return rows


# --- logging in ------------------------------------------------------------------------------
def test_login_opens_the_inbox_and_a_wrong_password_or_name_says_the_same(served):
    b = browser(served)
    assert b.get("/inbox").status_code == 303  # not logged in: to the login page
    assert b.get("/inbox").headers["location"].startswith("/login")
    for name, password in (("kim", "wrong-password-9"), ("nobody", "kim-password-1"),
                           ("", "x")):
        page = b.login(name, password)
        assert page.status_code == 401
        assert auth.FAILED in unescape(page.text)
        assert "nobody" not in page.text.replace('value="nobody"', "")
    ok = b.login("kim")
    assert ok.status_code == 303 and ok.headers["location"] == "/inbox"
    assert auth.COOKIE in b.cookies
    inbox = b.get("/inbox")
    assert inbox.status_code == 200 and "SCNE 도서관" in inbox.text
    assert "kim" in inbox.text and inbox.headers["x-frame-options"] == "DENY"
    # the cookie holds a token the database never stores
    db = connect(served[2])
    stored = [r[0] for r in db.execute("SELECT token_hash FROM sessions")]
    assert b.cookies[auth.COOKIE] not in stored and auth.token_hash(b.cookies[auth.COOKIE]) \
        in stored


def test_a_disabled_user_cannot_log_in_and_loses_their_sessions(served):
    b = browser(served)
    assert b.login("lee").status_code == 303
    assert b.get("/inbox").status_code == 200
    assert commands.main(["--db", str(served[2]), "user", "disable", "lee"]) == 0
    assert b.get("/inbox").status_code == 303  # the session ended
    page = browser(served, ("127.0.0.2", 1)).login("lee")
    assert page.status_code == 401 and auth.FAILED in unescape(page.text)  # nothing more


def test_logout_ends_the_session(served):
    b = browser(served)
    b.login("kim")
    token = b.cookies[auth.COOKIE]
    assert b.form("/logout", "/inbox").status_code == 303
    assert b.get("/inbox").status_code == 303
    for cookie in [c for c in b.cookies.jar if c.name == auth.COOKIE]:
        b.cookies.jar.clear(cookie.domain, cookie.path, cookie.name)
    b.cookies.set(auth.COOKIE, token, domain="localhost.local")  # kept by someone: dead
    assert b.get("/inbox").status_code == 303


def test_sessions_expire_when_idle_and_at_their_longest(served):
    _, clock, _, ds = served
    policy = ds.smc_workplace.policy
    b = browser(served)
    b.login("kim")
    assert policy.idle < policy.longest
    clock.now += policy.idle - timedelta(minutes=1)
    assert b.get("/inbox").status_code == 200  # used in time
    b = browser(served)
    b.login("kim")
    clock.now += policy.idle + timedelta(seconds=1)  # idle too long
    assert b.get("/inbox").status_code == 303
    b = browser(served)
    b.login("kim")
    start = clock.now
    while clock.now < start + policy.longest - timedelta(minutes=30):
        clock.now += timedelta(minutes=30)
        assert b.get("/inbox").status_code == 200
    clock.now = start + policy.longest + timedelta(seconds=1)
    assert b.get("/inbox").status_code == 303  # however busy, a login ends


def test_repeated_failures_slow_down_per_user_and_per_client(served):
    _, clock, _, _ = served
    attacker = browser(served, ("10.9.9.9", 1))
    for _ in range(auth.FREE_FAILURES):
        assert attacker.login("kim", "guess-password-0").status_code == 401
    # the next try must wait, even with the right password, and says so without saying more
    page = attacker.login("kim")
    assert page.status_code == 429 and "다시 시도" in unescape(page.text)
    # per user: kim from another client waits as well
    elsewhere = browser(served, ("10.1.1.1", 1))
    assert elsewhere.login("kim").status_code == 429
    # per client: that client cannot try another name either
    assert attacker.login("lee").status_code == 429
    # others are not slowed down
    assert browser(served, ("10.2.2.2", 1)).login("lee").status_code == 303
    # the wait doubles with each failure after it
    clock.now += timedelta(seconds=auth.WAIT_BASE + 1)
    assert attacker.login("kim", "guess-password-1").status_code == 401
    clock.now += timedelta(seconds=auth.WAIT_BASE + 1)
    assert attacker.login("kim").status_code == 429  # now 2 x WAIT_BASE
    clock.now += timedelta(seconds=auth.WAIT_BASE + 1)
    assert attacker.login("kim").status_code == 303
    # a success forgets the user's failures
    assert browser(served, ("10.3.3.3", 1)).login("kim").status_code == 303


def test_wait_seconds():
    now = NOW
    assert auth.wait_seconds(auth.FREE_FAILURES - 1, "2026-12-02T00:59:59Z", now) == 0
    assert auth.wait_seconds(auth.FREE_FAILURES, "2026-12-02T00:59:59Z", now) == \
        auth.WAIT_BASE - 1
    assert auth.wait_seconds(auth.FREE_FAILURES + 20, "2026-12-02T00:59:59Z", now) == \
        auth.WAIT_MAX - 1


# --- CSRF ------------------------------------------------------------------------------------
def test_every_form_without_its_csrf_token_is_refused(served):
    q = ids(served[2])
    b = browser(served)
    # the login form: no token, a wrong token, or no cookie at all
    assert b.post("/login", {"name": "kim", "password": PASSWORDS["kim"]}).status_code == 403
    assert b.post("/login", {"csrftoken": "forged", "name": "kim",
                             "password": PASSWORDS["kim"]}).status_code == 403
    bare = browser(served)
    assert bare.post("/login", {"csrftoken": "x", "name": "kim",
                                "password": PASSWORDS["kim"]}).status_code == 403
    assert auth.COOKIE not in b.cookies and auth.COOKIE not in bare.cookies
    b.login("kim")
    oid = q["SCNE"]["id"]
    forms = [("/inbox/assign", {"id": oid, "department": "문화본부"}),
             (f"/opinions/{oid}/act", {"action": "dismiss", "note": "중복", "from": "received"}),
             ("/logout", {})]
    for path, fields in forms:
        assert b.post(path, fields).status_code == 403, path
        assert b.post(path, {**fields, "csrftoken": "forged"}).status_code == 403, path
    assert events(served[2], oid) == []  # nothing was recorded
    assert b.get("/inbox").status_code == 200  # and the session is still there


# --- actions and roles ---------------------------------------------------------------------
def test_each_action_is_recorded_with_the_person_logged_in(served):
    q = ids(served[2])
    b = browser(served)
    b.login("kim")
    oid = q["SCNE"]["id"]
    page = f"/opinions/{oid}"
    assert b.form("/inbox/assign", "/inbox", id=oid, department="문화본부",
                  by="mallory").status_code == 303
    steps = [("transfer", {"department": "서울도서관", "note": "도서관 소관입니다"}),
             ("start", {}),
             ("answer", {"note": "주말 연장 검토 중이라고 답함 010-1234-5678",
                         "link": "https://x.com/seoulmania/status/1"}),
             ("resolve", {}), ("reopen", {}), ("dismiss", {"note": "중복 의견"})]
    for action, fields in steps:
        status = cases.opinion(connect(served[2]), oid)["status"]
        got = b.form(f"{page}/act", page, action=action, **{"from": status}, **fields,
                     by="mallory")
        assert got.status_code == 303, (action, got.text[-800:])
    history = events(served[2], oid)
    assert [e["action"] for e in history] == ["assign", *[s[0] for s in steps]]
    assert {e["by"] for e in history} == {"kim"}  # never a name typed into a field
    assert [e["to_status"] for e in history] == [
        "assigned", "assigned", "in_progress", "answered", "resolved", "assigned", "dismissed"]
    transfer = history[1]
    assert (transfer["from_department"], transfer["department"], transfer["note"]) == \
        ("문화본부", "서울도서관", "도서관 소관입니다")
    answer = history[3]
    assert answer["link"] == "https://x.com/seoulmania/status/1"
    assert "010-1234-5678" not in answer["note"]  # PII masked before it is stored
    shown = b.get(page).text
    for text in ("이관 (transfer)", "도서관 소관입니다", "종결 (dismiss)", "kim"):
        assert text in shown


def test_a_stale_form_is_refused_not_applied(served):
    q = ids(served[2])
    kim, lee = browser(served), browser(served, ("127.0.0.9", 1))
    kim.login("kim")
    oid = q["SCNE"]["id"]
    page = f"/opinions/{oid}"
    assert kim.form(f"{page}/act", page, action="dismiss", note="중복",
                    **{"from": "received"}).status_code == 303
    again = kim.form(f"{page}/act", page, action="answer", note="답함",
                     **{"from": "received"})
    assert again.status_code == 409 and "그 사이에" in again.text
    assert [e["action"] for e in events(served[2], oid)] == ["dismiss"]
    lee.login("lee")  # a viewer acts on nothing
    refused = lee.form(f"{page}/act", page, action="reopen", **{"from": "dismissed"})
    assert refused.status_code == 403
    assert lee.form("/inbox/assign", "/inbox", id=oid, department="문화본부").status_code == 403
    assert len(events(served[2], oid)) == 1


def test_a_department_user_sees_and_acts_on_its_own_opinions_only(served):
    q = ids(served[2])
    db = connect(served[2])
    taxi_department = db.execute("SELECT department FROM users WHERE name = 'taxi'"
                                 ).fetchone()[0]
    db.conn.close()
    ours = q["SCNE"]
    assert ours["department"] == taxi_department
    b = browser(served)
    b.login("taxi")
    inbox = b.get("/inbox?department=" + quote("문화본부"))  # asking for another's: its own
    texts = re.findall(r'data-id="([^"]+)"', inbox.text)
    db = connect(served[2])
    departments = {r[0] for r in db.execute(
        f"SELECT DISTINCT department FROM center WHERE id IN ({','.join('?' * len(texts))})",
        texts)}
    db.conn.close()
    assert texts and departments == {taxi_department}
    # another department's opinion (here: assigned away from it): not shown, no action
    kim = browser(served, ("127.0.0.3", 1))
    kim.login("kim")
    moved = open_opinions(served[2], department=taxi_department)[-1]["id"]
    assert moved != ours["id"]
    kim.form("/inbox/assign", "/inbox", id=moved, department="문화본부")
    elsewhere = open_opinions(served[2], not_department=taxi_department)[0]["id"]
    for oid, status in ((moved, "assigned"), (elsewhere, "received")):
        theirs = f"/opinions/{oid}"
        assert b.get(theirs).status_code == 403
        assert oid not in b.get("/inbox?status=all").text
        refused = b.form(f"{theirs}/act", "/inbox", action="answer", note="우리가 답함",
                         **{"from": status})
        assert refused.status_code == 403
    assert [e["action"] for e in events(served[2], moved)] == ["assign"]
    assert events(served[2], elsewhere) == []
    # its own: it may record the answer, not dismiss
    page = f"/opinions/{ours['id']}"
    assert b.form(f"{page}/act", page, action="dismiss", note="x",
                  **{"from": "received"}).status_code == 403
    assert b.form(f"{page}/act", page, action="answer", note="답변 완료",
                  **{"from": "received"}).status_code == 303
    assert events(served[2], ours["id"])[-1]["by"] == "taxi"
    # and no Datasette (every opinion is there)
    assert b.get("/smc/center").status_code == 403


def test_bulk_assign(served):
    b = browser(served)
    b.login("kim")
    chosen = [r["id"] for r in open_opinions(served[2])[:2]]
    got = b.form("/inbox/assign", "/inbox", id=chosen, department="문화본부")
    assert got.status_code == 303
    assert "2건을 문화본부에 배정했습니다" in b.get(got.headers["location"]).text
    for oid in chosen:
        assert [(e["action"], e["department"], e["by"]) for e in events(served[2], oid)] == \
            [("assign", "문화본부", "kim")]
    shown = b.get("/inbox?department=" + quote("문화본부")).text
    assert all(oid in shown for oid in chosen)


def test_the_inbox_filters_and_pages(served):
    b = browser(served)
    b.login("kim")
    everything = b.get("/inbox?status=all").text
    total = len(re.findall(r'data-id="', everything))
    assert total > 10
    received = b.get("/inbox?status=received").text
    assert 0 < len(re.findall(r'data-id="', received)) < total
    assert "SCNE 도서관" in received and "SCNA 택시" not in received
    overdue = b.get("/inbox?overdue=1").text  # all of the world is days old by NOW
    assert "기한" in overdue and "초과" in overdue
    first = b.get("/inbox?status=all").text
    if "id=\"next\"" in first:
        after = unescape(re.search(r'href="([^"]+)" id="next"', first).group(1))
        second = b.get(after).text
        assert set(re.findall(r'data-id="([^"]+)"', first)).isdisjoint(
            re.findall(r'data-id="([^"]+)"', second))


# --- Datasette behind the login --------------------------------------------------------------
def test_datasette_is_behind_the_login_and_never_serves_the_workplace_tables(db_file):
    from workplace.app import build_server

    ds = build_server(db_file, sql=True, clock=Clock())
    b = Browser(ds.app())
    for path in ("/smc", "/smc/center", "/smc/overdue", "/smc.json?sql=select+1"):
        got = b.get(path)
        assert got.status_code == 303 and got.headers["location"].startswith("/login"), path
    b.login("lee")
    center = b.get("/smc/center")
    assert center.status_code == 200
    assert '<details class="smc-columns">' in center.text  # descriptions behind a toggle
    assert re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ <small class=\"smc-kst\"", center.text)
    assert "(서울 " in center.text and " KST)</small>" in center.text
    overdue = b.get("/smc/overdue?hours=24").text
    assert "show" in overdue and "<textarea" not in overdue and 'id="sql-query"' not in overdue
    for table in ("users", "sessions", "login_failures"):
        assert b.get(f"/smc/{table}").status_code == 403
        rows = b.get(f"/smc.json?sql=select+*+from+{table}&_shape=objects").json()
        assert not rows.get("ok", True) and not rows.get("rows"), table
    joined = b.get("/smc.json?sql=select+c.id+from+comments+c+join+users+u&_shape=objects")
    assert not joined.json().get("ok", True)
    assert "argon2" not in b.get("/smc.json?sql=select+name+from+sqlite_master").text
    # posting to Datasette itself stays refused
    assert b.post("/smc/cases/-/insert", {"csrftoken": b.token("/inbox")}).status_code == 405
    ds.smc_workplace.close()


def test_the_public_page_needs_no_login_and_shows_no_author_note_or_staff(served):
    q = ids(served[2])
    kim = browser(served)
    kim.login("kim")
    answered = q["SCNA"]["id"]
    page = f"/opinions/{answered}"
    kim.form(f"{page}/act", page, action="resolve", **{"from": "answered"})
    kim.form(f"/opinions/{q['SCND']['id']}/act", page, action="dismiss",
             note="SECRET-NOTE 내부 메모", **{"from": "answered"})
    public = browser(served, ("127.0.0.4", 1)).get("/public")
    assert public.status_code == 200
    assert "SCNA 택시 승차 거부" in public.text and "120다산콜로 신고해 주세요" in public.text
    found = browser(served, ("127.0.0.4", 1)).get("/public?q=" + quote("택시"))
    assert "SCNA 택시 승차 거부" in found.text
    db = connect(served[2])
    keys = {r[0] for r in db.execute("SELECT author_key FROM comments WHERE author_key IS NOT "
                                     "NULL")}
    db.conn.close()
    for text in (public.text, found.text):
        assert "SECRET-NOTE" not in text and "kim" not in text.replace("kim-", "")
        assert not any(key in text for key in keys)


# --- publish ---------------------------------------------------------------------------------
def test_publish_writes_a_static_site_without_authors_notes_or_staff(db_file, tmp_path):
    q = ids(db_file)
    db = connect(db_file)
    for marker, status in (("SCNA", "resolved"), ("SCNB", "answered"), ("SCNE", "dismissed")):
        cases.set_status(db, cases.Change(q[marker]["id"], status, department="문화본부",
                                          note=f"STAFFNOTE-{marker} 내부", by="박주무관",
                                          link="https://x.com/seoulmania/status/9"))
    keys = {r[0] for r in db.execute("SELECT author_key FROM comments WHERE author_key IS NOT "
                                     "NULL")}
    staff = {r[0] for r in db.execute("SELECT name FROM users")} | {"박주무관"}
    db.conn.close()
    out = tmp_path / "site"
    assert commands.main(["--db", str(db_file), "publish", "--out", str(out)]) == 0
    files = sorted(p.name for p in out.iterdir())
    assert files == ["index.html", "search-index.js"]
    written = "".join(p.read_text(encoding="utf-8") for p in out.iterdir())
    assert keys and not any(key in written for key in keys)
    assert "author_key" not in written and "STAFFNOTE" not in written
    assert not any(name in written for name in staff)
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "SCNA 택시 승차 거부" in index and "120다산콜로 신고해 주세요" in index
    assert "처리율" in index and "search-index.js" in index
    assert "SCNE 도서관" in (out / "search-index.js").read_text(encoding="utf-8")
    grep = subprocess.run(["grep", "-rIl", "-e", "author_key", "-e", "STAFFNOTE", "-e",
                           "박주무관", str(out)], capture_output=True, text=True, check=False)
    assert grep.stdout == ""


# --- the user commands ----------------------------------------------------------------------
def cli(*args: str, db: Path, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "run_pipeline.py", "--db", str(db), *args],
                          cwd=ROOT, input=stdin, capture_output=True, text=True, timeout=120,
                          check=False)


def test_user_commands(db_file):
    added = cli("user", "add", "park", "--role", "department", "--department", "택시물류과",
                "--password-stdin", db=db_file, stdin="park-password-1\n")
    assert added.returncode == 0, added.stderr
    assert "park added: department of 택시물류과" in added.stdout
    again = cli("user", "add", "park", "--role", "staff", "--password-stdin", db=db_file,
                stdin="park-password-2\n")
    assert again.returncode == 2 and "exists already" in again.stderr
    short = cli("user", "add", "choi", "--role", "staff", "--password-stdin", db=db_file,
                stdin="short\n")
    assert short.returncode == 2 and "at least" in short.stderr
    lonely = cli("user", "add", "choi", "--role", "department", "--password-stdin",
                 db=db_file, stdin="choi-password-1\n")
    assert lonely.returncode == 2 and "--department" in lonely.stderr
    noprompt = cli("user", "add", "choi", "--role", "staff", db=db_file)
    assert noprompt.returncode == 2 and "--password-stdin" in noprompt.stderr
    db = connect(db_file)
    hashed = db.execute("SELECT password_hash FROM users WHERE name = 'park'").fetchone()[0]
    assert hashed.startswith("$argon2id$") and "park-password-1" not in hashed
    db.conn.close()
    assert cli("user", "passwd", "park", "--password-stdin", db=db_file,
               stdin="park-password-3\n").returncode == 0
    listed = cli("user", "list", db=db_file)
    assert listed.returncode == 0 and "park" in listed.stdout and "argon2" not in listed.stdout
    assert cli("user", "disable", "park", db=db_file).returncode == 0
    assert "disabled" in cli("user", "list", db=db_file).stdout
    assert cli("user", "disable", "nobody", db=db_file).returncode == 2
    assert cli("user", "add", "x", "--role", "staff", "--password-stdin",
               db=db_file.parent / "missing.db", stdin="x-password-12\n").returncode == 2


def test_a_bad_workplace_config_is_one_line_naming_file_and_field(db_file, tmp_path):
    bad = tmp_path / "workplace.yaml"
    bad.write_text("deadlines:\n  default_hours: -3\n", encoding="utf-8")
    got = cli("serve", "--workplace-config", str(bad), db=db_file)
    assert got.returncode == 2
    line = got.stderr.strip().splitlines()
    assert len(line) == 1 and str(bad) in line[0] and "deadlines.default_hours" in line[0]


def test_the_routes_are_only_the_workplaces_when_it_is_served(db_file):
    """build_datasette alone (no workplace) stays the read-only centre of before."""
    from center.app import build_datasette

    ds = build_datasette(db_file)
    b = Browser(ds.app())
    assert b.get("/inbox").status_code == 404
    assert b.post("/login", {"name": "kim"}).status_code == 405


def test_the_public_rates_count_every_opinion_by_its_status(db_file):
    from store.workplace_queries import sns_map, totals

    q = ids(db_file)
    db = connect(db_file)
    for marker, status in (("SCNA", "dismissed"), ("SCNB", "answered"), ("SCNC", "assigned"),
                           ("SCND", "resolved"), ("SCNE", "reflected")):
        cases.set_status(db, cases.Change(q[marker]["id"], status, by="kim",
                                          policy="정책" if status == "reflected" else None))
    everything = totals(sns_map(db))

    def count(*statuses: str) -> int:
        marks = ", ".join("?" * len(statuses))
        return db.execute(f"SELECT count(*) FROM opinions WHERE status IN ({marks})",
                          statuses).fetchone()[0]

    total = db.execute("SELECT count(*) FROM opinions").fetchone()[0]
    assert everything["opinions"] == total
    assert (everything["resolved"], everything["reflected"]) == (count("resolved"), 1)
    assert everything["answer_pct"] == round(100 * count(*cases.ANSWERED) / total, 1)
    assert everything["resolution_pct"] == round(100 * count(*cases.RESOLVED) / total, 1)
    assert everything["reflection_pct"] == round(100 / total, 1)
    assert everything["open"] == total - count(*cases.CLOSED)
    db.conn.close()


def test_the_inbox_count_is_exact_or_says_at_least(db_file):
    from store.workplace_queries import InboxFilter, inbox_count

    db = connect(db_file)
    open_total = db.execute("SELECT count(*) FROM opinions WHERE status IN ('received', "
                            "'assigned', 'in_progress')").fetchone()[0]
    got = inbox_count(db, InboxFilter(), {"": "2099-01-01T00:00:00Z"})
    assert got.exact and got.n == open_total
    capped = inbox_count(db, InboxFilter(), {"": "2099-01-01T00:00:00Z"}, cap=3)
    assert not capped.exact and capped.n == 4
    hurried = inbox_count(db, InboxFilter(status="all", overdue=True),
                          {"": "2099-01-01T00:00:00Z"}, budget_ms=0)
    assert hurried.n >= 1  # cut short: at least what was counted fast
    db.conn.close()


def test_the_inbox_count_from_the_rollup_is_the_counted_one(db_file):
    """Filters on what center_facets holds are counted from it: the same figure as counting
    the opinions (no rollup for overdue or a department: counted)."""
    from store.workplace_queries import InboxFilter, inbox_count, rolled_count

    db = connect(db_file)
    q = ids(db_file)
    cases.set_status(db, cases.Change(q["SCNA"]["id"], "dismissed", by="kim"))
    cases.set_status(db, cases.Change(q["SCNC"]["id"], "assigned", by="kim"))
    row = db.execute("SELECT account, platform, district, category FROM opinions "
                     "WHERE district IS NOT NULL LIMIT 1").fetchone()
    field = db.execute("SELECT field FROM accounts WHERE key = ?", [row[0]]).fetchone()[0]
    never = {"": "2000-01-01T00:00:00Z"}
    filters = [InboxFilter(), InboxFilter(status="all"), InboxFilter(status="dismissed"),
               InboxFilter(account=row[0]), InboxFilter(platform=row[1], status="all"),
               InboxFilter(district=row[2]), InboxFilter(category=row[3], field=field)]
    for f in filters:
        n = rolled_count(db, f)
        # the same filter counted over the opinions: an overdue cutoff that holds for none
        counted = db.execute(
            "SELECT count(*) FROM opinions o JOIN accounts ac ON ac.key = o.account WHERE "
            "(:a IS NULL OR o.account = :a) AND (:p IS NULL OR o.platform = :p) AND "
            "(:d IS NULL OR o.district = :d) AND (:c IS NULL OR o.category = :c) AND "
            "(:f IS NULL OR ac.field = :f) AND (CASE :s WHEN 'all' THEN 1 WHEN '' THEN "
            "o.status IN ('received', 'assigned', 'in_progress') ELSE o.status = :s END)",
            {"a": f.account, "p": f.platform, "d": f.district, "c": f.category, "f": f.field,
             "s": f.status or ""}).fetchone()[0]
        assert n == counted and inbox_count(db, f, never).n == min(n, 10_001), f
    assert rolled_count(db, InboxFilter(overdue=True)) is None
    assert rolled_count(db, InboxFilter(department="교통정책과")) is None
    db.conn.close()
