"""Threads (Meta): the account's posts and the replies under them, on the Threads API.

Plain `requests` through the Transport's `session()`: Meta publishes no Python SDK for the
Threads API (facebook-sdk speaks graph.facebook.com only), and the API is small.

Endpoints (https://developers.facebook.com/docs/threads/, host graph.threads.net, v1.0):
- `GET /me?fields=id,username`: the token's own profile. Threads tokens are user tokens, so
  an account without an `id` in accounts.yaml is read as the token's user; the username
  must be the account's handle (a token pasted into the wrong variable is refused), and the
  id is kept as the "user_id" stream so the look-up happens once.
- `GET /{threads-user-id}/threads`: the account's posts, newest first (`since` / `until`,
  `limit` up to 100, cursor paging `paging.cursors.after`; no `paging.next` = last page).
- `GET /{media-id}/conversation`: every reply under a post, at every depth, flattened,
  newest first (`reverse=true`); each names its parent (`replied_to`) and post (`root_post`).
- `GET /{media-id}/replies`: the top-level replies of a post or reply. With
  `options["threads_edge"] = "replies"` the collector walks the reply tree with it instead of
  reading /conversation (one request per reply that `has_replies`; a fallback).

Streams and cursors (as collectors/instagram.py, whose rules these mirror):
- "threads": the newest post `timestamp` seen (ISO UTC). Posts are paged newest first until
  a page holds posts older than that cursor minus the look-back (`lookback_days`, default 7,
  measured from the data's own clock). The first run (no cursor) takes every post (or, with
  `options["since"]`, those since then: the API's `since`).
- Posts inside the window are re-scanned in full; the scan's last page carries
  a `ScanComplete`, so replies no longer served become tombstones. A post whose `has_replies`
  is false is closed without a request (nothing is served under it).
- "replies": the newest reply `timestamp` seen. Older posts on the last post page are read
  only down to that cursor (newest first: stop at what is already stored): a new reply to an
  older post is caught without re-reading its history; no tombstones there.
- Both cursors are committed on last, empty pages after every scan of the run, so a run
  that dies part-way moves no cursor.
- Reposts (`media_type` REPOST_FACADE: another's post shared by the city) are served as
  posts but their replies are the original author's: they are not scanned.

Errors: Meta's Graph-style body {"error": {"message", "type" (OAuthException,
THApiException), "code", "error_subcode", "fbtrace_id"}}, mapped to core.errors (table in
`ThreadsClient._classify`); 5xx, timeouts, broken bodies and `is_transient` are retried a few
times first. Rate limits: an app may make 4800 x impressions calls per user per rolling 24 h
(https://developers.facebook.com/docs/threads/overview#rate-limiting): code 4 / 17 / 32 /
613, HTTP 429, or a usage header near 100 % stop the account until the window frees up.
"""
from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Callable, Iterator, Literal, Mapping
from urllib.parse import parse_qsl, urlsplit

import requests

from collectors.base import Checkpoint, Cursor, Event, NewestFirst, Page, ScanComplete, Spend
from collectors.graph import graph_iso, parse_graph_time, retry_after, token_for, usage_levels
from collectors.http import Transport
from collectors.retry import with_retries
from core.accounts import Account
from core.errors import (
    AuthFailed,
    CollectorError,
    PaginationLoop,
    PermissionMissing,
    RateLimited,
)
from core.shapes import obj, seq

log = logging.getLogger(__name__)

HOST = "graph.threads.net"
VERSION = "v1.0"
POST_FIELDS = ("id,media_product_type,media_type,text,permalink,shortcode,timestamp,username,"
               "is_quote_post,has_replies")
REPLY_FIELDS = ("id,text,username,permalink,shortcode,timestamp,media_type,has_replies,"
                "root_post,replied_to,is_reply,is_reply_owned_by_me,hide_status")
DEFAULT_PAGE_SIZE = 25  # the API's default; at most 100
MAX_PAGE_SIZE = 100
REPOST = "REPOST_FACADE"
EDGES = ("conversation", "replies")

