"""The workplace server: Datasette plugin routes in the one `serve` process.

Why plugin routes (and not an ASGI app mounting Datasette): Datasette already has the pieces a
small app would have to add and keep consistent with it, namely one router, signed values
(`datasette.sign`), CSRF protection on every POST (asgi-csrf: the form's `csrftoken` must
match the signed `ds_csrftoken` cookie), `actor_from_request` and `permission_allowed` (so
the analysts' Datasette sits behind the same login by declaring who may view it) and the
centre plugin's response wrapper (405 for writes, CSV cells made safe, shown text). The
workplace adds its routes, its own templates (the same Jinja templates render the static
public site, which needs no Datasette) and one writing connection.

Database access: reads go through store/ queries on read-only connections, one per worker
thread; writes (sessions, failed logins, case changes) through store/ functions on ONE
writing connection (WAL, BEGIN IMMEDIATE, 30 s busy timeout), serialized by a lock, in a
worker thread: the collector may hold the write lock for a moment, and waiting for it never
blocks the event loop.
"""
from __future__ import annotations

import asyncio
import re
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, quote, urlencode

import sqlite_utils
from datasette.utils.asgi import Response

from core.times import parse_iso, seoul_time, utc_iso
from core.worktime import WorkplaceConfig, load_workplace_config
from store import cases
from store import users as user_store
from store import workplace_queries as q
from workplace import actions, auth
from workplace.public import context as public_context
from workplace.render import render

T = TypeVar("T")
FLASH = "smc_flash"
COUNT_SECONDS = 20  # how long an inbox count is reused
OPTIONS_SECONDS = 60  # ... and the filters' choices
POST_PATHS = (re.compile(r"^/login$"), re.compile(r"^/logout$"),
              re.compile(r"^/inbox/assign$"), re.compile(r"^/opinions/[^/]+/act$"))
# Only these Datasette's pages may show (the rest are the workplace's own).
ANALYSTS = ("staff", "viewer")
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": ("default-src 'none'; style-src 'unsafe-inline'; "
                                "img-src 'self'; form-action 'self'; frame-ancestors 'none'; "
                                "base-uri 'none'"),
}


class SessionActor(dict):
    """The Datasette actor of a live workplace session. A dict subclass: only the
    workplace's actor_from_request makes one, so a forged `ds_actor` cookie, which becomes a
    plain dict, can never pass the workplace's permission check."""


