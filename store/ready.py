"""Records made ready for the store: content hash and raw payload JSON (anywhere: a normalizer
worker process does it). Apart from store.writer so that a worker imports no database code
(sqlite-utils brings pandas and numpy: ~50 MB a process)."""
from __future__ import annotations

import hashlib
import json
from typing import NamedTuple, Sequence

from normalize.schema import Comment, Record

raw_json = json.JSONEncoder(ensure_ascii=False).encode


class Ready(NamedTuple):
    """A record made ready for the store (anywhere: a worker process may do it)."""

    record: Record  # tokens and keywords filled (normalize.common.add_tokens)
    digest: int  # content_hash of its fields but `account`: unchanged rows are left alone
    raw: str | dict  # its raw payload, as JSON text when `prepare` serialized it

    @property
    def table(self) -> str:
        return "comments" if type(self.record) is Comment else "posts"


def prepare(records: Sequence[Record], raws: Sequence[dict],
            serialize: bool = False) -> list[Ready]:
    """Records with their content hash (and, when `serialize`, their raw payload as JSON).

    serialize: dump the raw payloads now (a worker process does, so the writer does not);
    otherwise the writer dumps only those of changed records.
    """
    return [Ready(record, content_hash(record[:2] + record[3:]),  # all but `account`
                  raw_json(raw) if serialize else raw)
            for record, raw in zip(records, raws)]


def comment_posts(ready: Sequence[Ready]) -> list[tuple[str, str]]:
    """(comment id, post id) of the ready comments that hang under a post (tombstones)."""
    return [(r.record.id, r.record.post_id) for r in ready
            if type(r.record) is Comment and r.record.post_id]


def content_hash(values: tuple) -> int:
    """A stable 63-bit hash of a record's values (Python's hash() is salted per process)."""
    digest = hashlib.blake2b(repr(values).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1
