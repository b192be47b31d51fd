"""graph.threads.net, simulated: the world's Threads accounts, their posts and replies.

Serves, under `/v1.0/` (any version, or none):
- `/me?fields=...`: the token's own profile (the token names its account, as
  pipeline.runner.simulated_environ makes them: "sim-" + the variable's name, lower-cased);
- `/{threads-user-id}/threads` (`me` too): the account's posts, newest first; `since` /
  `until` (unix seconds or ISO); `limit` (default 25, at most 100);
- `/{media-id}/conversation`: every reply under a post at every depth, flattened, newest first
  (`reverse=false`: oldest first);
- `/{media-id}/replies`: the replies straight under a post or a reply (`reverse` too).
Lists page like the real API: `paging.cursors.{before,after}` and, when there is more,
`paging.next` (and `previous` past the first page); with `next_links=False` cursors only, as
the docs' examples show. `fields` selects the fields (default `id`).

Ids are numeric strings: users USER_BASE + n, posts POST_BASE + seq, replies REPLY_BASE +
seq. Replies keep the world's nesting (a citizen's follow-up answers a reply, the city's answer
the last of a thread); a reply whose parent was deleted disappears with it. A hidden comment
is served with `hide_status` HIDDEN or COVERED (by its seq), the others NOT_HUSHED. Only
public users' `username` and `permalink` are served (the world's citizens are all public).

Errors in Meta's shape ({"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}},
THApiException for an unknown object, as the real API answers); faults rendered by
`render_fault`: "threads:N" (a Graph-style code: 4, 17, 613 rate limits with X-App-Usage at
100 %, 190, 10, 100, 1, 2, ...), "threads:usage" (a normal answer with X-App-Usage at 100 %)
and the generic "429", "quota" (Threads' rate limit: code 4), "5xx", "expired_token" (190),
"permission" (10), "4xx_echo" (100) and "5xx_echo" (HTTP 500, code 1) (network faults and
broken bodies stay generic).
"""
from __future__ import annotations

import base64
import hashlib
import json
import re
from datetime import datetime, timezone
from typing import Any, Callable
from urllib.parse import urlencode

from core.times import parse_datetime
from simulator.transport import Fault, SimRequest, SimResponse, echo
from simulator.world import SimComment, SimPost, World

HOST = "https://graph.threads.net"
DEFAULT_VERSION = "v1.0"
DEFAULT_LIMIT = 25
MAX_LIMIT = 100
USER_BASE = 17_841_400_000_000_000
POST_BASE = 18_050_000_000_000_000
REPLY_BASE = 18_060_000_000_000_000
_VERSION = re.compile(r"^v\d+\.\d+$")

# fault code -> (HTTP status, message, error type, extra error fields)
ERRORS: dict[int, tuple[int, str, str, dict]] = {
    4: (403, "(#4) Application request limit reached", "OAuthException",
        {"is_transient": True}),
    17: (403, "(#17) User request limit reached", "OAuthException", {"is_transient": True}),
    613: (403, "(#613) Calls to this api have exceeded the rate limit.", "OAuthException",
          {"is_transient": True}),
    190: (400, ("Error validating access token: Session has expired on Tuesday, 24-Nov-26 "
                "23:00:00 PST. The current time is Wednesday, 25-Nov-26 00:00:00 PST."),
          "OAuthException", {"error_subcode": 463}),
    10: (403, "Application does not have permission for this action", "THApiException", {}),
    100: (400, "Unsupported get request. Object with ID '{node}' does not exist, cannot be "
               "loaded due to missing permissions, or does not support this operation",
          "THApiException", {"error_subcode": 33}),
    1: (500, "An unknown error occurred", "OAuthException", {"is_transient": True}),
    2: (503, "An unexpected error has occurred. Please retry your request later.",
        "OAuthException", {"is_transient": True}),
}
RATE_LIMITED = (4, 17, 32, 613)


def ttime(value: datetime) -> str:
    """The API's time format: 2024-01-01T18:20:00+0000."""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+0000")


def error(status: int, code: int, message: str, *, kind: str = "OAuthException",
          headers: dict | None = None, **extra: Any) -> SimResponse:
    trace = base64.urlsafe_b64encode(hashlib.sha1(f"{code}{message}".encode()).digest())[:23]
    body = {"error": {"message": message, "type": kind, "code": code, **extra,
                      "fbtrace_id": "A" + trace.decode()}}
    return SimResponse(status, body, dict(headers or {}))


