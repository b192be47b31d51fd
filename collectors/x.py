"""X (Twitter) API v2 collector on tweepy.Client.

Streams per account, each newest-first with its own since_id cursor:
- "tweets":   GET /2/users/:id/tweets   the account's posts and its own replies (answers)
- "mentions": GET /2/users/:id/mentions citizens' replies and mentions, other city accounts'
              answers in its threads (X puts every thread participant's @handle in a reply)
The user id is resolved once from the handle and kept as the "user_id" stream.
"""
from __future__ import annotations

import time
from typing import Any, Callable, Iterator, Mapping

import requests
import tweepy

from collectors.base import Checkpoint, Cursor, Event, NewestFirst, Page, Spend
from collectors.http import Transport
from collectors.retry import with_retries
from core.accounts import Account
from core.errors import (
    AuthFailed,
    CollectorError,
    PaginationLoop,
    PermissionMissing,
    RateLimited,
    TransientError,
)
from core.shapes import id_order
from core.times import from_epoch

TWEET_FIELDS = [
    "created_at", "author_id", "conversation_id", "in_reply_to_user_id", "referenced_tweets",
    "lang", "public_metrics", "edit_history_tweet_ids",
]
EXPANSIONS = ["author_id"]
USER_FIELDS = ["username", "name"]
PAGE_SIZE = 100
# A first pass with no cursor reads at most this many pages (mentions keep only 800 anyway);
# older history is a backfill job for `import`.
MAX_PAGES = 8


class XCollector:
    """Collects posts, official replies and citizens' mentions of X accounts."""

    platform = "x"

    def __init__(self, transport: Transport, environ: Mapping[str, str],
                 accounts: list[Account], options: Mapping[str, Any]):
        self.transport = transport
        self.environ = environ
        self.max_pages = int(options.get("x_max_pages", MAX_PAGES))
        self.page_size = int(options.get("x_page_size", PAGE_SIZE))
        self.since: str | None = options.get("since")  # --since: no further back than this
        self.sleep: Callable[[float], None] = options.get("sleep", time.sleep)
        self._clients: dict[str, tweepy.Client] = {}

    def pages(self, account: Account, cursors: Mapping[str, str]) -> Iterator[Event]:
        client = self._client(account)
        user_id = account.native_id or cursors.get("user_id")
        if not user_id:
            user_id = self._resolve(client, account)
            yield Checkpoint(Cursor("user_id", user_id), spend=Spend(requests=1))
        yield from self._stream(account, "tweets", client.get_users_tweets, user_id,
                                cursors.get("tweets"))
        yield from self._stream(account, "mentions", client.get_users_mentions, user_id,
                                cursors.get("mentions"))

    def _client(self, account: Account) -> tweepy.Client:
        env = account.credentials[0]
        token = self.environ[env]
        if token not in self._clients:
            # return_type=dict: the items we store are X's own JSON, untouched
            client = tweepy.Client(bearer_token=token, return_type=dict, wait_on_rate_limit=False)
            client.session = self.transport.session()
            self._clients[token] = client
        return self._clients[token]

    def _resolve(self, client: tweepy.Client, account: Account) -> str:
        body = self._call(account, "user lookup", client.get_user, username=account.handle)
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict) or not data.get("id"):
            raise CollectorError(f"{account.key}: X has no user @{account.handle}: "
                                 "check the handle in accounts.yaml")
        return str(data["id"])

    def _stream(self, account: Account, stream: str, method: Callable[..., Any], user_id: str,
                since_id: str | None) -> Iterator[Page]:
        """Page newest-first; the cursor moves only on the page that ends the pass (X applies
        since_id itself: the pass never meets the previous cursor, it ends)."""
        token: str | None = None
        newest = NewestFirst(stream, since_id, order=id_order)
        tokens_seen: set[str] = set()
        for number in range(1, self.max_pages + 1):
            body = self._call(
                account, stream, method, user_id, since_id=since_id, pagination_token=token,
                max_results=self.page_size, tweet_fields=TWEET_FIELDS, expansions=EXPANSIONS,
                user_fields=USER_FIELDS, start_time=self.since,
            )
            meta = body.get("meta") or {}
            if meta.get("newest_id"):
                newest.see(str(meta["newest_id"]))
            token = meta.get("next_token")
            last = not token or number == self.max_pages
            includes = dict(body.get("includes") or {})
            if stream == "tweets":
                includes["timeline_of"] = user_id  # whose timeline: the author of its tweets
            yield Page(kind="post" if stream == "tweets" else "comment",
                       items=list(body.get("data") or []), cursor=newest.cursor(end=last),
                       includes=includes, spend=Spend(requests=1))
            if last or not token:
                return
            if token in tokens_seen:
                raise PaginationLoop(f"{account.key}: X {stream}: loop in pagination "
                                     f"(next_token {token[:12]}... repeated)")
            tokens_seen.add(token)

    def _call(self, account: Account, what: str, method: Callable[..., Any], *args: Any,
              **kwargs: Any) -> dict:
        """One API call with bounded retries; tweepy's errors become ours."""
        describe = f"{account.key}: X {what}"
        try:
            body = with_retries(lambda: method(*args, **kwargs), _transient, describe,
                                sleep=self.sleep)
        except tweepy.TooManyRequests as exc:
            raise RateLimited(f"{describe}: rate limited (429)",
                              retry_after=_reset_time(exc.response)) from None
        except tweepy.Unauthorized:
            raise AuthFailed(f"{describe}: X returned 401: token rejected or expired; "
                             f"check {account.credentials[0]}") from None
        except tweepy.Forbidden as exc:
            raise PermissionMissing(f"{describe}: X returned 403 ({_detail(exc)}): the app's "
                                    f"access level lacks this endpoint; check "
                                    f"{account.credentials[0]}") from None
        except tweepy.NotFound:
            raise CollectorError(f"{describe}: X returned 404: check the handle/id of "
                                 f"{account.key} in accounts.yaml") from None
        except tweepy.HTTPException as exc:
            raise CollectorError(f"{describe}: X returned {exc.response.status_code}: "
                                 f"{_detail(exc)}") from None
        if not isinstance(body, dict):
            raise TransientError(f"{describe}: unexpected response body")
        return body


def _transient(exc: BaseException) -> bool:
    """5xx, timeouts, dropped connections and bodies that are not JSON are worth a retry."""
    return isinstance(exc, (tweepy.TwitterServerError, requests.Timeout,
                            requests.ConnectionError, requests.JSONDecodeError))


def _reset_time(response: requests.Response | None) -> str:
    """When X says the window resets (x-rate-limit-reset, epoch seconds), as ISO UTC."""
    reset = None
    if response is not None:
        reset = response.headers.get("x-rate-limit-reset")
    epoch = int(reset) if reset and reset.isdigit() else int(time.time()) + 900
    return from_epoch(epoch)


def _detail(exc: tweepy.HTTPException) -> str:
    messages = list(getattr(exc, "api_messages", []) or [])
    return "; ".join(messages)[:200] or "no detail"

