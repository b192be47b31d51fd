"""The formats people save API output in, told apart by their shape: each saved document
becomes the collector pages it holds (`pages_of`), so `import` needs no hand wrapping.

| format | shape | becomes |
| --- | --- | --- |
| twarc2 page (search, timeline, conversation), X API v2 response | `data` list, `includes`, `meta` | one page |
| twarc2 stream line (filter, sample), one-tweet lookup | `data` object (`matching_rules`) | one page of one tweet |
| twarc2 flatten line | a tweet with `author` (and `__twarc`) embedded | one tweet; `author` is its user |
| Airbyte record | `{"type": "RECORD", "record": {"stream", "data"}}`, or bare `{"stream", "data"}` | what `data` is |
| Singer record | `{"type": "RECORD", "stream", "record"}` | what `record` is |
| Airbyte / Singer STATE, LOG, SCHEMA, ... | `type` other than RECORD | nothing (a line without items) |
| Graph API page (feed, comments, media) | `data` list, `paging` | pages of posts and of comments, by the items' fields |
| Graph API `?ids=` batch | an object keyed by id, each value an object or an edge page | the objects; an edge page under its id |
| Graph API object | one post, comment or media (nested `comments{...}` too) | one item |
| Instagram mentions | `mentioned_comment` / `mentioned_media` | the comment / the citizen's media |
| YouTube list page | `kind` youtube#...ListResponse, `items` | one page (live chat: the video from `--post` or the page's `videoId`) |
| YouTube resource | `kind` youtube#commentThread, #comment, ... | one item |
| X batch compliance result | `{"id", "action": "delete", "reason", "redacted_at"}` | an event: the item's words deleted |
| X compliance stream event | `{"data": {"delete" or "withheld": {"tweet": {"id"}, ...}}}` | an event: deleted, or withheld where |

Pure: documents in, pages out; no I/O.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from typing import Any, Callable, Literal

from collectors.base import Page
from core.platforms import load, spec
from core.shapes import SIMULATED_KEY, more_to_fetch, nested, obj
from normalize.graph import str_id
from normalize.instagram import is_media
from normalize.schema import Compliance, Skipped
from normalize.x import compliance_event

Kind = Literal["post", "comment"]
_GRAPH_ID = re.compile(r"^\d+(?:_\d+)?$")
# Fields only a Facebook post has (a comment has message, created_time, from, parent, ...).
_FB_POST_FIELDS = ("updated_time", "status_type", "full_picture", "attachments", "shares",
                   "reactions", "story", "is_published", "privacy")
_FB_COMMENT_FIELDS = ("parent", "comment_count", "like_count", "can_reply", "attachment")
# Airbyte / Singer streams that hold no opinion: account profiles and metrics.
_PROFILE_STREAMS = re.compile(r"^(users?|accounts?|pages?|channels?|profiles?)$|insights|"
                              r"metrics|stats|reports?$")


@dataclass
class Found:
    """What one saved document holds."""

    format: str
    pages: list[Page] = field(default_factory=list)  # data only: no cursor, nothing spent
    more: int = 0  # nested lists whose `paging.next` the file does not hold (collect fetches)
    simulated: bool = False
    problem: str | None = None  # why the document holds nothing importable
    skips: list[tuple[str, str | None]] = field(default_factory=list)  # (rule, native id)
    events: list[Compliance] = field(default_factory=list)  # compliance output to apply


@dataclass(frozen=True)
class Options:
    """What the command line adds to a document: the post (video, Graph post) its items
    hang under, a kind forced by hand."""

    post: str | None = None
    kind: Kind | None = None


_NO_READER = "pipeline.formats:no_reader"


def no_reader(platform: str, doc: dict, options: Options) -> Found:
    """A platform whose registry entry names no reader of saved output."""
    return Found("unknown", problem=f"saved {platform} output cannot be imported yet "
                                    "(its registry entry names no reader)")


def pages_of(platform: str, doc: Any, options: Options = Options()) -> Found:
    """The pages one saved document holds, and its format's name."""
    if not isinstance(doc, dict):
        return Found("unknown", problem=f"a saved page must be a JSON object, not a "
                                        f"{type(doc).__name__}")
    envelope = _envelope(platform, doc, options)
    if envelope is not None:
        return envelope
    error = _error(doc)
    if error:
        return Found("API error response", problem=error)
    simulated = doc.get(SIMULATED_KEY) is True
    found = as_found(load(spec(platform).reader or _NO_READER)(platform, doc, options))
    found.simulated = found.simulated or simulated
    return found


