"""YouTube Data API v3 pages -> Post / Comment records. Pure: no I/O, no clock.

Items a page may carry (each recognised by its own `kind`):
- youtube#commentThread: the top-level comment plus the replies the thread carries (at most
  5; the collector fetches the rest with comments.list) -> several Comment outcomes;
- youtube#comment: a reply from comments.list (no videoId: the collector names the thread's
  video in `page.includes["thread"]`), or a top-level comment;
- youtube#liveChatMessage: a live chat message on a broadcast (`page.includes["live"]` names
  the video); system events (chatEndedEvent, new members, bans, ...) and Super Chats or
  Super Stickers without words carry no opinion: each is skipped by a counted rule (its
  reason names the event, and the tier of a paid one: amounts would split the counts);
- youtube#video / youtube#playlistItem: the channel's videos, as posts.

Quirks handled here: `textDisplay` is HTML (links, <br>, &#39;) unless the request asked for
plainText, so `textOriginal` is preferred and `textDisplay` goes through `strip_html`;
`updatedAt` != `publishedAt` is an edit; replies are flat on YouTube (parentId is always the
top-level comment); the channel's own replies (or another city channel's) are official.
"""
from __future__ import annotations

from typing import Any, Mapping

from core.shapes import obj
from core.times import parse_time
from normalize.common import (
    Pairs,
    make_comment,
    make_post,
    page_normalizer,
    quarantine,
    skipped,
)
from normalize.schema import Context, Outcome, RawPage
from normalize.text import strip_html

WATCH = "https://www.youtube.com/watch?v="
# Live chat message types that carry a citizen's words; every other type is a system event.
_CHAT_TEXT_TYPES = {"textMessageEvent", "superChatEvent", "memberMilestoneChatEvent"}

class _Bad(Exception):
    """A payload field is missing or malformed: becomes a Quarantine, never escapes."""


def normalize_items(page: RawPage, ctx: Context) -> list[Pairs]:
    """One page of YouTube items -> per item, its (outcome, raw object) pairs."""
    includes = getattr(page, "includes", None) or {}
    return [_item(item, ctx, includes) for item in page.items]


def _item(item: Any, ctx: Context, includes: Mapping) -> Pairs:
    if not isinstance(item, dict):
        return [(quarantine("youtube item is not a JSON object"), {"item": item})]
    kind = item.get("kind")
    try:
        if kind == "youtube#commentThread":
            return _thread(item, ctx)
        if kind == "youtube#comment":
            return [(_comment(item, ctx, includes), item)]
        if kind == "youtube#liveChatMessage":
            return _chat(item, ctx, includes)
        if kind in ("youtube#video", "youtube#playlistItem"):
            return [(_post(item, ctx), item)]
        return [(quarantine(f"unknown youtube item kind {kind!r}", _id(item)), item)]
    except _Bad as exc:
        return [(quarantine(str(exc), _id(item)), item)]


normalize_page = page_normalizer(normalize_items)


# --- helpers ---------------------------------------------------------------------------------
def _id(item: Mapping) -> str | None:
    value = item.get("id")
    return value if isinstance(value, str) and value else None


def _need_id(item: Mapping, what: str) -> str:
    value = _id(item)
    if value is None:
        raise _Bad(f"{what} without an id")
    return value


def _snippet(item: Mapping, what: str) -> dict:
    snippet = item.get("snippet")
    if not isinstance(snippet, dict):
        raise _Bad(f"{what} without a snippet")
    return snippet


