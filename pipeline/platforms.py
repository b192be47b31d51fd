"""Building a platform's collector and normalizer from the registry (core.platforms)."""
from __future__ import annotations

from typing import Any, Callable, Mapping

from collectors.http import Transport
from core.accounts import Account
from core.platforms import load as load_target
from core.platforms import spec


def load(platform: str) -> tuple[type, Callable]:
    """The collector class and page normalizer of a platform."""
    entry = spec(platform)
    return load_target(entry.collector), load_target(entry.normalizer)


def build_collector(platform: str, transport: Transport, environ: Mapping[str, str],
                    accounts: list[Account], options: Mapping[str, Any]) -> Any:
    """A platform's collector for this run."""
    cls, _ = load(platform)
    return cls(transport=transport, environ=environ, accounts=accounts, options=options)
