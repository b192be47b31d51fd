"""The YouTube Data API v3 as googleapiclient sees it, served from the simulated world.

Routes (GET, under /youtube/v3/, on youtube.googleapis.com or www.googleapis.com):
channels, playlistItems, videos, commentThreads, comments, liveChat/messages, search.
Posts are videos; a post's top-level comments are threads, every deeper reply is flattened
under its thread as on YouTube (parentId = the thread's top-level comment). A thread carries
at most `thread_reply_limit` replies (5, like YouTube); `totalReplyCount` tells the rest and
comments.list(parentId) serves them all. Every request needs a `key` parameter.

The account with `live_chat` has a live broadcast: a video whose liveStreamingDetails carry an
activeLiveChatId, and a chat of `chat_messages` deterministic messages (from the world's seed)
revealed `chat_batch` per poll. The page token says how far a reader got, so a restarted
reader continues where its stored token points. The poll that reveals the last messages also
carries a chatEndedEvent and `offlineAt`; a poll after that answers 403 liveChatEnded.
"""
from __future__ import annotations

import base64
import html
import random
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from typing import Any

from core.times import utc_iso
from simulator.transport import Fault, SimRequest, SimResponse, echo
from simulator.world import ANSWERS, DISTRICTS, KO_TOPICS, SimComment, SimPost, World

PREFIX = "/youtube/v3/"
LIVE_REACTIONS = (
    "안녕하세요! 잘 보고 있어요 👋", "오늘 방송 유익하네요",
    "{d}에서 보고 있습니다",
    "질문 있습니다!", "화질이 좀 끊겨요", "👍👍👍",
)


def _iso(at: datetime) -> str:
    return utc_iso(at.replace(tzinfo=at.tzinfo or timezone.utc))


def _token(scope: str, offset: int) -> str:
    return base64.urlsafe_b64encode(f"{scope}|{offset}".encode()).decode().rstrip("=")


def _offset(scope: str, token: str | None) -> int | None:
    """The offset a page token stands for; None when it is not a token of this list."""
    if not token:
        return 0
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        got, _, offset = raw.rpartition("|")
        return int(offset) if got == scope and int(offset) >= 0 else None
    except (ValueError, UnicodeDecodeError):
        return None


def error(code: int, reason: str, message: str, domain: str = "youtube.api",
          status: str | None = None, headers: dict[str, str] | None = None) -> SimResponse:
    """An error in YouTube's own JSON shape."""
    body: dict[str, Any] = {"code": code, "message": message,
                            "errors": [{"message": message, "domain": domain, "reason": reason}]}
    if status:
        body["status"] = status
    return SimResponse(code, {"error": body}, headers or {})


def _parts(req: SimRequest) -> set[str]:
    return {p.strip() for p in req.params.get("part", "").split(",") if p.strip()}


def _max_results(req: SimRequest, default: int, ceiling: int) -> int:
    try:
        value = int(req.params.get("maxResults", default))
    except ValueError:
        value = default
    return max(1, min(value, ceiling))


