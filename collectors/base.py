"""The collector interface: collectors fetch and nothing else.

A collector's `pages(account, cursors)` yields events, in the order they must be stored:

| event | what it is | what the store does with it, in ONE transaction |
| --- | --- | --- |
| `Page` | raw objects of one API response (kind, items, includes), maybe with the cursor the page advances | its rows, quarantine and skips; its cursor; its spend's units |
| `Checkpoint` | a cursor with no data: a stream advanced after the rows that justify it were yielded | the cursor; its spend's units |
| `ScanComplete` | every live comment of one post has been seen this run | tombstones for that post's stored comments not seen this run (none if the scan met an unreadable payload); its spend's units |
| `Spend` | HTTP requests and quota units that brought nothing to store (a failed call, a chat that ended) | the units, on the quota ledger |

Every event carries the `Spend` of the requests made since the previous event (`spent`), so
quota units reach the ledger in the transaction of what they fetched. `NewestFirst` is the
cursor rule of a stream read newest first: use it for any such stream.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Literal, Mapping, Protocol, Union

from core.accounts import Account


@dataclass(frozen=True)
class Cursor:
    """Where a stream resumes: the value is the platform's own (since_id, time, page token)."""

    stream: str
    value: str


@dataclass(frozen=True)
class Spend:
    """HTTP requests made and quota units spent (YouTube's; 0 where a platform counts none).

    Carried by every event (`spend=`) for the requests made since the previous event; yielded
    alone when those requests brought nothing to store (a call that failed, a live chat that
    ended). The units are written to the quota ledger in the event's own transaction; the
    requests are counted in the run's row.
    """

    requests: int = 0
    units: int = 0

    def __bool__(self) -> bool:
        return bool(self.requests or self.units)


NOTHING_SPENT = Spend()


@dataclass(frozen=True)
class Page:
    """One API response worth of raw objects: the only event with data.

    kind: what the items are ("post": posts, videos, media; "comment": comments, replies,
    mentions, chat messages). items: the platform's own JSON objects, untouched; every one
    is stored, quarantined or skipped by a counted rule. includes: what the items refer to
    that is not in them (X's expansions, the post a comment page belongs to, ...).
    cursor: set on the page that ends a pass (or on every page of a stream resumed by page
    token): committed in the SAME transaction as the page's rows, so a stored cursor never
    points past rows that are not stored. A cursor that follows rows already yielded is a
    `Checkpoint`.
    """

    kind: Literal["post", "comment"]
    items: list[dict]
    cursor: Cursor | None = None
    includes: Mapping = field(default_factory=dict)
    spend: Spend = NOTHING_SPENT  # requests / units spent to get this page


@dataclass(frozen=True)
class Checkpoint:
    """A cursor with no data, stored in its own transaction after the events before it.

    Yield it where a stream's cursor may move only after more than one page was stored: e.g.
    the posts cursor of a Graph account, after every post's comment scan of the run (a run
    that dies half-way then re-scans the same posts), or a resolved id kept for later runs.
    """

    cursor: Cursor
    spend: Spend = NOTHING_SPENT


@dataclass(frozen=True)
class ScanComplete:
    """Every live comment of the post `post` (its native id) has been seen this run.

    Yield it right after the post's last comment page (and its replies' pages), and only when
    the scan read everything the platform serves for that post: the stored comments of the
    post not seen this run become tombstones. Stored in its own transaction: if the run dies
    between the last page and it, no tombstone is written (a deleted comment stays live a
    run longer; nothing is lost). Commit the cursor that moves past the post only AFTER it (a
    later Checkpoint), so the next run re-scans the post and completes the scan. If a page
    since the previous ScanComplete had a payload that could not be read (quarantined), the
    store tombstones nothing for this post (the payload may be one of its comments).
    """

    post: str
    spend: Spend = NOTHING_SPENT


# What a collector yields (see the module docstring).
Event = Union[Page, Checkpoint, ScanComplete, Spend]


def spent(event: Event) -> Spend:
    """The requests and units an event accounts for."""
    return event if isinstance(event, Spend) else event.spend


def _same(value: str) -> Any:
    return value


class NewestFirst:
    """The cursor rule of a stream read newest first, for one pass (one object per pass).

    The stored cursor names the newest item stored (`previous`: a time, an id, "time|id").
    A pass reads from the newest item down; it has *reached* the previous cursor when it
    sees that very value or one ordered before it (`order`: a sort key of a value; ISO UTC
    times sort as text, X ids by `core.shapes.id_order`). Until the pass reached it or
    its end (the list ended, a page limit, or a `since` the API applies itself), items newer
    than the previous cursor may still be unread, so the cursor must not move: a run that
    died half-way would skip them for ever. After that, the cursor moves to the newest value
    seen (never backwards), once per pass.

        newest = NewestFirst("videos", cursors.get("videos"))
        for each page:  for each item: newest.see(its value)
                        yield Page(..., cursor=newest.cursor(end=this page is the last))
        ... or, when the cursor must wait for later scans: yield from newest.checkpoint(end=True)
    """

    def __init__(self, stream: str, previous: str | None,
                 order: Callable[[str], Any] = _same):
        self.stream, self.previous, self.order = stream, previous, order
        self.newest = previous
        self.reached = False  # the pass saw the previous cursor or something older
        self._key = self._previous_key = order(previous) if previous is not None else None
        self._moved = False
        self._given = False

    def see(self, value: str | None) -> bool:
        """Note one item's value (None: an item without one); True when it is the previous
        cursor or older, i.e. the pass has reached what earlier runs stored."""
        if value is None:
            return False
        key = self.order(value)
        # ties in `order` go to the greater value: the cursor does not depend on listing order
        if self.newest is None or (key, value) > (self._key, self.newest):
            self.newest, self._key, self._moved = value, key, True
        if self.previous is None:
            return False
        if value == self.previous or key < self._previous_key:
            self.reached = True
            return True
        return False

    def cursor(self, end: bool = False) -> Cursor | None:
        """The cursor to commit now, or None: given once per pass, only once the pass reached
        the previous cursor or its `end`, and only if it moved past the previous value."""
        if self._given or not self._moved or not (end or self.reached):
            return None
        assert self.newest is not None
        self._given = True
        return Cursor(self.stream, self.newest)

    def checkpoint(self, end: bool = False) -> Iterator[Checkpoint]:
        """`cursor()` as the Checkpoint to yield (none if there is no cursor to commit)."""
        cursor = self.cursor(end)
        if cursor is not None:
            yield Checkpoint(cursor)


class Collector(Protocol):
    """One per platform, built from the accounts and a client."""

    platform: str

    def pages(self, account: Account, cursors: Mapping[str, str]) -> Iterator[Event]:
        """Yield the account's events (Page, Checkpoint, ScanComplete, Spend), newest first
        per stream; cursors maps stream -> stored value."""
        ...
