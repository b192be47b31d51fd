"""The Social Media Center's case commands: staff record what was done about an opinion.

    case set ID --status S [--department D] [--note N] [--by NAME]
    case show ID
    case list [--status S] [--overdue HOURS] [--account KEY] [--summary] [--format F]
    case import FILE.csv          (columns id,status[,department,note,by]; all or nothing)

Status and the 처리율 (reflection rate) are defined in docs/SCHEMA.md. Notes and departments typed
by staff (case set, case import) are PII-masked (normalize.text.mask_pii) before they are
stored: case_events is append-only, so what is stored there is never erased.
"""
from __future__ import annotations

import argparse
import csv
import getpass
import io
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from commands.common import EXIT_OK, UsageError, hours, open_db, positive_int, read_db
from core.display import SafeCsvWriter, shown, undo_csv_safe

if TYPE_CHECKING:
    from store.cases import Change

CSV_COLUMNS = ("id", "status", "department", "note", "by")
# Not the digest's rate, which is same-day (당일 답변율): each is shown with its definition.
# The three rates of issue #19 (store.cases.RATES), whenever written, status as of now.
RATES_NOTE = ("whenever written, status as of now; not the digest's 당일 답변율 (same-day "
              "answer rate)")


def known_statuses() -> tuple[str, ...]:
    from store.cases import STATUSES

    return STATUSES


def status_arg(text: str) -> str:
    """argparse type: a known status (exit 2 naming it otherwise)."""
    statuses = known_statuses()
    if text not in statuses:
        raise argparse.ArgumentTypeError(
            f"unknown status {text!r} (expected one of {', '.join(statuses)})")
    return text



def _time_arg(text: str) -> str:
    """argparse type: an ISO-8601 time, returned as UTC `YYYY-MM-DDTHH:MM:SSZ`."""
    from store.cases import ISO, parse_time

    try:
        return parse_time(text).strftime(ISO)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO-8601 time: {text!r}") from None



def _who(args: argparse.Namespace) -> str:
    return (getattr(args, "by", None) or os.environ.get("SMC_USER")
            or _login() or "staff")


def _login() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name in some containers
        return None


def say(text: str) -> None:
    """Print text for a reader: others' words may not reorder, hide or draw over it."""
    print(shown(text))


