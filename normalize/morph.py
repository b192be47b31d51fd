"""Korean morphemes (kiwipiepy) for full-text search and keyword counting.

search_tokens() output is meant for an SQLite FTS5 column using the default `unicode61`
tokenizer, space-joined: first the search morphemes of every word in text order, repeats
kept (택시 요금 ... : FTS5 phrases match them), then, each once, the terms that are not
morphemes of the sequence: the components of compound nouns Kiwi keeps whole (콜택시 -> 택시,
see `_split`), Han/kana n-grams and the original words. query_tokens() applies the same
analysis to a user query and returns a MATCH expression (words AND-ed, "..." a phrase).

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
from typing import NamedTuple, cast

from kiwipiepy import Kiwi, Match, MorphemeSet

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


# (form, base tag, out of Kiwi's vocabulary)
_Token = tuple[str, str, bool]


def _tokenize_many(texts: list[str], blocked: list[str] | None = None) -> list[list[_Token]]:
    """Run Kiwi over a batch and return (form, base tag, oov) per token, per text.
    blocked: morphemes ("form/TAG") Kiwi must not use."""
    if not texts:
        return []
    kiwi = _get_kiwi()
    options: dict = {"match_options": _MATCH, "z_coda": False}
    if blocked:
        options["blocklist"] = MorphemeSet(kiwi, blocked)
    if len(texts) == 1:
        results: Iterable = [kiwi.tokenize(texts[0], **options)]
    else:
        results = kiwi.tokenize(texts, **options)
    return [[(t.form, _base_tag(t.tag), bool(t.oov)) for t in tokens] for tokens in results]


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


def _morphemes(tokens: list[_Token]) -> list[str]:
    """Pick search-worthy morpheme forms (lower-cased)."""
    return [form.lower() for form, tag, _ in tokens if tag in _SEARCH_TAGS]


def _nouns(tokens: list[_Token]) -> list[str]:
    """Keyword nouns of analysed tokens: NNG/NNP >= 2 chars, Latin words (SL, lower-cased)
    >= 2 letters, Han (SH); no stop words (the digest drops those when it counts)."""
    out = []
    for form, tag, _ in tokens:
        if tag not in _NOUN_TAGS:
            continue
        word = form.lower() if tag == "SL" else form
        if len(word) < 2 and tag != "SH":
            continue
        out.append(word)
    return out


# --- compound nouns ---------------------------------------------------------------------
# Kiwi keeps many compounds whole as one noun (콜택시, 택시비, 공사장, 서울시), so their
# components would not be found. `_split` cuts such a noun in two, each piece a noun Kiwi
# knows (analysed alone: one NNG/NNP, not out of vocabulary), and prefers the longest left
# piece: Korean compounds mostly end in a one-syllable head (공사+장, 주차+장, 성수+동), so
# 공사장 is not 공+사장 nor 주차장 주+차장. A common noun (NNG) is cut into common nouns only
# (중구난방 is not 중구+난방). A one-syllable left piece (콜+택시) is kept only
# when Kiwi, made to analyse the noun without its own entry, cuts it there too (장애인 gives
# 장애+인, so no 애인). A name (NNP) is only cut into two pieces of two syllables or more
# (한강+공원, 서울+시청), or before a unit of Seoul's own administration (서울+시, 강남+구,
# 역삼+동): 서울대, 서울역, 유튜브 stay whole. Figures: bench/compounds.py.
_HANGUL_NOUN = re.compile(r"[가-힣]{3,}")
_ADMIN_UNITS = frozenset({"시", "구", "동"})
_COMPOUND_TAGS = frozenset({"NNG", "NNP"})
_MEMO_MAX = 200_000
_PIECES: dict[str, str] = {}  # piece -> its tag when Kiwi knows it as one noun, else ""
_CUTS: dict[tuple[str, str], tuple[str, str] | None] = {}  # (noun, tag) -> its cut


def _known_pieces(pieces: list[str]) -> dict[str, str]:
    """The tag (NNG, NNP) of each piece Kiwi knows as one noun, else "" (memoized; unseen
    pieces go to Kiwi in one batch)."""
    got = {p: _PIECES.get(p) for p in dict.fromkeys(pieces)}
    new = [p for p, tag in got.items() if tag is None]
    if len(_PIECES) + len(new) > _MEMO_MAX:
        _PIECES.clear()
    for piece, tokens in zip(new, _tokenize_many(new)):
        one = len(tokens) == 1 and tokens[0][0] == piece and not tokens[0][2]
        got[piece] = _PIECES[piece] = tokens[0][1] if one and tokens[0][1] in _COMPOUND_TAGS else ""
    return {p: tag or "" for p, tag in got.items()}


def _cuts(noun: str) -> list[tuple[str, str]]:
    """Every (left, right) cut of the noun, the longest left piece first."""
    return [(noun[:i], noun[i:]) for i in range(len(noun) - 1, 0, -1)]


def _split(noun: str, tag: str, known: dict[str, str]) -> tuple[str, str] | None:
    """The first acceptable cut of a compound noun tagged `tag` (see the section's
    comment; one-syllable left pieces are checked after); `known`: `_known_pieces`."""
    for left, right in _cuts(noun):
        if not (known[left] and known[right]):
            continue
        if tag == "NNG":
            if known[left] == known[right] == "NNG":  # 중구난방 is not 중구 (a district)
                return left, right
        elif len(left) >= 2 and (len(right) >= 2 or right in _ADMIN_UNITS):
            return left, right
    return None


def _cut_nouns(nouns: list[tuple[str, str]]) -> dict[tuple[str, str], tuple[str, str] | None]:
    """The cut of each (noun, tag), or None: two Kiwi batches at most (pieces, checks)."""
    known = _known_pieces([piece for noun, _ in nouns for cut in _cuts(noun) for piece in cut])
    got = {n: _split(*n, known) for n in nouns}
    check = [n for n, cut in got.items() if cut and len(cut[0]) == 1]
    blocked = _tokenize_many([noun for noun, _ in check], [f"{n}/{t}" for n, t in check])
    for n, tokens in zip(check, blocked):
        if [form for form, _, _ in tokens] != list(got[n] or ()):
            got[n] = None
    return got


def _splits(tokens_of: list[list[_Token]]) -> list[tuple[tuple[str, str, str], ...]]:
    """Per analysed word: (noun, left, right) of each compound noun in it that is cut."""
    compounds = [[(form, tag) for form, tag, oov in tokens
                  if tag in _COMPOUND_TAGS and not oov and _HANGUL_NOUN.fullmatch(form)]
                 for tokens in tokens_of]
    wanted = list(dict.fromkeys(n for found in compounds for n in found))
    got = {n: _CUTS[n] for n in wanted if n in _CUTS}  # local: another thread may clear it
    new = [n for n in wanted if n not in got]
    if new:
        made = _cut_nouns(new)
        if len(_CUTS) + len(made) > _MEMO_MAX:
            _CUTS.clear()
        _CUTS.update(made)
        got.update(made)
    out = []
    for found in compounds:
        out.append(tuple((noun, *cut) for noun, tag in found
                         if (cut := got[(noun, tag)]) is not None))
    return out


class _Word(NamedTuple):
    """What the cache keeps per word."""

    morphs: tuple[str, ...]  # search morphemes, lower-cased, each once
    nouns: tuple[str, ...]  # keyword nouns
    splits: tuple[tuple[str, str, str], ...]  # (compound, left, right), see `_split`
    known: bool  # every token in Kiwi's vocabulary (else queries also try it as a prefix)

    def parts(self) -> list[str]:
        """The compounds' pieces indexed as terms: those of two syllables or more."""
        return [p for _, left, right in self.splits for p in (left, right) if len(p) >= 2]


