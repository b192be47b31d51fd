"""Raw API pages for N simulated comments, streamed: the benchmark's input at any volume.

`bulk_pages(accounts, n)` yields `BulkPage`s: the serialized response body of one API call
(bytes, exactly what the client library would json.loads) plus what the collector would put
on its `Page` (kind, includes, cursor) and whether a `ScanComplete` follows it (the page is
the last of its post's comments). Nothing is built up front: the world is
generated a few posts at a time per account (round-robin over the accounts) with the
`World`'s own generators, rendered by each platform server's own renderers
(simulator/x.py, graph.py, youtube.py), serialized, yielded and forgotten, so memory does
not grow with N. Deterministic: the same (accounts, n, seed, ...) yields the same bytes.

Posts are spread over `days` days before `now` (30 days: ~33k comments a day at 1M, the
volume of DESIGN.md's figures). Comments not yet made at `now` and deleted ones are not served
(as on the platforms) and do not count towards N; edits made by `now` are served edited. YouTube live chat is not generated here.

`zipf_words`: the world's opinions come from ~40 templates, so their vocabulary is tiny
(~300 distinct whitespace words): any per-word cache sees ~100 % hits. With `zipf_words=k`
every Korean citizen comment also gets k words drawn from a Zipf(1.0) law over
`vocabulary` synthetic words (Hangul nouns + particles), a closer stand-in for real text
when measuring such a cache.

`texts`: real comments (bench/corpus: 50,000 Naver movie reviews, CC0). Every Korean citizen
comment becomes one of them, drawn at random: real vocabulary, spelling and lengths; the
districts and categories of the templates are then mostly absent.
"""
from __future__ import annotations

import bisect
import hashlib
import itertools
import json
import random
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable, Iterator, Protocol, Sequence

from core.accounts import Account
from core.platforms import load, spec
from core.shapes import SIMULATED_KEY
from simulator import graph as graph_sim
from simulator import x as x_sim
from simulator import youtube as youtube_sim
from simulator.transport import SimRequest
from simulator.world import SIM_NOW, SimComment, SimPost, World

X_PAGE = 100  # max_results of the X collector
GRAPH_PAGE = 100  # Facebook comments/posts limit (Instagram's is 50)
IG_PAGE = 50
YT_PAGE = 100  # commentThreads maxResults
YT_REPLIES = 5  # replies a commentThread carries
FB_POST_FIELDS = graph_sim.parse_fields(
    "id,message,created_time,updated_time,permalink_url,"
    "comments.filter(stream).limit(0).summary(true),reactions.limit(0).summary(true)")
FB_COMMENT_FIELDS = graph_sim.parse_fields(
    "id,message,created_time,from,parent{id},like_count,comment_count,permalink_url,is_hidden")
IG_MEDIA_FIELDS = graph_sim.parse_fields(
    "id,caption,timestamp,permalink,comments_count,like_count,media_type")
IG_REPLY_FIELDS = graph_sim.parse_fields("id,text,timestamp,username,like_count,hidden,from")
IG_COMMENT_FIELDS = {**IG_REPLY_FIELDS, "replies": ""}

_SYLLABLES = ("가나다라마바사아자차카타파하거너더러머버서어저처커터퍼허고노도로모보소오조초"
              "코토포호구누두루무부수우주추쿠투푸후기니디리미비시이지치키티피히강산동천시장공원"
              "역길문화민원청년주택교통환경안전복지")
_PARTICLES = ("", "", "이", "가", "은", "는", "을", "를", "에", "에서", "도", "의", "으로", "까지")


@dataclass(frozen=True)
class BulkPage:
    """One simulated API response and what the collector would attach to it and yield after it."""

    platform: str
    account: str
    kind: str  # "post" or "comment"
    body: bytes  # the response body as served (UTF-8 JSON)
    items_key: str  # where the items are in the body: "data" or "items"
    includes: dict = field(default_factory=dict)  # collector-side includes (post_id, ...)
    cursor: tuple[str, str] | None = None  # (stream, value) to store with the page
    scan_complete: str | None = None  # native post id: a ScanComplete of it follows the page
    comments: int = 0  # citizens' and official comments this page carries