PERMISSION_BASIC = "threads_basic"  # every call
PERMISSION_REPLIES = "threads_read_replies"  # GET /replies, /conversation
# threads_manage_replies is for hiding and posting replies: we never need it (see _classify)

RATE_LIMIT_CODES = frozenset({4, 17, 32, 613, *range(80000, 80015)})
AUTH_CODES = frozenset({190, 102})
PERMISSION_CODES = frozenset({10, *range(200, 300)})
TRANSIENT_CODES = frozenset({1, 2})
DEFAULT_RETRY_MINUTES = 60  # a rolling 24-hour window: come back within the hour
USAGE_THRESHOLD = 95  # percent of any usage figure at which we stop asking
USAGE_HEADERS = ("x-app-usage", "x-business-use-case-usage")
_SECRET_IN_TEXT = re.compile(r"(access_token=|Bearer\s+|OAuth\s+)[^\s&\"')]+", re.IGNORECASE)
_VERSION = re.compile(r"^v\d+\.\d+$")


class _Retry(Exception):
    """A transient failure of one request (5xx, timeout, broken body): try again."""


def scrub(text: str) -> str:
    """Error text without tokens: a proxy or an echoing error may quote the request URL."""
    return _SECRET_IN_TEXT.sub(lambda m: m.group(1) + "…", text)


