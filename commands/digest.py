"""`digest`: write the daily digest of one Seoul day (html, md, overdue csv)."""
from __future__ import annotations

import argparse
from datetime import UTC, date, datetime

from commands.common import EXIT_OK, UsageError, positive_hours, read_db
from digest.build import SEOUL, seoul_yesterday


def seoul_date(text: str) -> date:
    """argparse type: a YYYY-MM-DD day."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a day as YYYY-MM-DD, got {text!r}") from None



def _now() -> datetime:
    """The clock (tests replace it)."""
    return datetime.now(UTC)


def cmd_digest(args: argparse.Namespace) -> int:
    from digest.render import write_digest

    now = _now()
    day = args.date or seoul_yesterday(now)
    if day > now.astimezone(SEOUL).date():
        raise UsageError(f"--date {day} is in the future (today in Seoul is "
                         f"{now.astimezone(SEOUL).date()})")
    db = read_db(args)
    try:
        paths = write_digest(db, day, args.out, overdue_hours=args.overdue_hours, now=now)
    finally:
        db.conn.close()
    for path in paths:
        print(path)
    return EXIT_OK


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `digest` command."""
    p = subparsers.add_parser(
        "digest", help="write the daily digest (HTML, Markdown, overdue CSV) of a Seoul day",
        description="Write DATE.html (self-contained, charts with Korean labels), DATE.md and "
                    "DATE-overdue.csv for one Seoul day: opinions received and answered the "
                    "same day, the same-day answer rate (not the centre's reflection rate) "
                    "and response time against the previous 7 days, per platform and "
                    "account, overdue opinions, keywords, districts, categories, "
                    "languages, crisis alerts and collector health.",
    )
    p.add_argument("--date", type=seoul_date, default=None, metavar="YYYY-MM-DD",
                   help="the Seoul day to digest (default: yesterday in Asia/Seoul)")
    p.add_argument("--out", default="out/digest", metavar="DIR",
                   help="directory to write the files into (default: out/digest)")
    p.add_argument("--overdue-hours", type=positive_hours, default=24.0, metavar="H",
                   help="an opinion unanswered for more than H hours at the digest's reference "
                        "time (end of the day, or now if earlier) is overdue (default 24)")
    p.set_defaults(func=cmd_digest)
