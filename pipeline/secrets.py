"""Secrets never reach a log line, whoever logs them (our code or a client library)."""
from __future__ import annotations

import logging
from typing import Any, Iterable

from core.redact import redact, register, secret_values

__all__ = ["install_log_scrubber", "secret_values"]
_TRACEBACKS = logging.Formatter()


def install_log_scrubber(secrets: Iterable[str]) -> None:
    """Scrub every log record as it is made: known values and token-looking parameters.

    A record factory, not a handler filter, so that every handler (files, the journal,
    pytest's capture) only ever sees the scrubbed message.
    """
    register(secrets)
    previous = logging.getLogRecordFactory()
    if getattr(previous, "smc_scrubber", False):
        previous = previous.wrapped  # type: ignore[attr-defined]

    def factory(*args, **kwargs) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string is the caller's bug, not ours
            return record
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            # formatted now, redacted: formatters use this text instead of their own
            record.exc_text = _TRACEBACKS.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            record.fields = {k: _redacted(v) for k, v in fields.items()}
        return record

    factory.smc_scrubber = True  # type: ignore[attr-defined]
    factory.wrapped = previous  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def _redacted(value: Any) -> Any:
    return redact(value) if isinstance(value, str) else value


class RedactingFormatter(logging.Formatter):
    """A formatter whose output is redacted as a whole: fields a record got after it was
    made (`extra=`) and tracebacks, formatted only now, included."""

    def __init__(self, inner: logging.Formatter):
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        return redact(self.inner.format(record))


class RedactingHandler(logging.StreamHandler):
    """A stream handler that, when writing fails (a closed stderr), says so in one redacted
    line: logging's own report prints the exception being handled, tokens and all."""

    def handleError(self, record: logging.LogRecord) -> None:
        import sys

        try:
            if sys.__stderr__ is not None:
                sys.__stderr__.write(redact(f"logging failed: {sys.exc_info()[1]!r}\n"))
        except Exception:  # noqa: BLE001 - nowhere left to report it
            pass