def as_found(read: Any) -> Found:
    """A reader's answer as a Found: a reader below the wiring (collectors/ never import
    pipeline/) answers with an object of the same fields."""
    if isinstance(read, Found):
        return read
    return Found(**{f.name: getattr(read, f.name) for f in fields(Found) if hasattr(read, f.name)})


def _envelope(platform: str, doc: dict, options: Options) -> Found | None:
    """Airbyte and Singer messages: what the record inside holds, nothing for the other
    messages; None when the document is no such message."""
    kind = doc.get("type")
    record = obj(doc.get("record"))
    if kind == "RECORD" and "stream" in doc and isinstance(doc.get("record"), dict):
        return _inner(platform, record, options, "Singer record", doc["stream"])  # Singer
    if kind == "RECORD" and isinstance(record.get("data"), dict):  # Airbyte: {"record": {..}}
        return _inner(platform, record["data"], options, "Airbyte record", record.get("stream"))
    if isinstance(kind, str) and kind.isupper() and kind != "RECORD":
        tool = "Singer" if "stream" in doc or kind == "SCHEMA" else "Airbyte"
        return Found(f"{tool} {kind} message")
    if set(doc) >= {"stream", "data", "emitted_at"} and isinstance(doc["data"], dict):
        return _inner(platform, doc["data"], options, "Airbyte record (bare)", doc.get("stream"))
    return None


def _inner(platform: str, doc: Any, options: Options, label: str, stream: Any) -> Found:
    if isinstance(stream, str) and _PROFILE_STREAMS.search(stream.lower()):
        return Found(f"{label} ({stream})",
                     skips=[(f"{label} of stream {stream!r}: a profile or metrics, no opinion",
                             str_id(doc.get("id")))])
    found = pages_of(platform, doc, options)
    found.format = f"{label} of {found.format}"
    return found


def _error(doc: dict) -> str | None:
    """A saved error response (Graph, YouTube: `error`; X's `errors` come beside data)."""
    error = doc.get("error")
    if isinstance(error, dict):
        return (f"a saved API error response, not data (code {error.get('code')}: "
                f"{str(error.get('message'))[:200]})")
    return None


# --- X ---------------------------------------------------------------------------------------
def read_x(platform: str, doc: dict, options: Options) -> Found:
    kind: Kind = options.kind or "comment"
    event = compliance_event(doc)
    if isinstance(event, Compliance):
        return Found("X compliance output", events=[event])
    if isinstance(event, Skipped):
        return Found("X compliance output", skips=[(event.reason, event.native_id)])
    includes = dict(obj(doc.get("includes")))
    if isinstance(doc.get("errors"), list):
        includes["errors"] = doc["errors"]
    data = doc.get("data")
    users = [u for u in (data if isinstance(data, list) else [data])
             if isinstance(u, dict) and "username" in u and "text" not in u]
    if users:  # a user lookup (GET /2/users/...): profiles, no opinion
        return Found("X API v2 user lookup", skips=[
            ("X user profile (a user lookup, no opinion)", str_id(u.get("id"))) for u in users])
    if isinstance(data, list):
        return Found("X API v2 page (twarc2 search / timeline / conversation)",
                     [Page(kind=kind, items=data, includes=includes)])
    if isinstance(data, dict):
        label = ("twarc2 stream line (filter / sample)" if "matching_rules" in doc
                 else "X API v2 single tweet")
        return Found(label, [Page(kind=kind, items=[data], includes=includes)])
    if "text" in doc and "id" in doc:
        author = doc.get("author")
        if isinstance(author, dict):
            includes = {"users": [author]}
        label = "twarc2 flatten line" if "author" in doc or "__twarc" in doc else "tweet"
        return Found(label, [Page(kind=kind, items=[doc], includes=includes)])
    if "errors" in doc or "meta" in doc:
        return Found("X API v2 page without tweets")
    return Found("unknown", problem="not an X API v2 page, twarc2 line or tweet (no `data`, "
                                    "no `id` and `text`)")


