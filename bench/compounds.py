"""Precision and recall of compound-noun search, per way of indexing (issue #15, point 6).

`python -m bench.compounds [--corpus tests/corpora/compounds.tsv] [--misses]`

Each row of the corpus is a query, a sentence and whether the query should find it
(1: the query is a component of a word of the sentence, 콜택시 for 택시; 0: it only looks so,
택배 for 택시, 공사장 for 사장, or a name kept whole by decision, 서울대 for 서울). Every
sentence goes into an in-memory FTS5 table per way of indexing, and every query is run:

- prefix: the tokens before issue #15 (morphemes, the original words) and each query word
  also as a prefix ("택시"*: 택시비, not 콜택시);
- bigrams: the same tokens plus every two-syllable piece of each Hangul noun of three
  syllables or more (a character n-gram side index), no prefix;
- pieces: normalize.morph as it is (the compound's Kiwi-checked cut, see `_split`), no
  prefix for words Kiwi knows;
- pieces+prefix: the same tokens, every query word also as a prefix.

`--cuts` lists instead every compound `pieces` cuts in the words of the other corpora
(tests/corpora/tags.tsv, the PII corpora, the simulator's sentences): text this rule was
not written from, to judge the pieces by eye.
"""
from __future__ import annotations

import argparse
import csv
import re
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from normalize import morph

CORPUS = ROOT / "tests" / "corpora" / "compounds.tsv"
_HANGUL_NOUN = re.compile(r"[가-힣]{3,}")


def _words(text: str) -> list[morph._Word]:
    return list(morph._WORDS.analyse(text.split()).values())


def old_tokens(text: str) -> str:
    """The tokens before issue #15: morphemes, then the original words, each once."""
    got = [m for w in text.split() for m in morph._WORDS.analyse([w])[w].morphs]
    return " ".join(dict.fromkeys(got + [w.lower() for w in text.split()]))


def bigram_tokens(text: str) -> str:
    nouns = [m for w in _words(text) for m in w.morphs if _HANGUL_NOUN.fullmatch(m)]
    grams = [n[i: i + 2] for n in nouns for i in range(len(n) - 1)]
    return " ".join(dict.fromkeys(old_tokens(text).split() + grams))


def _quote(term: str) -> str:
    return morph._quote(term)


def plain_query(query: str, prefix: bool) -> str:
    groups = []
    for word in query.split():
        morphs = morph._WORDS.analyse([word])[word].morphs
        alts = [" AND ".join(map(_quote, morphs))] if morphs else []
        if prefix:
            alts.append(_quote(word) + "*")
        groups.append("(" + " OR ".join(f"({a})" for a in alts) + ")")
    return " AND ".join(groups)


WAYS: dict[str, tuple[Callable[[str], str], Callable[[str], str]]] = {
    "prefix": (old_tokens, lambda q: plain_query(q, True)),
    "bigrams": (bigram_tokens, lambda q: plain_query(q, False)),
    "pieces": (morph.search_tokens, morph.query_tokens),
    "pieces+prefix": (morph.search_tokens,
                      lambda q: f"({morph.query_tokens(q)}) OR ({_quote(q)}*)"),
}


def measure(rows: list[dict[str, str]], way: str) -> dict[str, object]:
    tokens, query = WAYS[way]
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE t USING fts5(tok)")
    texts = sorted({r["text"] for r in rows})
    db.executemany("INSERT INTO t(rowid, tok) VALUES (?, ?)",
                   [(i, tokens(t)) for i, t in enumerate(texts)])
    tp = fp = fn = 0
    misses = []
    for r in rows:
        found = {texts[i] for (i,) in db.execute("SELECT rowid FROM t WHERE t MATCH ?",
                                                  (query(r["query"]),))}
        hit, want = r["text"] in found, r["expected"] == "1"
        tp += hit and want
        fp += hit and not want
        fn += want and not hit
        if hit != want:
            misses.append(f"{'FP' if hit else 'FN'} {r['query']}: {r['text']}")
    return {"way": way, "tp": tp, "fp": fp, "fn": fn,
            "precision": round(tp / max(1, tp + fp), 3), "recall": round(tp / max(1, tp + fn), 3),
            "misses": misses}


def other_texts() -> list[str]:
    """Sentences of the repository not written for this measurement."""
    corpora = ROOT / "tests" / "corpora"
    with open(corpora / "tags.tsv", encoding="utf-8", newline="") as f:
        texts = [r["text"] for r in csv.DictReader(f, delimiter="\t")]
    for name in ("pii.tsv", "pii_handwritten.tsv", "pii_adversarial.tsv"):
        for line in (corpora / name).read_text(encoding="utf-8").splitlines():
            texts.extend(cell for cell in line.split("\t") if re.search("[가-힣]", cell))
    world = (ROOT / "simulator" / "world.py").read_text(encoding="utf-8")
    return texts + re.findall(r'"([^"]*[가-힣][^"]*)"', world)


def cuts(texts: list[str]) -> list[tuple[str, str, str]]:
    words = sorted({w for t in texts for w in t.split()})
    return sorted({cut for w in morph._WORDS.analyse(words).values() for cut in w.splits})


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.compounds", description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", default=str(CORPUS))
    ap.add_argument("--misses", action="store_true", help="list each way's wrong answers")
    ap.add_argument("--cuts", action="store_true",
                    help="list the compounds cut in the repository's other corpora")
    args = ap.parse_args(argv)
    if args.cuts:
        found = cuts(other_texts())
        print(f"{len(found)} compounds cut:")
        print("  ".join(f"{noun}={left}+{right}" for noun, left, right in found))
        return 0
    with open(args.corpus, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    print(f"{len(rows)} cases ({sum(r['expected'] == '1' for r in rows)} to find)")
    for way in WAYS:
        got = measure(rows, way)
        print(f"  {way:<14} precision {got['precision']:.3f}  recall {got['recall']:.3f}  "
              f"(tp {got['tp']}, fp {got['fp']}, fn {got['fn']})")
        if args.misses:
            for miss in got["misses"]:  # type: ignore[attr-defined]
                print(f"      {miss}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
