"""The platform registry: a platform is one collector, one normalizer, one simulator module."""
from __future__ import annotations

import importlib
from typing import Any, Callable, Mapping

from collectors.http import Transport
from pipeline.config import Account

# platform -> (collector class, page normalizer), as "module:attribute"
REGISTRY: dict[str, tuple[str, str]] = {
    "x": ("collectors.x:XCollector", "normalize.x:normalize_page"),
    "facebook": ("collectors.facebook:FacebookCollector", "normalize.facebook:normalize_page"),
    "instagram": ("collectors.instagram:InstagramCollector", "normalize.instagram:normalize_page"),
    "youtube": ("collectors.youtube:YouTubeCollector", "normalize.youtube:normalize_page"),
}


def _load(target: str) -> Any:
    module_name, attr = target.split(":")
    return getattr(importlib.import_module(module_name), attr)


def load(platform: str) -> tuple[type, Callable]:
    """The collector class and page normalizer of a platform."""
    collector, normalizer = REGISTRY[platform]
    return _load(collector), _load(normalizer)


def build_collector(platform: str, transport: Transport, environ: Mapping[str, str],
                    accounts: list[Account], options: Mapping[str, Any]) -> Any:
    """A platform's collector for this run."""
    cls, _ = load(platform)
    return cls(transport=transport, environ=environ, accounts=accounts, options=options)