# --- Graph (Facebook, Instagram) -------------------------------------------------------------
def read_graph(platform: str, doc: dict, options: Options) -> Found:
    includes: dict[str, Any] = {"post_id": options.post} if options.post else {}
    if isinstance(doc.get("data"), list):
        found = Found(f"Graph API page ({platform})")
        edge = _edge_of(doc)
        found.pages = _graph_pages(platform, doc["data"], includes,
                                   Options(options.post, options.kind or edge))
    elif isinstance(doc.get("mentioned_comment"), dict):
        found = Found("Instagram mentioned_comment")
        found.pages = [Page(kind="comment", items=[doc["mentioned_comment"]])]
    elif isinstance(doc.get("mentioned_media"), dict):
        found = Found("Instagram mentioned_media")
        found.pages = [Page(kind="post", items=[doc["mentioned_media"]],
                            includes={"mention": True})]
    elif doc and all(_GRAPH_ID.match(str(k)) and isinstance(v, dict) for k, v in doc.items()
                     if k != SIMULATED_KEY):
        found = Found(f"Graph API ?ids= batch ({platform})")
        for key, value in doc.items():
            if key == SIMULATED_KEY:
                continue
            if isinstance(value.get("data"), list):  # an edge of that id: its comments
                found.pages += _graph_pages(platform, value["data"], {"post_id": key},
                                            options)
            else:
                found.pages += _graph_pages(platform, [value], includes, options)
    elif "id" in doc:
        found = Found(f"Graph API object ({platform})")
        found.pages = _graph_pages(platform, [doc], includes, options)
    else:
        return Found("unknown", problem="not a Graph API page, ?ids= batch or object (no "
                                        "`data` list, no `id`)")
    found.more = sum(more_to_fetch(item) for page in found.pages for item in page.items)
    found.skips = [("Graph account profile (a Page or user, no opinion)",
                    str_id(obj(item).get("id")))
                   for item in _objects(doc) if _is_profile(item)]
    return found


def _objects(doc: dict) -> list:
    """The top-level objects of a Graph document (page items, batch values, the object)."""
    if isinstance(doc.get("data"), list):
        return doc["data"]
    if "id" in doc:
        return [doc]
    return [v for v in doc.values() if isinstance(v, dict)]


_POST_EDGES = {"posts", "feed", "published_posts", "media", "tags", "tagged"}
_COMMENT_EDGES = {"comments", "replies"}


def _edge_of(doc: dict) -> Kind | None:
    """What a Graph page lists, read from its own paging URLs (`/{id}/posts?...`)."""
    paging = obj(doc.get("paging"))
    for key in ("next", "previous"):
        url = paging.get(key)
        if isinstance(url, str):
            edge = url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
            if edge in _POST_EDGES:
                return "post"
            if edge in _COMMENT_EDGES:
                return "comment"
    return None


def _graph_pages(platform: str, items: list, includes: dict, options: Options) -> list[Page]:
    """The items as pages of posts and of comments (profiles are skips, not items)."""
    return _pages_by_kind([i for i in items if not _is_profile(i)],
                          lambda item: options.kind or graph_kind(platform, item), includes)