def shortcode(number: int) -> str:
    """An Instagram-style shortcode (base64 of the id), as Threads' links carry."""
    return base64.urlsafe_b64encode(number.to_bytes(8, "big").lstrip(b"\0")).decode().rstrip("=")


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"t:{offset}".encode()).decode().rstrip("=")


def _offset(token: str | None) -> int | None:
    """The offset a cursor of ours stands for (0 without one); None for a foreign one."""
    if not token:
        return 0
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    return int(text[2:]) if text.startswith("t:") and text[2:].isdigit() else None


def _when(value: str | None) -> datetime | None:
    """`since` / `until`: unix seconds or an ISO time; None when absent."""
    if not value:
        return None
    if value.lstrip("-").isdigit():
        return datetime.fromtimestamp(int(value), timezone.utc)
    parsed = parse_datetime(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


class _Refused(Exception):
    def __init__(self, response: SimResponse):
        self.response = response


class Server:
    """The Threads API over the world's accounts of platform "threads"."""

    def __init__(self, world: World, page_size: int = DEFAULT_LIMIT, next_links: bool = True):
        self.world = world
        self.page_size = page_size
        # False: pages carry cursors only, as the docs' examples show (see collectors.threads)
        self.next_links = next_links
        mine = [a for a in world.accounts.values() if a.platform == "threads"]
        self.user_ids = {a.key: a.native_id or str(USER_BASE + i + 1)
                         for i, a in enumerate(mine)}
        self.by_user = {uid: key for key, uid in self.user_ids.items()}
        self.by_token = {f"sim-{name.lower()}": a.key for a in mine for name in a.credentials}
        self._posts = {p.seq: p for key in self.user_ids for p in world.posts.get(key, [])}

    # --- routing -------------------------------------------------------------------------
    def handle(self, req: SimRequest) -> SimResponse:
        if req.method != "GET":
            return error(400, 100, f"Unsupported {req.method.lower()} request.",
                         kind="THApiException")
        token = req.params.get("access_token") or req.headers.get(
            "authorization", "").removeprefix("Bearer ").strip()
        if not token:
            return error(400, 190, "An active access token must be used to query information "
                                   "about the current user.")
        parts = [p for p in req.path.split("/") if p]
        version = parts[0] if parts and _VERSION.match(parts[0]) else DEFAULT_VERSION
        if parts and _VERSION.match(parts[0]):
            parts = parts[1:]
        try:
            if parts == ["me"]:
                return self._me(req, token)
            if len(parts) == 2:
                node, edge = parts
                key = self._token_user(token) if node == "me" else self.by_user.get(node)
                if edge == "threads" and key is not None:
                    return self._threads(req, version, node, key)
                post, reply = self._post(node), self._reply(node)
                if edge == "conversation" and post is not None:
                    return self._conversation(req, version, node, post)
                if edge == "replies" and (post is not None or reply is not None):
                    return self._replies(req, version, node, post, reply)
        except _Refused as refused:
            return refused.response
        return self._unknown(req)

    def _unknown(self, req: SimRequest) -> SimResponse:
        parts = [p for p in req.path.split("/") if p and not _VERSION.match(p)]
        node = parts[0] if parts else ""
        status, message, kind, extra = ERRORS[100]
        return error(status, 100, message.format(node=node), kind=kind, **extra)

    def _token_user(self, token: str) -> str | None:
        """The account a token is of: its variable's name is in it (simulated_environ's
        "sim-" + name, or a test's own value naming it; the longest name wins)."""
        if token in self.by_token:
            return self.by_token[token]
        named = [(len(t), key) for t, key in self.by_token.items() if t[4:] in token.lower()]
        if named:
            return max(named)[1]
        return next(iter(self.user_ids)) if len(self.user_ids) == 1 else None

    # --- the world's view ----------------------------------------------------------------
    def served(self, post: SimPost) -> list[SimComment]:
        """The replies a post shows now, oldest first: visible, their parents too."""
        visible = self.world.visible_comments(post)
        ids = {c.seq for c in visible}
        out = []
        for comment in visible:
            node, ok = comment, True
            while node.parent is not None:
                node = node.parent
                ok = ok and node.seq in ids
            if ok:
                out.append(comment)
        return out

    def _post(self, node: str) -> SimPost | None:
        if not node.isdigit() or not POST_BASE < int(node) < REPLY_BASE:
            return None
        post = self._posts.get(int(node) - POST_BASE)
        return post if post is not None and post.created <= self.world.now else None

    def _reply(self, node: str) -> SimComment | None:
        if not node.isdigit() or int(node) <= REPLY_BASE:
            return None
        seq = int(node) - REPLY_BASE
        for post in self._posts.values():
            if post.created > self.world.now:
                continue
            for comment in self.served(post):
                if comment.seq == seq:
                    return comment
        return None

    # --- paging --------------------------------------------------------------------------
    def _limit(self, req: SimRequest) -> int:
        raw = req.params.get("limit")
        if raw is None or raw == "":
            return self.page_size
        if not raw.isdigit():
            raise _Refused(error(400, 100, f"Param limit must be a number, got {raw!r}",
                                 kind="THApiException"))
        return max(1, min(int(raw), MAX_LIMIT))

    def _page(self, req: SimRequest, version: str, node: str, edge: str, items: list,
              render: Callable[[Any], dict]) -> SimResponse:
        """One page of `items` with the API's paging object."""
        if req.params.get("after") and req.params.get("before"):
            raise _Refused(error(400, 100, "Both before and after parameters cannot be passed "
                                           "at the same time", kind="THApiException"))
        start = _offset(req.params.get("after"))
        if start is None:
            raise _Refused(error(400, 100, "The after cursor is invalid", kind="THApiException"))
        limit = self._limit(req)
        chunk = items[start:start + limit]
        body: dict[str, Any] = {"data": [render(x) for x in chunk]}
        keep = {k: v for k, v in req.params.items() if k not in ("after", "before")}
        paging: dict[str, Any] = {}
        if chunk:
            paging["cursors"] = {"before": _cursor(start), "after": _cursor(start + len(chunk))}
        if start + len(chunk) < len(items) and self.next_links:
            more = {**keep, "after": _cursor(start + len(chunk))}
            paging["next"] = f"{HOST}/{version}/{node}/{edge}?{urlencode(more)}"
        if start > 0:
            back = {**keep, "before": _cursor(start)}
            paging["previous"] = f"{HOST}/{version}/{node}/{edge}?{urlencode(back)}"
        if paging:
            body["paging"] = paging
        return SimResponse(200, body)

    @staticmethod
    def _fields(req: SimRequest) -> list[str]:
        return [f.strip() for f in (req.params.get("fields") or "id").split(",") if f.strip()]

    # --- endpoints -----------------------------------------------------------------------
    def _me(self, req: SimRequest, token: str) -> SimResponse:
        key = self._token_user(token)
        if key is None:
            return error(400, 190, "Invalid OAuth access token - Cannot parse access token")
        account = self.world.accounts[key]
        full = {"id": self.user_ids[key], "username": account.handle, "name": account.name}
        return SimResponse(200, {"id": full["id"],
                                 **{k: full[k] for k in self._fields(req) if k in full}})

    def _threads(self, req: SimRequest, version: str, node: str, key: str) -> SimResponse:
        try:
            since, until = _when(req.params.get("since")), _when(req.params.get("until"))
        except ValueError:
            return error(400, 100, "Param since/until must be a unix time or a date",
                         kind="THApiException")
        posts = [p for p in reversed(self.world.visible_posts(key))
                 if (since is None or p.created >= since) and (until is None or p.created <= until)]
        fields = self._fields(req)
        return self._page(req, version, node, "threads", posts,
                          lambda p: self._post_json(p, fields))

    def _conversation(self, req: SimRequest, version: str, node: str,
                      post: SimPost) -> SimResponse:
        items = self._ordered(req, self.served(post))
        fields = self._fields(req)
        return self._page(req, version, node, "conversation", items,
                          lambda c: self._reply_json(c, fields))

    def _replies(self, req: SimRequest, version: str, node: str, post: SimPost | None,
                 reply: SimComment | None) -> SimResponse:
        served = self.served(post if post is not None else reply.post)  # type: ignore[union-attr]
        items = self._ordered(req, [c for c in served if c.parent is reply])
        fields = self._fields(req)
        return self._page(req, version, node, "replies", items,
                          lambda c: self._reply_json(c, fields))

    @staticmethod
    def _ordered(req: SimRequest, items: list[SimComment]) -> list[SimComment]:
        newest_first = req.params.get("reverse", "true").lower() != "false"
        return sorted(items, key=lambda c: (c.created, c.seq), reverse=newest_first)

    # --- rendering -----------------------------------------------------------------------
    def _post_json(self, post: SimPost, fields: list[str]) -> dict:
        account = self.world.accounts[post.account]
        number = POST_BASE + post.seq
        code = shortcode(number)
        full: dict[str, Any] = {
            "id": str(number), "media_product_type": "THREADS", "media_type": "TEXT_POST",
            "text": post.text, "timestamp": ttime(post.created), "shortcode": code,
            "permalink": f"https://www.threads.net/@{account.handle}/post/{code}",
            "username": account.handle, "owner": {"id": self.user_ids[post.account]},
            "is_quote_post": False, "has_replies": bool(self.served(post)),
        }
        return {"id": full["id"], **{k: full[k] for k in fields if k in full}}

    def _reply_json(self, c: SimComment, fields: list[str]) -> dict:
        if c.official:
            username = self.world.accounts[c.official].handle
        else:
            username = c.author.handle if c.author else "unknown"
        number = REPLY_BASE + c.seq
        code = shortcode(number)
        parent = str(REPLY_BASE + c.parent.seq) if c.parent else str(POST_BASE + c.post.seq)
        hide = "NOT_HUSHED"
        if c.hidden:
            hide = "COVERED" if c.seq % 2 else "HIDDEN"
        full: dict[str, Any] = {
            "id": str(number), "text": c.text_at(self.world.now), "username": username,
            "permalink": f"https://www.threads.net/@{username}/post/{code}",
            "shortcode": code, "timestamp": ttime(c.created),
            "media_product_type": "THREADS", "media_type": "TEXT_POST",
            "has_replies": any(r.parent is c for r in self.served(c.post)),
            "root_post": {"id": str(POST_BASE + c.post.seq)}, "replied_to": {"id": parent},
            "is_reply": True, "is_reply_owned_by_me": c.official == c.post.account,
            "hide_status": hide, "reply_audience": "EVERYONE",
        }
        return {"id": full["id"], **{k: full[k] for k in fields if k in full}}

    # --- faults --------------------------------------------------------------------------
    def render_fault(self, fault: Fault, req: SimRequest) -> SimResponse | None:
        kind = fault.kind
        minutes = max(1, fault.reset_seconds // 60)
        if kind == "threads:usage":
            answer = self.handle(req)
            answer.headers["x-app-usage"] = json.dumps(
                {"call_count": 100, "total_cputime": 31, "total_time": 40})
            return answer
        if kind == "4xx_echo":
            return error(400, 100, f"Invalid parameter: the request {echo(req)} could not be "
                                   "served", kind="THApiException")
        if kind == "5xx_echo":
            return error(500, 1, f"An unknown error occurred while processing {echo(req)}",
                         is_transient=True)
        if kind in ("quota", "429"):  # Threads' rate limit: the app's calls per 24 hours
            return self._error_for(4, req, minutes, status=429 if kind == "429" else None)
        if kind.startswith("threads:"):
            return self._error_for(int(kind.split(":", 1)[1]), req, minutes)
        if kind in ("500", "502", "503"):
            return error(int(kind), 2, ERRORS[2][1], is_transient=True)
        if kind == "expired_token":
            return self._error_for(190, req, minutes)
        if kind == "permission":
            return self._error_for(10, req, minutes)
        return None  # timeout, bad_json, truncated: the transport's generic faults

    def _error_for(self, code: int, req: SimRequest, minutes: int,
                   status: int | None = None) -> SimResponse:
        default = ERRORS.get(code, (400, f"(#{code}) Simulated Threads API error",
                                    "OAuthException", {}))
        http, message, kind, extra = default
        node = next((p for p in req.path.split("/") if p and not _VERSION.match(p)), "")
        headers: dict[str, str] = {}
        if code in RATE_LIMITED:
            headers["x-app-usage"] = json.dumps({
                "call_count": 100, "total_cputime": 12, "total_time": 20,
                "estimated_time_to_regain_access": minutes})
        return error(status or http, code, message.format(node=node), kind=kind,
                     headers=headers, **extra)
