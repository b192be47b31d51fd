"""The X API v2 as tweepy sees it, served from the simulated world.

Routes: GET /2/users/by/username/:username, /2/users/:id/tweets, /2/users/:id/mentions.
Ids are snowflakes made from creation times, so since_id means "newer than" as on X.
Fields are rendered only when `tweet.fields` asks for them, like the real API.
"""
from __future__ import annotations

import base64
import re
from datetime import datetime

from simulator.transport import SimRequest, SimResponse
from simulator.world import SimComment, SimPost, World

TWITTER_EPOCH_MS = 1288834974657
DEFAULT_FIELDS = ("id", "text", "edit_history_tweet_ids")
_USER_BY_NAME = re.compile(r"^/2/users/by/username/([A-Za-z0-9_]+)$")
_TIMELINE = re.compile(r"^/2/users/(\d+)/(tweets|mentions)$")


def snowflake(at: datetime, seq: int) -> int:
    """An X-style id: milliseconds since the X epoch, shifted, plus a sequence."""
    return ((int(at.timestamp() * 1000) - TWITTER_EPOCH_MS) << 22) | (seq & 0x3FFFFF)


class Server:
    """Serves the world's X accounts."""

    def __init__(self, world: World):
        self.world = world
        x_accounts = [a for a in world.accounts.values() if a.platform == "x"]
        self.user_ids = {a.key: str(1_000_000 + i) for i, a in enumerate(x_accounts)}
        self.by_id = {v: k for k, v in self.user_ids.items()}
        self.by_handle = {a.handle.lower(): a.key for a in x_accounts}

    def handle(self, req: SimRequest) -> SimResponse:
        if not req.headers.get("authorization", "").startswith("Bearer "):
            return SimResponse(401, {"title": "Unauthorized", "type": "about:blank",
                                     "status": 401, "detail": "Unauthorized"})
        if m := _USER_BY_NAME.match(req.path):
            key = self.by_handle.get(m.group(1).lower())
            if key is None:
                return SimResponse(200, {"errors": [{"title": "Not Found Error",
                                                     "detail": f"Could not find user {m.group(1)}"}]})
            return SimResponse(200, {"data": self._user_of_account(key)}, _limits())
        if m := _TIMELINE.match(req.path):
            key = self.by_id.get(m.group(1))
            if key is None:
                return SimResponse(404, {"title": "Not Found Error", "status": 404})
            tweets = self.timeline(key) if m.group(2) == "tweets" else self.mentions(key)
            return self._page(tweets, req)
        return SimResponse(404, {"title": "Not Found", "detail": f"no route {req.path}"})

    # --- the world as tweets --------------------------------------------------------------
    def timeline(self, key: str) -> list[dict]:
        """The account's posts and its own replies anywhere on X, newest first."""
        tweets = [self._post_tweet(p) for p in self.world.visible_posts(key)]
        for account in self.user_ids:
            for post in self.world.visible_posts(account):
                tweets += [self._comment_tweet(c) for c in self.world.visible_comments(post)
                           if c.official == key]
        return sorted(tweets, key=lambda t: int(t["id"]), reverse=True)

    def mentions(self, key: str) -> list[dict]:
        """Replies in the account's threads by anyone else: they all carry its @handle."""
        tweets = [self._comment_tweet(c)
                  for post in self.world.visible_posts(key)
                  for c in self.world.visible_comments(post) if c.official != key]
        return sorted(tweets, key=lambda t: int(t["id"]), reverse=True)

    def _post_tweet(self, post: SimPost) -> dict:
        tid = str(snowflake(post.created, post.seq))
        replies = len(self.world.visible_comments(post))
        return {
            "id": tid, "text": post.text, "edit_history_tweet_ids": [tid],
            "created_at": _iso(post.created), "author_id": self.user_ids[post.account],
            "conversation_id": tid, "lang": post.lang,
            "public_metrics": {"retweet_count": 0, "reply_count": replies,
                               "like_count": 3 * replies, "quote_count": 0},
        }

    def _comment_tweet(self, c: SimComment) -> dict:
        original = str(snowflake(c.created, c.seq))
        history, tid, created = [original], original, c.created
        if c.edited_at is not None and c.edited_at <= self.world.now:
            tid = str(snowflake(c.edited_at, c.seq))  # an edit is a new tweet on X
            history, created = [original, tid], c.edited_at
        parent = c.parent
        replied_to = (str(snowflake(parent.created, parent.seq)) if parent
                      else str(snowflake(c.post.created, c.post.seq)))
        if c.official:
            author = self.user_ids[c.official]
        else:
            assert c.author is not None, "a citizen's comment has its citizen"
            author = str(5_000_000 + c.author.uid)
        mention = "@" + self.world.accounts[c.post.account].handle
        return {
            "id": tid, "text": f"{mention} {c.text_at(self.world.now)}",
            "edit_history_tweet_ids": history, "created_at": _iso(created),
            "author_id": author, "conversation_id": str(snowflake(c.post.created, c.post.seq)),
            "in_reply_to_user_id": self.user_ids[c.post.account],
            "referenced_tweets": [{"type": "replied_to", "id": replied_to}],
            "lang": c.lang,
            "public_metrics": {"retweet_count": 0, "reply_count": 0, "like_count": c.likes,
                               "quote_count": 0},
        }

    def _user_of_account(self, key: str) -> dict:
        account = self.world.accounts[key]
        return {"id": self.user_ids[key], "name": account.name, "username": account.handle}

    def _user(self, user_id: str) -> dict:
        if user_id in self.by_id:
            return self._user_of_account(self.by_id[user_id])
        citizen = self.world.users[int(user_id) - 5_000_001]
        return {"id": user_id, "name": citizen.name, "username": citizen.handle}

    # --- paging, fields, expansions --------------------------------------------------------
    def _page(self, tweets: list[dict], req: SimRequest) -> SimResponse:
        p = req.params
        since = int(p["since_id"]) if p.get("since_id", "").isdigit() else 0
        size = max(5, min(100, int(p.get("max_results", "10"))))
        before = _decode_token(p["pagination_token"]) if p.get("pagination_token") else None
        start = p.get("start_time", "")
        newer = [t for t in tweets if int(t["id"]) > since and t["created_at"][:19] >= start[:19]]
        chunk = [t for t in newer if before is None or int(t["id"]) < before][:size]
        fields = set(DEFAULT_FIELDS) | set(filter(None, p.get("tweet.fields", "").split(",")))
        body: dict = {"data": [{k: v for k, v in t.items() if k in fields} for t in chunk]}
        if not chunk:
            body = {"meta": {"result_count": 0}}
            return SimResponse(200, body, _limits())
        meta = {"result_count": len(chunk), "newest_id": chunk[0]["id"],
                "oldest_id": chunk[-1]["id"]}
        if int(chunk[-1]["id"]) > min(int(t["id"]) for t in newer):
            meta["next_token"] = _encode_token(int(chunk[-1]["id"]))
        body["meta"] = meta
        if "author_id" in p.get("expansions", ""):
            ids = dict.fromkeys(t["author_id"] for t in chunk)
            body["includes"] = {"users": [self._user(i) for i in ids]}
        return SimResponse(200, body, _limits())


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _limits() -> dict[str, str]:
    return {"x-rate-limit-limit": "450", "x-rate-limit-remaining": "449",
            "x-rate-limit-reset": "1764028800"}


def _encode_token(oldest: int) -> str:
    return base64.b32encode(str(oldest).encode()).decode().rstrip("=").lower()


def _decode_token(token: str) -> int:
    padded = token.upper() + "=" * (-len(token) % 8)
    return int(base64.b32decode(padded).decode())
