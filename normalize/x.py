"""X API v2 tweets -> posts and comments. Pure: no I/O, no clock.

Quirks handled here (each has a test in tests/test_x.py or tests/test_real_data.py):
- Text comes HTML-escaped (only &amp; &lt; &gt;): unescaped exactly once, here.
- An edit is a new tweet id; `edit_history_tweet_ids` lists every version, oldest first. The
  row is named by the first id, carries the version id and the history; the store keeps the
  newest version whatever the order of arrival and resolves every id of the history to it.
- Notices: X serves a notice instead of the words when a tweet is withheld, its author
  suspended, protected or removed for a policy. The record then has `restricted` set and
  no text, and the store keeps the words it holds (`restricted` and the countries recorded).
- Retweets (`referenced_tweets` type retweeted, or a bare `RT @user:` text) are quarantined.
- twarc2 `flatten` lines embed the author as `author`: used like an included user.
"""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from typing import Any, Mapping

from core.shapes import obj
from core.times import parse_time, utc_iso
from normalize.common import Pairs, make_comment, make_post, page_normalizer, quarantine
from normalize.schema import (
    Compliance,
    Context,
    Outcome,
    RawPage,
    Skipped,
    id_order,
)

TWITTER_EPOCH_MS = 1288834974657  # snowflake ids carry their creation time since this


def normalize_items(page: RawPage, ctx: Context) -> list[Pairs]:
    """Every tweet of a page, with the users its expansions brought."""
    listed = page.includes.get("users")
    users = {u["id"]: u for u in (listed if isinstance(listed, list) else [])
             if isinstance(u, dict) and isinstance(u.get("id"), str)}
    for uid, kind in _user_errors(page.includes.get("errors")).items():
        users.setdefault(uid, {"id": uid, "__restricted": kind})
    # A timeline page holds the account's own tweets even when fetched without author_id.
    own = page.includes.get("timeline_of") if page.kind == "post" else None
    own = own if isinstance(own, str) else None
    return [[(normalize_tweet(t, users, ctx, own), t)] for t in page.items]


normalize_page = page_normalizer(normalize_items)


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
    if "retweeted" in refs or tweet["text"].startswith("RT @"):
        return quarantine("retweet: not an opinion, nothing of the citizen's own", current)
    listed = tweet.get("edit_history_tweet_ids")
    # An edit is a new tweet id; the first id of the history names the row for good.
    history: list[str] | None = (  # (the length first: most histories hold one id)
        listed if isinstance(listed, list) and len(listed) > 1 and _ids(listed) else None)
    native = history[0] if history else current
    if history and current not in history:
        history = [*history, current]
    try:
        created, edited = _times(tweet, native, current)
    except (ValueError, OverflowError, OSError) as exc:  # odd time, or an id out of range
        return quarantine(f"bad created_at: {exc}", current)
    author_id = tweet.get("author_id") if isinstance(tweet.get("author_id"), str) else None
    author_id = author_id or timeline_of
    embedded = tweet.get("author") if isinstance(tweet.get("author"), dict) else None
    author = (users.get(author_id) if author_id else None) or embedded or {}
    author_id = author_id or (author.get("id") if isinstance(author.get("id"), str) else None)
    restricted, countries, text = restriction(tweet, author)
    versions: dict[str, Any] = {
        "restricted": restricted, "restricted_countries": countries,
        "version_id": current,  # an unedited tweet is its first version
        "edit_ids": json.dumps(sorted(set(history), key=id_order)) if history else None}
    username = author.get("username") if isinstance(author.get("username"), str) else None
    official = bool(author_id and author_id in ctx.official_ids) or bool(
        username and username.lower() in ctx.official_handles) or bool(
        timeline_of and author_id == timeline_of)
    # A citizen's link names no one: the handle would undo the author hash.
    url = f"https://x.com/{(username if official else None) or 'i/web'}/status/{native}"
    metrics = obj(tweet.get("public_metrics"))
    replied_to = refs.get("replied_to")
    conversation = tweet.get("conversation_id")
    conversation = conversation if isinstance(conversation, str) and conversation.isdigit() else None
    if official and not replied_to and conversation in (None, native, current):
        return make_post(ctx, native_id=native, text=text, created_at=created, url=url,
                         like_count=metrics.get("like_count"),
                         comment_count=metrics.get("reply_count"), edited_at=edited, **versions)
    return make_comment(
        ctx, native_id=native,
        post_native=conversation if conversation not in (native, current) else None,
        # A reply straight to the post has no parent comment: it hangs under the post.
        parent_native=replied_to if replied_to != conversation else None, author_id=author_id,
        author_name=(author.get("name") if isinstance(author.get("name"), str) else None)
        or username, is_official=official,
        text=text, created_at=created, edited_at=edited,
        like_count=metrics.get("like_count"), reply_count=metrics.get("reply_count"), url=url,
        **versions,
    )


