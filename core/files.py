"""Files written whole or not at all: a reader (a mail job, a web server) never sees half."""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator


@contextmanager
def atomic_write(path: str | Path, encoding: str = "utf-8",
                 newline: str | None = None) -> Iterator[IO[str]]:
    """Write text to a temporary file beside `path`, then rename it over `path`; on any
    error (a full disk, an interrupted run) the temporary file is removed and `path` is
    left as it was."""
    target = Path(path)
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding=encoding, newline=newline) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(temp, 0o644)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
