"""Threads API posts and replies -> posts and comments. Pure: no I/O, no clock.

Quirks handled here (each has a test in tests/test_threads.py):
- Times are '2024-01-01T18:20:00+0000' (`timestamp`): stored as ISO UTC with Z.
- Replies nest to any depth. `root_post` names the post a reply belongs to, `replied_to` its
  immediate parent (each `{"id": ...}`, a bare id string tolerated): a reply to the post
  itself hangs under the post (parent None), any other under the reply it answers. A page of
  `/{reply-id}/replies` (no `replied_to` asked) gets its parent from `includes["parent_id"]`,
  and every page its post from `includes["post_id"]` when the reply does not name it.
- The author: replies carry no user id, only `username` (and only for public users and the
  token's own): author_key from '@username' lower-cased, else None. Official when
  `is_reply_owned_by_me` (the token's user: the account itself) or the username is one of
  the city's handles (another city account answering).
- `hide_status` HIDDEN (the owner hid it) or COVERED (Threads covered it) -> hidden=1;
  NOT_HUSHED, UNHUSHED, BLOCKED, RESTRICTED and absent -> hidden=0.
- Links: the city's own `permalink` is kept. A citizen's permalink names them
  (https://www.threads.net/@user/post/CODE), which would undo the author hash: their link is
  https://www.threads.net/t/CODE (the share form Threads has served since launch, without
  the handle), from `shortcode` or the permalink's code; None when neither says it.
- Posts: `text` (absent on a photo without words) -> ""; the API gives no reply or like
  counts (those are insights, another permission). Reposts (`media_type` REPOST_FACADE:
  another's post shared by the city) are counted skips: nothing of the city's own.
- No `id`, no usable `timestamp` on a reply, anything that is not an object: quarantined.
"""
from __future__ import annotations

import re
from typing import Any, Mapping

from normalize.common import (
    Pairs,
    make_comment,
    make_post,
    page_normalizer,
    quarantine,
    skipped,
)
from normalize.graph import graph_time, obj, post_head, str_id, text_of
from normalize.schema import Context, Outcome, RawPage

HIDDEN_STATUSES = frozenset({"HIDDEN", "COVERED"})
REPOST = "REPOST_FACADE"
CITIZEN_LINK = "https://www.threads.net/t/{code}"
_CODE = re.compile(r"[A-Za-z0-9_-]{1,64}")
_CODE_IN_LINK = re.compile(r"/(?:post|t)/([A-Za-z0-9_-]{1,64})")
# Fields only a reply has (a post of the account's has none of them).
_REPLY_FIELDS = ("replied_to", "root_post", "hide_status", "is_reply_owned_by_me")


def normalize_items(page: RawPage, ctx: Context) -> list[Pairs]:
    """Every post or reply of one page, each paired with its own raw object: a page of
    replies holds replies; on a page of posts an item that names what it answers is one."""
    includes = page.includes or {}
    return [[(normalize_reply(item, ctx, includes), item)]
            if page.kind == "comment" or is_reply(item) else [(normalize_post(item, ctx), item)]
            for item in page.items]


normalize_page = page_normalizer(normalize_items)


def is_reply(item: Any) -> bool:
    """A Threads object that answers another (else a post of the account's)."""
    return isinstance(item, dict) and (
        item.get("is_reply") is True or any(k in item for k in _REPLY_FIELDS))


def normalize_post(item: Any, ctx: Context) -> Outcome:
    """One post of the account (a thread it started)."""
    head = post_head(item, "Threads post", "timestamp")
    if isinstance(head, tuple) and item.get("media_type") == REPOST:
        return skipped("Threads repost: another's post shared by the city, nothing of its own",
                       head[0])
    if not isinstance(head, tuple):
        return head
    native, created = head
    return make_post(ctx, native_id=native, text=text_of(item.get("text")), created_at=created,
                     url=_link(item.get("permalink")))


def normalize_reply(item: Any, ctx: Context, includes: Mapping | None = None) -> Outcome:
    """One reply, at any depth, by a citizen or by the city."""
    includes = includes or {}
    if not isinstance(item, dict):
        return quarantine(f"Threads reply is a {type(item).__name__}, not an object")
    native = str_id(item.get("id"))
    if native is None:
        return quarantine("Threads reply without an id: cannot be stored or de-duplicated")
    created = graph_time(item.get("timestamp"))
    if created is None:
        return quarantine(
            f"Threads reply without a usable timestamp ({item.get('timestamp')!r})", native)
    post = _ref(item.get("root_post")) or str_id(includes.get("post_id"))
    parent = _ref(item.get("replied_to")) or str_id(includes.get("parent_id"))
    if parent == post or parent == native:
        parent = None  # an answer to the post itself hangs under the post
    raw_name = item.get("username")
    username = raw_name.strip().lstrip("@") or None if isinstance(raw_name, str) else None
    official = item.get("is_reply_owned_by_me") is True or bool(
        username and username.lower() in ctx.official_handles)
    return make_comment(
        ctx, native_id=native, post_native=post, parent_native=parent,
        author_id=f"@{username.lower()}" if username else None, author_name=username,
        is_official=official, text=text_of(item.get("text")), created_at=created,
        url=_link(item.get("permalink")) if official else citizen_link(item),
        hidden=isinstance(item.get("hide_status"), str) and item["hide_status"] in HIDDEN_STATUSES,
    )


def citizen_link(item: Mapping) -> str | None:
    """A link to a citizen's reply that names no one: /t/{shortcode}."""
    code = shortcode_of(item)
    return CITIZEN_LINK.format(code=code) if code else None


def shortcode_of(item: Mapping) -> str | None:
    """A post's or reply's shortcode: the field, else the code in its permalink."""
    code = item.get("shortcode")
    if isinstance(code, str) and _CODE.fullmatch(code):
        return code
    link = item.get("permalink")
    match = _CODE_IN_LINK.search(link) if isinstance(link, str) else None
    return match.group(1) if match else None


def _ref(value: Any) -> str | None:
    """A media reference: {"id": "..."} as the API gives it, or a bare id."""
    return str_id(obj(value).get("id")) if isinstance(value, dict) else str_id(value)


def _link(value: Any) -> str | None:
    return value if isinstance(value, str) and value.startswith("https://") else None
