"""What every bench prints: its lines on stdout, appended to `--out` when given."""
from __future__ import annotations


def emit(lines: list[str], out: str | None) -> None:
    """Print the lines (and append them to `out`)."""
    print("\n".join(lines), flush=True)
    if out:
        with open(out, "a", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