class ThreadsClient:
    """GET requests to the Threads API for one account's token, with its paging and errors."""

    def __init__(self, transport: Transport, token: str, *, account: str, env_var: str,
                 options: Mapping[str, Any]):
        self.account, self.env_var, self.token = account, env_var, token
        version = str(options.get("threads_version") or VERSION)
        self.base = f"https://{options.get('threads_host') or HOST}/{version}"
        self.session = transport.session()
        self.sleep: Callable[[float], None] = options.get("sleep", time.sleep)
        self.clock: Callable[[], Any] | None = options.get("clock")
        self.attempts = max(1, int(options.get("threads_attempts", 3)))
        self.backoff = float(options.get("threads_backoff", 0.5))
        self.max_pages = int(options.get("threads_max_pages", 10_000))
        self.threshold = float(options.get("threads_usage_threshold", USAGE_THRESHOLD))
        self.requests = 0
        self._taken = 0

    def take_spend(self) -> Spend:
        """The requests made since the last call, as the `spend` of the next event."""
        return Spend(requests=self.take_requests())

    def take_requests(self) -> int:
        """HTTP requests made since the last call (for Page.requests)."""
        spent, self._taken = self.requests - self._taken, self.requests
        return spent

    # --- one request ---------------------------------------------------------------------
    def get(self, path: str, params: Mapping[str, Any], *, permission: str, what: str) -> dict:
        """GET `{base}/{path}`; the JSON body, or a core.errors error a person can act on."""
        return with_retries(
            lambda: self._once(path, dict(params), permission, what),
            lambda exc: isinstance(exc, _Retry),
            f"{self.account}: GET {what}", attempts=self.attempts, base_delay=self.backoff,
            max_delay=4 * self.backoff, sleep=self.sleep,
        )

    def _once(self, path: str, params: dict, permission: str, what: str) -> dict:
        self.requests += 1
        url = f"{self.base}/{path.strip('/')}"
        try:
            response = self.session.get(url, params={**params, "access_token": self.token})
        except requests.exceptions.Timeout as exc:
            raise _Retry(f"timed out ({type(exc).__name__})") from None
        except requests.exceptions.ConnectionError as exc:
            raise _Retry(f"connection failed: {scrub(str(exc))}") from None
        status = response.status_code
        try:
            body = response.json()
        except ValueError:
            if status >= 500 or status == 200:  # a proxy's page, a body cut short
                raise _Retry(f"HTTP {status}: the body is not JSON") from None
            body = None
        error = obj(body).get("error") if isinstance(body, dict) else None
        if status != 200 or isinstance(error, dict):
            raise self._classify(status, obj(error), response.headers, permission, what)
        if not isinstance(body, dict):
            raise _Retry(f"unexpected body of type {type(body).__name__}")
        limited = self._usage_limit(response.headers, what)
        if limited is not None:
            raise limited
        return body

    # --- errors --------------------------------------------------------------------------
    def _classify(self, status: int, error: Mapping, headers: Mapping[str, str],
                  permission: str, what: str) -> Exception:
        """An error answer as a retry (_Retry) or a core.errors error.

        codes 4, 17, 32, 613, 80000-80014, HTTP 429 -> RateLimited (until the usage headers
        say, else DEFAULT_RETRY_MINUTES); 190, 102, HTTP 401 -> AuthFailed (the token's
        variable; long-lived tokens last 60 days); 10, 200-299, HTTP 403 -> PermissionMissing
        (the permission the request needs); 100 with subcode 33 -> the object does not exist
        for this token; 1, 2, `is_transient`, HTTP 5xx -> retried; anything else fails.
        """
        code = error.get("code") if isinstance(error.get("code"), int) else None
        subcode = error.get("error_subcode")
        message = scrub(str(error.get("message") or f"HTTP {status}"))
        said = (f"(Threads API error {code}{f'/{subcode}' if subcode else ''}: {message})"
                if code is not None else f"({message})")
        if code in RATE_LIMIT_CODES or (code is None and status == 429):
            limited = self._usage_limit(headers, what)
            until = limited.retry_after if limited else self._retry_after(
                _retry_after_header(headers))
            return RateLimited(
                f"{self.account}: rate limited by the Threads API while reading {what} {said}; "
                f"an app may make 4800 calls per impression of the account in 24 hours: "
                f"stopped this account for this run, it resumes after {until}",
                retry_after=until)
        if code in AUTH_CODES or (code is None and status == 401):
            return AuthFailed(
                f"{self.account}: the access token in {self.env_var} was rejected {said}; it "
                f"has expired or been revoked (long-lived Threads tokens last 60 days: refresh "
                f"them with GET https://{HOST}/refresh_access_token?grant_type=th_refresh_token "
                f"before they end): generate a new token and set {self.env_var}")
        if code in PERMISSION_CODES or (code is None and status == 403):
            extra = (" (not 'threads_manage_replies': that one hides and posts replies, "
                     "which we never do)" if permission == PERMISSION_REPLIES else "")
            return PermissionMissing(
                f"{self.account}: the token in {self.env_var} lacks the '{permission}' "
                f"permission needed to read {what} {said}; grant '{permission}'{extra} to the "
                f"Threads app (with '{PERMISSION_BASIC}') and renew {self.env_var}")
        if code == 100 and subcode == 33:
            return CollectorError(
                f"{self.account}: the Threads API has nothing to serve for {what} {said}: the "
                f"object does not exist, or the token in {self.env_var} belongs to another "
                f"user: check the account's handle/id in accounts.yaml and {self.env_var}")
        if code in TRANSIENT_CODES or error.get("is_transient") is True or status >= 500:
            return _Retry(f"HTTP {status} {said}")
        if code is None and not error:  # not Threads talking: a proxy's page
            return _Retry(f"HTTP {status}: not a Threads API answer")
        return CollectorError(f"{self.account}: the Threads API refused to serve {what} "
                              f"(HTTP {status}) {said}")

    def _usage_limit(self, headers: Mapping[str, str], what: str) -> RateLimited | None:
        """RateLimited when a usage header says we are at (or near) 100 %."""
        worst, regain = usage_levels(headers, USAGE_HEADERS, self.account)
        if worst < self.threshold and regain is None:
            return None
        until = self._retry_after(regain)
        return RateLimited(
            f"{self.account}: Threads API usage at {worst:.0f}% while reading {what} "
            f"(X-App-Usage); stopped this account until {until}", retry_after=until)

    def _retry_after(self, minutes: float | None) -> str:
        return retry_after(self.clock, minutes or DEFAULT_RETRY_MINUTES)

    # --- paging --------------------------------------------------------------------------
    def pages(self, node: str, edge: str, params: Mapping[str, Any], *, permission: str,
              what: str) -> Iterator[tuple[dict, bool]]:
        """Every page of `{node}/{edge}` as (body, is_last), following `paging.cursors.after`
        when present, else the query of `paging.next`.

        A page with `paging.next` has a next one (even when it is empty). Meta's Threads docs
        show pages with cursors only ("use the cursors to build the next query"): a full page
        (as many items as `limit`) with an `after` cursor and no `next` is followed too, so a
        list is never cut short; a shorter page without `next` is the last. A cursor seen
        twice raises PaginationLoop."""
        path, args = f"{node}/{edge}", dict(params)
        seen: set = set()
        for _ in range(self.max_pages):
            body = self.get(path, args, permission=permission, what=what)
            paging = obj(body.get("paging"))
            nxt = paging.get("next")
            after = obj(paging.get("cursors")).get("after")
            limit = str(args.get("limit") or "")
            full = limit.isdigit() and len(seq(body.get("data"))) >= int(limit) > 0
            if not nxt and not (after and full):
                yield body, True
                return
            yield body, False
            if after:
                key: Any = ("after", after)
                args = {**params, "after": after}
            else:
                parts = urlsplit(str(nxt))
                query = dict(parse_qsl(parts.query, keep_blank_values=True))
                query.pop("access_token", None)  # ours is added to every request
                key = ("next", tuple(sorted(query.items())))
                segments = [s for s in parts.path.split("/") if s]
                if segments and _VERSION.match(segments[0]):
                    segments = segments[1:]
                path, args = "/".join(segments), query
            if key in seen:
                raise PaginationLoop(
                    f"{self.account}: the Threads API returned the same paging cursor twice "
                    f"while reading {what}; stopped to avoid a loop (cursor {str(key[1])!r:.80})")
            seen.add(key)
        raise PaginationLoop(f"{self.account}: more than {self.max_pages} pages of {what}; "
                             "stopped (raise options['threads_max_pages'] if this is real)")


