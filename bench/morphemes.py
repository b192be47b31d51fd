"""Kiwi on real text: per-word analysis with a cache (the pipeline) against whole-text batch
analysis and other Kiwi options (issue #17, point 3).

`python -m bench.morphemes [--n 20000] [--page 100]`

The first N comments of bench/corpus (real Korean, CC0) in pages of `--page` texts, as ingest
sees them. Each way runs cold (a fresh Kiwi, empty caches) and reports texts/s (wall), CPU
seconds (this process: Kiwi's threads included) and, against the pipeline's keywords, how
many texts get the same nouns:

- per word + cache: normalize.morph.analyse_many, the pipeline (search tokens and keywords
  from one analysis of each distinct whitespace word, an LRU of 200,000 words);
- per word, no cache across pages: the same, the cache emptied after each page;
- whole texts, list input: Kiwi.tokenize(page of texts), multi-threaded (all cores);
- whole texts, one at a time: Kiwi.tokenize(text);
- whole texts, cong-global: the list input with Kiwi's larger model.
Whole-text analysis reads a word in its sentence, which can cut it otherwise than the query
analysis does (queries are words), so its nouns differ on some texts (the agreement column).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ingest import real_texts  # noqa: E402
from bench.report import emit  # noqa: E402

Pages = list[list[str]]


def _pipeline(pages: Pages, clear_each: bool = False) -> list[str]:
    from normalize import morph

    out: list[str] = []
    for page in pages:
        out.extend(keywords for _, keywords in morph.analyse_many(page))
        if clear_each:
            morph.cache_clear()
    return out


def _whole(pages: Pages, one_by_one: bool = False, model: str | None = None) -> list[str]:
    from kiwipiepy import Kiwi, Match

    from normalize.morph import _base_tag, _nouns

    kiwi = Kiwi(load_multi_dict=False, model_type=model)
    kiwi.tokenize("")
    options = {"match_options": Match.URL | Match.EMAIL | Match.MENTION, "z_coda": False}
    out = []
    for page in pages:
        results = ([kiwi.tokenize(t, **options) for t in page] if one_by_one
                   else kiwi.tokenize(page, **options))
        for tokens in results:
            nouns = _nouns([(t.form, _base_tag(t.tag), bool(t.oov)) for t in tokens])
            out.append(" ".join(dict.fromkeys(nouns)))
    return out


def _fresh_morph() -> None:
    """Forget the pipeline's Kiwi and caches (a cold start for the next way)."""
    from normalize import morph

    morph.cache_clear()
    morph._PIECES.clear()
    morph._CUTS.clear()
    morph._kiwi = None


def timed(name: str, run: Callable[[], list[str]], texts: int,
          reference: list[str] | None) -> dict:
    _fresh_morph()
    if name.startswith("per word"):
        from normalize.morph import _get_kiwi
        _get_kiwi()  # loading the model is not analysis
    cpu0, t0 = os.times(), time.perf_counter()
    got = run()
    wall, cpu1 = time.perf_counter() - t0, os.times()
    cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    same = (sum(a == b for a, b in zip(got, reference)) / len(got)) if reference else 1.0
    return {"way": name, "seconds": round(wall, 2), "texts_per_s": round(texts / wall),
            "cpu_seconds": round(cpu, 2), "same_nouns": round(same, 3), "_out": got}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.morphemes", description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=20_000, help="real comments (default 20,000)")
    ap.add_argument("--page", type=int, default=100, help="texts per page (default 100)")
    ap.add_argument("--out", help="append the table and JSON line to this file")
    args = ap.parse_args(argv)
    texts = real_texts()[:args.n]
    pages = [texts[i:i + args.page] for i in range(0, len(texts), args.page)]
    ways: list[tuple[str, Callable[[], list[str]]]] = [
        ("per word + cache (pipeline)", lambda: _pipeline(pages)),
        ("per word, no cache across pages", lambda: _pipeline(pages, clear_each=True)),
        ("whole texts, list input", lambda: _whole(pages)),
        ("whole texts, one at a time", lambda: _whole(pages, one_by_one=True)),
        ("whole texts, cong-global model", lambda: _whole(pages, model="cong-global")),
    ]
    results: list[dict] = []
    for name, run in ways:
        print(f"[bench.morphemes] {name}", file=sys.stderr, flush=True)
        results.append(timed(name, run, len(texts), results[0]["_out"] if results else None))
    from normalize.morph import cache_info
    lines = [f"Kiwi on {len(texts):,} real comments, pages of {args.page} "
             f"({os.cpu_count()} CPUs)",
             f"  {'way':34s} {'texts/s':>8s} {'wall s':>7s} {'CPU s':>7s} {'same nouns':>10s}"]
    for r in results:
        r.pop("_out")
        lines.append(f"  {r['way']:34s} {r['texts_per_s']:8,d} {r['seconds']:7.2f} "
                     f"{r['cpu_seconds']:7.2f} {r['same_nouns']:10.3f}")
    line = json.dumps({"bench": "morphemes", "n": len(texts), "page": args.page,
                       "ways": results, "last_cache": cache_info()}, ensure_ascii=False)
    emit(lines + [line], args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
