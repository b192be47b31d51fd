"""`import`: saved API output (any format of pipeline.formats) through the same normalize and
store path as collect (`ingest_pages`: batched commits, the unchanged-item cache, workers).

Every file is one run (`runs.kind = 'import'`) whose counts balance: items read = stored (new
+ updated + unchanged) + quarantined (with reasons) + skipped (by counted rules). A line that
is not JSON, or not a page of the platform, is quarantined with its file and line number.
"""
from __future__ import annotations

import argparse
import json
import os
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from collectors.base import Page
from core.accounts import Account
from normalize.schema import Quarantine, Skipped
from pipeline.cli import (
    EXIT_FAILED,
    EXIT_OK,
    UsageError,
    check_origin,
    load_config,
    open_db,
    under_run_lock,
)
from pipeline.formats import Found, Options, needs_video, pages_of
from pipeline.ingest import ingest_pages, unbalanced
from pipeline.runner import SecretMissing, author_secret, for_account, load_tagger, platform_context
from store.writer import PageStats, Writer

LINE_FORMATS = (".jsonl", ".ndjson")


@dataclass
class NotJson:
    """A line (or file) that does not parse."""

    text: str
    error: str


def read_documents(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, parsed JSON or NotJson) of a saved file: a JSON document (a list is its
    pages), or JSON lines (.jsonl, or a .json file of one page per line, as twarc2 writes)."""
    if path.suffix in LINE_FORMATS:
        with path.open(encoding="utf-8-sig") as lines:
            yield from _lines(lines)
        return
    text = path.read_text(encoding="utf-8-sig")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data":  # one document a line
            yield from _lines(text.splitlines())
            return
        yield 1, NotJson(text[:2000], str(exc))
        return
    for page in doc if isinstance(doc, list) else [doc]:
        yield 1, page


def _lines(lines: Any) -> Iterator[tuple[int, Any]]:
    for number, line in enumerate(lines, 1):
        if line.strip():
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as exc:
                yield number, NotJson(line[:2000], str(exc))


@dataclass
class FileImport:
    """One file's pages for ingest_pages; what cannot be a page is quarantined on the way."""

    path: Path
    platform: str
    options: Options
    simulated: bool  # the origin of the database's data
    bad_lines: list[str] = field(default_factory=list)
    formats: Counter = field(default_factory=Counter)
    more: int = 0
    extra: PageStats = field(default_factory=PageStats)

    def pages(self, writer: Writer, account: Account) -> Iterator[tuple[Account, Page]]:
        for line, doc in read_documents(self.path):
            where = f"{self.path.name}:{line}"
            if isinstance(doc, NotJson):
                self._reject(writer, account, where, f"not JSON ({doc.error})", {"line": doc.text})
                continue
            found = pages_of(self.platform, doc, self.options)
            problem = self._problem(found)
            if problem:
                self._reject(writer, account, where, problem, {"value": doc})
                continue
            self.formats[found.format] += 1
            self.more += found.more
            for reason, native in found.skips:
                self.extra.add(writer.write_page(account.key, "import", [], [],
                                                 [(Skipped(reason, native), {})],
                                                 platform=self.platform))
            if found.events:
                self.extra.add(writer.apply_compliance(account.platform, found.events))
            for page in found.pages:
                yield account, page

    def _problem(self, found: Found) -> str | None:
        if found.problem:
            return found.problem
        if (found.pages or found.skips) and found.simulated != self.simulated:
            return ("a simulated page in an import of real data" if found.simulated
                    else "a real page in an import of simulated data")
        if needs_video(found):
            return "live chat messages that name no video: import them with --post VIDEO_ID"
        return None

    def _reject(self, writer: Writer, account: Account, where: str, reason: str,
                payload: dict) -> None:
        self.bad_lines.append(where)
        self.extra.add(writer.write_page(account.key, "import", [], [],
                                         [(Quarantine(f"{where}: {reason}"), payload)],
                                         platform=self.platform))


def first_origin(path: Path, platform: str, options: Options) -> bool | None:
    """Whether the first page of a file is simulated (None: the file holds no page)."""
    for _, doc in read_documents(path):
        if isinstance(doc, NotJson):
            continue
        found = pages_of(platform, doc, options)
        if found.pages:
            if needs_video(found):
                raise UsageError(f"{path}: live chat messages that name no video: pass "
                                 "--post VIDEO_ID (the broadcast's video id)")
            return found.simulated
    return None


