"""The one schema: records every platform's normalizer returns, and the context it is given."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Mapping, NamedTuple, Protocol, Union

from core.shapes import id_order  # noqa: F401 - here too for the normalizers and the store

if TYPE_CHECKING:
    from normalize.tags import Tagger


# Records are typed tuples: they travel as they are from the normalizer (maybe in a worker
# process: a NamedTuple pickles ~10x cheaper than a dataclass) to the store, whose rows
# hold their fields in this order.
class Post(NamedTuple):
    """A post, tweet or video of one of the city's accounts: what comments hang under."""

    id: str  # "platform:native_id"
    platform: str
    account: str
    native_id: str
    text: str
    lang: str
    created_at: str | None  # ISO-8601 UTC
    url: str | None = None
    title: str | None = None
    edited_at: str | None = None
    like_count: int | None = None
    comment_count: int | None = None  # what the platform reports (completeness)
    deleted: int = 0
    restricted: str | None = None  # see Comment.restricted
    restricted_countries: str | None = None
    version_id: str | None = None
    edit_ids: str | None = None


class Comment(NamedTuple):
    """A comment, reply, mention or live chat message: a citizen's or an official one."""

    id: str  # "platform:native_id"
    platform: str
    account: str
    native_id: str
    post_id: str | None
    parent_id: str | None
    author_key: str | None  # keyed hash; never the platform's author id
    author_name: str | None  # kept for official accounts only
    is_official: int
    text: str  # NFC, PII masked
    lang: str
    created_at: str  # ISO-8601 UTC
    district: str | None = None
    category: str | None = None
    # citizens': the crisis kind (Tagger.crisis), '' when none; NULL: official, no tagger, or
    # stored before migration 7 (the digest tests those texts itself)
    crisis: str | None = None
    edited_at: str | None = None
    like_count: int | None = None
    reply_count: int | None = None
    url: str | None = None
    deleted: int = 0
    hidden: int = 0
    # Why the platform did not serve the words (withheld, suspended, protected, ...): a record
    # with a restriction and no text is a notice, and never replaces text we hold.
    restricted: str | None = None
    restricted_countries: str | None = None  # ISO codes, comma-joined ("DE,FR")
    # X: the id of the version whose text this is (every tweet), and the edit history (JSON
    # list, oldest first) when there was an edit; every id of it names this one row.
    version_id: str | None = None
    edit_ids: str | None = None
    tokens: str | None = None  # morphemes for full-text search
    keywords: str | None = None  # citizens': nouns, each once, space-joined (the digest's)
    # citizens' (issue #19, from the tagger's rules): the department routing suggests and
    # why ("택시 + 강남구 -> 택시물류과"); abusive 1/0 (NULL: not checked: no tagger, official)
    suggested_department: str | None = None
    suggestion_reason: str | None = None
    abusive: int | None = None


@dataclass(frozen=True, slots=True)
class Quarantine:
    """A payload that did not normalize, and why."""

    reason: str
    native_id: str | None = None


@dataclass(frozen=True, slots=True)
class Skipped:
    """An item that carries no opinion and is not stored, by a counted rule (e.g. a live chat
    system event): the reason is what the run's counts group it under."""

    reason: str
    native_id: str | None = None


@dataclass(frozen=True, slots=True)
class Compliance:
    """What a platform's compliance output asks of an item we may hold (X batch compliance,
    the compliance stream): delete its words, or record where it is withheld."""

    action: str  # "delete" or "withheld"
    native_id: str
    reason: str  # the platform's: deleted, suspended, protected, deactivated, withheld, ...
    countries: str | None = None  # withheld: ISO codes, comma-joined
    at: str | None = None  # when the platform says it happened (ISO UTC)


class RawPage(Protocol):
    """What a normalizer reads of a collector's page (normalize/ never imports collectors/)."""

    # read-only: a frozen Page (kind a Literal) satisfies it
    @property
    def kind(self) -> str: ...
    @property
    def items(self) -> list[dict]: ...
    @property
    def includes(self) -> Mapping: ...


Record = Union[Post, Comment]
Outcome = Union[Post, Comment, Quarantine, Skipped]

@dataclass(frozen=True)
class Context:
    """What a normalizer may know besides the payload: no I/O, no clock."""

    platform: str
    account: str  # account key in accounts.yaml
    secret: bytes  # key for author_key
    official_ids: frozenset[str] = frozenset()  # native author ids of the city's accounts
    official_handles: frozenset[str] = frozenset()  # lower-case handles of the city's accounts
    account_native_id: str | None = None
    account_department: str | None = None  # the account's (routing's fallback)
    tagger: "Tagger | None" = None
    tokenize: bool = False  # compute morpheme tokens for search
    extra: dict = field(default_factory=dict)


def record_id(platform: str, native_id: str) -> str:
    """The primary key of a post or comment."""
    return f"{platform}:{native_id}"
