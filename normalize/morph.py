"""Korean morphemes (kiwipiepy) for full-text search and keyword counting.

search_tokens() output is meant for an SQLite FTS5 column using the default `unicode61`
tokenizer: morphemes (택시, 요금, 침수) + original words + Han/kana n-grams, space-joined.
query_tokens() applies the same analysis to a user query and returns a MATCH expression.

Search tokens are analysed word by word (eojeol: a whitespace-separated word), as queries
are, and each word's morphemes are memoized in a bounded LRU (`SMC_MORPH_CACHE` words,
default 200,000): Kiwi analyses ~500-650 comments a second, but real text is Zipfian, so
most words of a comment were seen before and only the unseen ones go to Kiwi, in one batch.
`cache_info()` reports hits and misses. Kiwi is loaded without its multi-word dictionary
(entries that contain a space, which a word-by-word analysis never matches): ~190 MB and
~2 s less per process.
"""

from __future__ import annotations

import os
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable

from kiwipiepy import Kiwi, Match

_kiwi: Kiwi | None = None
_kiwi_lock = threading.Lock()

# Kiwi does not segment Chinese/Japanese: Han and kana runs are cut out and n-grammed instead.
_CJ_RUN = re.compile(
    r"[\u3040-\u309f\u30a0-\u30ff\u31f0-\u31ff\uff66-\uff9f"
    r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]+"
)
_HAN_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]+")
_CJ_SPLIT = re.compile(f"({_CJ_RUN.pattern})")
_WORD_CHAR = re.compile(r"\w")
_LATIN_WORD = re.compile(r"[A-Za-z0-9_'-]+")

# Kiwi tags kept as search terms: nouns, numerals, verb/adjective stems, roots, foreign words.
_SEARCH_TAGS = frozenset({"NNG", "NNP", "NR", "SN", "SL", "XR", "VV", "VA"})
# Kiwi tags kept as keywords (nouns).
_NOUN_TAGS = frozenset({"NNG", "NNP", "SL", "SH"})
# Special spans Kiwi should keep whole (they are dropped from morphemes; raw words keep them).
_MATCH = Match.URL | Match.EMAIL | Match.MENTION


def _get_kiwi() -> Kiwi:
    """Return the shared Kiwi instance, creating it once (it takes about a second)."""
    global _kiwi
    if _kiwi is None:
        with _kiwi_lock:
            if _kiwi is None:
                # default num_workers: all cores, needed for list input; no multi-word
                # dictionary (its entries contain spaces: see the module docstring)
                kiwi = Kiwi(load_multi_dict=False)
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


def _nouns(tokens: list[tuple[str, str]]) -> list[str]:
    """Keyword nouns of analysed tokens: NNG/NNP >= 2 chars, Latin words (SL, lower-cased)
    >= 2 letters, Han (SH); no stop words (the digest drops those when it counts)."""
    out = []
    for form, tag in tokens:
        if tag not in _NOUN_TAGS:
            continue
        word = form.lower() if tag == "SL" else form
        if len(word) < 2 and tag != "SH":
            continue
        out.append(word)
    return out


# What the cache keeps per word: (search morphemes, keyword nouns).
_Analysis = tuple[tuple[str, ...], tuple[str, ...]]
_NOTHING: _Analysis = ((), ())


class _WordCache:
    """Bounded LRU: word -> its search morphemes (lower-cased) and keyword nouns, with
    hit/miss counts. One Kiwi analysis per unseen word serves both."""

    def __init__(self, size: int):
        self.size = size
        self.data: OrderedDict[str, _Analysis] = OrderedDict()
        self.hits = 0
        self.misses = 0
        self.lock = threading.Lock()

    def analyse(self, words: list[str]) -> dict[str, _Analysis]:
        """(search morphemes, nouns) of each distinct word; unseen words go to Kiwi in one
        batch. Morphemes are lower-cased and have a word character."""
        found: dict[str, _Analysis] = {}
        missing: list[str] = []
        data = self.data
        with self.lock:
            for word in dict.fromkeys(words):  # each once, in order: repeats are hits
                got = data.get(word)
                if got is None:
                    missing.append(word)
                    found[word] = _NOTHING
                else:
                    data.move_to_end(word)
                    found[word] = got
            self.misses += len(missing)
            self.hits += len(words) - len(missing)
        if missing:
            analysed = [(tuple(_dedupe(_morphemes(tokens))), tuple(_nouns(tokens)))
                        for tokens in _tokenize_many(missing)]
            with self.lock:
                for word, got in zip(missing, analysed):
                    found[word] = got
                    data[word] = got
                while len(data) > self.size:
                    data.popitem(last=False)
        return found

    def morphemes(self, words: list[str]) -> dict[str, tuple[str, ...]]:
        """Search morphemes of each distinct word (see `analyse`)."""
        return {w: got[0] for w, got in self.analyse(words).items()}

    def info(self) -> dict[str, int]:
        return {"hits": self.hits, "misses": self.misses, "size": len(self.data),
                "maxsize": self.size}

    def clear(self) -> None:
        with self.lock:
            self.data.clear()
            self.hits = self.misses = 0