class _Zipf:
    """Words of a synthetic vocabulary drawn with probability ~ 1/rank (deterministic)."""

    def __init__(self, size: int, rng: random.Random):
        self.rng = rng
        self.cum = list(itertools.accumulate(1.0 / r for r in range(1, size + 1)))

    def word(self) -> str:
        rank = bisect.bisect_left(self.cum, self.rng.random() * self.cum[-1])
        digest = hashlib.blake2b(rank.to_bytes(4, "big"), digest_size=8).digest()
        n = 2 + digest[0] % 2
        noun = "".join(_SYLLABLES[digest[1 + i] % len(_SYLLABLES)] for i in range(n))
        return noun + _PARTICLES[digest[5] % len(_PARTICLES)]


class _Renderer(Protocol):
    def pages(self, account: Account, posts: list[SimPost]) -> Iterator[BulkPage]: ...


def _req(**params: str) -> SimRequest:
    """A request with the few parameters the renderers read."""
    return SimRequest(method="GET", host="", path="", params=params, headers={})


def _body(payload: Any) -> bytes:
    """The body as served, marked simulated as SimTransport marks it (a saved page of it
    imports as simulated data)."""
    if isinstance(payload, dict):
        payload = {**payload, SIMULATED_KEY: True}
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


def bulk_pages(accounts: Iterable[Account], n: int, *, seed: int = 2012_11_01,
               now: datetime = SIM_NOW, days: int = 30, posts_per_batch: int = 10,
               comments_per_post: int = 10, zipf_words: int = 0,
               vocabulary: int = 200_000,
               texts: Sequence[str] | None = None) -> Iterator[BulkPage]:
    """Yield response pages until `n` comments have been served (posts come on top).
    texts: real comments; each Korean citizen comment is one of them, drawn at random."""
    accounts = [a for a in accounts if spec(a.platform).bulk]
    world = World(accounts, seed=seed, now=now, days=days, posts_per_account=0)
    zipf = _Zipf(vocabulary, random.Random(f"{seed}:zipf")) if zipf_words else None
    draw = random.Random(f"{seed}:texts")
    renderers: dict[str, _Renderer] = {
        p: load(spec(p).bulk or "")(world) for p in {a.platform for a in accounts}}
    left = n
    for _round in itertools.count():
        for account in accounts:
            posts = [world._post(account, comments_per_post) for _ in range(posts_per_batch)]
            posts.sort(key=lambda p: (p.created, p.seq))
            for post in posts:  # only what the platform still serves counts, at most `left`
                post.comments = _served(post.comments, account.platform, now)
                if texts:
                    _real(post, texts, draw)
                if zipf is not None:
                    _noise(post, zipf, zipf_words)
                if left <= 0:
                    post.comments = []
                keep = _trim(post.comments, left)
                post.comments = keep
                left -= len(keep)
            yield from renderers[account.platform].pages(account, posts)
            if left <= 0:
                return


def _served(comments: list[SimComment], platform: str, now: datetime) -> list[SimComment]:
    """What the platform serves at `now`: created, not deleted, thread start served; YouTube:
    not hidden, and a
    thread carries at most 5 replies (the collector's comments.list pass is not simulated)."""
    kept: list[SimComment] = []
    ids: set[int] = set()
    per_root: dict[int, int] = {}
    for c in comments:  # oldest first: a parent is decided before its replies
        if (c.created > now or c.deleted_at is not None
                or (c.parent is not None and c.parent.seq not in ids)):
            continue
        if platform == "youtube":
            if c.hidden:
                continue
            if c.parent is not None:
                root = c.parent
                while root.parent is not None:
                    root = root.parent
                if per_root.get(root.seq, 0) >= YT_REPLIES:
                    continue
                per_root[root.seq] = per_root.get(root.seq, 0) + 1
        kept.append(c)
        ids.add(c.seq)
    return kept


