"""YouTube Data API v3 collector on google-api-python-client.

Per channel (`account.native_id` = channel id, API key in the env var `account.credentials[0]`),
in this order, each stream with its own cursor:
- "uploads": the uploads playlist id, resolved once with channels.list (1 unit) and kept;
- "videos":  playlistItems.list (1) + videos.list (1) per 50 uploads, newest first, until the
             newest upload of the previous run; the first page is read every run, so recent
             videos' comment counts stay fresh and live broadcasts are noticed;
- "threads": commentThreads.list(allThreadsRelatedToChannelId, order=time) newest first,
             100 a page (1 unit). The cursor is the newest thread ("publishedAt|id"), a
             Checkpoint right after the page where the previous cursor is reached
             (NewestFirst: that thread, or one published earlier). Past it, threads of the
             last `lookback_days` are re-read so new replies (the city's answers) to older
             threads arrive. A thread carries at most 5 replies: when totalReplyCount says
             there are more, comments.list(parentId) (1 unit a page) reads them all;
- videos the threads point to that were not read above: videos.list (1 per 50);
- "live:<videoId>" (accounts with `live_chat`): the live chat of each broadcast whose video has
             an activeLiveChatId, polled with liveChatMessages.list (5 units a poll) every
             pollingIntervalMillis until the chat ends or `live_seconds` are spent. The cursor
             is the chat's nextPageToken, stored with the messages it follows.

Quota: every call's units are spent before it is made and reported on the next event (its
`Spend`, written to the ledger in that event's transaction; a `Spend` alone when the calls
brought nothing to store). `options["youtube_quota"]` minus `options["quota_used"]` is never
exceeded: a call that would exceed it is not made and collection stops with RateLimited
until the next Pacific midnight, for every account of this collector. search.list (100
units) is never used.

Tombstones: only when the thread pass read the channel's whole thread list (it ended with
no nextPageToken), every reply of every thread and every thread was well formed, each video
seen gets `ScanComplete(videoId)`; live broadcasts never do (their chat messages are
comments of the video but are not in the thread list).
"""
from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from datetime import time as dtime
from typing import Any, Callable, Iterator, Mapping
from zoneinfo import ZoneInfo

import httplib2
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from collectors.base import Checkpoint, Cursor, Event, NewestFirst, Page, ScanComplete, Spend
from collectors.http import Transport
from collectors.retry import with_retries
from core.accounts import Account
from core.errors import (
    AuthFailed,
    CollectorError,
    MissingCredentials,
    PaginationLoop,
    PermissionMissing,
    RateLimited,
)
from core.platforms import spec
from core.shapes import obj
from core.times import shift, utc_iso

log = logging.getLogger(__name__)

QUOTA = spec("youtube").quota
assert QUOTA is not None  # the registry gives YouTube its daily budget and reset zone
QUOTA_ZONE = QUOTA.zone  # the quota day resets at midnight there (Pacific)
# Quota units per call (developers.google.com/youtube/v3/determine_quota_cost).
COST = {
    "channels.list": 1, "playlistItems.list": 1, "videos.list": 1, "commentThreads.list": 1,
    "comments.list": 1, "liveChatMessages.list": 5, "search.list": 100,
}
THREAD_PAGE = 100  # commentThreads.list maxResults ceiling
REPLY_PAGE = 100  # comments.list maxResults ceiling
VIDEO_PAGE = 50  # playlistItems.list / videos.list ceiling
MAX_THREAD_PAGES = 50  # one pass reads at most 5000 threads; older history is for `import`
MAX_VIDEO_PAGES = 4  # a first pass lists at most 200 uploads
MAX_REPLY_PAGES = 20
MAX_LIVE_POLLS = 10_000
DEFAULT_POLL_MS = 5000
TRANSIENT_STATUS = {500, 502, 503, 504}
CHAT_GONE = {"liveChatEnded", "liveChatNotFound", "liveChatDisabled"}