def _retry_after_header(headers: Mapping[str, str]) -> float | None:
    """Minutes a `Retry-After: <seconds>` header asks for (None when absent or a date)."""
    raw = str(headers.get("retry-after") or "").strip()
    return int(raw) / 60 if raw.isdigit() and int(raw) > 0 else None


class ThreadsCollector:
    """Posts and replies of the city's Threads accounts."""

    platform = "threads"

    def __init__(self, transport: Transport, environ: Mapping[str, str], accounts: list,
                 options: Mapping[str, Any]):
        self.transport, self.environ, self.accounts = transport, environ, accounts
        self.options = dict(options or {})
        self.lookback = timedelta(days=float(self.options.get("lookback_days") or 7))
        size = int(self.options.get("threads_page_size") or DEFAULT_PAGE_SIZE)
        self.page_size = max(1, min(size, MAX_PAGE_SIZE))
        self.edge = str(self.options.get("threads_edge") or "conversation")
        if self.edge not in EDGES:
            raise ValueError(f"threads_edge {self.edge!r}: expected one of {', '.join(EDGES)}")
        self.since: str | None = self.options.get("since")  # --since: the first run's start

    def client(self, account: Account) -> ThreadsClient:
        env, token = token_for(account, self.environ)
        return ThreadsClient(self.transport, token, account=account.key, env_var=env,
                             options=self.options)

    def pages(self, account: Account, cursors: Mapping[str, str]) -> Iterator[Event]:
        client = self.client(account)
        user_id = account.native_id or cursors.get("user_id")
        if not user_id:
            user_id = self._resolve(client, account)
            yield Checkpoint(Cursor("user_id", user_id), spend=client.take_spend())
        previous = parse_graph_time(cursors.get("threads"))
        window = previous - self.lookback if previous else None
        posts = NewestFirst("threads", graph_iso(cursors.get("threads")))
        replies = NewestFirst("replies", graph_iso(cursors.get("replies")))
        full: list[tuple[str, bool]] = []  # (post id, has replies: False only when it says)
        partial: list[str] = []
        params: dict[str, Any] = {"fields": POST_FIELDS, "limit": self.page_size}
        if previous is None and self.since:
            params["since"] = self.since
        for body, _last in client.pages(user_id, "threads", params,
                                        permission=PERMISSION_BASIC,
                                        what=f"the posts of Threads user {user_id}"):
            items = seq(body.get("data"))
            older = False
            for item in items:
                if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                    continue
                post_id = item["id"]
                if post_id in partial or any(post_id == p for p, _ in full):
                    continue  # a post repeated across pages is scanned once
                created = parse_graph_time(item.get("timestamp"))
                posts.see(graph_iso(item.get("timestamp")))
                if item.get("media_type") == REPOST:
                    continue  # another's post: its replies are not the city's to read
                if window is not None and created is not None and created < window:
                    older = True
                    partial.append(post_id)
                else:
                    full.append((post_id, item.get("has_replies") is not False))
            yield Page(kind="post", items=items, spend=client.take_spend())
            if older:
                break
        for post_id, has_replies in full:
            if not has_replies:  # nothing is served under it: close it without asking
                yield ScanComplete(post_id)
                continue
            yield from self._replies(client, post_id, replies, whole=True)
        if replies.previous is not None:
            for post_id in partial:
                yield from self._replies(client, post_id, replies, whole=False)
        yield from replies.checkpoint(end=True)
        yield from posts.checkpoint(end=True)

    def _resolve(self, client: ThreadsClient, account: Account) -> str:
        """The token's user id, when its username is the account's handle."""
        body = client.get("me", {"fields": "id,username"}, permission=PERMISSION_BASIC,
                          what="the token's own Threads profile (/me)")
        user_id, username = body.get("id"), body.get("username")
        if not isinstance(user_id, str) or not user_id:
            raise CollectorError(f"{account.key}: the Threads API gave no user id for the token "
                                 f"in {client.env_var}; set the account's id in accounts.yaml")
        if isinstance(username, str) and username.lower() != account.handle.lower().lstrip("@"):
            raise CollectorError(
                f"{account.key}: the token in {client.env_var} belongs to Threads user "
                f"@{username}, but accounts.yaml names @{account.handle}: set the right token "
                f"(or fix the handle)")
        return user_id

    # --- replies -------------------------------------------------------------------------
    def _replies(self, client: ThreadsClient, post_id: str, replies: NewestFirst,
                 whole: bool) -> Iterator[Event]:
        """A post's replies, newest first. whole: every page, and the scan completes
        (`ScanComplete`); else stop at the first page reaching a reply at or before the
        "replies" cursor (no tombstones)."""
        if self.edge == "replies":
            yield from self._tree(client, post_id, replies, whole)
            return
        includes = {"post_id": post_id}
        what = f"the replies (conversation) of Threads post {post_id}"
        for body, last in client.pages(post_id, "conversation",
                                       {"fields": REPLY_FIELDS, "reverse": "true",
                                        "limit": self.page_size},
                                       permission=PERMISSION_REPLIES, what=what):
            items = seq(body.get("data"))
            reached = _see_all(replies, items) and not whole
            yield Page(kind="comment", items=items, includes=includes,
                       spend=client.take_spend())
            if whole and last:
                yield ScanComplete(post_id)
            if reached:
                return

    def _tree(self, client: ThreadsClient, post_id: str, replies: NewestFirst,
              whole: bool) -> Iterator[Event]:
        """The reply tree walked with /replies: top-level replies newest first (stopping at
        the cursor unless whole), then the replies of each reply that has some, depth
        first. In a partial read only the top-level replies read are followed down."""
        todo: list[tuple[str, str | None]] = [(post_id, None)]
        while todo:
            node, parent = todo.pop()
            includes = {"post_id": post_id, **({"parent_id": parent} if parent else {})}
            what = f"the replies to Threads {'post' if parent is None else 'reply'} {node}"
            below: list[str] = []
            for body, _last in client.pages(node, "replies",
                                            {"fields": REPLY_FIELDS, "reverse": "true",
                                             "limit": self.page_size},
                                            permission=PERMISSION_REPLIES, what=what):
                items = seq(body.get("data"))
                reached = _see_all(replies, items) and not whole and parent is None
                below += [i["id"] for i in items if isinstance(i, dict)
                          and isinstance(i.get("id"), str) and i.get("has_replies") is True]
                yield Page(kind="comment", items=items, includes=includes,
                           spend=client.take_spend())
                if reached:
                    break
            todo += [(reply, reply) for reply in reversed(below)]
        if whole:
            yield ScanComplete(post_id)


