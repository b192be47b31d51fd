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


class NotImplementedPlatform(Exception):
    """The platform's collector or normalizer does not exist yet."""


def _load(target: str) -> Any:
    module_name, attr = target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        raise NotImplementedPlatform(f"{module_name} does not exist yet") from None
    return getattr(module, attr)


def load(platform: str) -> tuple[type, Callable]:
    """The collector class and page normalizer of a platform."""
    collector, normalizer = REGISTRY[platform]
    return _load(collector), _load(normalizer)


def build_collector(platform: str, transport: Transport, environ: Mapping[str, str],
                    accounts: list[Account], options: Mapping[str, Any]) -> Any:
    """A platform's collector for this run (raises NotImplementedPlatform)."""
    cls, _ = load(platform)
    return cls(transport=transport, environ=environ, accounts=accounts, options=options)
