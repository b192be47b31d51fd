"""Seoul Social Media Center pipeline: the command line (`smc`, run_pipeline.py).

Exit codes: 0 every account ok, 1 some account failed (or `status --check` found a problem),
2 config or usage error, 75 another run holds the database's lock.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sqlite3
import sys
from typing import Callable, Sequence

from commands import backfill, cases, center, collect, digest, ops, status, workplace
from commands.common import EXIT_FAILED, EXIT_USAGE, ROOT, UsageError
from core.redact import redact
from core.times import from_epoch
from pipeline.config import ConfigError
from pipeline.secrets import (
    RedactingFormatter,
    RedactingHandler,
    install_log_scrubber,
    secret_values,
)
from store.db import UnusableDatabase, describe

log = logging.getLogger("smc")
DEFAULT_CONFIG = ROOT / "config" / "accounts.yaml"
# The command families, in the order `--help` lists their commands: each adds its own with
# `register(subparsers)`.
FAMILIES = (collect, status, cases, center, workplace, digest, ops, backfill)


# --- logging -----------------------------------------------------------------------------
class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log shippers."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": from_epoch(record.created),
            "level": record.levelname.lower(), "logger": record.name, "msg": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(level: str, fmt: str) -> None:
    handler = RedactingHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter(
        JsonFormatter() if fmt == "json" else
        logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S")))
    logging.basicConfig(level=getattr(logging, level.upper()), handlers=[handler], force=True)
    # Client libraries log request headers and URLs (tokens, API keys) at DEBUG: keep them
    # quiet, and scrub whatever is logged anyway.
    # APScheduler narrates every job (88 lines at start-up): only when debugging.
    for noisy in ("tweepy", "facebook", "googleapiclient", "urllib3", "requests", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if level == "debug" and
                                          noisy == "apscheduler" else logging.WARNING)
    install_log_scrubber(secret_values())


# --- parser ------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="run_pipeline.py",
        description="Collect citizens' opinions from Seoul's 44 SNS accounts into SQLite.",
        epilog="Exit codes: 0 all accounts ok, 1 some account failed (or status --check found a problem), 2 config or usage error, 75 another run holds the lock.",
    )
    parser.add_argument("--db", default=os.environ.get("SMC_DB", "data/smc.db"),
                        help="SQLite database (default: $SMC_DB or data/smc.db)")
    parser.add_argument("--config", default=os.environ.get("SMC_CONFIG", str(DEFAULT_CONFIG)),
                        help="accounts file (default: $SMC_CONFIG, else the project's "
                             "config/accounts.yaml, wherever you run it from)")
    parser.add_argument("--debug", action="store_true",
                        help="log at debug level and show the traceback of an unexpected error")
    parser.add_argument("--log-level", default="info",
                        choices=("debug", "info", "warning", "error"), help="log verbosity")
    parser.add_argument("--log-format", default="text", choices=("text", "json"),
                        help="log lines as text or as JSON objects for log shippers")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for family in FAMILIES:
        family.register(sub)
    return parser


EXIT_PIPE = 141  # 128 + SIGPIPE, what a shell reports for `... | head`


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging("debug" if args.debug else args.log_level, args.log_format)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        code = func(args)
        sys.stdout.flush()  # a closed pipe shows here, not at exit
        return code
    except (ConfigError, UsageError, UnusableDatabase) as exc:
        return fail(f"error: {exc}", EXIT_USAGE)
    except sqlite3.DatabaseError as exc:  # a database that went bad under a command
        return fail(f"error: {describe(args.db, exc)} (run `status --check`)", EXIT_USAGE)
    except KeyboardInterrupt:
        return fail("interrupted", 130)
    except BrokenPipeError:  # `status | head`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_PIPE
    except OSError as exc:  # a full disk, a read-only folder, a missing file
        where = f"{exc.filename}: " if exc.filename else ""
        return fail(f"error: {args.command}: {where}{exc.strerror or exc}", EXIT_FAILED,
                    args.debug)
    except Exception as exc:  # noqa: BLE001 - one line for a person, the traceback on demand
        return fail(f"error: {args.command} failed unexpectedly: {type(exc).__name__}: "
                    f"{exc} (run again with --debug for the traceback; logs on stderr)",
                    EXIT_FAILED, args.debug)


def fail(message: str, code: int, traceback: bool = False) -> int:
    """One redacted line on stderr (and, with --debug, the traceback), then the exit code."""
    if traceback:
        import traceback as tb

        print(redact(tb.format_exc()), file=sys.stderr, end="")
    print(redact(message.replace("\n", " ")), file=sys.stderr)
    return code

