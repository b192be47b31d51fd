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


def id_order(native_id: str) -> tuple[int, str]:
    """Orders numeric ids by value without parsing them (X snowflakes grow with time)."""
    return len(native_id), native_id


# Marks a response body served by the simulator (import tells simulated data from real).
SIMULATED_KEY = "__simulated"


def nested(item: Any, edge: str) -> list[Any]:
    """The objects of a Graph field expansion (`comments{...}`, `replies{...}`) inside an
    item."""
    data = obj(obj(item).get(edge)).get("data")
    return data if isinstance(data, list) else []


def more_to_fetch(item: Any, edges: tuple[str, ...] = ("comments", "replies")) -> int:
    """How many nested lists in an item (and in its nested objects) say `paging.next`:
    what an import cannot read from the file and a collect fetches."""
    if not isinstance(item, dict):
        return 0
    count = 0
    for edge in edges:
        value = obj(item.get(edge))
        if obj(value.get("paging")).get("next"):
            count += 1
        count += sum(more_to_fetch(child, edges) for child in nested(item, edge))
    return count
