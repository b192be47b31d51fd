"""Importing saved API output (any format of pipeline.formats) through the same normalize
and store path as collect (`ingest_pages`: batched commits, the unchanged-item cache,
workers); the `import` command (commands/ops.py) drives it.

Every file is one run (`runs.kind = 'import'`) whose counts balance: items read = stored (new
+ updated + unchanged) + quarantined (with reasons) + skipped (by counted rules). A line that
is not JSON, or not a page of the platform, is quarantined with its file and line number.
"""
from __future__ import annotations

import json
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from collectors.base import Page
from core.accounts import Account
from normalize.schema import Quarantine, Skipped
from pipeline.formats import Found, Options, needs_video, pages_of
from pipeline.ingest import ingest_pages, unbalanced
from pipeline.normalizing import Step
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


def import_file(writer: Writer, account: Account, path: Path, ctx: Any,
                options: Options, simulated: bool, workers: int = 0,
                step: Step | None = None) -> tuple[bool, str]:
    """Import one file as one run: whether it went well (False when lines failed or the
    counts do not balance), and its summary line. step: the normalize step of the files
    of one import (its workers start once), else one of `workers` for this file."""
    reader = FileImport(path, account.platform, options, simulated)
    row = writer.start_run(f"import-{uuid.uuid4().hex[:12]}", account.key, account.platform,
                           kind="import")
    stats = ingest_pages(reader.pages(writer, account), writer, {account.key: ctx},
                         workers=workers, step=step)
    stats.add(reader.extra)
    error = unbalanced(stats) if not stats.balanced() else None
    if reader.bad_lines and error is None:
        error = f"{len(reader.bad_lines)} lines quarantined: {', '.join(reader.bad_lines[:5])}"
    status = "failed" if not stats.balanced() else "ok"
    writer.finish_run(row, status, stats, 0, error)
    return status == "ok" and not reader.bad_lines, summary_line(account.key, path, stats, reader)


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
