"""Korean morphemes (kiwipiepy) for full-text search and keyword counting.

search_tokens() output is meant for an SQLite FTS5 column using the default `unicode61`
tokenizer: morphemes (택시, 요금, 침수) + original words + Han/kana n-grams, space-joined.
query_tokens() applies the same analysis to a user query and returns a MATCH expression.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable

from kiwipiepy import Kiwi, Match

_kiwi: Kiwi | None = None
_kiwi_lock = threading.Lock()

# Kiwi does not segment Chinese/Japanese: Han and kana runs are cut out and n-grammed instead.
_CJ_RUN = re.compile(
    r"[\u3040-\u309f\u30a0-\u30ff\u31f0-\u31ff\uff66-\uff9f"
    r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]+"
)
_WORD_CHAR = re.compile(r"\w")
_LATIN_WORD = re.compile(r"[A-Za-z0-9_'-]+")

# Kiwi tags kept as search terms: nouns, numerals, verb/adjective stems, roots, foreign words.
_SEARCH_TAGS = frozenset({"NNG", "NNP", "NR", "SN", "SL", "XR", "VV", "VA"})
# Kiwi tags kept as keywords.
_NOUN_TAGS = frozenset({"NNG", "NNP", "SL", "SH"})
# Special spans Kiwi should keep whole (they are dropped from morphemes; raw words keep them).
_MATCH = Match.URL | Match.EMAIL | Match.MENTION


def _get_kiwi() -> Kiwi:
    """Return the shared Kiwi instance, creating it once (it takes about a second)."""
    global _kiwi
    if _kiwi is None:
        with _kiwi_lock:
            if _kiwi is None:
                kiwi = Kiwi()  # default num_workers: all cores, needed for list input
                kiwi.tokenize("")  # finish lazy model loading now, not mid-batch
                _kiwi = kiwi
    return _kiwi


def _base_tag(tag: object) -> str:
    """Return the tag without Kiwi's irregular-conjugation suffix (VV-I -> VV)."""
    s = str(tag)
    return s.split("-", 1)[0]


def _tokenize_many(texts: list[str]) -> list[list[tuple[str, str]]]:
    """Run Kiwi over a batch and return (form, base tag) pairs per text."""
    if not texts:
        return []
    kiwi = _get_kiwi()
    if len(texts) == 1:
        results: Iterable = [kiwi.tokenize(texts[0], match_options=_MATCH, z_coda=False)]
    else:
        results = kiwi.tokenize(texts, match_options=_MATCH, z_coda=False)
    return [[(t.form, _base_tag(t.tag)) for t in tokens] for tokens in results]


def _cj_ngrams(run: str) -> list[str]:
    """Return the run, its character bigrams and unigrams (for 1-char queries)."""
    out = [run]
    if len(run) > 1:
        out.extend(run[i: i + 2] for i in range(len(run) - 1))
        out.extend(run)
    return out


def _dedupe(items: Iterable[str]) -> list[str]:
    """Keep the first occurrence of each item, dropping items with no word character."""
    seen: set[str] = set()
    out = []
    for item in items:
        if item not in seen and _WORD_CHAR.search(item):
            seen.add(item)
            out.append(item)
    return out


def _morphemes(tokens: list[tuple[str, str]]) -> list[str]:
    """Pick search-worthy morpheme forms (lower-cased)."""
    return [form.lower() for form, tag in tokens if tag in _SEARCH_TAGS]


def search_tokens_many(texts: list[str]) -> list[str]:
    """Return one FTS5-ready token string per text (batched Kiwi analysis)."""
    stripped = [_CJ_RUN.sub(" ", t) for t in texts]
    analysed = _tokenize_many(stripped)
    out = []
    for text, tokens in zip(texts, analysed):
        terms = _morphemes(tokens)
        for run in _CJ_RUN.findall(text):
            terms.extend(_cj_ngrams(run))
        terms.extend(w.lower() for w in text.split())
        out.append(" ".join(_dedupe(terms)))
    return out


def search_tokens(text: str) -> str:
    """Return the FTS5 token string for one text."""
    return search_tokens_many([text])[0]


def _quote(term: str) -> str:
    """Quote a term as an FTS5 string."""
    return '"' + term.replace('"', '""') + '"'


def query_tokens(query: str) -> str:
    """Turn a user query into an FTS5 MATCH expression ('' when nothing is searchable).

    Each whitespace word becomes (its morphemes AND-ed) OR (the word as a prefix), so
    택시요금 finds 택시요금이 either way; Han/kana runs become AND-ed bigrams; the words are AND-ed.
    """
    words = query.split()
    if not words:
        return ""
    analysed = _tokenize_many([_CJ_RUN.sub(" ", w) for w in words])
    groups = []
    for word, tokens in zip(words, analysed):
        cj_terms: list[str] = []
        for run in _CJ_RUN.findall(word):
            if len(run) == 1:
                cj_terms.append(run)
            else:
                cj_terms.extend(run[i: i + 2] for i in range(len(run) - 1))
        morphs = _dedupe(_morphemes(tokens))
        raw = word.lower()
        alts = []
        if morphs:
            alts.append(" AND ".join(_quote(m) for m in morphs))
        rest = _CJ_RUN.sub("", raw)
        if _WORD_CHAR.search(rest) and not _LATIN_WORD.fullmatch(rest):
            alts.append(_quote(raw) + "*")  # Korean word as typed, as a prefix
        elif _LATIN_WORD.fullmatch(rest) and rest not in morphs:
            alts.append(_quote(rest))
        parts = []
        if alts:
            either = "(" + " OR ".join(f"({a})" for a in alts) + ")"
            parts.append(alts[0] if len(alts) == 1 else either)
        parts.extend(_quote(t) for t in _dedupe(cj_terms))
        if parts:
            groups.append(" AND ".join(parts))
    return " AND ".join(groups)


def nouns_many(texts: list[str], stop: frozenset[str] = frozenset()) -> list[list[str]]:
    """Return keyword nouns per text (NNG/NNP >= 2 chars, Latin words >= 2 letters, Han)."""
    out = []
    for tokens in _tokenize_many(list(texts)):
        words = []
        for form, tag in tokens:
            if tag not in _NOUN_TAGS:
                continue
            word = form.lower() if tag == "SL" else form
            if len(word) < 2 and tag != "SH":
                continue
            if word in stop:
                continue
            words.append(word)
        out.append(words)
    return out


def nouns(text: str, stop: frozenset[str] = frozenset()) -> list[str]:
    """Return keyword nouns of one text, in order, without particles or endings."""
    return nouns_many([text], stop)[0]