_NOTHING = _Word((), (), (), True)


def _analysed(words: list[str]) -> list[_Word]:
    """One Kiwi batch over the words (and one over the pieces of their compounds)."""
    tokens_of = _tokenize_many(words)
    return [_Word(tuple(_dedupe(_morphemes(tokens))), tuple(_nouns(tokens)), splits,
                  not any(oov for _, _, oov in tokens))
            for tokens, splits in zip(tokens_of, _splits(tokens_of))]


class _WordCache:
    """Bounded LRU: word -> its `_Word` analysis, with hit/miss counts. One Kiwi analysis
    per unseen word serves search tokens, queries and keywords."""

    def __init__(self, size: int):
        self.size = size
        self.data: OrderedDict[str, _Word] = OrderedDict()
        self.hits = 0
        self.misses = 0
        self.lock = threading.Lock()

    def analyse(self, words: list[str]) -> dict[str, _Word]:
        """The analysis of each distinct word; unseen words go to Kiwi in one batch.
        Morphemes are lower-cased and have a word character."""
        found: dict[str, _Word] = {}
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
            analysed = _analysed(missing)
            with self.lock:
                for word, got in zip(missing, analysed):
                    found[word] = got
                    data[word] = got
                while len(data) > self.size:
                    data.popitem(last=False)
        return found

    def morphemes(self, words: list[str]) -> dict[str, tuple[str, ...]]:
        """Search morphemes of each distinct word (see `analyse`)."""
        return {w: got.morphs for w, got in self.analyse(words).items()}

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
        sequence = [m for word in got for m in word.morphs]  # text order: phrases match it
        extras = [p for word in got if word.splits for p in word.parts()]
        for run in runs:
            extras.extend(_cj_ngrams(run))  # Han/kana: word characters
        # without Han/kana runs, the text's words are `words`
        extras.extend(_raw_words(text.split() if runs else words))
        seen = set(sequence)
        seen.add("")  # raw words without a word character
        rest = [t for t in dict.fromkeys(extras) if t not in seen]
        nouns = _nouns_of(text, words, known) if runs else [n for w in got for n in w.nouns]
        out.append((" ".join(sequence + rest), " ".join(dict.fromkeys(nouns))))
    return out