def _time(value: Any, field: str, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise _Bad(f"{what} without {field}")
    try:
        return parse_time(value)
    except ValueError:
        raise _Bad(f"{what} has an unreadable {field} {value!r}") from None


def _text(snippet: Mapping, what: str) -> str:
    """The comment's words: textOriginal as typed, else textDisplay without its HTML."""
    original = snippet.get("textOriginal")
    if isinstance(original, str):
        return original
    display = snippet.get("textDisplay")
    if isinstance(display, str):
        return strip_html(display)
    raise _Bad(f"{what} without textOriginal or textDisplay")


def _author_id(snippet: Mapping) -> str | None:
    author = snippet.get("authorChannelId")
    if isinstance(author, dict):
        author = author.get("value")
    return author if isinstance(author, str) and author else None


def _is_official(author_id: str | None, ctx: Context) -> bool:
    return bool(author_id) and (author_id == ctx.account_native_id
                                or author_id in ctx.official_ids)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _url(video: str | None, comment: str | None = None) -> str | None:
    if not video:
        return None
    return WATCH + video + (f"&lc={comment}" if comment else "")


# --- comments --------------------------------------------------------------------------------
def _thread(item: dict, ctx: Context) -> Pairs:
    """A commentThread: its top-level comment and the replies it carries."""
    thread_id = _need_id(item, "commentThread")
    snippet = _snippet(item, "commentThread")
    video = _str(snippet.get("videoId"))
    pairs: Pairs = []
    top = snippet.get("topLevelComment")
    # The thread minus its replies is the top-level comment's raw object (replies keep their own).
    raw_top = {k: v for k, v in item.items() if k != "replies"}
    if isinstance(top, dict):
        try:
            record = _comment(top, ctx, {}, video=video,
                              reply_count=snippet.get("totalReplyCount"))
            pairs.append((record, raw_top))
        except _Bad as exc:
            pairs.append((quarantine(f"top-level comment: {exc}", thread_id), raw_top))
    else:
        # The top-level comment is gone (deleted or withheld): keep the payload, delete nothing.
        pairs.append((quarantine("commentThread without its topLevelComment", thread_id), raw_top))
    replies = item.get("replies")
    comments = replies.get("comments") if isinstance(replies, dict) else None
    for reply in comments if isinstance(comments, list) else ():
        if not isinstance(reply, dict):
            pairs.append((quarantine("reply is not a JSON object", thread_id), {"reply": reply}))
            continue
        try:
            pairs.append((_comment(reply, ctx, {}, video=video, parent=thread_id), reply))
        except _Bad as exc:
            pairs.append((quarantine(str(exc), _id(reply)), reply))
    return pairs


def _comment(item: dict, ctx: Context, includes: Mapping, *, video: str | None = None,
             parent: str | None = None, reply_count: Any = None) -> Outcome:
    """A comment resource (top-level or reply)."""
    native = _need_id(item, "comment")
    snippet = _snippet(item, "comment")
    created = _time(snippet.get("publishedAt"), "publishedAt", "comment")
    updated = snippet.get("updatedAt")
    edited = None
    if isinstance(updated, str) and updated:
        try:
            edited = parse_time(updated)
        except ValueError:
            edited = None
        if edited == created:
            edited = None
    thread = includes.get("thread") if isinstance(includes, Mapping) else None
    video = (video or _str(snippet.get("videoId"))
             or (_str(thread.get("videoId")) if isinstance(thread, Mapping) else None))
    parent = _str(snippet.get("parentId")) or parent
    author = _author_id(snippet)
    return make_comment(
        ctx, native_id=native, post_native=video, parent_native=parent, author_id=author,
        author_name=_str(snippet.get("authorDisplayName")),
        is_official=_is_official(author, ctx), text=_text(snippet, "comment"),
        created_at=created, edited_at=edited, like_count=snippet.get("likeCount"),
        reply_count=reply_count, url=_url(video, native),
    )


def _chat(item: dict, ctx: Context, includes: Mapping) -> Pairs:
    """A live chat message; system events carry no opinion and give no outcome."""
    native = _need_id(item, "liveChatMessage")
    snippet = _snippet(item, "liveChatMessage")
    kind = snippet.get("type")
    if kind is not None and not isinstance(kind, str):
        raise _Bad(f"liveChatMessage with a type of {type(kind).__name__}")
    details = snippet.get("textMessageDetails")
    text = details.get("messageText") if isinstance(details, dict) else None
    if kind == "superChatEvent":
        extra = snippet.get("superChatDetails")
        text = extra.get("userComment") if isinstance(extra, dict) else None
    elif kind == "memberMilestoneChatEvent":
        extra = snippet.get("memberMilestoneChatDetails")
        text = extra.get("userComment") if isinstance(extra, dict) else None
    if kind is not None and kind not in _CHAT_TEXT_TYPES and not isinstance(details, dict):
        if kind == "superStickerEvent":
            return [(skipped(f"live chat Super Sticker{_paid(snippet)}: no words", native), item)]
        return [(skipped(f"live chat system event ({kind})", native), item)]
    if not isinstance(text, str) or not text:
        text = snippet.get("displayMessage") if kind == "textMessageEvent" or kind is None else None
    if not isinstance(text, str) or not text:
        if kind in ("superChatEvent", "memberMilestoneChatEvent"):
            # paid without words: nothing a department can answer
            what = "Super Chat" if kind == "superChatEvent" else "membership milestone"
            return [(skipped(f"live chat {what} without a message{_paid(snippet)}", native),
                     item)]
        raise _Bad("live chat text message without messageText or displayMessage")
    created = _time(snippet.get("publishedAt"), "publishedAt", "liveChatMessage")
    author = obj(item.get("authorDetails"))
    author_id = _str(author.get("channelId")) or _str(snippet.get("authorChannelId"))
    official = author.get("isChatOwner") is True or _is_official(author_id, ctx)
    live = includes.get("live") if isinstance(includes, Mapping) else None
    video = _str(live.get("videoId")) if isinstance(live, Mapping) else None
    record = make_comment(
        ctx, native_id=native, post_native=video, parent_native=None, author_id=author_id,
        author_name=_str(author.get("displayName")), is_official=official, text=text,
        created_at=created, url=_url(video),
    )
    return [(record, item)]


def _paid(snippet: Mapping) -> str:
    """' (tier 2)' style note of a paid event: the tier groups the counts, not the amount."""
    for key in ("superChatDetails", "superStickerDetails"):
        details = snippet.get(key)
        if isinstance(details, dict) and details.get("tier") is not None:
            return f" (tier {details.get('tier')})"
    return ""


# --- posts -----------------------------------------------------------------------------------
def _post(item: dict, ctx: Context) -> Outcome:
    """A video (videos.list) or playlistItem (playlistItems.list) of the channel."""
    snippet = _snippet(item, "video")
    if item.get("kind") == "youtube#playlistItem":
        details = obj(item.get("contentDetails"))
        resource = obj(snippet.get("resourceId"))
        native = _str(details.get("videoId")) or _str(resource.get("videoId"))
        if native is None:
            raise _Bad("playlistItem without a videoId")
        published = details.get("videoPublishedAt") or snippet.get("publishedAt")
        stats: dict = {}
    else:
        native = _need_id(item, "video")
        published = snippet.get("publishedAt")
        stats = obj(item.get("statistics"))
    created = _time(published, "publishedAt", "video")
    title = _str(snippet.get("title"))
    description = snippet.get("description")
    return make_post(
        ctx, native_id=native, text=description if isinstance(description, str) else "",
        created_at=created, title=title, url=_url(native),
        like_count=stats.get("likeCount"), comment_count=stats.get("commentCount"),
    )