def _see_all(replies: NewestFirst, items: list) -> bool:
    """Note every reply's time; whether one is at or before the stored cursor."""
    reached = False
    for item in items:
        if isinstance(item, dict) and replies.see(graph_iso(item.get("timestamp"))):
            reached = True
    return reached


# The fields only a reply carries (normalize/threads.py reads the same: the layers keep
# collectors/ and normalize/ apart, so each names them).
_REPLY_FIELDS = ("replied_to", "root_post", "hide_status", "is_reply_owned_by_me")


def is_reply(item: Any) -> bool:
    """A Threads object that answers another (else a post of the account's)."""
    return isinstance(item, dict) and (
        item.get("is_reply") is True or any(k in item for k in _REPLY_FIELDS))


# --- saved responses (`smc import --platform threads`) -----------------------------------------
@dataclass
class Saved:
    """What a saved Threads document holds: the fields of pipeline.formats.Found (collectors/
    never import pipeline/; the import wraps this in a Found)."""

    format: str
    pages: list[Page] = field(default_factory=list)
    more: int = 0  # Threads answers nest nothing a file could leave out: always 0
    simulated: bool = False
    problem: str | None = None
    skips: list[tuple[str, str | None]] = field(default_factory=list)


Kind = Literal["post", "comment"]
_EDGE_KINDS: dict[str, Kind] = {"threads": "post", "replies": "comment",
                                "conversation": "comment"}