class Server:
    """Serves the world's YouTube channels."""

    def __init__(self, world: World, polling_ms: int = 200, chat_messages: int = 30,
                 chat_batch: int = 5, thread_reply_limit: int = 5):
        self.world = world
        self.polling_ms = polling_ms
        self.chat_messages = chat_messages
        self.chat_batch = chat_batch
        self.thread_reply_limit = thread_reply_limit
        accounts = [a for a in world.accounts.values() if a.platform == "youtube"]
        self.channel_of = {a.key: a.native_id or f"UCsimchannel{i:012d}"
                           for i, a in enumerate(accounts)}
        self.by_channel = {cid: key for key, cid in self.channel_of.items()}
        self.by_uploads = {self.uploads_id(cid): key for key, cid in self.channel_of.items()}
        self.live_video = {a.key: f"live{i:07d}" for i, a in enumerate(accounts) if a.live_chat}
        self.ended: set[str] = set()  # live chats whose end has been served
        self._chats: dict[str, list[dict]] = {}

    # --- ids ---------------------------------------------------------------------------------
    @staticmethod
    def uploads_id(channel: str) -> str:
        return "UU" + channel[2:]

    @staticmethod
    def video_id(post: SimPost) -> str:
        return f"vid{post.seq:08d}"

    @staticmethod
    def chat_id(video: str) -> str:
        return f"Cg0KC{video}"

    @staticmethod
    def root(c: SimComment) -> SimComment:
        while c.parent is not None:
            c = c.parent
        return c

    def comment_id(self, c: SimComment) -> str:
        top = f"Ugz{self.root(c).seq:09d}s1mAaABAg"
        return top if c.parent is None else f"{top}.{c.seq:022d}"

    def author_channel(self, c: SimComment) -> str:
        if c.official:
            return self.channel_of.get(c.official) or f"UCsimcity{c.official}"
        return f"UCsimuser{c.author.uid if c.author else 0:015d}"

    # --- the world as YouTube ------------------------------------------------------------------
    def videos(self, key: str) -> list[dict]:
        """The channel's videos (posts, plus its live broadcast), newest first, as facts."""
        out = [{"id": self.video_id(p), "post": p, "published": p.created}
               for p in self.world.visible_posts(key)]
        if key in self.live_video:
            out.append({"id": self.live_video[key], "post": None,
                        "published": self.live_start()})
        out.sort(key=lambda v: (v["published"], v["id"]), reverse=True)
        return out

    def threads(self, key: str, video: str | None = None) -> list[tuple[SimPost, SimComment,
                                                                       list[SimComment]]]:
        """(post, top-level comment, replies oldest first), newest thread first."""
        out: list[tuple[SimPost, SimComment, list[SimComment]]] = []
        for post in self.world.visible_posts(key):
            if video is not None and self.video_id(post) != video:
                continue
            shown = [c for c in self.world.visible_comments(post) if not c.hidden]
            tops = {c.seq for c in shown if c.parent is None}
            replies: dict[int, list[SimComment]] = defaultdict(list)
            for c in shown:
                if c.parent is not None and self.root(c).seq in tops:
                    replies[self.root(c).seq].append(c)
            out.extend((post, c, replies[c.seq]) for c in shown if c.parent is None)
        out.sort(key=lambda t: (t[1].created, t[1].seq), reverse=True)
        return out

    def live_start(self) -> datetime:
        return self.world.now - timedelta(hours=1)

    def chat(self, key: str) -> list[dict]:
        """The live chat's text messages, oldest first (deterministic from the world's seed)."""
        if key not in self._chats:
            rng = random.Random(f"{self.world.seed}:youtube-live:{key}")
            account = self.world.accounts[key]
            chat = self.chat_id(self.live_video[key])
            owner = self.channel_of[key]
            start = self.live_start()
            messages = []
            for i in range(self.chat_messages):
                at = start + timedelta(seconds=100 * (i + 1))
                is_owner = i % 7 == 6
                if is_owner:
                    text = rng.choice(ANSWERS["ko"]).format(name=account.name,
                                                            dept=account.department)
                    author, name = owner, account.name
                else:
                    if rng.random() < 0.5:
                        topic = rng.choice(tuple(KO_TOPICS))
                        text = rng.choice(KO_TOPICS[topic]).format(d=rng.choice(DISTRICTS), p="")
                    else:
                        text = rng.choice(LIVE_REACTIONS).format(d=rng.choice(DISTRICTS))
                    uid = rng.randint(1, 2000)
                    author, name = f"UCsimuser{uid:015d}", f"시청자{uid}"
                messages.append(self._chat_message(
                    f"LCC.{chat}.{i:05d}", chat, "textMessageEvent", at, author, name,
                    is_owner, text.strip()))
            self._chats[key] = messages
        return self._chats[key]

    def _chat_message(self, mid: str, chat: str, kind: str, at: datetime, author: str,
                      name: str, owner: bool, text: str | None) -> dict:
        snippet: dict[str, Any] = {"type": kind, "liveChatId": chat, "authorChannelId": author,
                                   "publishedAt": _iso(at), "hasDisplayContent": bool(text)}
        if text:
            snippet["displayMessage"] = text
            snippet["textMessageDetails"] = {"messageText": text}
        return {
            "kind": "youtube#liveChatMessage", "etag": f"sim-{mid}", "id": mid,
            "snippet": snippet,
            "authorDetails": {
                "channelId": author, "channelUrl": f"http://www.youtube.com/channel/{author}",
                "displayName": name, "profileImageUrl": "https://yt3.ggpht.com/sim",
                "isVerified": owner, "isChatOwner": owner, "isChatSponsor": False,
                "isChatModerator": False,
            },
        }

    # --- requests ------------------------------------------------------------------------------
    def handle(self, req: SimRequest) -> SimResponse:
        if req.method != "GET":
            return error(405, "methodNotAllowed", "the simulator serves reads only")
        if not req.params.get("key"):
            return error(403, "forbidden", "The request is missing a valid API key.", "global",
                         "PERMISSION_DENIED")
        if not req.path.startswith(PREFIX):
            return error(404, "notFound", f"no route {req.path}", "global")
        route = req.path[len(PREFIX):]
        handler = {
            "channels": self._channels, "playlistItems": self._playlist_items,
            "videos": self._videos, "commentThreads": self._comment_threads,
            "comments": self._comments, "liveChat/messages": self._live_chat,
            "search": self._search,
        }.get(route)
        if handler is None:
            return error(404, "notFound", f"no route {req.path}", "global")
        if not _parts(req):
            return error(400, "required", "No filter selected. Expected one of: part",
                         "global")
        return handler(req)

    def _list(self, kind: str, items: list[dict], total: int, per_page: int,
              next_token: str | None, **extra: Any) -> SimResponse:
        body: dict[str, Any] = {"kind": f"youtube#{kind}ListResponse", "etag": "sim"}
        if next_token:
            body["nextPageToken"] = next_token
        body["pageInfo"] = {"totalResults": total, "resultsPerPage": per_page}
        body.update(extra)
        body["items"] = items
        return SimResponse(200, body)

    def _paged(self, kind: str, scope: str, facts: list, render: Any, req: SimRequest,
               default: int, ceiling: int) -> SimResponse:
        size = _max_results(req, default, ceiling)
        start = _offset(scope, req.params.get("pageToken"))
        if start is None:
            return error(400, "invalidPageToken", "The page token is not valid.")
        chunk = facts[start:start + size]
        nxt = _token(scope, start + size) if start + size < len(facts) else None
        return self._list(kind, [render(f) for f in chunk], len(facts), size, nxt)

    def _channels(self, req: SimRequest) -> SimResponse:
        parts = _parts(req)
        items = []
        for cid in req.params.get("id", "").split(","):
            key = self.by_channel.get(cid.strip())
            if key is None:
                continue
            account = self.world.accounts[key]
            item: dict[str, Any] = {"kind": "youtube#channel", "etag": "sim", "id": cid}
            if "snippet" in parts:
                item["snippet"] = {"title": account.name, "customUrl": "@" + account.handle}
            if "contentDetails" in parts:
                item["contentDetails"] = {"relatedPlaylists": {"likes": "",
                                                               "uploads": self.uploads_id(cid)}}
            if "statistics" in parts:
                item["statistics"] = {"videoCount": str(len(self.videos(key)))}
            items.append(item)
        return self._list("channel", items, len(items), 5, None)

    def _playlist_items(self, req: SimRequest) -> SimResponse:
        playlist = req.params.get("playlistId", "")
        key = self.by_uploads.get(playlist)
        if key is None:
            return error(404, "playlistNotFound", "The playlist identified with the request's "
                         "playlistId parameter cannot be found.", "youtube.playlistItem")
        parts = _parts(req)
        channel = self.channel_of[key]
        videos = self.videos(key)

        def render(v: dict) -> dict:
            item: dict[str, Any] = {"kind": "youtube#playlistItem", "etag": "sim",
                                    "id": f"PLI{playlist}{v['id']}"}
            if "snippet" in parts:
                item["snippet"] = {
                    "publishedAt": _iso(v["published"]), "channelId": channel,
                    "title": self._title(key, v), "description": self._description(key, v),
                    "channelTitle": self.world.accounts[key].name, "playlistId": playlist,
                    "position": videos.index(v),
                    "resourceId": {"kind": "youtube#video", "videoId": v["id"]},
                    "videoOwnerChannelId": channel,
                }
            if "contentDetails" in parts:
                item["contentDetails"] = {"videoId": v["id"],
                                          "videoPublishedAt": _iso(v["published"])}
            return item

        return self._paged("playlistItem", f"pl:{playlist}", videos, render, req, 5, 50)

    def _title(self, key: str, v: dict) -> str:
        if v["post"] is None:
            return f"[LIVE] {self.world.accounts[key].name} 시민과의 대화"
        return v["post"].text[:60]

    def _description(self, key: str, v: dict) -> str:
        return "" if v["post"] is None else v["post"].text

    def _videos(self, req: SimRequest) -> SimResponse:
        parts = _parts(req)
        wanted = [i.strip() for i in req.params.get("id", "").split(",") if i.strip()]
        if len(wanted) > 50:
            return error(400, "tooManyIds", "at most 50 ids")
        index = {v["id"]: (key, v) for key in self.channel_of for v in self.videos(key)}
        items = [self._video(*index[i], parts) for i in wanted if i in index]
        return self._list("video", items, len(items), len(items), None)

    def _video(self, key: str, v: dict, parts: set[str]) -> dict:
        channel = self.channel_of[key]
        item: dict[str, Any] = {"kind": "youtube#video", "etag": "sim", "id": v["id"]}
        live = v["post"] is None
        chat = self.chat_id(v["id"])
        if "snippet" in parts:
            item["snippet"] = {
                "publishedAt": _iso(v["published"]), "channelId": channel,
                "title": self._title(key, v), "description": self._description(key, v),
                "channelTitle": self.world.accounts[key].name,
                "liveBroadcastContent": "live" if live and chat not in self.ended else "none",
            }
        if "statistics" in parts:
            stats = {"viewCount": str(100 + v["published"].minute * 7), "likeCount": "3",
                     "favoriteCount": "0"}
            if not live:  # comments are off on the broadcast: its chat is the conversation
                stats["commentCount"] = str(sum(1 + len(r) for _, _, r in
                                                self.threads(key, v["id"])))
            item["statistics"] = stats
        if "liveStreamingDetails" in parts and live:
            details = {"actualStartTime": _iso(v["published"]),
                       "scheduledStartTime": _iso(v["published"])}
            if chat in self.ended:
                details["actualEndTime"] = _iso(self._chat_end(key))
            else:
                details["concurrentViewers"] = "42"
                details["activeLiveChatId"] = chat
            item["liveStreamingDetails"] = details
        return item

    def _comment(self, post: SimPost, c: SimComment, req: SimRequest) -> dict:
        text = c.text_at(self.world.now)
        edited = c.edited_at if c.edited_at is not None and c.edited_at <= self.world.now else None
        plain = req.params.get("textFormat") == "plainText"
        author = self.author_channel(c)
        if c.official:
            name = self.world.accounts[c.official].name
        else:
            name = c.author.name if c.author else "탈퇴한 사용자"
        snippet: dict[str, Any] = {
            "channelId": self.channel_of.get(post.account, ""),
            "authorDisplayName": name,
            "authorProfileImageUrl": "https://yt3.ggpht.com/sim",
            "authorChannelUrl": f"http://www.youtube.com/channel/{author}",
            "authorChannelId": {"value": author},
            "textDisplay": text if plain else html.escape(text).replace("\n", "<br>"),
            "textOriginal": text,
            "canRate": True, "viewerRating": "none", "likeCount": c.likes,
            "publishedAt": _iso(c.created), "updatedAt": _iso(edited or c.created),
        }
        if c.parent is None:
            snippet["videoId"] = self.video_id(post)
        else:
            snippet["parentId"] = self.comment_id(self.root(c))
        return {"kind": "youtube#comment", "etag": "sim", "id": self.comment_id(c),
                "snippet": snippet}

    def _comment_threads(self, req: SimRequest) -> SimResponse:
        channel = req.params.get("allThreadsRelatedToChannelId")
        video = req.params.get("videoId")
        if channel:
            key = self.by_channel.get(channel)
            if key is None:
                return error(404, "channelNotFound", "The channel could not be found.",
                             "youtube.commentThread")
            threads, scope = self.threads(key), f"ct:{channel}"
        elif video:
            key = next((k for k in self.channel_of for v in self.videos(k) if v["id"] == video),
                       None)
            if key is None:
                return error(404, "videoNotFound", "The video could not be found.",
                             "youtube.commentThread")
            if video == self.live_video.get(key):
                return error(403, "commentsDisabled", "The video has disabled comments.",
                             "youtube.commentThread")
            threads, scope = self.threads(key, video), f"ct:{video}"
        else:
            return error(400, "missingRequiredParameter",
                         "No filter selected: allThreadsRelatedToChannelId or videoId")
        parts = _parts(req)
        limit = self.thread_reply_limit

        def render(t: tuple) -> dict:
            post, top, replies = t
            item: dict[str, Any] = {
                "kind": "youtube#commentThread", "etag": "sim", "id": self.comment_id(top),
                "snippet": {
                    "channelId": self.channel_of[post.account], "videoId": self.video_id(post),
                    "topLevelComment": self._comment(post, top, req), "canReply": True,
                    "totalReplyCount": len(replies), "isPublic": True,
                },
            }
            if "replies" in parts and replies:
                item["replies"] = {"comments": [self._comment(post, r, req)
                                                for r in replies[:limit]]}
            return item

        return self._paged("commentThread", scope, threads, render, req, 20, 100)

    def _comments(self, req: SimRequest) -> SimResponse:
        parent = req.params.get("parentId", "")
        if not parent:
            return error(400, "missingRequiredParameter", "parentId or id is required")
        found = None
        for key in self.channel_of:
            for post, top, replies in self.threads(key):
                if self.comment_id(top) == parent:
                    found = (post, replies)
                    break
            if found:
                break
        if found is None:
            return error(404, "commentNotFound", "The comment could not be found.",
                         "youtube.comment")
        post, replies = found
        newest_first = list(reversed(replies))
        return self._paged("comment", f"cm:{parent}", newest_first,
                           lambda c: self._comment(post, c, req), req, 20, 100)

    def _chat_end(self, key: str) -> datetime:
        return self.live_start() + timedelta(seconds=100 * (self.chat_messages + 1))

    def _live_chat(self, req: SimRequest) -> SimResponse:
        chat = req.params.get("liveChatId", "")
        key = next((k for k, v in self.live_video.items() if self.chat_id(v) == chat), None)
        if key is None:
            return error(404, "liveChatNotFound", "The live chat could not be found.",
                         "youtube.liveChat")
        messages = self.chat(key)
        start = _offset(f"lc:{chat}", req.params.get("pageToken"))
        if start is None:
            return error(400, "pageTokenInvalid", "The page token is not valid.",
                         "youtube.liveChat")
        if start >= len(messages):
            self.ended.add(chat)
            return error(403, "liveChatEnded", "The live chat has ended.", "youtube.liveChat")
        size = min(self.chat_batch, _max_results(req, 500, 2000))
        items = messages[start:start + size]
        end = start + len(items)
        extra: dict[str, Any] = {"pollingIntervalMillis": self.polling_ms}
        if end >= len(messages):
            self.ended.add(chat)
            owner = self.channel_of[key]
            items = [*items, self._chat_message(
                f"LCC.{chat}.end", chat, "chatEndedEvent", self._chat_end(key), owner,
                self.world.accounts[key].name, True, None)]
            extra["offlineAt"] = _iso(self._chat_end(key))
        parts = _parts(req)
        if "authorDetails" not in parts:
            items = [{k: v for k, v in m.items() if k != "authorDetails"} for m in items]
        return self._list("liveChatMessage", items, len(messages), size,
                          _token(f"lc:{chat}", end), **extra)

    def _search(self, req: SimRequest) -> SimResponse:
        """Just enough of search.list: a channel's live broadcast or its latest videos."""
        key = self.by_channel.get(req.params.get("channelId", ""))
        if key is None:
            return self._list("search", [], 0, 0, None)
        videos = self.videos(key)
        if req.params.get("eventType") == "live":
            videos = [v for v in videos if v["post"] is None
                      and self.chat_id(v["id"]) not in self.ended]
        channel = self.channel_of[key]

        def render(v: dict) -> dict:
            return {"kind": "youtube#searchResult", "etag": "sim",
                    "id": {"kind": "youtube#video", "videoId": v["id"]},
                    "snippet": {"publishedAt": _iso(v["published"]), "channelId": channel,
                                "title": self._title(key, v),
                                "liveBroadcastContent": "live" if v["post"] is None else "none"}}

        return self._paged("search", f"s:{channel}:{req.params.get('eventType', '')}", videos,
                           render, req, 5, 50)

    # --- faults --------------------------------------------------------------------------------
    def render_fault(self, fault: Fault, req: SimRequest) -> SimResponse | None:
        """Faults in YouTube's error shape; None lets the transport render it (timeouts...)."""
        kind = fault.kind
        if kind == "4xx_echo":
            return error(400, "badRequest", f"Invalid request: {echo(req)}", "global",
                         "INVALID_ARGUMENT")
        if kind == "5xx_echo":
            return error(503, "backendError", f"Backend Error while serving {echo(req)}",
                         "global", "UNAVAILABLE")
        if kind in ("youtube:quotaExceeded", "quota"):
            return error(403, "quotaExceeded", "The request cannot be completed because you "
                         "have exceeded your quota.", "youtube.quota")
        if kind in ("youtube:forbidden", "permission"):
            return error(403, "forbidden", "The caller does not have permission", "global",
                         "PERMISSION_DENIED")
        if kind == "youtube:keyInvalid":
            return error(400, "keyInvalid", "API key not valid. Please pass a valid API key.",
                         "usageLimits", "INVALID_ARGUMENT")
        if kind == "expired_token":
            return error(400, "keyExpired", "API key expired. Please renew the API key.",
                         "usageLimits", "INVALID_ARGUMENT")
        if kind == "youtube:liveChatEnded":
            return error(403, "liveChatEnded", "The live chat has ended.", "youtube.liveChat")
        if kind == "youtube:liveChatNotFound":
            return error(404, "liveChatNotFound", "The live chat could not be found.",
                         "youtube.liveChat")
        if kind == "youtube:commentsDisabled":
            return error(403, "commentsDisabled", "The video has disabled comments.",
                         "youtube.commentThread")
        if kind == "429":
            return error(429, "rateLimitExceeded", "Too many requests.", "youtube.quota",
                         "RESOURCE_EXHAUSTED", {"retry-after": str(fault.reset_seconds)})
        if kind in ("500", "502", "503"):
            return error(int(kind), "backendError", "Backend Error", "global")
        return None  # timeout, bad_json, truncated: the transport's generic rendering
