"""Datasette plugin of the Social Media Center view.

- `smc_match(q)`: the FTS5 MATCH expression of a Korean (or English/Chinese/Japanese) query,
  made by store.search.match_expression, so that `comments_fts MATCH smc_match(:q)` finds
  택시요금이 for 택시. An empty query, or one holding NUL, gives a phrase that matches
  nothing (MATCH of an empty string is an FTS5 syntax error).
- opinion ids in the centre's tables and queries link to the opinion page (canned query
  `opinion`: the post, the parent chain, the replies and the official answer).
- every CSV download (tables, views, canned and custom SQL queries) is re-written cell by
  cell through core.display's SafeCsvWriter, so no cell runs as a spreadsheet formula.
- every HTML page passes core.display.shown: a citizen's bidi override or control
  character cannot reorder or hide what staff read (render_cell alone would miss facets,
  titles and the filters' descriptions). Stored text and JSON stay as they came.
- any method but GET and HEAD gets 405 Method Not Allowed: the centre is read-only (the
  workplace's own forms, when `serve` runs it, are the only POSTs: `smc_post_paths`).
- the workplace's tables (users, sessions, failed logins: password hashes) are never served:
  no table page, and SQLite's authorizer refuses any query that reads them, --sql or not.
- column descriptions are collapsed behind a toggle (<details>), canned queries hide their
  SQL until asked for (metadata `hide_sql`), and every stored UTC time (ISO-8601 with Z) is
  shown with its Seoul time next to it.
"""
from __future__ import annotations

import csv
import io
import re
import sqlite3
import sys
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote_plus

from datasette import hookimpl
from datasette.utils import sqlite3 as served_sqlite3  # pysqlite3 where installed
from markupsafe import Markup, escape

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `python -m datasette serve` from elsewhere
    sys.path.insert(0, str(ROOT))

from core.display import SafeCsvWriter, shown  # after the path above
from core.platforms import KEYS

Message = dict[str, Any]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Message, Callable[[], Awaitable[Message]], Send], Awaitable[None]]

_lock = threading.Lock()  # Datasette runs queries on several threads; Kiwi is shared
_OPINION_ID = re.compile(r"^(" + "|".join(map(re.escape, KEYS)) + r"):\S+$")
_LINKED = {"center", "opinions", "cases", "case_events", None}
NOTHING = '"\ue000"'  # a private-use character: a valid token that no text contains


def smc_match(query: str | None) -> str:
    """FTS5 MATCH expression for a user's query (NOTHING when there is nothing to search,
    e.g. a query holding NUL: store.search.match_expression, as the CLI's search)."""
    if not query or not str(query).strip():
        return NOTHING
    from store.search import match_expression

    with _lock:
        return match_expression(str(query)) or NOTHING


# The workplace's tables (migration 13): password hashes, session token hashes, failed logins.
SECRET_TABLES = frozenset({"users", "sessions", "login_failures"})


def refuse_secret_tables(action: int, arg1: str | None, arg2: str | None, database: str | None,
                         trigger: str | None) -> int:
    """SQLite authorizer of the served connections: no statement may read the workplace's
    tables (whatever SQL an analyst types with --sql)."""
    if action == sqlite3.SQLITE_READ and arg1 in SECRET_TABLES:
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


@hookimpl
def prepare_connection(conn):
    conn.create_function("smc_match", 1, smc_match, deterministic=True)
    conn.set_authorizer(refuse_secret_tables)


@hookimpl
def permission_allowed(datasette, actor, action, resource):
    if action == "view-table" and isinstance(resource, (tuple, list)) \
            and resource[1] in SECRET_TABLES:
        return False
    return None


_UTC_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def with_seoul_time(value: str) -> Markup:
    """A stored UTC time with its Seoul time beside it."""
    from core.times import seoul_time

    return Markup(f'<span class="smc-time">{escape(value)} <small class="smc-kst" '
                  f'title="Asia/Seoul">(서울 {escape(seoul_time(value))} KST)</small></span>')


_ID_COLUMNS = frozenset({"id", "comment_id", "opinion_id"})


@hookimpl
def render_cell(row, value, column, table, database, datasette):
    # Called for every cell of every page (50 rows x 35 columns on the centre, 1,000 x 9 on
    # overdue): what it leaves alone is answered before any pattern is tried.
    if type(value) is not str:
        return None
    if len(value) == 20 and value[-1] == "Z" and _UTC_TIME.match(value):
        try:
            return with_seoul_time(value)
        except ValueError:
            return None
    if column not in _ID_COLUMNS or table not in _LINKED or not _OPINION_ID.match(value):
        return None
    href = datasette.urls.database(database) + "/opinion?id=" + quote(value, safe="")
    return Markup(f'<a class="smc-opinion" href="{escape(href)}">{escape(shown(value))}</a>')


