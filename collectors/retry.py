"""Bounded retries with exponential backoff and jitter, for 5xx and timeouts only."""
from __future__ import annotations

import logging
import random
import time
from typing import Callable, TypeVar

from core.errors import TransientError

log = logging.getLogger(__name__)
T = TypeVar("T")


def with_retries(
    call: Callable[[], T],
    is_transient: Callable[[BaseException], bool],
    describe: str,
    attempts: int = 3,
    base_delay: float = 0.5,
    max_delay: float = 8.0,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> T:
    """Run `call`; on a transient error wait base*2^n (full jitter) and retry, at most `attempts`.

    The last transient error becomes a TransientError naming what was attempted.
    """
    rng = rng or random.Random()
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except Exception as exc:
            if not is_transient(exc):
                raise
            if attempt == attempts:
                raise TransientError(
                    f"{describe}: gave up after {attempts} attempts: {type(exc).__name__}: {exc}"
                ) from None
            delay = rng.uniform(0, min(max_delay, base_delay * 2 ** (attempt - 1)))
            log.info("%s: %s, retry %d/%d in %.1fs", describe, type(exc).__name__, attempt,
                     attempts - 1, delay)
            sleep(delay)
    raise AssertionError("unreachable")