class Workplace:
    """The workplace of one database: its config, clock and connections."""

    def __init__(self, db_path: str | Path, config: WorkplaceConfig,
                 clock: Callable[[], datetime] | None = None):
        self.db_path = str(db_path)
        self.db_name = Path(db_path).stem
        self.config = config
        self.deadlines = config.deadlines
        self.policy = auth.SessionPolicy(idle=timedelta(minutes=config.session_idle_minutes),
                                         longest=timedelta(hours=config.session_max_hours))
        self._clock = clock or (lambda: datetime.now(UTC))
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._writer: sqlite_utils.Database | None = None
        self._counts: dict[Any, tuple[float, q.Count]] = {}
        self._options: tuple[float, dict[str, list]] | None = None

    def now(self) -> datetime:
        return self._clock()

    # --- connections ---------------------------------------------------------------------
    def reader(self) -> sqlite_utils.Database:
        db = getattr(self._local, "db", None)
        if db is None:
            from store.db import open_readonly

            db = self._local.db = open_readonly(self.db_path)
        return db

    def writer(self) -> sqlite_utils.Database:
        """The one writing connection (call with the write lock held)."""
        if self._writer is None:
            from store.db import connect

            self._writer = connect(self.db_path, unmasked=False)
        return self._writer

    def read_sync(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return fn(self.reader(), *args, **kwargs)

    def write_sync(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        with self._write_lock:
            return fn(self.writer(), *args, **kwargs)

    async def read(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.to_thread(self.read_sync, fn, *args, **kwargs)

    async def write(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.to_thread(self.write_sync, fn, *args, **kwargs)

    async def session(self, token: str | None) -> auth.Actor | None:
        def look() -> auth.Actor | None:
            def touch(hashed: str, at: str, expires: str) -> None:
                self.write_sync(user_store.touch_session, hashed, at, expires)

            return auth.session_actor(self.reader(), token, self.now(), self.policy, touch)

        return await asyncio.to_thread(look) if token else None

    async def count(self, f: q.InboxFilter, cutoffs: dict[str, str]) -> q.Count:
        """The inbox count of a filter, remembered for COUNT_SECONDS: counting a queue of
        100,000 costs more than the page, and a count seconds old is as good to read."""
        key = f.without_paging()  # overdue: counted at the time of the first of them
        now = time.monotonic()
        kept = self._counts.get(key)
        if kept and now - kept[0] < COUNT_SECONDS:
            return kept[1]
        got = await self.read(q.inbox_count, f, cutoffs)
        if len(self._counts) > 1000:
            self._counts.clear()
        self._counts[key] = (now, got)
        return got

    async def options(self) -> dict[str, list]:
        """The inbox's filter choices, remembered for OPTIONS_SECONDS."""
        now = time.monotonic()
        if self._options is None or now - self._options[0] >= OPTIONS_SECONDS:
            self._options = (now, await self.read(q.filter_options))
        return self._options[1]

    def close(self) -> None:
        if self._writer is not None:
            self._writer.conn.close()
            self._writer = None


# --- helpers -----------------------------------------------------------------------------
def workplace(datasette: Any) -> Workplace:
    return datasette.smc_workplace


def actor_of(request: Any) -> auth.Actor | None:
    a = request.actor
    if not isinstance(a, SessionActor):
        return None
    return auth.Actor(a["id"], a["role"], a.get("department"), a["smc_session"])


def page(body: str, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response.html(body, status=status, headers={**SECURITY_HEADERS,
                                                        "Cache-Control": "no-store",
                                                        **(headers or {})})


def redirect(path: str, flash: tuple[Any, str] | None = None) -> Response:
    """A 303 to `path`, with a one-time message shown by the next page."""
    response = Response.redirect(path, status=303)
    if flash is not None:
        datasette, message = flash
        response.set_cookie(FLASH, datasette.sign(message, "smc-flash"), max_age=60,
                            httponly=True, samesite="lax")
    return response


def take_flash(datasette: Any, request: Any, response: Response) -> str:
    """The message a redirect left for this page (and the cookie cleared)."""
    value = request.cookies.get(FLASH)
    if not value:
        return ""
    response.set_cookie(FLASH, "", max_age=0, httponly=True, samesite="lax")
    try:
        return str(datasette.unsign(value, "smc-flash"))
    except Exception:  # noqa: BLE001 - a bad signature is no message
        return ""


def local_path(value: str | None, default: str = "/inbox") -> str:
    """A path of this server to go to after a form (never another site)."""
    if (not value or not value.startswith("/") or value.startswith("//")
            or "\\" in value or any(ord(c) < 0x21 for c in value)):
        return default
    return value


def login_redirect(request: Any) -> Response:
    return redirect("/login?" + urlencode({"next": local_path(request.full_path)}))


async def form_of(request: Any) -> dict[str, list[str]]:
    body = await request.post_body()
    return parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)


def one(form: dict[str, list[str]], name: str) -> str:
    values = form.get(name) or [""]
    return values[-1]


def csrf_ok(request: Any, form: dict[str, list[str]]) -> bool:
    """The form's token equals the signed CSRF cookie (asgi-csrf checks it too, but skips
    requests that carry no cookie at all: a login form must not be postable from another
    site either)."""
    cookie, sent = request.cookies.get("ds_csrftoken", ""), one(form, "csrftoken")
    return bool(cookie) and secrets.compare_digest(cookie.encode(), sent.encode())


def token_of(request: Any) -> str:
    return request.scope["csrftoken"]()


def base(request: Any, actor: auth.Actor | None, wp: Workplace, here: str) -> dict[str, Any]:
    return {"actor": actor, "csrftoken": token_of(request), "db_name": wp.db_name,
            "here": here}


def error_page(request: Any, wp: Workplace, actor: auth.Actor | None, status: int,
               title: str, message: str, back: str = "/inbox") -> Response:
    return page(render("error.html", title=title, message=message, back=back,
                       **base(request, actor, wp, "")), status=status)


def refused_csrf(request: Any, wp: Workplace) -> Response:
    return error_page(request, wp, actor_of(request), 403, "요청 거부 (forbidden)",
                      "보안 토큰(CSRF)이 없거나 맞지 않습니다. 페이지를 새로 열고 다시 "
                      "시도하세요 (form without its CSRF token).")


def client_of(request: Any) -> str:
    client = request.scope.get("client")
    return str(client[0]) if client else "unknown"


def due_label(wp: Workplace, row: dict, now: datetime) -> tuple[Any, str]:
    """(core.worktime.Deadline, its time in Seoul) of an open opinion; (None, '') else."""
    if row.get("status") not in actions.OPEN:
        return None, ""
    due = wp.deadlines.status(row["created_at"], row.get("department"), now)
    return due, seoul_time(utc_iso(due.due))


# --- routes ------------------------------------------------------------------------------
async def view_root(request: Any, datasette: Any) -> Response:
    return redirect("/inbox" if actor_of(request) else "/login")


async def view_login(request: Any, datasette: Any) -> Response:
    wp = workplace(datasette)
    if request.method == "POST":
        form = await form_of(request)
        if not csrf_ok(request, form):
            return refused_csrf(request, wp)
        name, password = one(form, "name")[:200], one(form, "password")[:1000]
        target = local_path(one(form, "next"))
        now = wp.now()
        got = await wp.write(auth.login, name, password, client_of(request), now, wp.policy)
        if got.token is None:
            if got.status == 401:
                await asyncio.sleep(0.3)  # every failure costs the client a moment
            body = render("login.html", message=got.message, notice="", next=target,
                          name=name, **base(request, None, wp, "login"))
            return page(body, status=got.status)
        response = redirect(target if target != "/login" else "/inbox")
        response.set_cookie(auth.COOKIE, got.token, httponly=True, samesite="lax",
                            secure=request.scheme == "https",
                            max_age=int(wp.policy.longest.total_seconds()))
        return response
    if actor_of(request):
        return redirect(local_path(request.args.get("next")))
    response = page("")
    notice = take_flash(datasette, request, response)
    response.body = render("login.html", message="", notice=notice,
                           next=local_path(request.args.get("next")), name="",
                           **base(request, None, wp, "login"))
    return response


async def view_logout(request: Any, datasette: Any) -> Response:
    wp = workplace(datasette)
    if request.method != "POST":
        return redirect("/inbox")
    form = await form_of(request)
    if not csrf_ok(request, form):
        return refused_csrf(request, wp)
    actor = actor_of(request)
    if actor:
        await wp.write(user_store.end_session, actor.session)
    response = redirect("/login", (datasette, "로그아웃했습니다 (logged out)."))
    response.set_cookie(auth.COOKIE, "", max_age=0, httponly=True, samesite="lax")
    return response


def inbox_filter(args: Any, actor: auth.Actor) -> q.InboxFilter:
    values = {name: (args.get(name) or "").strip()[:200] or None for name in q.FILTERS}
    if values["status"] not in (*q.STATUSES, "all"):
        values["status"] = None
    after = parse_after((args.get("after") or "")[:300])
    if actor.role == "department":
        values["department"] = actor.department
    order = args.get("order") if args.get("order") in q.ORDERS else "oldest"
    return q.InboxFilter(**values, overdue=bool(args.get("overdue")), order=order,
                         after=after, after_crisis=bool(after and args.get("in_crisis")))


def query_of(f: q.InboxFilter, **extra: str) -> str:
    pairs = {name: getattr(f, name) for name in q.FILTERS if getattr(f, name)}
    if f.overdue:
        pairs["overdue"] = "1"
    if f.order != "oldest":
        pairs["order"] = f.order
    pairs.update(extra)
    return "/inbox" + ("?" + urlencode(pairs) if pairs else "")


def next_page(f: q.InboxFilter, last: dict) -> str:
    """The inbox's next page after its `last` row (crisis first: and whether that row was
    in the crisis part)."""
    extra = {"after": f"{last['created_at']}|{last['id']}"}
    if f.order == "crisis" and last.get("crisis"):
        extra["in_crisis"] = "1"
    return query_of(f, **extra)


def one_per_group(rows: list[dict], sizes: dict[str, int]) -> list[dict]:
    """The page's rows with a near-duplicate group shown once, at its first row here, with
    the group's size (`group_size`: its live opinions) and how many of them are on this
    page (`group_here`)."""
    shown: dict[str, dict] = {}
    out = []
    for row in rows:
        gid = row.get("group_id")
        if gid and gid in shown:
            shown[gid]["group_here"] += 1
            continue
        row.update(group_size=sizes.get(gid, 1) if gid else 0, group_here=1)
        if gid:
            shown[gid] = row
        out.append(row)
    return out


async def view_inbox(request: Any, datasette: Any) -> Response:
    wp = workplace(datasette)
    actor = actor_of(request)
    if actor is None:
        return login_redirect(request)
    f = inbox_filter(request.args, actor)
    now = wp.now()
    cutoffs = wp.deadlines.cutoffs(now)
    rows = await wp.read(q.inbox, f, cutoffs, q.PAGE + 1)
    more = len(rows) > q.PAGE
    rows = rows[:q.PAGE]
    next_url = next_page(f, rows[-1]) if more and rows else ""
    sizes = await wp.read(q.group_sizes, [r["group_id"] for r in rows if r.get("group_id")])
    rows = one_per_group(rows, sizes)
    for row in rows:
        row["due"], row["due_at"] = due_label(wp, row, now)
    count = await wp.count(f, cutoffs)
    options = await wp.options()
    departments = await wp.read(q.departments, list(wp.deadlines.departments))
    response = page("")
    ok = take_flash(datasette, request, response)
    response.body = render(
        "inbox.html", f=f, rows=rows, options=options, departments=departments,
        count=count.n, capped=not count.exact,
        next_url=next_url, first_url=query_of(f.without_paging()) if f.after else "",
        page=q.PAGE, ok=ok, error="",
        can_assign=actor.staff, department_locked=actor.role == "department",
        back=local_path(request.full_path),
        deadline_note=f"기본 {wp.deadlines.default_hours:g}시간",
        **base(request, actor, wp, "inbox"))
    return response


async def view_assign(request: Any, datasette: Any) -> Response:
    wp = workplace(datasette)
    if request.method != "POST":
        return redirect("/inbox")
    form = await form_of(request)
    if not csrf_ok(request, form):
        return refused_csrf(request, wp)
    actor = actor_of(request)
    if actor is None:
        return login_redirect(request)
    back = local_path(one(form, "back"))
    if not back.startswith("/inbox"):
        back = "/inbox"
    if not actor.staff:
        return error_page(request, wp, actor, 403, "권한 없음 (forbidden)",
                          "부서 배정은 소셜미디어센터 직원만 할 수 있습니다 (staff only).", back)
    picked = [i for i in dict.fromkeys(form.get("id", [])) if i][:500]
    department = one(form, "department").strip()
    if not picked:
        return redirect(back, (datasette, "배정할 의견을 고르세요 (select opinions first)."))
    assign = actions.ACTIONS["assign"]
    ids = await group_ids(wp, picked, assign.starts_from)
    if not ids:
        return redirect(back, (datasette, "배정할 수 있는 의견이 없습니다 (nothing to assign)."))
    try:
        changes = [actions.change(assign, oid, actor.name, status="", current_department=None,
                                  department=department) for oid in ids]
        await wp.write(cases.act, changes, assign.starts_from)
    except actions.ActionError as exc:
        return redirect(back, (datasette, str(exc)))
    except cases.CaseError as exc:
        return redirect(back, (datasette, f"배정하지 못했습니다: {exc}"))
    done = f"{len(ids)}건을 {department}에 배정했습니다 (assigned {len(ids)})."
    return redirect(back, (datasette, done))


async def group_ids(wp: Any, picked: list[str], starts_from: Sequence[str]) -> list[str]:
    """The inbox's picks with each `group:ID` (a near-duplicate group shown as one item)
    replaced by its members that may take the action (each gets its own history row)."""
    ids: list[str] = []
    for value in picked:
        if value.startswith("group:"):
            members = await wp.read(q.group_members, value.removeprefix("group:"))
            ids += [m["id"] for m in members if m["status"] in starts_from]
        else:
            ids.append(value)
    return list(dict.fromkeys(ids))[:500]


async def _opinion_page(request: Any, datasette: Any, actor: auth.Actor, oid: str,
                        ok: str = "", error: str = "", status: int = 200,
                        response: Response | None = None) -> Response:
    wp = workplace(datasette)
    o = await wp.read(cases.opinion, oid)
    if o is None:
        return error_page(request, wp, actor, 404, "없는 의견 (not found)",
                          f"의견 {oid} 이(가) 없습니다.")
    if actor.role == "department" and o["department"] != actor.department:
        return error_page(request, wp, actor, 403, "다른 부서의 의견 (forbidden)",
                          f"이 의견은 {o['department']} 의 의견입니다: 부서 담당자는 자기 "
                          "부서의 의견만 볼 수 있습니다 (another department's opinion).")
    thread = await wp.read(cases.thread, oid)
    history = await wp.read(cases.history, oid)
    link = await wp.read(q.answer_link, oid)
    departments = await wp.read(q.departments, list(wp.deadlines.departments))
    due, due_at = due_label(wp, o, wp.now())
    available = [a for a in ([] if o.get("deleted") else actions.available(
        actor.role, actor.department, o["status"], o["department"]))
        if a.key != "confirm" or o.get("suggested_department")]
    reason = ("열람 전용 계정입니다 (read-only account)." if actor.role == "viewer"
              else "작성자가 삭제한 의견입니다 (deleted by its author)." if o.get("deleted")
              else "")
    members = await wp.read(q.group_members, o["group_id"]) if o.get("group_id") else []
    body = render("opinion.html", o=o, thread=thread, history=history, link=link,
                  members=members, show_abusive=bool(request.args.get("show")),
                  departments=departments, due=due, due_at=due_at, actions=available,
                  read_only_reason=reason, ok=ok, error=error,
                  **base(request, actor, wp, "opinion"))
    if response is None:
        return page(body, status=status)
    response.body, response.status = body, status
    return response


def opinion_id(request: Any) -> str:
    return str(request.url_vars["id"])


async def view_opinion(request: Any, datasette: Any) -> Response:
    actor = actor_of(request)
    if actor is None:
        return login_redirect(request)
    response = page("")
    ok = take_flash(datasette, request, response)
    return await _opinion_page(request, datasette, actor, opinion_id(request), ok=ok,
                               response=response)


async def view_act(request: Any, datasette: Any) -> Response:
    wp = workplace(datasette)
    oid = opinion_id(request)
    if request.method != "POST":
        return redirect(f"/opinions/{quote(oid, safe=':')}")
    form = await form_of(request)
    if not csrf_ok(request, form):
        return refused_csrf(request, wp)
    actor = actor_of(request)
    if actor is None:
        return login_redirect(request)
    action = actions.ACTIONS.get(one(form, "action"))
    o = await wp.read(cases.opinion, oid)
    if action is None or o is None:
        return error_page(request, wp, actor, 400, "잘못된 요청 (bad request)",
                          "알 수 없는 처리이거나 없는 의견입니다.")
    if not actions.may_ever(actor.role, actor.department, action, o["department"]):
        why = ("다른 부서의 의견에는 처리할 수 없습니다 (another department's opinion)."
               if actor.role == "department" and o["department"] != actor.department
               else f"{action.label}: 권한이 없습니다 (not allowed for {actor.role}).")
        return error_page(request, wp, actor, 403, "권한 없음 (forbidden)", why,
                          f"/opinions/{oid}")
    seen = one(form, "from") or o["status"]
    try:
        if seen != o["status"] or o["status"] not in action.starts_from:
            raise cases.Conflict(f"status: the page showed {seen}, it is {o['status']} now",
                                 "status")
        assigned = await wp.read(q.assigned_department, oid)
        department = (o.get("suggested_department") if action.key == "confirm"
                      else one(form, "department"))
        change = actions.change(action, oid, actor.name, status=o["status"],
                                current_department=o["department"], assigned=bool(assigned),
                                department=department, note=one(form, "note"),
                                link=one(form, "link"), policy=one(form, "policy"))
        changes = [change]
        if one(form, "group") == "1" and o.get("group_id"):
            # the same action for every member of the group that may take it (each its own
            # case_events row); members in another status are left as they are
            members = await wp.read(q.group_members, o["group_id"])
            changes += [replace(change, comment_id=m["id"]) for m in members
                        if m["id"] != oid and m["status"] in action.starts_from
                        and (actor.staff or m["department"] == actor.department)]
        await wp.write(cases.act, changes, action.starts_from if len(changes) > 1 else [seen])
    except actions.ActionError as exc:
        return await _opinion_page(request, datasette, actor, oid, error=str(exc), status=400)
    except cases.Conflict:
        return await _opinion_page(
            request, datasette, actor, oid, status=409,
            error="그 사이에 이 의견의 상태가 바뀌었습니다: 지금 상태를 보고 다시 하세요 "
                  "(someone changed it meanwhile).")
    except cases.CaseError as exc:
        return await _opinion_page(request, datasette, actor, oid, error=str(exc), status=400)
    return redirect(f"/opinions/{quote(oid, safe=':')}",
                    (datasette, f"{action.label}: 기록했습니다 (recorded)."))


async def view_public(request: Any, datasette: Any) -> Response:
    wp = workplace(datasette)
    query = (request.args.get("q") or "")[:200]
    ctx = await wp.read(public_context, wp.now(), query)
    body = render("public.html", **ctx, **base(request, actor_of(request), wp, "public"))
    return page(body, headers={"Cache-Control": "no-cache"})


ROUTES = [
    (r"^/$", view_root),
    (r"^/login$", view_login),
    (r"^/logout$", view_logout),
    (r"^/inbox$", view_inbox),
    (r"^/inbox/assign$", view_assign),
    (r"^/opinions/(?P<id>[a-z]+:[^/]+)/act$", view_act),
    (r"^/opinions/(?P<id>[a-z]+:[^/]+)$", view_opinion),
    (r"^/public$", view_public),
]


# --- building the server -----------------------------------------------------------------
def build_server(db_path: str | Path, sql: bool = False,
                 config: WorkplaceConfig | str | Path | None = None,
                 clock: Callable[[], datetime] | None = None) -> Any:
    """The one server: Datasette (center/metadata.yaml, the centre plugin) with the
    workplace's routes, login and permissions."""
    from datasette.plugins import pm

    from center.app import build_datasette
    from workplace import plugin

    settings = (config if isinstance(config, WorkplaceConfig)
                else load_workplace_config(config) if config else load_workplace_config())
    ds = build_datasette(db_path, sql=sql)
    ds.smc_workplace = Workplace(db_path, settings, clock)
    ds.smc_post_paths = POST_PATHS
    if not pm.is_registered(plugin):
        pm.register(plugin, name="smc_workplace")
    return ds


def parse_after(value: str) -> tuple[str, str] | None:
    at, _, oid = value.partition("|")
    try:
        parse_iso(at)
    except ValueError:
        return None
    return at, oid