def cmd_import(args: argparse.Namespace) -> int:
    """Import saved files under the run lock (a collect or the daemon cannot overlap)."""
    return under_run_lock(args, "import", _import)


def _import(args: argparse.Namespace) -> int:
    accounts = load_config(args)
    account = next((a for a in accounts if a.key == args.account), None)
    if account is None:
        raise UsageError(f"{args.config}: unknown account {args.account!r}")
    if account.platform != args.platform:
        raise UsageError(f"account {account.key} is on {account.platform}, not {args.platform}")
    files = [Path(f) for f in args.files]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise UsageError(f"no such file: {', '.join(missing)}")
    options = Options(post=args.post, kind=args.kind)
    simulated = _origin(files, args.platform, options)
    if args.demo_key and simulated is False:
        raise UsageError("--demo-key hashes authors with a public key, which anyone can "
                         "reverse from the public user ids: it is for simulated data only; "
                         "set SMC_AUTHOR_KEY to import real data")
    try:
        secret = author_secret(dict(os.environ), simulate=args.demo_key)
    except SecretMissing as exc:
        raise UsageError(str(exc)) from None
    writer = Writer(open_db(args))
    if simulated is not None:  # compliance output alone fits a database of either origin
        check_origin(writer, args.db, "simulated" if simulated else "live", "an import")
    writer.sync_accounts(accounts)
    ctx = for_account(platform_context(writer, accounts, args.platform, secret, load_tagger()),
                      account)
    failed = False
    for path in files:
        failed |= not _import_file(writer, account, path, ctx, options,
                                   bool(simulated), args.workers)
    writer.refresh_answers()
    return EXIT_FAILED if failed else EXIT_OK


def _origin(files: list[Path], platform: str, options: Options) -> bool | None:
    """True when the files hold simulated data, False for real, None when they hold no
    data at all (compliance output only); mixed files are refused."""
    origins = {f: first_origin(f, platform, options) for f in files}
    kinds = {o for o in origins.values() if o is not None}
    if len(kinds) > 1:
        sim = ", ".join(str(f) for f, o in origins.items() if o)
        raise UsageError(f"these files hold simulated data and the others real data: {sim}; "
                         "import them into separate databases")
    return None if not kinds else kinds == {True}


def _import_file(writer: Writer, account: Account, path: Path, ctx: Any,
                 options: Options, simulated: bool, workers: int) -> bool:
    """Import one file as one run; False when lines failed or the counts do not balance."""
    reader = FileImport(path, account.platform, options, simulated)
    row = writer.start_run(f"import-{uuid.uuid4().hex[:12]}", account.key, account.platform,
                           kind="import")
    stats = ingest_pages(reader.pages(writer, account), writer, {account.key: ctx},
                         workers=workers)
    stats.add(reader.extra)
    error = unbalanced(stats) if not stats.balanced() else None
    if reader.bad_lines and error is None:
        error = f"{len(reader.bad_lines)} lines quarantined: {', '.join(reader.bad_lines[:5])}"
    status = "failed" if not stats.balanced() else "ok"
    writer.finish_run(row, status, stats, 0, error)
    print(summary_line(account.key, path, stats, reader))
    return status == "ok" and not reader.bad_lines


def summary_line(account: str, path: Path, stats: PageStats, reader: FileImport) -> str:
    """What one file did, in the words of the invariant (and where the rest went)."""
    formats = ", ".join(f"{name} x{n}" for name, n in reader.formats.most_common())
    text = (f"import {account} {path.name} ({formats or 'no pages'}): {stats.fetched} read = "
            f"{stats.stored} stored ({stats.inserted} new, {stats.updated} updated, "
            f"{stats.unchanged} unchanged) + {stats.quarantined} quarantined + "
            f"{stats.skipped} skipped")
    for label, reasons in (("quarantined", stats.quarantine_reasons),
                           ("skipped", stats.skip_reasons)):
        if reasons:
            text += f"\n  {label}: " + "; ".join(
                f"{reason} x{n}" for reason, n in sorted(reasons.items(), key=lambda r: -r[1]))
    if reader.more:
        text += (f"\n  {reader.more} more to fetch: nested lists whose paging.next the file "
                 "does not hold (collect reads them)")
    if reader.bad_lines:
        text += (f"\n  {len(reader.bad_lines)} lines failed and went to quarantine (reason "
                 f"starts with the line: {', '.join(reader.bad_lines[:5])}"
                 f"{', ...' if len(reader.bad_lines) > 5 else ''})")
    return text