def _trim(comments: list[SimComment], left: int) -> list[SimComment]:
    """At most `left` comments, never a reply without its parent."""
    if len(comments) <= left:
        return comments
    kept: list[SimComment] = []
    ids: set[int] = set()
    for c in comments:
        if len(kept) == left:
            break
        if c.parent is None or c.parent.seq in ids:
            kept.append(c)
            ids.add(c.seq)
    return kept


def _real(post: SimPost, texts: Sequence[str], draw: random.Random) -> None:
    """Korean citizens' comments say one of the real texts instead of a template (an edit
    adds to it, as the world's edits do)."""
    for c in post.comments:
        if c.official is None and c.lang == "ko":
            c.text = draw.choice(texts)
            if c.edited_text is not None:
                c.edited_text = c.text + " (수정: 내용 추가합니다)"


def _noise(post: SimPost, zipf: _Zipf, k: int) -> None:
    for c in post.comments:
        if c.official is None and c.lang == "ko":
            c.text = c.text + " " + " ".join(zipf.word() for _ in range(k))


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


class XRender:
    """Timeline (posts + the account's own answers) and mentions pages of X accounts."""

    def __init__(self, world: World):
        self.server = x_sim.Server(world)

    def pages(self, account: Account, posts: list[SimPost]) -> Iterator[BulkPage]:
        s = self.server
        uid = s.user_ids[account.key]
        own = [s._post_tweet(p) for p in posts]
        own += [s._comment_tweet(c) for p in posts for c in p.comments if c.official == account.key]
        others = [s._comment_tweet(c) for p in posts for c in p.comments
                  if c.official != account.key]
        for stream, tweets in (("tweets", own), ("mentions", others)):
            tweets.sort(key=lambda t: int(t["id"]), reverse=True)
            for chunk in _chunks(tweets, X_PAGE):
                users = [s._user(i) for i in dict.fromkeys(t["author_id"] for t in chunk)]
                body = {"data": chunk, "includes": {"users": users},
                        "meta": {"result_count": len(chunk), "newest_id": chunk[0]["id"],
                                 "oldest_id": chunk[-1]["id"]}}
                includes = {"timeline_of": uid} if stream == "tweets" else {}
                comments = sum(1 for t in chunk if t["conversation_id"] != t["id"])
                yield BulkPage("x", account.key, "post" if stream == "tweets" else "comment",
                               _body(body), "data", includes, (stream, chunk[0]["id"]),
                               comments=comments)


class GraphRender:
    """Facebook posts + comments (filter=stream), Instagram media + comments with replies."""

    def __init__(self, world: World):
        self.server = graph_sim.Server(world)

    def pages(self, account: Account, posts: list[SimPost]) -> Iterator[BulkPage]:
        if account.platform == "facebook":
            yield from self._facebook(account, posts)
        else:
            yield from self._instagram(account, posts)

    def _facebook(self, account: Account, posts: list[SimPost]) -> Iterator[BulkPage]:
        s = self.server
        page_id = account.native_id or account.key
        newest = list(reversed(posts))
        for chunk in _chunks(newest, GRAPH_PAGE):
            data = [s._fb_post_json(p, page_id, FB_POST_FIELDS) for p in chunk]
            yield BulkPage("facebook", account.key, "post", _body({"data": data}), "data",
                           {}, ("posts", data[0]["created_time"]))
        for post in posts:
            served = s.served(post)
            post_id = f"{page_id}_{post.seq}"
            chunks = list(_chunks(served, GRAPH_PAGE)) or [[]]
            for i, chunk in enumerate(chunks):
                data = [s._fb_comment_json(c, page_id, served, FB_COMMENT_FIELDS) for c in chunk]
                last = i == len(chunks) - 1
                yield BulkPage("facebook", account.key, "comment", _body({"data": data}), "data",
                               {"post_id": post_id, "page_id": page_id}, None,
                               post_id if last else None, comments=len(chunk))

    def _instagram(self, account: Account, posts: list[SimPost]) -> Iterator[BulkPage]:
        s = self.server
        newest = list(reversed(posts))
        for chunk in _chunks(newest, IG_PAGE):
            data = [s._ig_media_json(p, IG_MEDIA_FIELDS) for p in chunk]
            yield BulkPage("instagram", account.key, "post", _body({"data": data}), "data",
                           {}, ("media", data[0]["timestamp"]))
        for post in posts:
            served = s.served(post)
            media_id = str(graph_sim.MEDIA_BASE + post.seq)
            top = [c for c in reversed(served) if c.parent is None]
            replies: dict[int, list[SimComment]] = {c.seq: [] for c in top}
            for r in served:
                if r.parent is not None:
                    replies[s.root(r).seq].append(r)
            chunks = list(_chunks(top, IG_PAGE)) or [[]]
            for i, chunk in enumerate(chunks):
                data = [s._ig_comment_json(c, IG_COMMENT_FIELDS, IG_REPLY_FIELDS, replies[c.seq])
                        for c in chunk]
                last = i == len(chunks) - 1
                yield BulkPage("instagram", account.key, "comment", _body({"data": data}),
                               "data", {"post_id": media_id}, None, media_id if last else None,
                               comments=sum(1 + len(replies[c.seq]) for c in chunk))


