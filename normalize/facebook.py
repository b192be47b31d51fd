"""Facebook Page posts and comments (Graph API) -> posts and comments. Pure: no I/O, no clock.

Quirks handled here (each has a test in tests/test_facebook.py):
- Graph times are '2021-08-10T18:45:03+0000': stored as ISO UTC with Z (`graph_time`).
- `from` is omitted unless the token is a Page token of the page: the comment is stored with
  author_key None and is_official 0 (we cannot tell who wrote it; a city answer read without
  `from` therefore counts as a citizen's comment until re-read with a Page token).
- `id` is omitted under Page Public Content Access: the id is rebuilt from `permalink_url`
  (`comment_id` / `reply_comment_id`, Graph's '{post}_{comment}' form, which also gives the
  parent of a reply); without a usable permalink the comment is quarantined.
- The post of a comment: `page.includes["post_id"]` (the collector reads comments per post),
  else '{page id}_{first part of the comment id}'.
- `parent{id}` -> parent_id (replies with filter=stream); `is_hidden` -> hidden=1;
  `comment_count` -> reply_count; no `message` (photo/sticker only) -> text "" (still a record).
- Posts: `comments` / `reactions` `.summary(true)` total_count -> comment_count / like_count.
- Edits: never from `updated_time`. The Graph API reference of a Page post documents it as
  "the time when the post was last updated, which occurs when the post was created, edited,
  or a user comments on a post" (developers.facebook.com/docs/graph-api/reference/pagepost),
  so it moves with every comment (17 of 23 real posts looked edited). Neither a post nor a
  comment has a documented edit time, so edited_at stays NULL on Facebook; a text that
  changes on a re-fetch keeps its earlier version in table `versions` (store/db.py).
- Nested comments: a feed or post fetched with `comments{...}` carries each post's comments
  (and their `comments` replies) inside it: each becomes its own comment under its post and
  parent, with its own raw object (the post's raw object keeps the rest of the field).
"""
from __future__ import annotations

from typing import Any, Mapping

from normalize.common import Pairs, make_comment, make_post, page_normalizer, quarantine
from normalize.graph import (
    fb_ids_from_permalink,
    graph_time,
    is_official,
    nested,
    obj,
    post_head,
    str_id,
    summary_count,
    text_of,
    without_nested,
)
from normalize.schema import Context, Outcome, Quarantine, RawPage


def normalize_items(page: RawPage, ctx: Context) -> list[Pairs]:
    """Every post or comment of one page (with what is nested in it), each paired with its
    raw object."""
    includes = page.includes or {}
    groups: list[Pairs] = []
    for item in page.items:
        if page.kind == "post":
            pairs: Pairs = [(normalize_post(item, ctx), without_nested(item, "comments"))]
            post = str_id(obj(item).get("id"))
            for comment in nested(item, "comments"):
                pairs.extend(_with_replies(comment, ctx, {**includes, "post_id": post}))
            groups.append(pairs)
        else:
            groups.append(_with_replies(item, ctx, includes))
    return groups


normalize_page = page_normalizer(normalize_items)


def _with_replies(item: Any, ctx: Context, includes: Mapping) -> list[tuple[Outcome, Any]]:
    """A comment and the replies nested in it (`comments{...}` on a comment)."""
    out: list[tuple[Outcome, Any]] = [(normalize_comment(item, ctx, includes),
                                       without_nested(item, "comments"))]
    replies = nested(item, "comments")
    if replies:
        parent = str_id(obj(item).get("id"))
        for reply in replies:
            if parent is None:
                out.append((quarantine("Graph reply under a comment without an id",
                                       obj(reply).get("id")), reply))
            else:
                out.append((normalize_comment(reply, ctx, {**includes, "parent_id": parent}),
                            reply))
    return out


def normalize_post(item: Any, ctx: Context) -> Outcome:
    """One of the page's own posts."""
    head = post_head(item, "Graph post", "created_time")
    if isinstance(head, Quarantine):
        return head
    native, created = head
    return make_post(
        ctx, native_id=native, text=text_of(item.get("message")), created_at=created,
        url=item.get("permalink_url") if isinstance(item.get("permalink_url"), str) else None,
        like_count=summary_count(item.get("reactions")),
        comment_count=summary_count(item.get("comments")),
    )


def normalize_comment(item: Any, ctx: Context, includes: Mapping | None = None) -> Outcome:
    """One comment or reply (from `/{post-id}/comments?filter=stream`)."""
    includes = includes or {}
    if not isinstance(item, dict):
        return quarantine(f"Graph comment is a {type(item).__name__}, not an object")
    post_native = str_id(includes.get("post_id"))
    post_object = post_native.split("_")[-1] if post_native else None
    native = str_id(item.get("id"))
    derived_parent = None
    if native is None:
        native, derived_parent = fb_ids_from_permalink(item.get("permalink_url"), post_object)
        if native is None:
            return quarantine(
                "Graph comment without an id and without a permalink_url to rebuild it from "
                "(the token lacks Page access: Page Public Content Access omits comment ids)")
    created = graph_time(item.get("created_time"))
    if created is None:
        return quarantine(
            f"Graph comment without a usable created_time ({item.get('created_time')!r})", native)
    if post_native is None and "_" in native and ctx.account_native_id:
        post_native = f"{ctx.account_native_id}_{native.split('_')[0]}"
    parent = (str_id(obj(item.get("parent")).get("id")) or derived_parent
              or str_id(includes.get("parent_id")))
    author = obj(item.get("from"))
    author_id = str_id(author.get("id"))
    name = author.get("name") if isinstance(author.get("name"), str) else None
    url = item.get("permalink_url") if isinstance(item.get("permalink_url"), str) else None
    return make_comment(
        ctx, native_id=native, post_native=post_native, parent_native=parent,
        author_id=author_id, author_name=name, is_official=is_official(ctx, author_id),
        text=text_of(item.get("message")), created_at=created,
        like_count=item.get("like_count"), reply_count=item.get("comment_count"), url=url,
        hidden=item.get("is_hidden") is True,
    )
