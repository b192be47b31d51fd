"""What every command module shares: exit codes, usage errors, opening the config and db.

Command modules (center/cli.py, digest/cli.py, ...) expose `register(subparsers)` that adds
their commands with `set_defaults(func=...)`; run_pipeline.py lists them in COMMAND_MODULES.
"""
from __future__ import annotations

import argparse

import sqlite_utils

from pipeline.config import Account, load_accounts

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad input from the user: the command exits 2 with this message."""


def load_config(args: argparse.Namespace) -> list[Account]:
    """The accounts of --config (raises ConfigError, which exits 2)."""
    return load_accounts(args.config)


def open_db(args: argparse.Namespace) -> sqlite_utils.Database:
    """The database of --db, created and migrated if needed."""
    from store.db import connect

    return connect(args.db)
