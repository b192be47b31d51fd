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
- any method but GET and HEAD gets 405 Method Not Allowed: the centre is read-only.
"""
from __future__ import annotations

import csv
import io
import re
import sys
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote_plus

from datasette import hookimpl
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


@hookimpl
def prepare_connection(conn):
    conn.create_function("smc_match", 1, smc_match, deterministic=True)


@hookimpl
def render_cell(row, value, column, table, database, datasette):
    if column not in ("id", "comment_id", "opinion_id") or table not in _LINKED:
        return None
    if not isinstance(value, str) or not _OPINION_ID.match(value):
        return None
    href = datasette.urls.database(database) + "/opinion?id=" + quote(value, safe="")
    return Markup(f'<a class="smc-opinion" href="{escape(href)}">{escape(shown(value))}</a>')


@hookimpl
def startup(datasette):
    """Load the Korean analyser before serving: the first search would otherwise spend
    its whole SQL time limit loading the model."""
    smc_match("서울")


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
        return shown if kind.startswith("text/html") else None

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


def safe_responses(app: ASGIApp) -> ASGIApp:
    async def wrapped(scope: Message, receive: Callable[[], Awaitable[Message]],
                      send: Send) -> None:
        if scope["type"] != "http":
            return await app(scope, receive, send)
        if scope.get("method", "GET").upper() not in READ_METHODS:
            return await not_allowed(send)
        csv_request = is_csv_request(scope)
        if csv_request:
            scope = dict(scope, query_string=without_trace(scope.get("query_string", b"")))
        await app(scope, receive, SafeResponse(send, csv_request))

    return wrapped


@hookimpl
def asgi_wrapper(datasette):
    return safe_responses
