"""Reading platform JSON whose shape is not promised: a field is an object, a list, or
nothing we can use (one place for the `isinstance` checks, typed for mypy)."""
from __future__ import annotations

from typing import Any


def obj(value: Any) -> dict[str, Any]:
    """A nested JSON object, or an empty one."""
    return value if isinstance(value, dict) else {}


def seq(value: Any) -> list[Any]:
    """A JSON list, or an empty one."""
    return value if isinstance(value, list) else []