# --- the rows of a table or query page --------------------------------------------------------
# center/templates/_table.html and query.html call these instead of Jinja's loop over every
# cell: the same <td>s (class from Datasette's to_css_class, value escaped unless it is
# Markup from render_cell), written in one pass.
def _css_classes() -> Callable[[str], str]:
    from datasette.utils import to_css_class

    known: dict[str, str] = {}

    def css(column: str) -> str:
        if column not in known:
            known[column] = str(escape(to_css_class(column)))
        return known[column]
    return css


def smc_table_rows(display_rows: Any) -> Markup:
    """The <tr>s of a table page (Datasette's display_rows: cells with column, value and
    value_type)."""
    css, out = _css_classes(), []
    for row in display_rows:
        out.append("<tr>")
        for cell in row:
            out.append(f'<td class="col-{css(cell["column"])} type-{escape(cell["value_type"])}">'
                       f'{escape(cell["value"])}</td>')
        out.append("</tr>\n")
    return Markup("".join(out))


def smc_query_rows(columns: list[str], display_rows: Any) -> Markup:
    """The <tr>s of a query page (Datasette's display_rows: values, in columns' order)."""
    css, out = _css_classes(), []
    classes = [css(column) for column in columns]
    for row in display_rows:
        out.append("<tr>")
        out.extend(f'<td class="col-{cls}">{escape(td)}</td>' for cls, td in zip(classes, row))
        out.append("</tr>\n")
    return Markup("".join(out))


@hookimpl
def extra_template_vars():
    return {"smc_table_rows": smc_table_rows, "smc_query_rows": smc_query_rows}


_DESCRIPTIONS = re.compile(r'<dl class="column-descriptions">.*?</dl>', re.DOTALL)
_STYLE = ("<style>details.smc-columns{margin:.5em 0 1em}details.smc-columns summary"
          "{cursor:pointer;color:#1f5fa8}td.col-text,td.col-answer_text,td.col-post_text"
          "{min-width:24em;max-width:48em;white-space:normal}"
          ".smc-time{white-space:nowrap}.smc-kst{display:block;color:#555}</style>")


def collapse_descriptions(page: str) -> str:
    """A Datasette page with its column descriptions behind a toggle, closed."""
    def wrap(found: re.Match) -> str:
        return ('<details class="smc-columns"><summary>열 설명 보기 (column descriptions)'
                f"</summary>{found.group(0)}</details>")

    page = _DESCRIPTIONS.sub(wrap, page, count=1)
    return page.replace("</head>", _STYLE + "</head>", 1)


def shown_page(text: str) -> str:
    """An HTML page as it may be shown: core.display.shown, descriptions collapsed."""
    return collapse_descriptions(shown(text))


@hookimpl
def startup(datasette):
    """Load the Korean analyser before serving: the first search would otherwise spend
    its whole SQL time limit loading the model. The centre's count and facets read the
    rollups (count_from_rollups)."""
    smc_match("서울")
    for database in datasette.databases.values():
        count_from_rollups(database)


# --- the centre's count and facets from the rollups -----------------------------------------
# Datasette counts the `center` page and each facet with a GROUP BY over the view: seconds
# at a million opinions. The same figures come from the rollups kept by triggers
# (store/db.py CENTER_ROLLUPS_DOC) through the views center_facets and center_day_facets,
# which name the centre's columns: a WHERE that reads only those columns (Datasette's
# filters on platform, account, field, status, district, category, deleted, seoul_day)
# holds for every opinion of a rollup row or for none, so sum(n) over the rows it keeps is
# the count over the view. Anything else (another column, a custom _where) names a column
# those views lack: SQLite refuses it, and the query runs as Datasette wrote it.
# A double-quoted name that is no column is an SQL string in SQLite ("district" = 'x' would
# compare two strings): the names Datasette's filters quote must be the view's columns.
# center_rows, the last resort before the view itself: the centre's own columns of the
# opinion and its account, counted row by row (count(*)) through the indexes on comments.
ROLLUP_VIEWS = {
    "center_facets": {"platform", "account", "field", "status", "district", "category",
                      "deleted", "n"},
    "center_day_facets": {"seoul_day", "platform", "account", "field", "status", "category",
                          "deleted", "n"},
    "center_rows": {"id", "seoul_day", "created_at", "status", "platform", "account",
                    "account_name", "field", "owner", "lang", "district", "category",
                    "parent_id", "like_count", "restricted", "restricted_countries",
                    "deleted"},
}
_COUNTED = {"center_rows": "count(*)"}  # the others: sum(n)
_LITERAL = re.compile(r"'(?:[^']|'')*'")
_QUOTED = re.compile(r'"((?:[^"]|"")*)"|\[([^\]]*)\]')


