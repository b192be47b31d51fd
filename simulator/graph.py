"""graph.facebook.com, simulated: Facebook Pages and Instagram business accounts of the world.

Serves, under `/vXX.X/` (or no version):
- `/{page-id}/posts` (newest first; `since` / `until` as unix seconds or ISO; `limit`, default
  25; paged like the real feed: `paging.next` with `__paging_token`, no cursors);
- `/{page-id}_{seq}/comments` (`filter=stream`: every comment and reply, replies carrying
  `parent`; `filter=toplevel`, the default: top-level only; `order` chronological (default) or
  reverse_chronological; `summary=true`; cursor paging `paging.cursors.after` + `paging.next`);
- `/{ig-user-id}/media` (newest first, cursor paging);
- `/{media-id}/comments` (top-level comments, newest first, replies nested in `replies`) and
  `/{comment-id}/replies`.
Ids: Facebook posts '{page_id}_{post.seq}', comments '{post.seq}_{comment.seq}'; Instagram
ids are numeric strings (MEDIA_BASE + seq, COMMENT_BASE + seq). Threads are two levels deep as
on both platforms: a reply to a reply hangs under the top-level comment. A comment whose
thread start was deleted disappears with it. `fields` selects the top-level fields returned.

Errors use Graph's own shape: {"error": {"message", "type", "code", "fbtrace_id"}}; faults
"graph:N" (4, 17, 32, 613, 190, 10, 200, ...), "graph:malformed_token" (code 190 quoting the
token, as Graph does for a token it cannot parse) and "graph:usage" (a normal answer with
X-Business-Use-Case-Usage at 100 %) are rendered by `render_fault`, as are the generic
"429", "5xx", "expired_token", "permission", "quota" (code 4), "4xx_echo" (code 100) and
"5xx_echo" (HTTP 500, code 1) (network faults and broken bodies stay generic).
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

HOST = "https://graph.facebook.com"
DEFAULT_LIMIT = 25
MAX_LIMIT = 100
MEDIA_BASE = 17_850_000_000_000_000
COMMENT_BASE = 17_950_000_000_000_000
IG_USER_BASE = 17_841_500_000_000_000
FB_USER_BASE = 100_090_000_000_000
_VERSION = re.compile(r"^v\d+\.\d+$")  # any version is served: recordings name old ones
DEFAULT_VERSION = "v25.0"  # for a path without one, in the links the pages give

# fault code -> (HTTP status, message, extra error fields)
GRAPH_ERRORS: dict[int, tuple[int, str, dict]] = {
    4: (403, "(#4) Application request limit reached", {"is_transient": True}),
    17: (403, "(#17) User request limit reached", {"is_transient": True}),
    32: (403, "(#32) Page request limit reached", {"is_transient": True}),
    613: (403, "(#613) Calls to this api have exceeded the rate limit.", {"is_transient": True}),
    190: (400, ("Error validating access token: Session has expired on Tuesday, 24-Nov-26 "
                "23:00:00 PST. The current time is Wednesday, 25-Nov-26 00:00:00 PST."),
          {"error_subcode": 463}),
    10: (403, "(#10) Application does not have permission for this action", {}),
    100: (400, "(#100) Unsupported get request.", {}),
}


def gtime(value: datetime) -> str:
    """Graph's time format: 2021-08-10T18:45:03+0000."""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+0000")


def graph_error(status: int, code: int, message: str, *, kind: str = "OAuthException",
                headers: dict | None = None, **extra: Any) -> SimResponse:
    trace = base64.urlsafe_b64encode(hashlib.sha1(f"{code}{message}".encode()).digest())[:23]
    body = {"error": {"message": message, "type": kind, "code": code, **extra,
                      "fbtrace_id": "A" + trace.decode()}}
    return SimResponse(status, body, {"www-authenticate": "OAuth \"Facebook Platform\"",
                                      **(headers or {})})


def parse_fields(spec: str | None) -> dict[str, str]:
    """Top-level names of a `fields` spec -> their modifiers / sub-fields ('' when none)."""
    out: dict[str, str] = {}
    depth, start = 0, 0
    spec = spec or ""
    for i, ch in enumerate(spec + ","):
        if ch in "({":
            depth += 1
        elif ch in ")}":
            depth -= 1
        elif ch == "," and depth == 0:
            part = spec[start:i].strip()
            start = i + 1
            if part:
                name = re.split(r"[.{]", part, maxsplit=1)[0]
                out[name] = part[len(name):]
    return out


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode().rstrip("=")