def _pages_by_kind(items: list, kind_of: Callable[[Any], Kind], includes: dict) -> list[Page]:
    """Consecutive items of one kind make one page (a batch may mix posts and comments)."""
    pages: list[Page] = []
    for item in items:
        kind = kind_of(item)
        if pages and pages[-1].kind == kind:
            pages[-1].items.append(item)
        else:
            pages.append(Page(kind=kind, items=[item], includes=includes))
    return pages


def graph_kind(platform: str, item: Any) -> Kind:
    """Whether a Graph object is a post (Facebook post, Instagram media) or a comment."""
    if not isinstance(item, dict):
        return "comment"
    if platform == "facebook":
        nested = _fb_nested_says(item)
        if nested is not None:
            return nested
        return "post" if any(k in item for k in _FB_POST_FIELDS) and not any(
            k in item for k in _FB_COMMENT_FIELDS) else "comment"
    return "post" if is_media(item) else "comment"


def _fb_nested_says(item: dict) -> Kind | None:
    """Facebook ids say it when comments are nested: a post '{page}_{post}' holds comments
    '{post}_{comment}'; a comment '{post}_{comment}' holds replies '{post}_{reply}'."""
    own = str(item.get("id") or "").split("_")
    for child in nested(item, "comments"):
        first = str(obj(child).get("id") or "").split("_")[0]
        if len(own) == 2 and first:
            return "post" if first == own[1] and first != own[0] else "comment"
    return None


_PROFILE_FIELDS = ("fan_count", "followers_count", "follows_count", "media_count", "biography",
                   "ig_id_of_page", "category_list")


def _is_profile(item: Any) -> bool:
    """A Page or account profile (`?ids=` of pages): no post, no comment, no opinion."""
    return isinstance(item, dict) and any(k in item for k in _PROFILE_FIELDS) and not any(
        k in item for k in ("created_time", "timestamp", "message", "text", "caption"))


# --- YouTube ---------------------------------------------------------------------------------
_YT_POSTS = ("youtube#video", "youtube#playlistItem")


def read_youtube(platform: str, doc: dict, options: Options) -> Found:
    kind = doc.get("kind")
    items = doc.get("items")
    if isinstance(items, list):
        label = f"YouTube {kind}" if isinstance(kind, str) else "YouTube list page"
        found = Found(label, _youtube_pages(items, _youtube_includes(doc, options)))
        found.more = sum(_replies_missing(item) for item in items)
        return found
    if isinstance(kind, str) and kind.startswith("youtube#"):
        found = Found(f"YouTube {kind}", _youtube_pages([doc], _youtube_includes(doc, options)))
        found.more = _replies_missing(doc)
        return found
    return Found("unknown", problem="not a YouTube Data API page or resource (no `items`, no "
                                    "youtube# `kind`)")


def _youtube_includes(doc: dict, options: Options) -> dict:
    """The video a page's items hang under: --post, else the page's own `videoId`."""
    video = options.post or doc.get("videoId") or obj(doc.get("__meta")).get("videoId")
    return {"live": {"videoId": video}, "thread": {"videoId": video}} if isinstance(
        video, str) and video else {}


def _youtube_pages(items: list, includes: dict) -> list[Page]:
    return _pages_by_kind(items, lambda item: "post" if obj(item).get("kind") in _YT_POSTS
                          else "comment", includes)


def _replies_missing(item: Any) -> int:
    """1 when a commentThread carries fewer replies than it counts (comments.list has them)."""
    if not isinstance(item, dict) or item.get("kind") != "youtube#commentThread":
        return 0
    total = obj(item.get("snippet")).get("totalReplyCount")
    carried = obj(item.get("replies")).get("comments")
    return int(isinstance(total, int) and total > len(carried if isinstance(carried, list)
                                                      else []))


def needs_video(found: Found) -> bool:
    """Live chat messages (or replies) that name no video: the import must be told it."""
    return any(not page.includes.get("live") and any(
        isinstance(i, dict) and i.get("kind") == "youtube#liveChatMessage" for i in page.items)
        for page in found.pages)
