"""Instagram media and comments (Graph API) -> posts and comments. Pure: no I/O, no clock.

Quirks handled here (each has a test in tests/test_instagram.py):
- Times are '2020-06-01T10:56:52+0000' (`timestamp`): stored as ISO UTC with Z.
- Replies come nested in their top-level comment (`replies{...}`): each becomes its own
  comment with parent_id = that comment, paired with its own raw object; a page of
  `/{comment-id}/replies` gets its parent from `page.includes["parent_id"]`.
- The author: `from{id,username}` when asked, else `username` alone, else nothing (default
  fields carry neither): author_key from `from.id`, else from '@username', else None.
  Official = `from.id` among the city's ids or `username` among the city's handles.
- No `id` -> quarantined (an Instagram comment id cannot be rebuilt); no `text` -> "".
- `hidden: true` -> hidden=1. Media: `caption` (absent on many) -> text "", `comments_count`
  -> comment_count (Instagram counts replies too), `like_count`, `permalink`.
- Media fetched with `comments{...}` carry their comments (and replies) inside: each becomes a
  comment under the media, with its own raw object.
- A page of mentions (`page.includes["mention"]`: what `mentioned_media` serves) holds
  citizens' media naming the city: unless its author is the city, such a media is an
  opinion, stored as a comment with its caption and no post. `mentioned_comment` is a
  comment (on the citizen's media named by its `media`).
"""
from __future__ import annotations

from typing import Any, Mapping

from normalize.common import Pairs, make_comment, make_post, page_normalizer, quarantine
from normalize.graph import (
    graph_time,
    is_official,
    nested,
    obj,
    post_head,
    str_id,
    text_of,
    without_nested,
)
from normalize.schema import Context, Outcome, Quarantine, RawPage


def normalize_items(page: RawPage, ctx: Context) -> list[Pairs]:
    """Every media or comment (with its nested replies) of one page, paired with raw objects."""
    includes = page.includes or {}
    groups: list[Pairs] = []
    for item in page.items:
        if page.kind == "post" or is_media(item):
            pairs: Pairs = [(normalize_media(item, ctx, bool(includes.get("mention"))),
                             without_nested(item, "comments"))]
            media = str_id(obj(item).get("id"))
            for comment in nested(item, "comments"):
                pairs.extend(normalize_comment(comment, ctx, {**includes, "post_id": media}))
            groups.append(pairs)
        else:
            groups.append(normalize_comment(item, ctx, includes))
    return groups


normalize_page = page_normalizer(normalize_items)


def normalize_media(item: Any, ctx: Context, mention: bool = False) -> Outcome:
    """One media of the account (or, on a page of mentions, a citizen's)."""
    head = post_head(item, "Instagram media", "timestamp")
    if isinstance(head, Quarantine):
        return head
    native, created = head
    username = item.get("username") if isinstance(item.get("username"), str) else None
    owner = str_id(obj(item.get("owner")).get("id"))
    if mention and not is_official(ctx, owner, username):
        if created is None:
            return quarantine("Instagram mention (media) without a timestamp", native)
        return make_comment(  # a citizen's media naming the city: an opinion
            ctx, native_id=native, post_native=None, parent_native=None,
            author_id=owner or (f"@{username.lower()}" if username else None),
            author_name=username, is_official=False, text=text_of(item.get("caption")),
            created_at=created, like_count=item.get("like_count"),
            reply_count=item.get("comments_count"),
            url=item.get("permalink") if isinstance(item.get("permalink"), str) else None)
    return make_post(
        ctx, native_id=native, text=text_of(item.get("caption")), created_at=created,
        url=item.get("permalink") if isinstance(item.get("permalink"), str) else None,
        like_count=item.get("like_count"), comment_count=item.get("comments_count"),
    )


def normalize_comment(item: Any, ctx: Context,
                      includes: Mapping | None = None) -> list[tuple[Outcome, Any]]:
    """A comment and its nested replies, each paired with its own raw object."""
    includes = includes or {}
    media = obj(obj(item).get("media"))  # a comment asked with `media` names its media
    post_native = str_id(includes.get("post_id")) or str_id(media.get("id"))
    parent = str_id(includes.get("parent_id"))
    out = [(_comment(item, ctx, post_native, parent), without_nested(item, "replies"))]
    if isinstance(item, dict):
        native = str_id(item.get("id"))
        replies = obj(item.get("replies")).get("data")
        for reply in replies if isinstance(replies, list) else []:
            if native is None:
                out.append((quarantine("Instagram reply under a comment without an id",
                                       obj(reply).get("id")), reply))
            else:
                out.append((_comment(reply, ctx, post_native, native), reply))
    return out


# Fields only a media has (a comment has id, text, timestamp, username, like_count, ...).
_MEDIA_FIELDS = ("media_type", "media_url", "caption", "permalink", "comments_count",
                 "media_product_type", "thumbnail_url", "shortcode", "children")


def is_media(item: Any) -> bool:
    """An Instagram object with a field only a media has (else a comment)."""
    return isinstance(item, dict) and any(k in item for k in _MEDIA_FIELDS)


def _comment(item: Any, ctx: Context, post_native: str | None, parent: str | None) -> Outcome:
    if not isinstance(item, dict):
        return quarantine(f"Instagram comment is a {type(item).__name__}, not an object")
    native = str_id(item.get("id"))
    if native is None:
        return quarantine("Instagram comment without an id: cannot be stored or de-duplicated")
    created = graph_time(item.get("timestamp"))
    if created is None:
        return quarantine(
            f"Instagram comment without a usable timestamp ({item.get('timestamp')!r})", native)
    author = obj(item.get("from"))
    username = item.get("username") if isinstance(item.get("username"), str) else None
    username = username or (author.get("username") if isinstance(author.get("username"), str)
                            else None)
    author_id = str_id(author.get("id"))
    replies = obj(item.get("replies"))
    reply_count = None
    if isinstance(replies.get("data"), list) and not obj(replies.get("paging")).get("next"):
        reply_count = len(replies["data"])
    return make_comment(
        ctx, native_id=native, post_native=post_native,
        parent_native=parent or str_id(item.get("parent_id")),
        author_id=author_id or (f"@{username.lower()}" if username else None),
        author_name=username, is_official=is_official(ctx, author_id, username),
        text=text_of(item.get("text")), created_at=created, like_count=item.get("like_count"),
        reply_count=reply_count, hidden=item.get("hidden") is True,
    )