def _names_in(view: str, *parts: str) -> bool:
    """Whether every quoted name in these SQL parts is a column of the rollup view."""
    for part in parts:
        for found in _QUOTED.finditer(_LITERAL.sub("''", part)):
            name = found.group(1).replace('""', '"') if found.group(1) is not None \
                else found.group(2)
            if name not in ROLLUP_VIEWS[view]:
                return False
    return True
_COUNT = re.compile(r"^select count\(\*\) from center (?P<where>(?:where .*)?)$", re.DOTALL)
_FACET = re.compile(
    r"^\s*select (?P<col>\w+|\[[^\]]+\]) as value, count\(\*\) as count from \(\s*"
    r"select .*? from center (?P<where>(?:where .*?)?)\s*\)\s*"
    r"where (?P=col) is not null\s*group by (?P=col) order by count desc, value "
    r"limit (?P<limit>\d+)\s*$", re.DOTALL)


def _counted(view: str, rolled: str) -> str:
    return _COUNTED.get(view, rolled)


def rollup_queries(sql: str) -> list[str]:
    """The rollup forms of Datasette's count or facet query over `center`, in the order to
    try them (none: another query)."""
    found = _COUNT.match(sql)
    if found:
        return [f"select {_counted(view, 'coalesce(sum(n), 0)')} from {view} {found['where']}"
                for view in ROLLUP_VIEWS if _names_in(view, found["where"])]
    found = _FACET.match(sql)
    if found:
        col = found["col"]
        return [f"select {col} as value, {_counted(view, 'sum(n)')} as count from "
                f"(select * from {view} "
                f"{found['where']}) where {col} is not null group by {col} "
                f"order by count desc, value limit {found['limit']}" for view in ROLLUP_VIEWS
                if _names_in(view, found["where"], col)]
    return []


def count_from_rollups(database: Any) -> None:
    """Let this Datasette database answer the centre's count and facets from the rollups."""
    execute = database.execute

    async def rolled(sql: str, params: Any = None, *args: Any, **kwargs: Any) -> Any:
        for rolled_sql in rollup_queries(sql):
            try:
                return await execute(rolled_sql, params, *args,
                                     **{**kwargs, "log_sql_errors": False})
            except served_sqlite3.OperationalError as exc:
                if "no such column" not in str(exc):
                    break  # e.g. an old database without the rollups: the view itself
        return await execute(sql, params, *args, **kwargs)

    database.execute = rolled


# --- CSV downloads --------------------------------------------------------------------------
def is_csv_request(scope: Message) -> bool:
    """Whether Datasette answers this request with CSV: its router reads the format from the
    undecoded path's suffix (DatasetteRouter), so this reads the same."""
    path = scope.get("raw_path") or scope.get("path", "").encode("utf-8")
    return path.partition(b"?")[0].lower().endswith(b".csv")


def without_trace(query: bytes) -> bytes:
    """The query string without `_trace`: with it Datasette wraps the CSV in an HTML page
    (still offered as a .csv download) that the CSV re-write would not see."""
    kept = [part for part in query.split(b"&")
            if unquote_plus(part.partition(b"=")[0].decode("latin-1")) != "_trace"]
    return b"&".join(kept)


def safe_csv(text: str) -> str:
    """Whole CSV records as Datasette wrote them, with every cell through csv_safe."""
    out = io.StringIO()
    SafeCsvWriter(out).writerows(csv.reader(io.StringIO(text, newline="")))
    return out.getvalue()


def whole_records(data: bytes) -> int:
    """Length of the leading part of data that ends a CSV record: a newline outside quotes
    (an even count of '"' before it; the csv module doubles quotes inside a cell)."""
    end = data.rfind(b"\n")
    while end >= 0 and data.count(b'"', 0, end) % 2:
        end = data.rfind(b"\n", 0, end)
    return end + 1


