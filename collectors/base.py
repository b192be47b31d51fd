"""The collector interface: collectors fetch pages and nothing else."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Literal, Mapping, Protocol

from core.accounts import Account


@dataclass(frozen=True)
class Cursor:
    """Where a stream resumes: the value is the platform's own (since_id, time, page token)."""

    stream: str
    value: str


@dataclass(frozen=True)
class Page:
    """One API response worth of raw objects, and the cursor to store WITH them."""

    kind: Literal["post", "comment"]
    items: list[dict]  # the platform's own JSON objects, untouched
    cursor: Cursor | None = None  # written in the same transaction as the items
    includes: Mapping = field(default_factory=dict)  # expansions (X) the items refer to
    # After this page every live comment of this post (native id) has been seen this run:
    # those not seen become tombstones.
    scanned_post: str | None = None
    requests: int = 1  # HTTP requests spent to get this page
    cost: int = 0  # quota units these requests spent (YouTube), written to the ledger


class Collector(Protocol):
    """One per platform, built from the accounts and a client."""

    platform: str

    def pages(self, account: Account, cursors: Mapping[str, str]) -> Iterator[Page]:
        """Yield pages newest-first per stream; cursors maps stream -> stored value."""
        ...
