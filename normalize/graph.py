"""What the Facebook and Instagram normalizers share (both speak the Graph API). Pure."""
from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from core.shapes import nested, obj
from core.times import parse_time
from normalize.common import quarantine
from normalize.schema import Context, Quarantine


def graph_time(value: Any) -> str | None:
    """A Graph time ('2021-08-10T18:45:03+0000') as ISO UTC with Z; None when unusable."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return parse_time(value)
    except ValueError:
        return None


def text_of(value: Any) -> str:
    """A message / caption / text field; absent (photo or sticker only) becomes ""."""
    return value if isinstance(value, str) else ""


def str_id(value: Any) -> str | None:
    """A usable Graph id (a non-empty string; Graph ids are strings, ints are tolerated)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def summary_count(edge: Any) -> Any:
    """`total_count` of an edge asked with `.summary(true)` (comments, reactions)."""
    return obj(obj(edge).get("summary")).get("total_count")


def is_official(ctx: Context, author_id: str | None, username: str | None = None) -> bool:
    """The author is one of the city's accounts (by native id, or by handle on Instagram)."""
    if author_id and author_id in ctx.official_ids:
        return True
    if author_id and ctx.account_native_id and author_id == ctx.account_native_id:
        return True
    return bool(username and username.lower().lstrip("@") in ctx.official_handles)


def fb_ids_from_permalink(url: Any, post_object: str | None) -> tuple[str | None, str | None]:
    """(comment id, parent id) read from a comment's permalink_url, when Graph left out `id`.

    Facebook comment ids are '{post object id}_{comment object id}'; a permalink is
    `https://www.facebook.com/{page}/posts/{post object id}/?comment_id={top-level comment}`
    plus `&reply_comment_id={reply}` for a reply. Returns (None, None) when it does not say.
    """
    if not isinstance(url, str):
        return None, None
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    segments = [s for s in parts.path.split("/") if s]
    if "posts" in segments and segments.index("posts") + 1 < len(segments):
        post_object = segments[segments.index("posts") + 1]
    if not post_object or not post_object.isdigit():
        return None, None
    top = (query.get("comment_id") or [""])[0]
    reply = (query.get("reply_comment_id") or [""])[0]
    if not top or not top.isdigit():
        return None, None
    if reply and reply.isdigit():
        return f"{post_object}_{reply}", f"{post_object}_{top}"
    return f"{post_object}_{top}", None


def post_head(item: Any, label: str, time_key: str) -> tuple[str, str | None] | Quarantine:
    """A post's or media's native id and creation time, or why it cannot be stored."""
    if not isinstance(item, dict):
        return quarantine(f"{label} is a {type(item).__name__}, not an object")
    native = str_id(item.get("id"))
    if native is None:
        return quarantine(f"{label} without an id")
    created = graph_time(item.get(time_key))
    if item.get(time_key) is not None and created is None:
        return quarantine(f"{label} with a bad {time_key} {item.get(time_key)!r}", native)
    return native, created


def without_nested(item: Any, edge: str) -> Any:
    """The item minus the objects of its expansion (they keep their own raw payloads)."""
    if not isinstance(item, dict) or not nested(item, edge):
        return item
    rest = {k: v for k, v in item[edge].items() if k != "data"}
    return {**item, edge: rest}
