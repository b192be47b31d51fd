"""The command line (`smc`, run_pipeline.py): the parser and the commands are in commands/cli.py.

This package module stays light on purpose: a normalizer worker process (spawned) imports
the parent's main script, and `smc` is `from commands import main`; importing the commands
here would load the store, Datasette's friends and pandas into every worker (~70 MB each).
"""
from __future__ import annotations

from importlib import import_module
from typing import Any, Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line (see commands/cli.py)."""
    from commands.cli import main as run

    return run(argv)


def __getattr__(name: str) -> Any:
    """commands.X is commands.cli.X (build_parser, setup_logging, JsonFormatter, ...)."""
    if name.startswith("__"):
        raise AttributeError(name)
    return getattr(import_module("commands.cli"), name)