def _nouns_of(text: str, words: list[str], known: dict[str, _Word]) -> list[str]:
    """The nouns of a text's words in order; each Han run is one noun (Kiwi tags it SH),
    in its place between the words around it (kana runs are not nouns)."""
    if text.isascii() or not _HAN_RUN.search(text):
        return [n for w in words for n in known[w].nouns]
    out: list[str] = []
    for i, part in enumerate(_CJ_SPLIT.split(text)):
        if i % 2:
            out.extend(_HAN_RUN.findall(part))
        else:
            out.extend(n for w in part.split() for n in known[w].nouns)
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
    return cast("list[str]", got) if None not in got else list(map(_raw_word, words))


def search_tokens(text: str) -> str:
    """Return the FTS5 token string for one text."""
    return search_tokens_many([text])[0]


def _quote(term: str) -> str:
    """Quote a term as an FTS5 string."""
    return '"' + term.replace('"', '""') + '"'


# A quoted phrase; a quote left open is not one (it is a separator, as any other '"').
_PHRASE = re.compile(r'"([^"]*)"')


def _query_items(query: str) -> list[tuple[bool, str]]:
    """(is a phrase, text) of each bare word and each quoted phrase of a query, in order."""
    items: list[tuple[bool, str]] = []
    pos = 0
    for m in _PHRASE.finditer(query):
        items.extend((False, w) for w in query[pos:m.start()].split())
        if m.group(1).strip():
            items.append((True, m.group(1)))
        pos = m.end()
    items.extend((False, w) for w in query[pos:].replace('"', " ").split())
    return items


