"""`backfill`: keywords and crisis tags for citizens' comments stored before they existed.

Comments stored before migrations 5 (keywords) and 7 (crisis) hold NULL there, and the
digest analyses their texts again on every run. This command gives them what the
normalizer gives a comment today (normalize.common.make_comment and add_tokens): the
keyword nouns of normalize.morph.analyse_many and the crisis kind of the tagger of
config/rules.yaml ('' for none). The SQL side is store/backfill.py.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from commands.common import EXIT_OK, UsageError, open_db, positive_int
from store.db import UnusableDatabase


def analyser(tagger: Any) -> Any:
    """texts -> (keywords, crisis) per text, as a fresh normalization stores them: an empty
    text gets keywords '' and no crisis tag (make_comment tags only words)."""
    from normalize.morph import analyse_many

    def analyse(texts: list[str]) -> list[tuple[str | None, str | None]]:
        with_text = [t for t in texts if t]
        keywords = iter([k for _, k in analyse_many(with_text)] if with_text else [])
        return [(next(keywords), tagger.crisis(t) or "") if t else ("", None) for t in texts]

    return analyse


def cmd_backfill(args: argparse.Namespace) -> int:
    from pipeline.runner import RULES_PATH, load_tagger
    from store.backfill import backfill_tags

    if not Path(args.db).exists():
        raise UnusableDatabase(f"no database at {args.db} (run collect or demo first)")
    tagger = load_tagger()
    if tagger is None:
        raise UsageError(f"{RULES_PATH} is missing: crisis words cannot be tagged without it")
    db = open_db(args)

    def progress(done: int, todo: int) -> None:
        if done % 100_000 < args.batch or done == todo:
            print(f"backfill: {done:,} of {todo:,} comments", file=sys.stderr, flush=True)

    got = backfill_tags(db, analyser(tagger), batch=args.batch, progress=progress)
    if not got["rows"]:
        print("backfill: nothing to fill (every citizen's comment has keywords and a crisis "
              "tag)")
        return EXIT_OK
    print(f"backfill: {got['rows']:,} comments read, {got['changed']:,} filled "
          f"({got['keywords']:,} keywords, {got['crisis']:,} crisis tags) in "
          f"{got['seconds']} s")
    return EXIT_OK


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `backfill` command."""
    p = subparsers.add_parser(
        "backfill", help="fill keywords and crisis tags of comments stored before them",
        description="Give citizens' comments stored before keywords (migration 5) and crisis "
                    "tags (migration 7) existed the values the normalizer gives them today, "
                    "so the digest stops analysing their texts on every run. Commits batch "
                    "by batch: it can be stopped and run again, and a second run finds "
                    "nothing to do. Collecting may go on meanwhile. Exit 0 done, 2 no usable "
                    "database or no rules file.")
    p.add_argument("--db", default=argparse.SUPPRESS, metavar="PATH",
                   help="the database (as the global --db; default $SMC_DB or data/smc.db)")
    p.add_argument("--batch", type=positive_int, default=2000, metavar="N",
                   help="comments per transaction (default 2000)")
    p.set_defaults(func=cmd_backfill)