def _offset(token: str | None) -> int | None:
    """The offset in a cursor we made; None when the token is not one of ours."""
    if not token:
        return 0
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    if not text.startswith("o:") or not text[2:].isdigit():
        return None
    return int(text[2:])


def _when(value: str | None) -> datetime | None:
    """`since` / `until`: unix seconds or an ISO time; None when absent or blank."""
    if not value:
        return None
    if value.lstrip("-").isdigit():
        return datetime.fromtimestamp(int(value), timezone.utc)
    parsed = parse_datetime(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


class _BadRequest(Exception):
    def __init__(self, response: SimResponse):
        self.response = response


class Server:
    """The Graph API of both platforms over the world."""

    def __init__(self, world: World, page_size: int = DEFAULT_LIMIT):
        self.world = world
        self.page_size = page_size
        accounts = world.accounts.values()
        self.fb_pages = {a.native_id: a for a in accounts
                         if a.platform == "facebook" and a.native_id}
        self.ig_users = {a.native_id: a for a in accounts
                         if a.platform == "instagram" and a.native_id}
        self._posts: dict[int, SimPost] = {}
        for posts in world.posts.values():
            for post in posts:
                self._posts[post.seq] = post

    # --- routing -------------------------------------------------------------------------
    def handle(self, req: SimRequest) -> SimResponse:
        if req.method != "GET":
            return graph_error(400, 100, f"(#100) Unsupported {req.method.lower()} request.")
        if not req.params.get("access_token"):
            return graph_error(401, 190, "An active access token must be used to query "
                                         "information about the current user.")
        parts = [p for p in req.path.split("/") if p]
        version = parts[0] if parts and _VERSION.match(parts[0]) else DEFAULT_VERSION
        if parts and _VERSION.match(parts[0]):
            parts = parts[1:]
        if len(parts) != 2:
            return self._unsupported(req)
        node, edge = parts
        try:
            if edge == "posts" and node in self.fb_pages:
                return self._fb_posts(req, version, node)
            fb_post, ig_post, ig_comment = (self._fb_post(node), self._ig_media_post(node),
                                            self._ig_comment(node))
            if edge == "comments" and fb_post is not None:
                return self._fb_comments(req, version, node, fb_post)
            if edge == "media" and node in self.ig_users:
                return self._ig_media(req, version, node)
            if edge == "comments" and ig_post is not None:
                return self._ig_comments(req, version, node, ig_post)
            if edge == "replies" and ig_comment is not None:
                return self._ig_replies(req, version, node, ig_comment)
        except _BadRequest as bad:
            return bad.response
        return self._unsupported(req)

    def _unsupported(self, req: SimRequest) -> SimResponse:
        return graph_error(
            400, 100, f"Unsupported get request. Object with ID '{req.path.strip('/')}' does "
                      "not exist, cannot be loaded due to missing permissions, or does not "
                      "support this operation.", kind="GraphMethodException")

    # --- the world's view ----------------------------------------------------------------
    def served(self, post: SimPost) -> list[SimComment]:
        """The comments a post shows now, oldest first: visible, and their thread start too."""
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

    @staticmethod
    def root(comment: SimComment) -> SimComment:
        while comment.parent is not None:
            comment = comment.parent
        return comment

    def _visible_post(self, seq: int, platform: str) -> SimPost | None:
        post = self._posts.get(seq)
        if post is None or post.created > self.world.now:
            return None
        account = self.world.accounts.get(post.account)
        return post if account is not None and account.platform == platform else None

    def _fb_post(self, node: str) -> SimPost | None:
        page_id, _, seq = node.partition("_")
        if page_id not in self.fb_pages or not seq.isdigit():
            return None
        post = self._visible_post(int(seq), "facebook")
        return post if post and post.account == self.fb_pages[page_id].key else None

    def _ig_media_post(self, node: str) -> SimPost | None:
        if not node.isdigit() or not MEDIA_BASE < int(node) < COMMENT_BASE:
            return None
        return self._visible_post(int(node) - MEDIA_BASE, "instagram")

    def _ig_comment(self, node: str) -> SimComment | None:
        if not node.isdigit() or int(node) <= COMMENT_BASE:
            return None
        seq = int(node) - COMMENT_BASE
        for posts in self.world.posts.values():
            for post in posts:
                for comment in post.comments:
                    if comment.seq == seq:
                        account = self.world.accounts[post.account]
                        if account.platform == "instagram" and comment in self.served(post):
                            return comment
                        return None
        return None

    # --- paging --------------------------------------------------------------------------
    def _limit(self, req: SimRequest) -> int:
        raw = req.params.get("limit")
        if raw is None or raw == "":
            return self.page_size
        if not raw.isdigit():
            raise _BadRequest(graph_error(400, 100, f"(#100) Invalid limit {raw!r}"))
        return max(1, min(int(raw), MAX_LIMIT))

    def _page(self, req: SimRequest, version: str, node: str, edge: str, items: list,
              render: Callable[[Any], dict], cursors: bool = True) -> dict:
        """One page of `items` with Graph's paging object."""
        token = req.params.get("after") if cursors else req.params.get("__paging_token")
        start = _offset(token)
        if start is None:
            raise _BadRequest(graph_error(400, 100, "(#100) The after cursor is invalid"))
        limit = self._limit(req)
        chunk = items[start:start + limit]
        body: dict[str, Any] = {"data": [render(x) for x in chunk]}
        paging: dict[str, Any] = {}
        keep = {k: v for k, v in req.params.items()
                if k not in ("after", "before", "__paging_token", "__previous")}
        if cursors and chunk:
            paging["cursors"] = {"before": _cursor(start), "after": _cursor(start + len(chunk))}
        if start + len(chunk) < len(items):
            more = {"after": _cursor(start + len(chunk))} if cursors else {
                "__paging_token": _cursor(start + len(chunk))}
            paging["next"] = f"{HOST}/{version}/{node}/{edge}?{urlencode({**keep, **more})}"
        if start > 0:
            back = {"before": _cursor(start)} if cursors else {
                "__paging_token": _cursor(max(0, start - limit)), "__previous": "1"}
            paging["previous"] = f"{HOST}/{version}/{node}/{edge}?{urlencode({**keep, **back})}"
        if paging:
            body["paging"] = paging
        return body

    # --- Facebook ------------------------------------------------------------------------
    def _fb_posts(self, req: SimRequest, version: str, page_id: str) -> SimResponse:
        account = self.fb_pages[page_id]
        try:
            since, until = _when(req.params.get("since")), _when(req.params.get("until"))
        except ValueError:
            return graph_error(400, 100, "(#100) since/until must be a unix time or a date")
        posts = [p for p in reversed(self.world.visible_posts(account.key))
                 if (since is None or p.created >= since) and (until is None or p.created <= until)]
        fields = parse_fields(req.params.get("fields") or "id,message,created_time")
        body = self._page(req, version, page_id, "posts", posts,
                          lambda p: self._fb_post_json(p, page_id, fields), cursors=False)
        return SimResponse(200, body)

    def _fb_post_json(self, post: SimPost, page_id: str, fields: dict[str, str]) -> dict:
        served = self.served(post)
        comments_mod = fields.get("comments", "")
        count = len(served) if "filter(stream)" in comments_mod else sum(
            1 for c in served if c.parent is None)
        full: dict[str, Any] = {
            "id": f"{page_id}_{post.seq}", "message": post.text,
            "created_time": gtime(post.created), "updated_time": gtime(post.created),
            "permalink_url": f"https://www.facebook.com/{page_id}/posts/{post.seq}",
            "comments": {"data": [], **({"summary": {
                "order": "chronological", "total_count": count, "can_comment": True}}
                if "summary(true)" in comments_mod else {})},
            "reactions": {"data": [], **({"summary": {
                "total_count": self._post_likes(post), "viewer_reaction": "NONE"}}
                if "summary(true)" in fields.get("reactions", "") else {})},
        }
        return {"id": full["id"], **{k: full[k] for k in fields if k in full}}

    @staticmethod
    def _post_likes(post: SimPost) -> int:
        return (post.seq * 37) % 400

    def _fb_comments(self, req: SimRequest, version: str, node: str,
                     post: SimPost) -> SimResponse:
        served = self.served(post)
        stream = req.params.get("filter", "toplevel") == "stream"
        items = served if stream else [c for c in served if c.parent is None]
        order = req.params.get("order", "chronological")
        if order == "reverse_chronological":
            items = list(reversed(items))
        fields = parse_fields(req.params.get("fields") or "id,message,created_time,from")
        page_id = self.world.accounts[post.account].native_id or ""
        body = self._page(req, version, node, "comments", items,
                          lambda c: self._fb_comment_json(c, page_id, served, fields))
        if req.params.get("summary") in ("true", "1"):
            body["summary"] = {"order": order, "total_count": len(items), "can_comment": True}
        return SimResponse(200, body)

    def _fb_comment_json(self, c: SimComment, page_id: str, served: list[SimComment],
                         fields: dict[str, str]) -> dict:
        root = self.root(c)
        permalink = f"https://www.facebook.com/{page_id}/posts/{c.post.seq}/?comment_id={root.seq}"
        if c.parent is not None:
            permalink += f"&reply_comment_id={c.seq}"
        if c.official:
            acc = self.world.accounts[c.official]
            author = {"id": acc.native_id or acc.key, "name": acc.name}
        elif c.author is not None:
            author = {"id": str(FB_USER_BASE + c.author.uid), "name": c.author.name}
        else:
            author = None
        full: dict[str, Any] = {
            "id": f"{c.post.seq}_{c.seq}", "message": c.text_at(self.world.now),
            "created_time": gtime(c.created), "like_count": c.likes,
            "comment_count": sum(1 for r in served if r.parent is not None
                                 and c.parent is None and self.root(r) is c),
            "permalink_url": permalink, "is_hidden": c.hidden,
        }
        if author is not None:
            full["from"] = author
        if c.parent is not None:
            full["parent"] = {"id": f"{c.post.seq}_{root.seq}"}
        return {"id": full["id"], **{k: full[k] for k in fields if k in full}}

    # --- Instagram -----------------------------------------------------------------------
    def _ig_media(self, req: SimRequest, version: str, node: str) -> SimResponse:
        account = self.ig_users[node]
        posts = list(reversed(self.world.visible_posts(account.key)))
        fields = parse_fields(req.params.get("fields") or "id")
        return SimResponse(200, self._page(req, version, node, "media", posts,
                                           lambda p: self._ig_media_json(p, fields)))

    def _ig_media_json(self, post: SimPost, fields: dict[str, str]) -> dict:
        code = base64.urlsafe_b64encode(post.seq.to_bytes(6, "big")).decode().rstrip("=")
        full = {
            "id": str(MEDIA_BASE + post.seq), "caption": post.text,
            "timestamp": gtime(post.created), "permalink": f"https://www.instagram.com/p/{code}/",
            "comments_count": len(self.served(post)), "like_count": self._post_likes(post),
            "media_type": "IMAGE",
        }
        return {"id": full["id"], **{k: full[k] for k in fields if k in full}}

    def _ig_comments(self, req: SimRequest, version: str, node: str,
                     post: SimPost) -> SimResponse:
        served = self.served(post)
        top = [c for c in reversed(served) if c.parent is None]  # newest first
        fields = parse_fields(req.params.get("fields") or "id,text,timestamp")
        sub = parse_fields(fields.get("replies", "").strip("{}") or "id,text,timestamp")
        replies = {c.seq: [r for r in served if r.parent is not None and self.root(r) is c]
                   for c in top}
        body = self._page(req, version, node, "comments", top,
                          lambda c: self._ig_comment_json(c, fields, sub, replies[c.seq]))
        return SimResponse(200, body)

    def _ig_replies(self, req: SimRequest, version: str, node: str,
                    comment: SimComment) -> SimResponse:
        served = self.served(comment.post)
        items = [r for r in served if r.parent is not None and self.root(r) is comment]
        fields = parse_fields(req.params.get("fields") or "id,text,timestamp")
        return SimResponse(200, self._page(req, version, node, "replies", items,
                                           lambda r: self._ig_comment_json(r, fields, {}, [])))

    def _ig_comment_json(self, c: SimComment, fields: dict[str, str], sub: dict[str, str],
                         replies: list[SimComment]) -> dict:
        if c.official:
            acc = self.world.accounts[c.official]
            username, uid = acc.handle, acc.native_id or acc.key
        else:
            user = c.author
            username = user.handle if user else "unknown"
            uid = str(IG_USER_BASE + (user.uid if user else 0))
        full: dict[str, Any] = {
            "id": str(COMMENT_BASE + c.seq), "text": c.text_at(self.world.now),
            "timestamp": gtime(c.created), "username": username, "like_count": c.likes,
            "hidden": c.hidden, "from": {"id": uid, "username": username},
            "media": {"id": str(MEDIA_BASE + c.post.seq)},
        }
        if c.parent is None:
            full["replies"] = {"data": [self._ig_comment_json(r, sub, {}, []) for r in replies]}
        else:
            full["parent_id"] = str(COMMENT_BASE + self.root(c).seq)
        return {"id": full["id"], **{k: full[k] for k in fields if k in full}}

    # --- faults --------------------------------------------------------------------------
    def render_fault(self, fault: Fault, req: SimRequest) -> SimResponse | None:
        kind = fault.kind
        minutes = max(1, fault.reset_seconds // 60)
        if kind == "graph:usage":
            answer = self.handle(req)
            answer.headers["x-business-use-case-usage"] = json.dumps({
                self._owner_id(req): [{"type": "pages", "call_count": 100, "total_cputime": 38,
                                       "total_time": 45,
                                       "estimated_time_to_regain_access": minutes}]})
            answer.headers["x-app-usage"] = json.dumps(
                {"call_count": 100, "total_cputime": 38, "total_time": 45})
            return answer
        if kind == "graph:malformed_token":  # Graph quotes the token it could not parse
            token = req.params.get("access_token", "")
            return graph_error(400, 190, f"Malformed access token {token}")
        if kind == "4xx_echo":
            return graph_error(400, 100, f"(#100) Invalid parameter: the request {echo(req)} "
                                         "could not be served")
        if kind == "5xx_echo":
            return graph_error(500, 1, f"An unknown error occurred while processing {echo(req)}",
                               is_transient=True)
        if kind == "quota":
            return self._error_for(4, req, minutes)
        if kind.startswith("graph:"):
            code = int(kind.split(":", 1)[1])
            return self._error_for(code, req, minutes)
        if kind == "429":
            return self._error_for(4, req, minutes, status=429)
        if kind in ("500", "502", "503"):
            return graph_error(int(kind), 2, "An unexpected error has occurred. Please retry "
                                             "your request later.", is_transient=True)
        if kind == "expired_token":
            return self._error_for(190, req, minutes)
        if kind == "permission":
            return self._error_for(200, req, minutes)
        return None  # timeout, bad_json, truncated: the transport's generic faults

    def _error_for(self, code: int, req: SimRequest, minutes: int,
                   status: int | None = None) -> SimResponse:
        if 200 <= code < 300:
            perm = self._permission_for(req)
            return graph_error(status or 403, code, f"(#{code}) Requires {perm} permission to "
                                                    "manage the object")
        default = GRAPH_ERRORS.get(code, (400, f"(#{code}) Simulated Graph error", {}))
        http, message, extra = default
        headers: dict[str, str] = {}
        if code in (4, 17, 613):
            headers["x-app-usage"] = json.dumps(
                {"call_count": 100, "total_cputime": 12, "total_time": 20})
        if code == 32 or code >= 80000:
            headers["x-business-use-case-usage"] = json.dumps({
                self._owner_id(req): [{"type": "pages", "call_count": 100, "total_cputime": 20,
                                       "total_time": 25,
                                       "estimated_time_to_regain_access": minutes}]})
        return graph_error(status or http, code, message, headers=headers, **extra)

    def _owner_id(self, req: SimRequest) -> str:
        parts = [p for p in req.path.split("/") if p and not _VERSION.match(p)]
        return (parts[0].split("_")[0] if parts else "0") or "0"

    @staticmethod
    def _permission_for(req: SimRequest) -> str:
        path = req.path
        if path.endswith("/posts"):
            return "pages_read_engagement"
        if path.endswith("/media"):
            return "instagram_basic"
        if path.endswith("/replies") or (path.endswith("/comments") and "_" not in path):
            return "instagram_manage_comments"
        return "pages_read_user_content"
