"""Near-duplicate signatures of opinions (issue #19): pure.

An opinion's shingles are the character 3-grams of its letters and digits (NFC, lower
case; spaces, punctuation and emoji dropped), so a complaint pasted again with an emoji, a
greeting or other spacing keeps most of them. datasketch's MinHash estimates the Jaccard
similarity of two shingle sets; its LSH parameters (bands x rows for THRESHOLD) say how to
cut a signature into bands: two opinions sharing any band key are candidates, checked
with their exact Jaccard. The district is part of every band key: the same words about
another district are another complaint.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata
import zlib
from functools import lru_cache

NUM_PERM = 64
THRESHOLD = 0.5  # exact Jaccard of shingle sets at or above which two opinions are one group
LSH_THRESHOLD = 0.4  # the bands are cut for this (lower: fewer missed candidates)
SHINGLE = 3
SEED = 19
SCHEME = "affine32"  # datasketch 2's; stored band keys depend on it (and on SEED, NUM_PERM)
# A shingle's 32-bit hash before MinHash's permutations: CRC-32 (C; datasketch's default,
# SHA-1 in Python per shingle, was 40 % of the grouping's time). Band keys depend on it too.
_DROP = re.compile(r"[\W_]+", re.UNICODE)


def shingles(text: str) -> frozenset[str]:
    """The character SHINGLE-grams of a text's letters and digits (the whole text when
    shorter)."""
    flat = _DROP.sub("", unicodedata.normalize("NFC", text).lower())
    if len(flat) <= SHINGLE:
        return frozenset([flat]) if flat else frozenset()
    return frozenset(flat[i:i + SHINGLE] for i in range(len(flat) - SHINGLE + 1))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    """|a & b| / |a | b| (0 for two empty sets)."""
    union = len(a | b)
    return len(a & b) / union if union else 0.0


@lru_cache(maxsize=1)
def bands() -> tuple[int, int]:
    """(bands, rows per band) datasketch's LSH picks for LSH_THRESHOLD and NUM_PERM."""
    from datasketch import MinHashLSH

    lsh = MinHashLSH(threshold=LSH_THRESHOLD, num_perm=NUM_PERM)
    return lsh.b, lsh.r


def band_keys(items: list[tuple[frozenset[str], str | None]]) -> list[list[int]]:
    """The LSH band keys (signed 64-bit, as SQLite stores them) of each (shingle set,
    district); [] for an empty set. One datasketch MinHash.bulk call for all of them."""
    from datasketch import MinHash

    filled = [i for i, (grams, _) in enumerate(items) if grams]
    sketches = MinHash.bulk([[g.encode("utf-8") for g in items[i][0]] for i in filled],
                            num_perm=NUM_PERM, seed=SEED, scheme=SCHEME,
                            hashfunc=zlib.crc32) if filled else []
    b, r = bands()
    out: list[list[int]] = [[] for _ in items]
    for i, sketch in zip(filled, sketches):
        values, district = sketch.hashvalues, items[i][1] or ""
        for band in range(b):
            h = hashlib.blake2b(digest_size=8)
            h.update(f"{district}|{band}|".encode())
            h.update(values[band * r:(band + 1) * r].tobytes())
            out[i].append(int.from_bytes(h.digest(), "big", signed=True))
    return out
