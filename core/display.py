"""What others' words may look like where people read them: spreadsheet cells, shown text, links.

Stored text stays as it came; these apply only where it leaves the house for a reader
(CSV files and downloads, digests, the centre's pages, the command line's printers).
"""
from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from typing import Protocol
from urllib.parse import quote, urlsplit

# --- spreadsheet cells ----------------------------------------------------------------------
# OWASP, "CSV Injection" (https://owasp.org/www-community/attacks/CSV_Injection): no cell may
# begin with = + - @ tab (0x09), carriage return (0x0D) or line feed (0x0A); prefix such a
# cell with a single quote, and quote every cell so that a separator inside it (',' or the
# ';' of other Excel locales) cannot start a new cell that begins with one of them.
FORMULA_START = frozenset("=+-@\t\r\n")
# Also after leading whitespace (e.g. "  =1"): some importers trim cells before they look.
# Our one exception to OWASP's list: a cell that is wholly a plain decimal number ("-5",
# "+1.5", "-2e3") is left alone. A spreadsheet reads it as that number, which holds no
# formula, and a quote would turn a negative number into text. "-2+3" is not plain: quoted.
_PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def csv_safe(value: object) -> object:
    """A CSV cell as a spreadsheet cannot run it: text that could start a formula gets a
    leading single quote; numbers, None and other text are returned unchanged."""
    if not isinstance(value, str) or not value or _PLAIN_NUMBER.fullmatch(value):
        return value
    if value[0] in FORMULA_START or value.lstrip()[:1] in FORMULA_START:
        return "'" + value
    return value


def undo_csv_safe(cell: str) -> str:
    """A cell read back from a CSV we wrote: the one leading quote csv_safe would have added
    is removed, nothing else ("'=1" -> "=1"; "'quoted'" stays as it is)."""
    if cell.startswith("'") and csv_safe(cell[1:]) == cell:
        return cell[1:]
    return cell


class _TextOut(Protocol):
    def write(self, text: str, /) -> object: ...


class SafeCsvWriter:
    """csv.writer whose every cell passes csv_safe, every cell quoted (see OWASP above)."""

    def __init__(self, out: _TextOut, lineterminator: str = "\r\n") -> None:
        self._writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator=lineterminator)

    def writerow(self, row: Iterable[object]) -> None:
        self._writer.writerow([csv_safe(cell) for cell in row])

    def writerows(self, rows: Iterable[Iterable[object]]) -> None:
        for row in rows:
            self.writerow(row)


# --- shown text -----------------------------------------------------------------------------
# Trojan Source (CVE-2021-42574): the embedding, override and isolate controls (LRE RLE PDF
# LRO RLO, LRI RLI FSI PDI) reorder how a line is drawn, so a reader sees other words than
# were written. LRM/RLM/ALM (U+200E, U+200F, U+061C) only place neutral characters beside
# strong ones, cannot reorder words, and belong to ordinary Arabic and Hebrew text: kept.
BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
# C0 (but tab and newline), DEL and C1: ESC/CSI start terminal escape sequences, and BS or a
# lone CR draw over what was printed before them.
_CONTROLS = "".join(map(chr, [*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0)]))
REPLACEMENT = "\ufffd"  # replaced, not dropped: the reader sees that something was there
# One pattern, not str.translate: a page of the centre is ~1 MB, which translate walks
# character by character through a dict (~30 ms for 200 kB) and a regex scans in C.
_UNSHOWN = re.compile("[" + re.escape(BIDI_CONTROLS + _CONTROLS) + "]|\r(?!\n)")


def shown(text: str) -> str:
    """`text` as it may be shown to a reader: bidi overrides and control characters that
    reorder, hide or draw over the text (and a lone CR) are replaced by U+FFFD; the words
    stay in the order they were written."""
    return _UNSHOWN.sub(REPLACEMENT, text)


# --- links ----------------------------------------------------------------------------------
LINK_SCHEMES = ("http", "https")
_URL_PUNCTUATION = "!#$%&'()*+,-./:;=?@[]_~"  # RFC 3986 reserved and unreserved; % kept
_C0_OR_SPACE = "".join(map(chr, range(0x21)))


def safe_href(url: object) -> str:
    """`url` as a link target when it is an absolute http(s) URL, else "" (no link).

    javascript:, data:, vbscript:, relative and protocol-relative URLs never become links, in
    any letter case. Characters outside RFC 3986 (spaces, quotes, <, >, non-ASCII) are
    percent-encoded, so the URL cannot end a Markdown <autolink> or an attribute early."""
    if not isinstance(url, str):
        return ""
    try:  # as browsers do: no C0 controls or spaces around it, no tab or newline in it
        parts = urlsplit(url.strip(_C0_OR_SPACE))
    except ValueError:
        return ""
    if parts.scheme.lower() not in LINK_SCHEMES or not parts.hostname:
        return ""
    return quote(parts.geturl(), safe=_URL_PUNCTUATION)
