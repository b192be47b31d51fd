"""accounts.yaml: load and validate before any request is made (into core.accounts.Account)."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from core.accounts import Account, credential_names

__all__ = ["Account", "ConfigError", "credential_names", "load_accounts"]  # Account lives in core
from core.platforms import KEYS

PLATFORMS = KEYS
OWNERS = ("city", "mayor")
LANGUAGES = ("ko", "en", "zh", "ja")
REQUIRED = (
    "key", "platform", "handle", "name", "owner", "field",
    "department", "language", "credentials", "interval_minutes",
)
_KEY = re.compile(r"^[a-z0-9_]{2,40}$")
_ENV = re.compile(r"^[A-Z][A-Z0-9_]*$")
MAX_INTERVAL = 24 * 60


class ConfigError(Exception):
    """A config problem, naming the file, the account and the field."""

    def __init__(self, file: str, account: str | None, field: str | None, message: str):
        self.file, self.account, self.field = file, account, field
        where = file
        if account is not None:
            where += f": account {account!r}"
        if field is not None:
            where += f": field {field!r}"
        super().__init__(f"{where}: {message}")


def load_accounts(path: str | Path) -> list[Account]:
    """Parse and validate accounts.yaml; raises ConfigError on the first problem."""
    file = str(path)
    try:
        doc = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(file, None, None, "file not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(file, None, None, f"not valid YAML: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("accounts"), list):
        raise ConfigError(file, None, "accounts", "expected a top-level 'accounts:' list")
    accounts: list[Account] = []
    seen: set[str] = set()
    for index, entry in enumerate(doc["accounts"]):
        account = _parse_account(file, index, entry)
        if account.key in seen:
            raise ConfigError(file, account.key, "key", "duplicate key")
        seen.add(account.key)
        accounts.append(account)
    if not accounts:
        raise ConfigError(file, None, "accounts", "no accounts listed")
    return accounts


def _parse_account(file: str, index: int, entry: Any) -> Account:
    label = f"#{index + 1}"
    if not isinstance(entry, dict):
        raise ConfigError(file, label, None, "expected a mapping of fields")
    key = entry.get("key")
    label = str(key) if key else label
    for name in REQUIRED:
        if entry.get(name) in (None, "", []):
            raise ConfigError(file, label, name, "missing required field")
    unknown = set(entry) - set(REQUIRED) - {"id", "placeholder", "live_chat"}
    if unknown:
        raise ConfigError(file, label, sorted(unknown)[0], "unknown field")
    if not _KEY.match(str(key)):
        raise ConfigError(file, label, "key", "must be 2-40 of a-z, 0-9, _")
    _check_choice(file, label, "platform", entry["platform"], PLATFORMS)
    _check_choice(file, label, "owner", entry["owner"], OWNERS)
    _check_choice(file, label, "language", entry["language"], LANGUAGES)
    return Account(
        key=str(key),
        platform=entry["platform"],
        handle=str(entry["handle"]),
        name=str(entry["name"]),
        owner=entry["owner"],
        field=str(entry["field"]),
        department=str(entry["department"]),
        language=entry["language"],
        credentials=_credentials(file, label, entry["credentials"]),
        interval_minutes=_interval(file, label, entry["interval_minutes"]),
        native_id=str(entry["id"]) if entry.get("id") not in (None, "") else None,
        placeholder=_flag(file, label, entry, "placeholder"),
        live_chat=_flag(file, label, entry, "live_chat"),
    )


def _check_choice(file: str, label: str, field: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(
            file, label, field, f"unknown {field} {value!r} (expected one of {', '.join(choices)})"
        )


def _credentials(file: str, label: str, value: Any) -> tuple[str, ...]:
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not all(isinstance(n, str) and _ENV.match(n) for n in names):
        raise ConfigError(
            file, label, "credentials",
            "expected names of environment variables (UPPER_CASE), never the secrets themselves",
        )
    return tuple(names)


def _interval(file: str, label: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_INTERVAL:
        raise ConfigError(
            file, label, "interval_minutes",
            f"bad interval {value!r}: expected whole minutes from 1 to {MAX_INTERVAL}",
        )
    return value


def _flag(file: str, label: str, entry: dict, name: str) -> bool:
    value = entry.get(name, False)
    if not isinstance(value, bool):
        raise ConfigError(file, label, name, f"expected true or false, got {value!r}")
    return value