class _QuietExpected403(logging.Filter):
    """googleapiclient warns on every 403 before we map it (liveChatEnded, commentsDisabled,
    quotaExceeded...); each is reported once, by this collector, in words a person can act on."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Encountered 403 Forbidden")


_gapi_log = logging.getLogger("googleapiclient.http")
if not any(isinstance(f, _QuietExpected403) for f in _gapi_log.filters):
    _gapi_log.addFilter(_QuietExpected403())


class YouTubeUnavailable(Exception):
    """A 5xx, timeout or broken body: retried (message carries no URL, so no API key)."""


class _Soft(Exception):
    """An API answer the caller treats as a state, not an error (commentsDisabled, ...)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class _ThreadPass:
    videos: set[str] = field(default_factory=set)  # videos the threads hang under
    broken: set[str] = field(default_factory=set)  # videos with a malformed thread or reply
    complete: bool = True  # every thread well formed and all its replies read
    full: bool = False  # the whole thread list was read


def next_pacific_midnight(now: datetime) -> str:
    """When YouTube's daily quota resets after `now` (aware), as ISO UTC."""
    zone = ZoneInfo(QUOTA_ZONE)
    local = now.astimezone(zone)
    return utc_iso(datetime.combine(local.date() + timedelta(days=1), dtime(0), tzinfo=zone))