def _cj_terms(word: str) -> list[str]:
    """Han/kana runs of a query word as terms: each run's bigrams (a lone character alone)."""
    out: list[str] = []
    for run in _CJ_RUN.findall(word):
        out.extend([run] if len(run) == 1 else [run[i: i + 2] for i in range(len(run) - 1)])
    return out


def _query_word(word: str, known: dict[str, _Word]) -> list[_Word]:
    """The cached analyses of a query word's parts between Han/kana runs (as in a text)."""
    return [known[w] for w in _CJ_RUN.sub(" ", word).split()]


def _word_group(word: str, known: dict[str, _Word]) -> str:
    """A bare word: (its morphemes AND-ed) OR (a compound written in two) OR (the word as
    written, as a prefix when Kiwi does not know all of it or it is three letters or
    more), AND its Han/kana bigrams."""
    got = _query_word(word, known)
    morphs = _dedupe(m for w in got for m in w.morphs)
    alts = []
    if morphs:
        alts.append(" AND ".join(_quote(m) for m in morphs))
    cuts = [(left, right) for w in got for noun, left, right in w.splits if [noun] == morphs]
    if cuts:  # 콜택시 also finds 콜 택시
        alts.append(_quote(cuts[0][0]) + " + " + _quote(cuts[0][1]))
    raw = word.lower()
    rest = _CJ_RUN.sub("", raw)
    if _WORD_CHAR.search(rest) and not _LATIN_WORD.fullmatch(rest):
        # As a prefix when Kiwi does not know it, or from three letters on: Kiwi may read a
        # word alone unlike in a sentence (지하차도 whole; 지하차도가 as 지하+차도+가), and a
        # longer prefix is rarely another word (서울* would find 서울대, 청소* 청소년).
        if not morphs or not all(w.known for w in got) or len(rest) >= 3:
            alts.append(_quote(raw) + "*")
        elif raw not in morphs:  # 차도 alone reads as 차+도 ("a car too"): also as written
            alts.append(_quote(raw))
    elif _LATIN_WORD.fullmatch(rest) and rest not in morphs:
        alts.append(_quote(rest))
    parts = []
    if alts:
        parts.append(alts[0] if len(alts) == 1 else
                     "(" + " OR ".join(f"({a})" for a in alts) + ")")
    parts.extend(_quote(t) for t in _dedupe(_cj_terms(word)))
    return " AND ".join(parts)


def _phrase_group(phrase: str, known: dict[str, _Word]) -> str:
    """A quoted phrase: its words' morphemes in order as one FTS5 phrase, AND the Han/kana
    bigrams of its words (Han/kana runs are not in the morpheme sequence)."""
    words = phrase.split()
    morphs = [m for word in words for w in _query_word(word, known) for m in w.morphs]
    parts = [" + ".join(_quote(m) for m in morphs)] if morphs else []
    parts.extend(_quote(t) for t in _dedupe(t for word in words for t in _cj_terms(word)))
    return " AND ".join(parts)


def query_tokens(query: str) -> str:
    """Turn a user query into an FTS5 MATCH expression ('' when nothing is searchable).

    Bare words are AND-ed: each finds its morphemes (택시요금 finds 택시요금이, 택시 finds 콜택시
    through the compound's pieces in the tokens); a word Kiwi does not know, or of three
    letters or more, is also tried as a prefix (택시요금이*), not a known shorter one (서울*
    would find 서울대). "A quoted phrase" finds its words' morphemes next to each other, in order
    (택시 요금 finds 택시요금이 and 택시 요금을, not 요금 택시). Han/kana runs become AND-ed bigrams.
    """
    items = _query_items(query)
    if not items:
        return ""
    words = [w for _, text in items for word in text.split()
             for w in _CJ_RUN.sub(" ", word).split()]
    known = _WORDS.analyse(words)
    groups = [(_phrase_group if phrase else _word_group)(text, known) for phrase, text in items]
    return " AND ".join(g for g in groups if g)


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
