"""The city's registered SNS accounts, as every layer sees them (loaded by pipeline.config)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping


@dataclass(frozen=True)
class Account:
    """One registered SNS account."""

    key: str
    platform: str
    handle: str
    name: str
    owner: str
    field: str
    department: str
    language: str
    credentials: tuple[str, ...]
    interval_minutes: int
    native_id: str | None = None
    placeholder: bool = False
    live_chat: bool = False

    def missing_credentials(self, environ: Mapping[str, str]) -> list[str]:
        """Names of this account's environment variables that are unset or empty."""
        return [name for name in self.credentials if not environ.get(name)]


def credential_names(accounts: Iterable[Account]) -> set[str]:
    """Every environment variable the accounts read their secrets from."""
    return {name for a in accounts for name in a.credentials}