def _iso(value: Any) -> str | None:
    """An API time as ISO UTC to the second (comparable as text), None if unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if at.tzinfo is None:
        at = at.replace(tzinfo=timezone.utc)
    return utc_iso(at)


def _thread_time(value: str) -> str:
    """The publishedAt of a "publishedAt|threadId" cursor value: threads are ordered by it
    (a thread of the same second that is not the stored one may be new: not yet reached)."""
    return value.partition("|")[0]


def _shift(iso: str, days: float) -> str:
    return shift(iso, days=-days)


def _error_parts(exc: HttpError) -> tuple[int, str, str]:
    """(HTTP status, first reason, message) of a YouTube error body."""
    status = int(getattr(exc.resp, "status", 0) or 0)
    reason, message = "", ""
    try:
        body = json.loads(exc.content.decode("utf-8") if isinstance(exc.content, bytes)
                          else exc.content)
    except (ValueError, AttributeError, TypeError):
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        message = str(error.get("message") or "")
        errors = error.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            reason = str(errors[0].get("reason") or "")
        if not reason:
            reason = str(error.get("status") or "")
    return status, reason, message


def _thread_parts(thread: Any) -> tuple[str | None, str | None, str | None]:
    """(thread id, publishedAt ISO, videoId) of a commentThread."""
    if not isinstance(thread, dict):
        return None, None, None
    snippet = obj(thread.get("snippet"))
    top = obj(snippet.get("topLevelComment"))
    top_snippet = obj(top.get("snippet"))
    tid = thread.get("id") if isinstance(thread.get("id"), str) else None
    video = snippet.get("videoId") or top_snippet.get("videoId")
    return tid, _iso(top_snippet.get("publishedAt")), video if isinstance(video, str) else None


def _well_formed(comment: Any) -> bool:
    """Will the normalizer make a record of it? (else its video must not be tombstoned)"""
    if not isinstance(comment, dict) or not isinstance(comment.get("id"), str):
        return False
    snippet = comment.get("snippet")
    return (isinstance(snippet, dict) and _iso(snippet.get("publishedAt")) is not None
            and (isinstance(snippet.get("textOriginal"), str)
                 or isinstance(snippet.get("textDisplay"), str)))


class YouTubeCollector:
    """Collects a channel's videos, comment threads with all replies, and live chat."""

    platform = "youtube"

    def __init__(self, transport: Transport, environ: Mapping[str, str],
                 accounts: list[Account], options: Mapping[str, Any]):
        self.transport = transport
        self.environ = environ
        self.official_ids = frozenset(a.native_id for a in accounts
                                      if a.platform == "youtube" and a.native_id)
        budget = options.get("youtube_quota")
        self.budget: int | None = int(budget) if budget is not None else None
        self.spent = int(options.get("quota_used") or 0)  # units spent today, incl. earlier runs
        self.lookback_days = float(options.get("lookback_days") or 7)
        self.live_seconds = float(options.get("live_seconds") or 0)
        self.retries = int(options.get("youtube_retries", 2))
        self.max_thread_pages = int(options.get("youtube_max_thread_pages", MAX_THREAD_PAGES))
        self.max_video_pages = int(options.get("youtube_max_video_pages", MAX_VIDEO_PAGES))
        self.sleep: Callable[[float], None] = options.get("sleep", time.sleep)
        self.clock: Callable[[], float] = options.get("clock", time.monotonic)
        self.utcnow: Callable[[], datetime] = options.get(
            "utcnow", lambda: datetime.now(timezone.utc))
        self._rng = random.Random(0)
        self._clients: dict[str, Any] = {}
        self._exhausted: str | None = None  # retry_after once the day's budget is spent
        self._cost = 0  # units spent since the last yielded event
        self._requests = 0

    # --- the account's pages ------------------------------------------------------------------
    def pages(self, account: Account, cursors: Mapping[str, str]) -> Iterator[Event]:
        self._cost = self._requests = 0
        try:
            yield from self._collect(account, dict(cursors))
        except CollectorError:
            spend = self._spent()
            if spend:  # units spent on the failed call stay on the ledger
                yield spend
            raise

    def _collect(self, account: Account, cursors: dict[str, str]) -> Iterator[Event]:
        if self._exhausted:
            raise self._quota_error(account, f"the {self.budget}-unit daily budget "
                                    "(--youtube-quota) or YouTube's own quota was spent "
                                    "earlier in this run")
        channel = account.native_id
        if not channel:
            raise CollectorError(f"{account.key}: no YouTube channel id: set `id` (UC...) "
                                 "for this account in accounts.yaml")
        yt = self._client(account)
        uploads = cursors.get("uploads")
        if not uploads:
            uploads = self._uploads(account, yt, channel)
            yield Checkpoint(Cursor("uploads", uploads), spend=self._spent())
        videos: dict[str, dict] = {}
        yield from self._videos(account, yt, uploads, cursors.get("videos"), videos)
        threads = _ThreadPass()
        yield from self._threads(account, yt, channel, cursors.get("threads"), threads)
        missing = sorted(threads.videos - set(videos))
        for start in range(0, len(missing), VIDEO_PAGE):
            chunk = missing[start:start + VIDEO_PAGE]
            items = self._video_details(account, yt, chunk)
            videos.update((v["id"], v) for v in items if isinstance(v.get("id"), str))
            yield self._page("post", items)
        live = self._live_chats(videos) if account.live_chat else []
        if threads.full and threads.complete:
            with_counts = {vid for vid, v in videos.items()
                           if isinstance(v.get("statistics"), dict)
                           and "commentCount" in v["statistics"]}
            live_ids = {vid for vid, v in videos.items() if v.get("liveStreamingDetails")}
            for vid in sorted((threads.videos | with_counts) - threads.broken - live_ids):
                yield ScanComplete(vid, spend=self._spent())
        if live and self.live_seconds > 0:
            deadline = self.clock() + self.live_seconds
            for vid, chat in live:
                yield from self._live(account, yt, vid, chat, cursors.get(f"live:{vid}"),
                                      deadline)

    # --- streams ------------------------------------------------------------------------------
    def _uploads(self, account: Account, yt: Any, channel: str) -> str:
        body = self._call(account, "channels.list",
                          yt.channels().list(part="contentDetails", id=channel, maxResults=1))
        items = body.get("items") or []
        details = items[0].get("contentDetails") if items and isinstance(items[0], dict) else None
        playlists = details.get("relatedPlaylists") if isinstance(details, dict) else None
        uploads = playlists.get("uploads") if isinstance(playlists, dict) else None
        if not isinstance(uploads, str) or not uploads:
            raise CollectorError(f"{account.key}: YouTube has no channel {channel} (or it has "
                                 "no uploads playlist): check `id` in accounts.yaml")
        return uploads

    def _videos(self, account: Account, yt: Any, uploads: str, old: str | None,
                videos: dict[str, dict]) -> Iterator[Page]:
        """Uploads newest first, as video resources, until the previous run's newest."""
        token: str | None = None
        tokens: set[str] = set()  # every token followed: a loop may span pages
        newest = NewestFirst("videos", old)
        for n in range(1, self.max_video_pages + 1):
            body = self._call(account, "playlistItems.list", yt.playlistItems().list(
                part="snippet,contentDetails", playlistId=uploads, maxResults=VIDEO_PAGE,
                pageToken=token))
            ids = []
            for item in body.get("items") or []:
                details = item.get("contentDetails") if isinstance(item, dict) else None
                if not isinstance(details, dict) or not isinstance(details.get("videoId"), str):
                    continue
                ids.append(details["videoId"])
                snippet = obj(item.get("snippet"))
                newest.see(_iso(details.get("videoPublishedAt") or snippet.get("publishedAt")))
            items = self._video_details(account, yt, ids) if ids else []
            videos.update((v["id"], v) for v in items if isinstance(v.get("id"), str))
            nxt = body.get("nextPageToken")
            last = not nxt or n == self.max_video_pages or newest.reached
            yield self._page("post", items, cursor=newest.cursor(end=last))
            if last or not nxt:
                return
            if nxt in tokens:
                raise PaginationLoop(f"{account.key}: playlistItems.list repeated page token")
            token = nxt
            tokens.add(nxt)

    def _video_details(self, account: Account, yt: Any, ids: list[str]) -> list[dict]:
        body = self._call(account, "videos.list", yt.videos().list(
            part="snippet,statistics,liveStreamingDetails", id=",".join(ids),
            maxResults=VIDEO_PAGE))
        return [v for v in body.get("items") or [] if isinstance(v, dict)]

    def _threads(self, account: Account, yt: Any, channel: str, old: str | None,
                 state: _ThreadPass) -> Iterator[Event]:
        """All threads of the channel's videos, newest first, down to the cursor + look-back."""
        old_time = _thread_time(old or "")
        floor = _shift(old_time, self.lookback_days) if old_time else None
        newest = NewestFirst("threads", old, order=_thread_time)
        token: str | None = None
        tokens: set[str] = set()  # every token followed: a loop may span pages
        for n in range(1, self.max_thread_pages + 1):
            try:
                body = self._call(account, "commentThreads.list", yt.commentThreads().list(
                    part="snippet,replies", allThreadsRelatedToChannelId=channel,
                    order="time", textFormat="plainText", maxResults=THREAD_PAGE,
                    pageToken=token), soft={"commentsDisabled"})
            except _Soft:
                log.info("%s: comments are disabled on this channel; no threads to read",
                         account.key)
                return
            items = [t for t in body.get("items") or [] if isinstance(t, dict)]
            yield self._page("comment", items)
            oldest: str | None = None
            for thread in items:
                tid, at, video = _thread_parts(thread)
                snippet = obj(thread.get("snippet"))
                if video:
                    state.videos.add(video)
                if not tid or not at or not _well_formed(snippet.get("topLevelComment")):
                    state.complete = state.complete and bool(video)
                    if video:
                        state.broken.add(video)
                    continue
                oldest = at if oldest is None else min(oldest, at)
                newest.see(f"{at}|{tid}")
                carried = (thread.get("replies") or {}).get("comments") or []
                if not all(_well_formed(c) for c in carried) and video:
                    state.broken.add(video)
                total = snippet.get("totalReplyCount")
                if isinstance(total, int) and total > len(carried):
                    yield from self._replies(account, yt, tid, video, state)
            nxt = body.get("nextPageToken")
            yield from self._checkpoint(newest.cursor())  # the pass reached the old cursor
            if not nxt:
                state.full = True
                break
            if newest.reached and floor is not None and oldest is not None and oldest < floor:
                break
            if nxt in tokens:
                raise PaginationLoop(f"{account.key}: commentThreads.list repeated page token")
            token = nxt
            tokens.add(nxt)
            if n == self.max_thread_pages:
                log.warning("%s: stopped after %d pages of threads; older ones are left to "
                            "`import`", account.key, n)
        yield from self._checkpoint(newest.cursor(end=True))

    def _replies(self, account: Account, yt: Any, thread: str, video: str | None,
                 state: _ThreadPass) -> Iterator[Page]:
        """Every reply of one thread (comments.list carries no videoId: includes name it)."""
        token: str | None = None
        tokens: set[str] = set()  # every token followed: a loop may span pages
        includes = {"thread": {"id": thread, "videoId": video}}
        for _ in range(MAX_REPLY_PAGES):
            body = self._call(account, "comments.list", yt.comments().list(
                part="snippet", parentId=thread, textFormat="plainText", maxResults=REPLY_PAGE,
                pageToken=token))
            items = [c for c in body.get("items") or [] if isinstance(c, dict)]
            if video and not all(_well_formed(c) for c in items):
                state.broken.add(video)
            yield self._page("comment", items, includes=includes)
            nxt = body.get("nextPageToken")
            if not nxt:
                return
            if nxt in tokens:
                raise PaginationLoop(f"{account.key}: comments.list repeated page token")
            token = nxt
            tokens.add(nxt)
        state.complete = False

    @staticmethod
    def _live_chats(videos: dict[str, dict]) -> list[tuple[str, str]]:
        """(videoId, liveChatId) of the channel's broadcasts whose chat is live."""
        found = []
        for vid, video in videos.items():
            details = video.get("liveStreamingDetails")
            if not isinstance(details, dict) or details.get("actualEndTime"):
                continue
            chat = details.get("activeLiveChatId")
            if isinstance(chat, str) and chat:
                found.append((vid, chat))
        return sorted(found)

    def _live(self, account: Account, yt: Any, video: str, chat: str, token: str | None,
              deadline: float) -> Iterator[Event]:
        """Poll one live chat until it ends or the live budget is spent."""
        stream = f"live:{video}"
        includes = {"live": {"videoId": video, "liveChatId": chat}}
        for _ in range(MAX_LIVE_POLLS):
            if self.clock() >= deadline:
                return
            try:
                body = self._call(account, "liveChatMessages.list", yt.liveChatMessages().list(
                    liveChatId=chat, part="snippet,authorDetails", maxResults=2000,
                    pageToken=token), soft=CHAT_GONE)
            except _Soft as exc:
                log.info("%s: live chat of %s is over (%s)", account.key, video, exc.reason)
                spend = self._spent()
                if spend:
                    yield spend
                return
            items = [m for m in body.get("items") or [] if isinstance(m, dict)]
            token = body.get("nextPageToken") or token
            yield self._page("comment", items, includes=includes,
                             cursor=Cursor(stream, token) if token else None)
            ended = body.get("offlineAt") or any(
                (m.get("snippet") or {}).get("type") == "chatEndedEvent" for m in items)
            if ended:
                return
            wait = body.get("pollingIntervalMillis")
            wait = (wait if isinstance(wait, (int, float)) and wait >= 0
                    else DEFAULT_POLL_MS) / 1000
            if self.clock() + wait >= deadline:
                return
            self.sleep(wait)

    # --- calls, quota and errors --------------------------------------------------------------
    def _client(self, account: Account) -> Any:
        env = account.credentials[0]
        key = self.environ.get(env)
        if not key:
            raise MissingCredentials(f"{account.key}: environment variable {env} is not set")
        if env not in self._clients:
            self._clients[env] = build(
                "youtube", "v3", developerKey=key, http=self.transport.httplib2(),
                static_discovery=True, cache_discovery=False)
        return self._clients[env]

    def _spent(self) -> Spend:
        """The requests and units spent since the last event, for the next one to carry."""
        spend = Spend(requests=self._requests, units=self._cost)
        self._cost = self._requests = 0
        return spend

    def _page(self, kind: str, items: list[dict], *, cursor: Cursor | None = None,
              includes: Mapping | None = None) -> Page:
        """A page carrying the units and requests spent since the last event."""
        return Page(kind=kind, items=items, cursor=cursor,  # type: ignore[arg-type]
                    includes=includes or {}, spend=self._spent())

    def _checkpoint(self, cursor: Cursor | None) -> Iterator[Checkpoint]:
        if cursor is not None:
            yield Checkpoint(cursor, spend=self._spent())

    def _charge(self, account: Account, method: str) -> None:
        cost = COST[method]
        if self.budget is not None and self.spent + cost > self.budget:
            raise self._quota_error(
                account, f"{method} costs {cost} units and only "
                f"{max(self.budget - self.spent, 0)} of the {self.budget}-unit daily budget "
                "(--youtube-quota) are left")
        self.spent += cost
        self._cost += cost
        self._requests += 1

    def _quota_error(self, account: Account, why: str) -> RateLimited:
        self._exhausted = self._exhausted or next_pacific_midnight(self.utcnow())
        return RateLimited(f"{account.key}: YouTube quota: {why}; resuming after the quota "
                           f"resets at midnight Pacific ({self._exhausted})",
                           retry_after=self._exhausted)

    def _call(self, account: Account, method: str, request: Any,
              soft: set[str] | frozenset[str] = frozenset()) -> dict:
        """Execute one API request: quota first, bounded retries, errors a person can act on."""
        env = account.credentials[0]

        def attempt() -> dict:
            self._charge(account, method)
            try:
                body = request.execute(num_retries=0)
            except HttpError as exc:
                status, reason, message = _error_parts(exc)
                if status in TRANSIENT_STATUS or reason in ("backendError", "internalError"):
                    raise YouTubeUnavailable(f"HTTP {status} {reason}".strip()) from None
                raise self._error(account, env, method, exc, status, reason, message,
                                  soft) from None
            except (TimeoutError, OSError, httplib2.HttpLib2Error) as exc:
                raise YouTubeUnavailable(
                    f"{type(exc).__name__}: network error or timeout") from None
            except ValueError:  # the body was not JSON (a proxy's HTML page, a cut body)
                raise YouTubeUnavailable("the response body was not JSON") from None
            if not isinstance(body, dict):
                raise YouTubeUnavailable("the response body was not a JSON object")
            return body

        return with_retries(attempt, lambda e: isinstance(e, YouTubeUnavailable),
                            f"{account.key}: YouTube {method}", attempts=self.retries + 1,
                            sleep=self.sleep, rng=self._rng)

    def _error(self, account: Account, env: str, method: str, exc: HttpError, status: int,
               reason: str, message: str, soft: set[str] | frozenset[str]) -> Exception:
        """Map a YouTube error answer to what the run should do (never echo the URL: key)."""
        what = f"{account.key}: YouTube {method} answered HTTP {status}" + (
            f" {reason}" if reason else "") + (f" ({message})" if message else "")
        if reason in soft:
            return _Soft(reason)
        if reason in ("quotaExceeded", "dailyLimitExceeded"):
            return self._quota_error(account, "YouTube says the project's daily quota is spent")
        if status == 429 or reason in ("rateLimitExceeded", "userRateLimitExceeded"):
            header = exc.resp.get("retry-after") if hasattr(exc.resp, "get") else None
            wait = int(header) if isinstance(header, str) and header.isdigit() else 900
            until = utc_iso(self.utcnow() + timedelta(seconds=wait))
            return RateLimited(f"{what}: rate limited, next try after {until}", retry_after=until)
        if reason in ("keyInvalid", "keyExpired") or status == 401 or (
                status == 400 and "api key" in message.lower()):
            return AuthFailed(f"{what}: the API key in {env} is not valid: put a key of a "
                              "Google Cloud project with YouTube Data API v3 enabled in " + env)
        if status == 403:
            return PermissionMissing(
                f"{what}: the API key in {env} may not make this request: enable YouTube Data "
                f"API v3 for the key's project and check the key's API / IP restrictions")
        if status == 404:
            return CollectorError(f"{what}: check the channel `id` of this account in "
                                  "accounts.yaml")
        return CollectorError(what)