_WORDS = _WordCache(int(os.environ.get("SMC_MORPH_CACHE", "200000")))


def cache_info() -> dict[str, int]:
    """Hits, misses and size of the per-word morpheme cache (this process)."""
    return _WORDS.info()


def cache_clear() -> None:
    """Empty the per-word morpheme cache and its counters."""
    _WORDS.clear()


def search_tokens_many(texts: list[str]) -> list[str]:
    """Return one FTS5-ready token string per text (unseen words analysed in one batch)."""
    return [tokens for tokens, _ in analyse_many(texts)]


def analyse_many(texts: list[str]) -> list[tuple[str, str]]:
    """(search tokens, keywords) per text, from one per-word analysis (unseen words go to
    Kiwi in one batch, once for both).

    search tokens: see `search_tokens_many`. keywords: the text's keyword nouns (`nouns`,
    no stop words removed), each once, in order of first occurrence, space-joined.
    """
    runs_of = [() if t.isascii() else _CJ_RUN.findall(t) for t in texts]
    # (a text without Han/kana runs is split as it is: sub would copy it for nothing)
    words_of = [(_CJ_RUN.sub(" ", t) if runs else t).split() for t, runs in zip(texts, runs_of)]
    known = _WORDS.analyse([w for words in words_of for w in words])
    out = []
    for text, words, runs in zip(texts, words_of, runs_of):
        got = [known[w] for w in words]
        terms = [m for morphs, _ in got for m in morphs]  # each already has a word character
        for run in runs:
            terms.extend(_cj_ngrams(run))  # Han/kana: word characters
        # without Han/kana runs, the text's words are `words`
        terms.extend(_raw_words(text.split() if runs else words))
        unique = dict.fromkeys(terms)
        unique.pop("", None)  # raw words without a word character
        nouns = _nouns_of(text, words, known) if runs else [n for _, ns in got for n in ns]
        out.append((" ".join(unique), " ".join(dict.fromkeys(nouns))))
    return out


def _nouns_of(text: str, words: list[str], known: dict[str, _Analysis]) -> list[str]:
    """The nouns of a text's words in order; each Han run is one noun (Kiwi tags it SH),
    in its place between the words around it (kana runs are not nouns)."""
    if text.isascii() or not _HAN_RUN.search(text):
        return [n for w in words for n in known[w][1]]
    out: list[str] = []
    for i, part in enumerate(_CJ_SPLIT.split(text)):
        if i % 2:
            out.extend(_HAN_RUN.findall(part))
        else:
            out.extend(n for w in part.split() for n in known[w][1])
    return out


_RAW: dict[str, str] = {}


def _raw_word(word: str) -> str:
    """The word lower-cased as a search term, or "" when it has no word character."""
    got = _RAW.get(word)
    if got is None:
        got = word.lower() if _WORD_CHAR.search(word) else ""
        if len(_RAW) < 200_000:
            _RAW[word] = got
    return got


def _raw_words(words: list[str]) -> list[str]:
    """`_raw_word` of each word: straight from the memo when it has them all (most texts)."""
    got = list(map(_RAW.get, words))
    return got if None not in got else list(map(_raw_word, words))


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
    """Return keyword nouns per text, in order: NNG/NNP >= 2 chars, Latin words >= 2
    letters (lower-cased), Han runs; minus `stop`.

    Each whitespace word is analysed on its own, as for search (one cached analysis serves
    both): a compound is split as Kiwi splits the word alone, which is not always as it
    splits it in a sentence (심야버스 stays whole, 지하차도가 gives 지하 차도).
    """
    words_of = [_CJ_RUN.sub(" ", t).split() for t in texts]
    known = _WORDS.analyse([w for words in words_of for w in words])
    return [[n for n in _nouns_of(text, words, known) if n not in stop]
            for text, words in zip(texts, words_of)]


def keywords_many(texts: list[str]) -> list[str]:
    """The `comments.keywords` value of each text: its nouns, each once, space-joined."""
    return [" ".join(dict.fromkeys(nouns)) for nouns in nouns_many(texts)]


def nouns(text: str, stop: frozenset[str] = frozenset()) -> list[str]:
    """Return keyword nouns of one text, in order, without particles or endings."""
    return nouns_many([text], stop)[0]
