"""One collecting process per database: an advisory lock file beside it."""
from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from types import TracebackType

EXIT_LOCKED = 75  # EX_TEMPFAIL: another run holds the lock; cron may simply try next time


class Locked(Exception):
    """Another process holds the lock."""


class RunLock:
    """An exclusive flock on `<db>.lock`; released when the process ends, even on SIGKILL."""

    def __init__(self, db_path: str | Path, wait_seconds: float = 10.0, poll: float = 0.2):
        self.path = Path(f"{db_path}.lock")
        self.wait_seconds, self.poll = wait_seconds, poll
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock, waiting up to wait_seconds; raise Locked naming the holder."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + self.wait_seconds
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
                    os.close(fd)
                    raise Locked(f"another run (pid {holder}) is collecting into this "
                                 f"database ({self.path}); waited {self.wait_seconds:g} s") from None
                time.sleep(self.poll)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "RunLock":
        self.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()
