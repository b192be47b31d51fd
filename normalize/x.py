"""X API v2 tweets -> posts and comments. Pure: no I/O, no clock."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Mapping

from normalize.common import make_comment, make_post, quarantine, with_tokens
from normalize.schema import Context, Outcome, RawPage, parse_time, utc_iso

TWITTER_EPOCH_MS = 1288834974657  # snowflake ids carry their creation time since this


def normalize_page(page: RawPage, ctx: Context) -> list[tuple[Outcome, dict]]:
    """Every tweet of a page, with the users its expansions brought."""
    listed = page.includes.get("users")
    users = {u["id"]: u for u in (listed if isinstance(listed, list) else [])
             if isinstance(u, dict) and isinstance(u.get("id"), str)}
    # A timeline page holds the account's own tweets even when fetched without author_id.
    own = page.includes.get("timeline_of") if page.kind == "post" else None
    own = own if isinstance(own, str) else None
    pairs = [(normalize_tweet(t, users, ctx, own), t) for t in page.items]
    return with_tokens(pairs, ctx)


def snowflake_time(tweet_id: str) -> str:
    """A tweet's creation time read from its id (for tweets fetched with default fields)."""
    ms = (int(tweet_id) >> 22) + TWITTER_EPOCH_MS
    return utc_iso(datetime.fromtimestamp(ms / 1000, timezone.utc))


def normalize_tweet(tweet: Any, users: Mapping[str, dict], ctx: Context,
                    timeline_of: str | None = None) -> Outcome:
    """One tweet: a Post when a city account starts a conversation, else a Comment.

    timeline_of: the account's user id when the tweet came from its own timeline.
    """
    if not isinstance(tweet, dict):
        return quarantine(f"tweet is a {type(tweet).__name__}, not an object")
    current = tweet.get("id")
    if not isinstance(current, str) or not (current.isascii() and current.isdigit()):
        return quarantine("tweet without a numeric id")
    if not isinstance(tweet.get("text"), str):
        return quarantine("tweet without text", current)
    refs = _references(tweet)
    if "retweeted" in refs:
        return quarantine("retweet: not an opinion, nothing of the citizen's own", current)
    history = tweet.get("edit_history_tweet_ids")
    # An edit is a new tweet id; the first id of the history names the row for good.
    native = (history[0] if isinstance(history, list) and len(history) > 1 and _ids(history)
              else current)  # (the length first: most histories hold one id)
    try:
        created, edited = _times(tweet, native, current)
    except (ValueError, OverflowError, OSError) as exc:  # odd time, or an id out of range
        return quarantine(f"bad created_at: {exc}", current)
    author_id = tweet.get("author_id") if isinstance(tweet.get("author_id"), str) else None
    author_id = author_id or timeline_of
    author = users.get(author_id) or {}
    username = author.get("username") if isinstance(author.get("username"), str) else None
    official = bool(author_id and author_id in ctx.official_ids) or bool(
        username and username.lower() in ctx.official_handles) or bool(
        timeline_of and author_id == timeline_of)
    url = f"https://x.com/{username or 'i/web'}/status/{native}"
    metrics = tweet.get("public_metrics") if isinstance(tweet.get("public_metrics"), dict) else {}
    replied_to = refs.get("replied_to")
    conversation = tweet.get("conversation_id")
    conversation = conversation if isinstance(conversation, str) and conversation.isdigit() else None
    if official and not replied_to and conversation in (None, native, current):
        return make_post(ctx, native_id=native, text=tweet["text"], created_at=created, url=url,
                         like_count=metrics.get("like_count"),
                         comment_count=metrics.get("reply_count"), edited_at=edited)
    return make_comment(
        ctx, native_id=native,
        post_native=conversation if conversation not in (native, current) else None,
        # A reply straight to the post has no parent comment: it hangs under the post.
        parent_native=replied_to if replied_to != conversation else None, author_id=author_id,
        author_name=(author.get("name") if isinstance(author.get("name"), str) else None)
        or username, is_official=official,
        text=tweet["text"], created_at=created, edited_at=edited,
        like_count=metrics.get("like_count"), reply_count=metrics.get("reply_count"), url=url,
    )


def _references(tweet: dict) -> dict[str, str]:
    refs = tweet.get("referenced_tweets")
    if not isinstance(refs, list):
        return {}
    return {r["type"]: r["id"] for r in refs
            if isinstance(r, dict) and isinstance(r.get("type"), str)
            and isinstance(r.get("id"), str)}


def _ids(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(
        isinstance(v, str) and v.isascii() and v.isdigit() for v in value)


def _times(tweet: dict, native: str, current: str) -> tuple[str, str | None]:
    """created_at of the original and edited_at of this version (None if never edited)."""
    stamp = tweet.get("created_at")
    this_version = parse_time(stamp) if isinstance(stamp, str) else snowflake_time(current)
    if native == current:
        return this_version, None
    return snowflake_time(native), this_version