# What X serves in place of the words (API v2 and the web's wording, "Tweet" or "Post"),
# and the restriction each notice stands for.
_NOTICE = re.compile(
    r"^(?:this (?:tweet|post) (?:is from an account that is temporarily unavailable"
    r"(?P<media_policy>.*media policy)?|is from a (?P<suspended>suspended) account"
    r"|is from an account that (?P<deactivated>no longer exists)"
    r"|(?P<withheld>has been withheld)|(?P<deleted>was deleted)"
    r"|(?P<rules_violation>violated the (?:twitter|x) rules)|is (?P<unavailable>unavailable))"
    r"|you(?:'|\u2019)re unable to view this (?:tweet|post)(?P<protected>)"
    # what twarc2 search served for a whole account (real: tests/fixtures/twarc2); a group
    # name is the restriction it stands for (a trailing _: the same kind twice)
    r"|@\w{1,15}(?:'|\u2019)s account is temporarily unavailable(?P<media_policy_>.*media policy)?)",
    re.I | re.S)


def unescape(text: str) -> str:
    """X's text with its three HTML entities decoded, once (a typed '&amp;lt;' stays '&lt;')."""
    if "&" not in text:
        return text
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def restriction(tweet: Mapping, author: Mapping) -> tuple[str | None, str | None, str]:
    """(restriction kind, countries, text): a notice's text is "" (never an opinion)."""
    text = unescape(tweet["text"]) if isinstance(tweet.get("text"), str) else ""
    withheld = tweet.get("withheld") if isinstance(tweet.get("withheld"), dict) else None
    withheld = withheld or (author.get("withheld") if isinstance(author.get("withheld"), dict)
                            else None)
    codes = withheld.get("country_codes") if withheld is not None else None
    countries = ",".join(sorted(c for c in codes if isinstance(c, str))) if isinstance(
        codes, list) and codes else None
    notice = _NOTICE.match(text.strip())
    kind = None
    if notice:
        kind = next((k for k, v in notice.groupdict().items() if v is not None), "unavailable")
        kind, text = kind.rstrip("_"), ""
    elif withheld is not None:
        kind = "withheld"
    elif isinstance(author.get("__restricted"), str):
        kind = author["__restricted"]
    elif author.get("protected") is True:
        kind = "protected"
    return kind, countries, text if text.strip() else ""


def _user_errors(errors: Any) -> dict[str, str]:
    """Authors a page's `errors` say are suspended or gone: user id -> restriction kind."""
    found: dict[str, str] = {}
    for error in errors if isinstance(errors, list) else ():
        if not isinstance(error, dict) or error.get("resource_type") != "user":
            continue
        uid = error.get("resource_id") or error.get("value")
        detail = str(error.get("detail") or "").lower()
        if isinstance(uid, str) and uid.isdigit():
            found[uid] = "suspended" if "suspended" in detail else "unavailable"
    return found



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


# --- compliance ------------------------------------------------------------------------------
# Batch compliance results say "delete" for each of these reasons (the developer terms ask
# that what an author deleted, protected or lost with the account be removed); scrub_geo
# asks to drop geo data, which we never store.
_DELETE_REASONS = ("deleted", "suspended", "protected", "deactivated")


def compliance_event(doc: Mapping) -> Compliance | Skipped | None:
    """One line of X compliance output, or None when the line is not compliance output.

    Batch job results: {"id", "action": "delete", "reason", "created_at", "redacted_at"}.
    Compliance stream: {"data": {"delete" | "withheld": {"tweet": {"id", "author_id"},
    "event_at", "withheld_in_countries"}}}.
    """
    data = doc.get("data")
    if isinstance(data, Mapping) and len(data) == 1 and isinstance(data.get(
            next(iter(data))), Mapping) and isinstance(data[next(iter(data))].get("tweet"),
                                                         Mapping):
        action, event = next(iter(data.items()))
        return _event(action, event["tweet"].get("id"), action, event.get("event_at"),
                      event.get("withheld_in_countries"))
    if isinstance(doc.get("action"), str) and "id" in doc and "text" not in doc:
        return _event(doc["action"], doc.get("id"), doc.get("reason"),
                      doc.get("redacted_at") or doc.get("created_at"),
                      doc.get("withheld_in_countries"))
    return None


def _event(action: str, native: Any, reason: Any, at: Any,
           countries: Any) -> Compliance | Skipped:
    native = str(native) if isinstance(native, (str, int)) and str(native).isdigit() else None
    reason = reason if isinstance(reason, str) else action
    if native is None:
        return Skipped(f"X compliance {action} without a tweet id")
    try:
        stamp = parse_time(at) if isinstance(at, str) else None
    except ValueError:
        stamp = None
    if action == "withheld" or reason == "withheld":
        where = ",".join(sorted(c for c in countries if isinstance(c, str))) if isinstance(
            countries, list) else None
        return Compliance("withheld", native, "withheld", where or None, stamp)
    if action == "delete" or action in _DELETE_REASONS:
        return Compliance("delete", native, reason, None, stamp)
    return Skipped(f"X compliance {action} ({reason}): nothing we store", native)
