"""Secrets never reach a log line, whoever logs them (our code or a client library)."""
from __future__ import annotations

import logging
import os
import re
from typing import Iterable, Mapping

from collectors.recording import scrub_text

_SECRET_NAME = re.compile(r"(TOKEN|KEY|SECRET|PASSWORD|PROOF)", re.IGNORECASE)


def secret_values(environ: Mapping[str, str] = os.environ) -> list[str]:
    """Values of environment variables whose names say they are secrets."""
    return [v for k, v in environ.items() if _SECRET_NAME.search(k) and len(v) >= 8]


def install_log_scrubber(secrets: Iterable[str]) -> None:
    """Scrub every log record as it is made: known values and token-looking parameters.

    A record factory, not a handler filter, so that every handler (files, the journal,
    pytest's capture) only ever sees the scrubbed message.
    """
    known = list(secrets)
    previous = logging.getLogRecordFactory()
    if getattr(previous, "smc_scrubber", False):
        previous = previous.wrapped  # type: ignore[attr-defined]

    def factory(*args, **kwargs) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string is the caller's bug, not ours
            return record
        record.msg, record.args = scrub_text(message, known), None
        if record.exc_text:
            record.exc_text = scrub_text(record.exc_text, known)
        return record

    factory.smc_scrubber = True  # type: ignore[attr-defined]
    factory.wrapped = previous  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