def read_saved(platform: str, doc: dict, options: Any = None) -> Saved:
    """A saved Threads API response as pages: a /threads, /replies or /conversation page
    (`data`, `paging`) or a single post or reply, with the signature of pipeline.formats'
    readers: `options.post` names the post replies hang under, `options.kind` forces the
    kind. A page's edge is read from its own paging URLs; without them each item says what
    it is (a reply carries `replied_to`, `root_post`, `is_reply`, ...). Pure: no I/O."""
    post = getattr(options, "post", None)
    forced = getattr(options, "kind", None)
    includes: dict[str, Any] = {"post_id": post} if post else {}
    edge = None
    if isinstance(doc.get("data"), list):
        node, edge = _node_edge(doc)
        if edge == "conversation" and node and not post:
            includes = {"post_id": node}  # a conversation is read on its post
        found = Saved(f"Threads API page ({edge or 'list'})")
        items = doc["data"]
    elif isinstance(doc.get("id"), (str, int)) and not isinstance(doc.get("id"), bool):
        found, items = Saved("Threads API object"), [doc]
    else:
        return Saved("unknown", problem="not a Threads API page or object (no `data` list, "
                                        "no `id`)")
    page_kind = _EDGE_KINDS.get(edge or "")
    for item in items:
        kind: Kind = forced if forced in ("post", "comment") else (
            page_kind or ("comment" if is_reply(item) else "post"))
        if found.pages and found.pages[-1].kind == kind:
            found.pages[-1].items.append(item)
        else:
            found.pages.append(Page(kind=kind, items=[item], includes=includes))
    return found


def _node_edge(doc: dict) -> tuple[str | None, str | None]:
    """(node, edge) of a page, read from its own paging URLs (`/v1.0/{id}/conversation?...`)."""
    paging = obj(doc.get("paging"))
    for key in ("next", "previous"):
        url = paging.get(key)
        if isinstance(url, str):
            segments = [s for s in urlsplit(url).path.split("/") if s]
            if segments and _VERSION.match(segments[0]):
                segments = segments[1:]
            if len(segments) == 2:
                return segments[0], segments[1]
    return None, None