def shorten(text: str | None, width: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


# What staff type (a note, a department) is stored in case_events, which is append-only:
# it is PII-masked here, before the store sees it (store/ does not import normalize/).
_PII_WORDS = {
    "phone": ("phone number", "phone numbers"),
    "rrn": ("resident registration number", "resident registration numbers"),
    "email": ("e-mail address", "e-mail addresses"),
    "card": ("card number", "card numbers"),
    "account": ("account number", "account numbers"),
    "address": ("address unit", "address units"),
}


def _mask_typed(text: str | None, counts: dict[str, int]) -> str | None:
    """`text` PII-masked (None stays None); adds what was masked to `counts`."""
    if not text:
        return text
    from normalize.text import mask_pii_counts, nfc

    masked, found = mask_pii_counts(nfc(text))
    for kind, n in found.items():
        counts[kind] = counts.get(kind, 0) + n
    return masked


def mask_change(change: Any, counts: dict[str, int]) -> Any:
    """The change with its note and department PII-masked (what every path that writes a
    case change must store); what was masked is added to `counts`, never the values."""
    return replace(change, note=_mask_typed(change.note, counts),
                   department=_mask_typed(change.department, counts))


def describe_masked(counts: dict[str, int]) -> str:
    """'1 phone number and 2 e-mail addresses' (kinds in PII_TOKENS order)."""
    parts = [f"{counts[k]} {_PII_WORDS[k][counts[k] != 1]}" for k in _PII_WORDS if counts.get(k)]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _pct(reflected: int, total: int) -> str:
    return f"{reflected} of {total:,} = {100.0 * reflected / total:.1f} %" if total else "no opinions"


def _rates_text(overall: dict, sep: str = "\n") -> str:
    """The three rates, each with its definition (`응답률 (...): ... / all opinions: 3 of 10 =
    30.0 %`), then the note; joined by `sep` (a list's footer keeps to one line)."""
    from store.cases import RATES

    n = {"answer_pct": overall["answered"] + overall["resolved"] + overall["reflected"],
         "resolution_pct": overall["resolved"] + overall["reflected"],
         "reflection_pct": overall["reflected"]}
    parts = [f"{RATES[k]}: {_pct(n[k], overall['opinions'])}" for k in RATES]
    return sep.join([*parts, f"({RATES_NOTE})"])


# --- case ----------------------------------------------------------------------------------
def cmd_case_set(args: argparse.Namespace) -> int:
    from store import cases

    db = open_db(args)
    masked: dict[str, int] = {}
    change = mask_change(
        cases.Change(args.id, args.status, args.department, args.note, _who(args),
                     policy=args.policy), masked)
    try:
        if args.at:
            cases.check_at(db, [change], args.at)
        event = cases.set_status(db, change, at=args.at)
    except cases.CaseError as exc:
        raise UsageError(str(exc)) from None
    say(f"{event['comment_id']}: {event['from_status']} -> {event['to_status']}"
          + (f" [{event['department']}]" if event["department"] else "")
          + f" by {event['by']} at {event['at']}")
    if masked:
        print(f"note: masked {describe_masked(masked)} before storing (case history is "
              "never erased)")
    return EXIT_OK


def cmd_case_show(args: argparse.Namespace) -> int:
    from store import cases

    db = read_db(args)
    row = cases.opinion(db, args.id)
    if row is None:
        raise UsageError(f"id: unknown opinion id {args.id!r}")
    thread = cases.thread(db, args.id)
    events = cases.history(db, args.id)
    if args.json:
        print(json.dumps({"opinion": row, "thread": thread, "history": events},
                         ensure_ascii=False, indent=1))
        return EXIT_OK
    out = [f"opinion {row['id']}  [{row['status']}]",
           (f"  account   {row['account']} ({row['account_name']}, {row['platform']}), "
            f"field {row['field']}, department {row['department']}"),
           f"  written   {row['created_at']} (Seoul day {row['seoul_day']})"
           + (f", district {row['district']}" if row["district"] else "")
           + (f", category {row['category']}" if row["category"] else ""),
           f"  url       {row['url'] or '-'}", ""]
    post = thread["post"]
    if post:
        out.append(f"post {post['id']} ({post['created_at']}): "
                   f"{shorten(post['title'] or post['text'], 100)}")
    for depth, parent in enumerate(thread["parents"]):
        who = parent["author_name"] if parent["is_official"] else "citizen"
        gone = " (deleted)" if parent["deleted"] else ""
        out.append(f"{'  ' * (depth + 1)}└ {parent['created_at']} {who}{gone}: "
                   f"{shorten(parent['text'], 90)}")
    indent = "  " * (len(thread["parents"]) + 1)
    out.append(f"{indent}└ {row['created_at']} citizen  ◀ THIS OPINION: {row['text']}")
    for reply in thread["replies"]:
        who = f"OFFICIAL {reply['author_name']}" if reply["is_official"] else "citizen"
        out.append(f"{indent}    └ {reply['created_at']} {who}: {shorten(reply['text'], 90)}")
    answer = thread["answer"]
    out.append("")
    if answer:
        out.append(f"official answer ({answer['author_name']}, {answer['created_at']}, "
                   f"after {row['response_minutes']} min):")
        out.append(f"  {answer['text']}")
    else:
        out.append("official answer: none yet")
    out.append("")
    out.append("history:" if events else "history: no staff changes")
    for e in events:
        out.append(f"  {e['at']}  {e['from_status'] or '?'} -> {e['to_status']}"
                   f"  by {e['by'] or '?'}"
                   + (f"  [{e['department']}]" if e["department"] else "")
                   + (f"  {e['note']}" if e["note"] else ""))
    say("\n".join(out))
    return EXIT_OK


def cmd_case_list(args: argparse.Namespace) -> int:
    from store import cases

    db = read_db(args)
    if args.summary:
        return _print_summary(db, args)
    rows = cases.list_cases(db, status=args.status, overdue_hours=args.overdue, now=args.now,
                            account=args.account, limit=args.limit)
    if args.format == "json":
        print(json.dumps(rows, ensure_ascii=False, indent=1))
        return EXIT_OK
    if args.format == "csv":
        buffer = io.StringIO()
        writer = SafeCsvWriter(buffer, lineterminator="\n")  # no cell may run as a formula
        writer.writerow(list(rows[0]) if rows else ["id", "created_at", "status"])
        writer.writerows(r.values() for r in rows)
        sys.stdout.write(buffer.getvalue())
        return EXIT_OK
    for r in rows:
        say(f"{r['created_at']}  {r['status']:<11} {r['account']:<20} "
              f"{shorten(r['department'], 12):<12} {r['id']:<32} {shorten(r['text'], 60)}")
    _, overall = cases.reflection(db)
    what = "overdue " if args.overdue is not None else ""
    say(f"-- {len(rows)} {what}opinions listed; {_rates_text(overall, '; ')}")
    return EXIT_OK


def _print_summary(db: Any, args: argparse.Namespace) -> int:
    from store import cases

    rows, overall = cases.reflection(db)
    hours = args.overdue if args.overdue is not None else 24
    counts = cases.count_status(db, overdue_hours=hours, now=args.now)
    if args.account:
        rows = [r for r in rows if r["account"] == args.account]
    if args.format == "json":
        print(json.dumps({"accounts": rows, "overall": overall, "counts": counts},
                         ensure_ascii=False, indent=1))
        return EXIT_OK
    say(f"{'account':<22} {'platform':<9} {'opinions':>8} {'answered':>8} {'resolved':>8} "
          f"{'reflected':>9} {'open':>6} {'answer':>8} {'resolved':>8} {'policy':>8}")

    def pct(v: float | None) -> str:
        return f"{v:.1f} %" if v is not None else "-"

    for r in rows:
        say(f"{r['account']:<22} {r['platform']:<9} {r['opinions']:>8} {r['answered']:>8} "
            f"{r['resolved']:>8} {r['reflected']:>9} {r['open']:>6} {pct(r['answer_pct']):>8} "
            f"{pct(r['resolution_pct']):>8} {pct(r['reflection_pct']):>8}")
    say("\nstatus: " + ", ".join(f"{s} {counts[s]}" for s in cases.STATUSES)
          + f"; total {counts['total']}")
    say(f"overdue (open for more than {hours:g} h): {counts['overdue']}")
    say(_rates_text(overall))
    return EXIT_OK


def cmd_case_import(args: argparse.Namespace) -> int:
    from store import cases

    path = Path(args.file)
    parsed = read_case_csv(path, default_by=_who(args))
    masked = [_masked_counts(change) for change in parsed.changes]
    changes = [change for change, _ in masked]
    db = open_db(args)
    try:
        if args.at:
            cases.check_at(db, changes, args.at)
        applied = cases.import_changes(db, changes, at=args.at)
    except cases.CaseError as exc:
        raise UsageError(f"{path}: {exc}") from None
    if parsed.encoding != "UTF-8":
        say(f"note: {path}: read as {parsed.encoding} (Korean Excel's default for CSV)")
    if parsed.ignored:
        say(f"note: {path}: ignored column{'s' if len(parsed.ignored) != 1 else ''} "
            f"{', '.join(parsed.ignored)} (only {','.join(CSV_COLUMNS)} are imported)")
    say(f"{path}: {len(applied.events)} case changes recorded in one transaction; "
        f"{len(applied.skipped)} unchanged rows skipped (same status, department and note "
        "as the case already has)")
    _say_masked(path, masked, {c.line for c in applied.skipped})
    return EXIT_OK


def _masked_counts(change: Change) -> tuple[Change, dict[str, int]]:
    counts: dict[str, int] = {}
    return mask_change(change, counts), counts


def _say_masked(path: Path, masked: list[tuple[Change, dict[str, int]]],
                skipped: set[int | None]) -> None:
    """What was masked in the rows that were recorded (skipped rows stored nothing)."""
    total: dict[str, int] = {}
    lines: list[int] = []
    for change, counts in masked:
        if counts and change.line is not None and change.line not in skipped:
            lines.append(change.line)
            for kind, n in counts.items():
                total[kind] = total.get(kind, 0) + n
    if total:
        say(f"{path}: notes: masked {describe_masked(total)} before storing (line"
            f"{'s' if len(lines) != 1 else ''} {', '.join(map(str, lines))})")


# The exports name the note staff_note (case list --format csv); they import back as note.
CSV_ALIASES = {"staff_note": "note"}


@dataclass(frozen=True)
class CaseCsv:
    """A parsed case CSV: its changes, the header's columns not imported, its encoding."""

    changes: list[Change]
    ignored: list[str]
    encoding: str


def read_case_csv(path: Path, default_by: str | None = None) -> CaseCsv:
    """Parse a department's answers (id,status[,department,note,by]; other columns, as in
    the overdue CSV or `case list --format csv`, are ignored). A malformed file or a bad row
    raises UsageError naming the file and the line. Nothing is written here."""
    text, encoding = _decode(path)
    records = _records(path, text)
    first = next(records, None)
    if first is None:
        raise UsageError(f"{path}: empty file (expected a header {','.join(CSV_COLUMNS)})")
    columns, ignored = _header(path, first[1])
    changes: list[Change] = []
    for line, values in records:
        if not any(v.strip() for v in values):
            continue  # blank lines, and rows of empty cells spreadsheets leave behind
        if len(values) != len(first[1]):
            raise UsageError(f"{path}: line {line}: {len(values)} fields, the header has "
                             f"{len(first[1])} (a quote or a comma too many or too few?)")
        changes.append(_row_change(path, line, values, columns, default_by))
    return CaseCsv(changes, ignored, encoding)


def _decode(path: Path) -> tuple[str, str]:
    """The file's text and encoding: UTF-8 (BOM or not), else CP949 (EUC-KR and more)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        return data.decode("utf-8-sig"), "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp949"), "CP949"
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: neither UTF-8 nor CP949 (EUC-KR) at byte {exc.start}: "
                         "save it as \"CSV UTF-8\" and import again") from None


def _records(path: Path, text: str) -> Iterator[tuple[int, list[str]]]:
    """(line where the record starts, its cells); a malformed quote raises UsageError."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    line = 1
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            reason = ("a quoted field starts here and never ends (unterminated quote)"
                      if "unexpected end of data" in str(exc) else f"malformed CSV ({exc})")
            raise UsageError(f"{path}: line {line}: {reason}") from None
        yield line, [undo_csv_safe(v) for v in values]
        line = reader.line_num + 1


def _header(path: Path, cells: list[str]) -> tuple[dict[str, int], list[str]]:
    """The imported columns by position, and the names of the others (ignored)."""
    names = [CSV_ALIASES.get(n, n) for n in (c.strip().lower() for c in cells)]
    columns: dict[str, int] = {}
    ignored: list[str] = []
    for i, name in enumerate(names):
        if name not in CSV_COLUMNS:
            ignored.append(cells[i].strip() or f"(column {i + 1} without a name)")
        elif name in columns:
            first, again = cells[columns[name]].strip(), cells[i].strip()
            same = "appears twice" if first == again else f"and {first!r} are both the {name}"
            raise UsageError(f"{path}: line 1: header: column {again!r} {same}")
        else:
            columns[name] = i
    for required in ("id", "status"):
        if required not in columns:
            raise UsageError(f"{path}: line 1: header: missing column {required!r} "
                             f"(expected {','.join(CSV_COLUMNS)})")
    return columns, ignored


def _row_change(path: Path, line: int, values: list[str], columns: dict[str, int],
                default_by: str | None) -> Change:
    from store.cases import STATUSES, Change

    row = {name: values[i].strip() for name, i in columns.items()}
    if not row["id"]:
        raise UsageError(f"{path}: line {line}: id: missing opinion id")
    if row["status"] not in STATUSES:
        raise UsageError(f"{path}: line {line}: status: unknown status {row['status']!r} "
                         f"(expected one of {', '.join(STATUSES)})")
    return Change(row["id"], row["status"], row.get("department") or None,
                  row.get("note") or None, row.get("by") or default_by, line)


# --- registration --------------------------------------------------------------------------
def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `case` and its actions."""
    statuses = ", ".join(known_statuses())
    case = subparsers.add_parser(
        "case", help="staff set and show the processing result of an opinion",
        description="Record what a department did about a citizen's opinion, show an "
                    f"opinion with its thread and history, list and import cases. "
                    f"Statuses: {statuses}.")
    sub = case.add_subparsers(dest="case_command", metavar="ACTION", required=True)

    p = sub.add_parser("set", help="set an opinion's status (appends to its history)",
                       description="Set the processing status of one opinion. The change "
                                   "is appended to case_events; cases holds the current state.")
    p.add_argument("id", help="the opinion's id, e.g. x:2125317658768310329")
    p.add_argument("--status", required=True, type=status_arg, metavar="S",
                   help=f"new status: {statuses}")
    p.add_argument("--department", metavar="D", help="department handling it")
    p.add_argument("--note", metavar="N",
                   help="what was done or decided (PII in it is masked before it is stored)")
    p.add_argument("--policy", metavar="P",
                   help="with --status reflected (required then): the policy or measure the "
                        "opinion fed into")
    p.add_argument("--by", metavar="NAME", help="who records it (default: $SMC_USER or login)")
    p.add_argument("--at", type=_time_arg, metavar="ISO",
                   help="record the change at this ISO-8601 UTC time (default: now; not in "
                        "the future, not before the opinion was written)")
    p.set_defaults(func=cmd_case_set)

    p = sub.add_parser("show", help="an opinion with its thread, official answer and history",
                       description="Show the opinion, its post, the comments it replies to, "
                                   "the replies under it, the official answer and its history.")
    p.add_argument("id", help="the opinion's id")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=cmd_case_show)

    p = sub.add_parser("list", help="list opinions, e.g. the overdue ones, or --summary",
                       description="List opinions (newest first; with --overdue, those not "
                                   "answered, resolved or dismissed older than HOURS, oldest "
                                   "first). Ends with the 처리율 (reflection rate: answered or "
                                   "resolved / all opinions); --summary prints it per account "
                                   "with status counts instead.")
    p.add_argument("--status", type=status_arg, metavar="S", help=f"only this status: {statuses}")
    p.add_argument("--overdue", type=hours, metavar="HOURS",
                   help="only open opinions older than HOURS, oldest first")
    p.add_argument("--account", metavar="KEY", help="only this account")
    p.add_argument("--limit", type=positive_int, metavar="N", help="at most N rows")
    p.add_argument("--now", type=_time_arg, metavar="ISO",
                   help="reference time for --overdue (default: now), e.g. 2026-11-25T00:00:00Z")
    p.add_argument("--summary", action="store_true",
                   help="처리율 (reflection rate) per account and overall, status counts, "
                        "overdue count")
    p.add_argument("--format", choices=("text", "csv", "json"), default="text",
                   help="output as a text table (default), CSV (e.g. overdue for mail) or JSON")
    p.set_defaults(func=cmd_case_list)

    p = sub.add_parser("import", help="import a department's answers from CSV (all or nothing)",
                       description="Import case changes from a CSV with the columns "
                                   "id,status,department,note,by (header required; department, "
                                   "note and by may be empty or absent). Other columns are "
                                   "ignored, so the digest's overdue CSV and `case list "
                                   "--format csv` can be edited and imported back. A row that "
                                   "changes nothing is skipped. A malformed file or a bad row "
                                   "exits 2 naming the line, and nothing is written.")
    p.add_argument("file", metavar="FILE.csv",
                   help="the CSV file (UTF-8, with or without BOM, or CP949/EUC-KR)")
    p.add_argument("--by", metavar="NAME", help="who, for rows with an empty `by`")
    p.add_argument("--at", type=_time_arg, metavar="ISO",
                   help="record the changes at this ISO-8601 UTC time (default: now; not in "
                        "the future, not before an opinion was written)")
    p.set_defaults(func=cmd_case_import)