class YouTubeRender:
    """videos.list pages and commentThreads pages (replies nested, at most 5, as served)."""

    def __init__(self, world: World):
        self.server = youtube_sim.Server(world)
        self.req = _req(textFormat="plainText", part="snippet,replies")

    def pages(self, account: Account, posts: list[SimPost]) -> Iterator[BulkPage]:
        s = self.server
        channel = s.channel_of[account.key]
        videos = [{"id": s.video_id(p), "post": p, "published": p.created}
                  for p in reversed(posts)]
        for chunk in _chunks(videos, 50):
            items = [s._video(account.key, v, {"snippet"}) for v in chunk]
            for v, item in zip(chunk, items):
                count = sum(1 for c in v["post"].comments if not c.hidden)
                item["statistics"] = {"viewCount": "100", "likeCount": "3",
                                      "favoriteCount": "0", "commentCount": str(count)}
            body = {"kind": "youtube#videoListResponse", "etag": "sim",
                    "pageInfo": {"totalResults": len(items), "resultsPerPage": 50},
                    "items": items}
            yield BulkPage("youtube", account.key, "post", _body(body), "items", {},
                           ("videos", chunk[0]["id"]))
        threads: list[tuple[SimPost, SimComment, list[SimComment]]] = []
        for post in posts:
            shown = [c for c in post.comments if not c.hidden]
            tops = {c.seq: c for c in shown if c.parent is None}
            replies: dict[int, list[SimComment]] = {seq: [] for seq in tops}
            for c in shown:
                if c.parent is not None and s.root(c).seq in tops:
                    replies[s.root(c).seq].append(c)
            threads.extend((post, top, replies[top.seq]) for top in tops.values())
        threads.sort(key=lambda t: (t[1].created, t[1].seq), reverse=True)
        limit = s.thread_reply_limit
        for chunk in _chunks(threads, YT_PAGE):
            items = [self._thread(channel, post, top, rs[:limit]) for post, top, rs in chunk]
            body = {"kind": "youtube#commentThreadListResponse", "etag": "sim",
                    "pageInfo": {"totalResults": len(items), "resultsPerPage": YT_PAGE},
                    "items": items}
            first = chunk[0][1]
            yield BulkPage("youtube", account.key, "comment", _body(body), "items", {},
                           ("threads", f"{youtube_sim._iso(first.created)}|{s.comment_id(first)}"),
                           comments=sum(1 + min(len(rs), limit) for _, _, rs in chunk))

    def _thread(self, channel: str, post: SimPost, top: SimComment,
                replies: list[SimComment]) -> dict:
        s, req = self.server, self.req
        item: dict[str, Any] = {
            "kind": "youtube#commentThread", "etag": "sim", "id": s.comment_id(top),
            "snippet": {"channelId": channel, "videoId": s.video_id(post),
                        "topLevelComment": s._comment(post, top, req), "canReply": True,
                        "totalReplyCount": len(replies), "isPublic": True},
        }
        if replies:
            item["replies"] = {"comments": [s._comment(post, r, req) for r in replies]}
        return item

