"""One collect pass over the configured accounts: platform by platform, account by account."""
from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Mapping

from collectors.http import Transport
from core.accounts import Account, credential_names
from core.errors import MissingCredentials
from core.redact import register, secret_values
from normalize.schema import Context
from pipeline import platforms
from pipeline.ingest import AccountResult, run_account
from store import queries
from store.grouping import refresh_groups
from store.writer import PageStats, Writer, quota_day

log = logging.getLogger(__name__)

DEMO_AUTHOR_KEY = b"smc-demo-author-key-not-secret"
AUTHOR_KEY_ENV = "SMC_AUTHOR_KEY"
RULES_PATH = Path(__file__).resolve().parent.parent / "config" / "rules.yaml"


class SecretMissing(Exception):
    """A live run needs a secret the environment does not hold."""


@dataclass
class RunOptions:
    """What one collect pass is asked to do."""

    simulate: bool = False
    accounts: tuple[str, ...] = ()  # account keys; empty = all
    platforms: tuple[str, ...] = ()
    full_refresh: bool = False
    extra: dict[str, Any] = field(default_factory=dict)  # per-platform knobs (look-back, ...)


def author_secret(environ: Mapping[str, str], simulate: bool) -> bytes:
    """The author_key secret: the environment's, or the fixed demo key on simulated data."""
    value = environ.get(AUTHOR_KEY_ENV)
    if value:
        return value.encode("utf-8")
    if simulate:
        return DEMO_AUTHOR_KEY
    raise SecretMissing(
        f"{AUTHOR_KEY_ENV} is not set: live runs need a secret to hash citizens' ids "
        "(e.g. `export SMC_AUTHOR_KEY=$(python -c 'import secrets; print(secrets.token_hex(32))')`)"
    )


def select(accounts: list[Account], options: RunOptions) -> list[Account]:
    """The accounts this pass collects, in config order."""
    return [
        a for a in accounts
        if (not options.accounts or a.key in options.accounts)
        and (not options.platforms or a.platform in options.platforms)
    ]


def simulated_environ(accounts: list[Account]) -> dict[str, str]:
    """Placeholder credentials for the simulator (it checks the header, not the value)."""
    return {name: f"sim-{name.lower()}" for a in accounts for name in a.credentials}


def load_tagger() -> Any:
    """District/category tagger from config/rules.yaml, if the rules exist."""
    from normalize.tags import Tagger, load_rules

    return Tagger(load_rules(RULES_PATH)) if RULES_PATH.exists() else None


def collect(
    writer: Writer,
    all_accounts: list[Account],
    transport: Transport,
    environ: Mapping[str, str],
    options: RunOptions,
    stop: threading.Event | None = None,
    on_result: Callable[[Account, AccountResult], None] | None = None,
    on_page: Callable[[Account, PageStats], None] | None = None,
) -> list[AccountResult]:
    """Collect every selected account; one account's failure never stops the others."""
    secret = author_secret(environ, options.simulate)
    register(secret_values(environ, {AUTHOR_KEY_ENV, *credential_names(all_accounts)}))
    writer.sync_accounts(all_accounts)
    tagger = load_tagger()
    chosen = select(all_accounts, options)
    run_id = uuid.uuid4().hex[:12]
    results: list[AccountResult] = []
    by_platform: dict[str, list[Account]] = {}
    for account in chosen:
        by_platform.setdefault(account.platform, []).append(account)
    for platform, accounts in by_platform.items():
        extra = {**options.extra, "quota_used": queries.quota_used(
            writer.db, platform, quota_day(writer.clock(), platform))}
        collector = platforms.build_collector(platform, transport, environ, all_accounts, extra)
        base = platform_context(writer, all_accounts, platform, secret, tagger)
        for account in accounts:
            if stop is not None and stop.is_set():
                break
            result = _collect_account(account, collector, writer, base, environ,
                                      run_id, stop, on_page, options.full_refresh)
            writer.refresh_answers()
            refresh_groups(writer.db)  # near-duplicates (issue #19)
            results.append(result)
            if on_result:
                on_result(account, result)
    return results


def _collect_account(account: Account, collector: Any, writer: Writer,
                     base: Context, environ: Mapping[str, str], run_id: str,
                     stop: threading.Event | None, on_page: Any,
                     full_refresh: bool = False) -> AccountResult:
    missing = account.missing_credentials(dict(environ))
    if missing:
        error = MissingCredentials(
            f"{account.key}: skipped, environment variable {', '.join(missing)} is not set")
        return AccountResult(account.key, error.kind, error=str(error))
    ctx = for_account(base, account)
    return run_account(account, collector, writer, ctx, run_id, stop, on_page, full_refresh)


def for_account(base: Context, account: Account) -> Context:
    """A platform's context narrowed to one account."""
    return replace(base, account=account.key, account_native_id=account.native_id,
                   account_department=account.department)


def platform_context(writer: Writer, accounts: list[Account], platform: str, secret: bytes,
                     tagger: Any) -> Context:
    """What every normalizer of a platform knows: which authors are the city."""
    on_platform = [a for a in accounts if a.platform == platform]
    ids = {a.native_id for a in on_platform if a.native_id}
    ids |= queries.official_native_ids(writer.db, platform)
    return Context(
        platform=platform, account="", secret=secret, official_ids=frozenset(ids),
        official_handles=frozenset(a.handle.lower() for a in on_platform), tagger=tagger,
        tokenize=True,
    )


def exit_code(results: list[AccountResult]) -> int:
    """0 when every account is ok (or skipped by design), 1 when some account failed."""
    fine = ("ok", "skipped", "rate_limited", "interrupted")
    bad = [r for r in results if r.status not in fine]
    return 1 if bad else 0