def _header(message: Message, name: bytes) -> str:
    for key, value in message.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1").lower()
    return ""


class SafeResponse:
    """An ASGI send that re-writes what the centre sends: a CSV response through safe_csv,
    record by record (a download may stream a whole table), an HTML page whole through
    core.display.shown (cells, facets, titles: wherever others' words appear). Anything else
    (JSON is data) passes unchanged."""

    def __init__(self, send: Send, csv_request: bool) -> None:
        self.send, self.csv_request = send, csv_request
        self.rewrite: Callable[[str], str] | None = None
        self.pending = b""

    def _rewrite_for(self, start: Message) -> Callable[[str], str] | None:
        kind = _header(start, b"content-type")
        if kind.startswith("text/csv") or (
                self.csv_request and start["status"] == 200 and kind.startswith("text/plain")):
            return safe_csv
        return shown_page if kind.startswith("text/html") else None

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.rewrite = self._rewrite_for(message)
            if self.rewrite:  # the length changes
                message = dict(message, headers=[(k, v) for k, v in message.get("headers", [])
                                                 if k.lower() != b"content-length"])
            return await self.send(message)
        if message["type"] != "http.response.body" or self.rewrite is None:
            return await self.send(message)
        more = message.get("more_body", False)
        self.pending += message.get("body", b"")
        if not more:
            cut = len(self.pending)
        elif self.rewrite is safe_csv:
            cut = whole_records(self.pending)
        else:
            return  # a page is re-written whole
        ready, self.pending = self.pending[:cut], self.pending[cut:]
        if ready or not more:
            text = self.rewrite(ready.decode("utf-8", "surrogateescape"))
            await self.send(dict(message, body=text.encode("utf-8", "surrogateescape")))


# The served centre is read-only: Datasette answers a POST to a table with a 500 naming its
# internals, and takes POSTs on some /-/ routes. OPTIONS too: the centre serves no CORS.
READ_METHODS = ("GET", "HEAD")


async def not_allowed(send: Send) -> None:
    await send({"type": "http.response.start", "status": 405,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"allow", ", ".join(READ_METHODS).encode("ascii"))]})
    await send({"type": "http.response.body",
                "body": b"405 Method Not Allowed: the centre is read-only\n"})


CSRF_REFUSED = ("<!DOCTYPE html><html lang=\"ko\"><head><meta charset=\"utf-8\"><title>요청 "
                "거부</title></head><body><h1>요청 거부 (forbidden)</h1><p>보안 토큰(CSRF)이 "
                "없거나 맞지 않습니다. 페이지를 새로 열고 다시 시도하세요 (a form without its "
                "CSRF token is refused).</p><p><a href=\"/inbox\">받은 의견</a></p></body>"
                "</html>").encode("utf-8")


def csrf_page(send: Send) -> Send:
    """asgi-csrf refuses a workplace form with a bare English sentence: a page instead (a
    403 that is a page already, the workplace's own, passes unchanged)."""
    held: Message | None = None

    async def wrapped(message: Message) -> None:
        nonlocal held
        if message["type"] == "http.response.start" and message["status"] == 403:
            held = message
            return
        if held is not None and message["type"] == "http.response.body":
            start, held = held, None
            if not message.get("body", b"").lstrip().startswith(b"<"):
                start = dict(start, headers=[
                    (b"content-type", b"text/html; charset=utf-8"),
                    (b"content-length", str(len(CSRF_REFUSED)).encode("ascii"))])
                message = dict(message, body=CSRF_REFUSED, more_body=False)
            await send(start)
        await send(message)

    return wrapped


def safe_responses(app: ASGIApp, datasette: Any = None) -> ASGIApp:
    async def wrapped(scope: Message, receive: Callable[[], Awaitable[Message]],
                      send: Send) -> None:
        if scope["type"] != "http":
            return await app(scope, receive, send)
        posts = getattr(datasette, "smc_post_paths", ())  # the workplace's forms
        method = scope.get("method", "GET").upper()
        if method not in READ_METHODS:
            if not (method == "POST" and any(p.match(scope.get("path", "")) for p in posts)):
                return await not_allowed(send)
            send = csrf_page(send)
        csv_request = is_csv_request(scope)
        if csv_request:
            scope = dict(scope, query_string=without_trace(scope.get("query_string", b"")))
        await app(scope, receive, SafeResponse(send, csv_request))

    return wrapped


@hookimpl
def asgi_wrapper(datasette):
    return lambda app: safe_responses(app, datasette)
