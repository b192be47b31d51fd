"""The Social Media Center's reading side: `search`, `reindex` (its tokens) and `serve` (the
workplace, the public page and Datasette in one process).

    search QUERY [--limit N] [--offset N] [--account KEY] [--status S]
    reindex [--batch N]           (rebuild the search tokens after an upgrade)
    serve [--host H] [--port P] [--sql] [--workplace-config FILE]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from commands.cases import known_statuses, say, shorten, status_arg
from commands.common import EXIT_OK, UsageError, bounded, open_db, positive_int, read_db


# --- search --------------------------------------------------------------------------------
def cmd_search(args: argparse.Namespace) -> int:
    from store.search import find, stale_tokens

    if not args.query.strip():
        raise UsageError("search: empty query")
    db = read_db(args)
    found = find(db, args.query, limit=args.limit, account=args.account, status=args.status,
                 offset=args.offset)
    if args.json:
        print(json.dumps(found.rows, ensure_ascii=False, indent=1))
        return EXIT_OK
    for r in found.rows:
        say(f"{r['created_at']}  {r['status']:<11} {r['account']:<20} {r['id']}")
        say(f"    {shorten(r['text'], 110)}")
        if r["answer_text"]:
            say(f"    ↳ {r['answered_by']}: {shorten(r['answer_text'], 100)}")
    shown_ = len(found.rows)
    counted = f"{shown_}" if shown_ == found.total else f"{shown_} of {found.total}"
    skipped = f", the {args.offset} newest skipped" if args.offset else ""
    say(f"-- {counted} opinions match {args.query!r} (newest first{skipped})")
    stale = stale_tokens(db)
    if stale:
        say(f"-- older opinions may be missing: search tokens {stale}; run `reindex`")
    return EXIT_OK


def cmd_reindex(args: argparse.Namespace) -> int:
    from normalize.morph import search_tokens_many
    from store.search import rebuild_tokens

    db = open_db(args)

    def progress(done: int, todo: int) -> None:
        if done % 100_000 < args.batch or done == todo:
            print(f"reindex: {done:,} of {todo:,} comments", file=sys.stderr, flush=True)

    got = rebuild_tokens(db, search_tokens_many, batch=args.batch, progress=progress)
    print(f"reindex: {got['rows']:,} comments read, {got['changed']:,} search tokens "
          f"rebuilt in {got['seconds']} s")
    return EXIT_OK


# --- serve ---------------------------------------------------------------------------------
def cmd_serve(args: argparse.Namespace) -> int:
    import asyncio

    import uvicorn

    from commands.workplace import workplace_config
    from workplace.app import build_server

    db = read_db(args)  # it must exist and be current (`migrate` upgrades it)
    users = db.execute("SELECT count(*) FROM users WHERE disabled = 0").fetchone()[0]
    db.conn.close()
    try:
        open_db(args, unmasked=False).conn.close()  # the workplace writes sessions and cases
    except Exception as exc:  # noqa: BLE001 - UnusableDatabase, PermissionError
        raise UsageError(f"{args.db}: the workplace needs to write to it ({exc})") from None
    config = workplace_config(args)
    ds = build_server(args.db, sql=args.sql, config=config)
    asyncio.run(ds.invoke_startup())
    name, base = Path(args.db).stem, f"http://{args.host}:{args.port}"
    print(f"serving {args.db} (one process: workplace, public page, Datasette; "
          f"Ctrl-C stops)\n"
          f"  {base}/inbox        the workplace (log in at {base}/login)\n"
          f"  {base}/public       the public results page (no login)\n"
          f"  {base}/{name:<12} Datasette for analysts, behind the same login (arbitrary "
          f"SQL {'ON' if args.sql else 'off'})", flush=True)
    if not users:
        print(f"  no users yet: {Path(sys.argv[0]).name} user add NAME --role staff",
              flush=True)
    uvicorn.run(ds.app(), host=args.host, port=args.port, log_level="warning")
    return EXIT_OK


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `search`, `reindex` and `serve`."""
    statuses = ", ".join(known_statuses())
    p = subparsers.add_parser(
        "search", help="Korean full-text search over opinions (newest first)",
        description="Search citizens' opinions by morphemes, newest first: 택시 finds "
                    "택시요금이, 콜택시 and 개인택시 (not 택배), 침수 finds 침수됐어요; English, "
                    "Chinese and Japanese work too. Words are AND-ed; \"택시 요금\" in quotes "
                    "is a phrase (those words, in that order).")
    p.add_argument("query", metavar="QUERY", help="words to search for")
    p.add_argument("--limit", type=positive_int, default=20, metavar="N",
                   help="at most N results (default 20)")
    p.add_argument("--offset", type=bounded(int, 0, "a whole number"), default=0, metavar="N",
                   help="skip the N newest matches (the next page)")
    p.add_argument("--account", metavar="KEY", help="only opinions left on this account")
    p.add_argument("--status", type=status_arg, metavar="S", help=f"only this status: {statuses}")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=cmd_search)

    p = subparsers.add_parser(
        "reindex", help="rebuild the search tokens of every stored comment (after an upgrade)",
        description="Recompute the search tokens of all stored comments from their text, "
                    "when an upgrade changed them (`search` and `status` say so). Commits "
                    "batch by batch: it can be stopped and run again. Minutes at a million "
                    "comments; collecting may go on meanwhile.")
    p.add_argument("--batch", type=positive_int, default=2000, metavar="N",
                   help="comments per transaction (default 2000)")
    p.set_defaults(func=cmd_reindex)

    p = subparsers.add_parser(
        "serve", help="the workplace, the public page and Datasette, in one process",
        description="Serve the workplace (/inbox: log in, filter, assign, transfer, answer, "
                    "resolve; users from `user add`), the public results page (/public) and "
                    "Datasette with center/metadata.yaml for analysts (behind the same login: "
                    "the centre with facets, search, overdue opinions, reflection rate, SNS "
                    "map and an opinion page). The collector may write meanwhile.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8001, help="port to listen on (default 8001)")
    p.add_argument("--sql", action="store_true",
                   help="allow arbitrary SQL (for analysts; off by default)")
    p.add_argument("--workplace-config", metavar="FILE",
                   help="working time, deadlines and sessions (default config/workplace.yaml "
                        "or $SMC_WORKPLACE_CONFIG)")
    p.set_defaults(func=cmd_serve)
