"""The Graph API client of the Facebook and Instagram collectors: the ONE module importing facebook-sdk.

Everything here wraps `facebook.GraphAPI` (facebook-sdk 3.1.0, unmaintained since 2018) and
works around what it does not do, so the collectors stay small:

1. API version. `GraphAPI.__init__` only accepts the versions of 2018
   (`facebook.VALID_API_VERSIONS`, 2.8-3.1; anything else raises GraphAPIError), and those
   versions were switched off long ago. The library builds every URL as
   `FACEBOOK_GRAPH_URL + path`, where the path WE pass to `GraphAPI.request` starts with the
   version (its own helpers use `self.version + "/" + id`). So `GraphClient` constructs the
   client with `version=SDK_VERSION` ("3.1", which passes the check) and right after sets
   `api.version` to `options["graph_version"]` on the instance (GraphCollector: from
   $SMC_GRAPH_VERSION, else GRAPH_VERSION "v25.0"; `status` warns before it ends, see
   GRAPH_VERSIONS), and builds every path from `api.version` itself.
2. Paging. `get_all_connections` does `del args["access_token"]` on the `next` URL and raises
   KeyError when Graph (or a recording) gives a `next` URL without a token, and it follows a
   repeating cursor forever. `GraphClient.pages` pages itself: `paging.cursors.after` when
   present, else the query of `paging.next` (token dropped: the client adds its own); no
   `paging.next` = last page; a cursor seen twice raises `PaginationLoop`.
3. Headers and status. `GraphAPI.request` returns only the JSON body: it never looks at the
   HTTP status and does not expose headers. A response hook on the session remembers the last
   response, so `X-App-Usage` / `X-Business-Use-Case-Usage` (usage near 100 % -> RateLimited,
   even on a 200) and the status (5xx -> retry) are read from it.
4. Errors. Graph errors arrive as `GraphAPIError` built from the body's `error` object (`code`
   may be None when a proxy answered instead of Graph); a body that is not JSON although
   labelled so raises requests' JSONDecodeError (a ValueError), another content type
   GraphAPIError("Maintype was not text, image, or querystring"); timeouts and connection
   errors come out of requests untouched. `_classify` maps all of them to core.errors
   errors (table below); 5xx / timeouts / broken bodies are retried a few times first
   (collectors.retry, sleep injectable as `options["sleep"]`).
5. Timeouts. `GraphAPI(timeout=...)` passes its timeout to every `session.request`; the
   session comes from the Transport (`transport.session()`, with its own default timeouts).

Error codes (https://developers.facebook.com/docs/graph-api/guides/error-handling):
4, 17, 32, 613, 80000-80014 rate limits -> RateLimited (retry_after from the
X-Business-Use-Case-Usage `estimated_time_to_regain_access`, else DEFAULT_RETRY_MINUTES);
190, 102 -> AuthFailed naming the token's env var; 10, 200-299 (and 100 whose message names a
permission) -> PermissionMissing naming the permission; 1, 2, `is_transient`, HTTP 5xx,
timeouts -> retried, then TransientError.
"""
from __future__ import annotations

import json
import logging
import re
import time
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable, Iterator, Mapping
from urllib.parse import parse_qsl, urlsplit

import facebook
import requests

from collectors.base import Spend
from collectors.http import DEFAULT_TIMEOUT, Transport
from collectors.retry import with_retries
from core.errors import (
    AuthFailed,
    CollectorError,
    MissingCredentials,
    PaginationLoop,
    PermissionMissing,
    RateLimited,
)
from core.shapes import obj
from core.times import parse_datetime, utc_iso

log = logging.getLogger(__name__)

# Graph API versions: (released, available until; None: not announced yet). Source: Meta,
# "Graph API changelog: Versions", https://developers.facebook.com/docs/graph-api/changelog/versions/
# (stored copy read 2026-12-01: v26.0 "TBD"), and for v27.0 the announcement of 2026-11-04,
# https://developers.facebook.com/blog/post/2026/11/04/introducing-graph-api-v27-and-marketing-api-v27/
# Add each new version here; `status` warns EOL_WARNING_DAYS before the configured one ends.
GRAPH_VERSIONS: dict[str, tuple[date, date | None]] = {
    "v17.0": (date(2023, 5, 23), date(2025, 9, 12)),
    "v18.0": (date(2023, 9, 12), date(2026, 1, 26)),
    "v19.0": (date(2024, 1, 23), date(2026, 5, 21)),
    "v20.0": (date(2024, 5, 21), date(2026, 9, 24)),
    "v21.0": (date(2024, 10, 2), date(2027, 1, 21)),
    "v22.0": (date(2025, 1, 21), date(2027, 5, 20)),
    "v23.0": (date(2025, 5, 29), date(2027, 10, 8)),
    "v24.0": (date(2025, 10, 8), date(2028, 2, 18)),
    "v25.0": (date(2026, 2, 18), date(2028, 7, 29)),
    "v26.0": (date(2026, 7, 29), None),
    "v27.0": (date(2026, 11, 4), None),
}
# The version every request asks for, unless $SMC_GRAPH_VERSION names another: the newest
# whose end of life Meta has announced (v26.0 and v27.0 have none yet).
GRAPH_VERSION = "v25.0"
GRAPH_VERSION_ENV = "SMC_GRAPH_VERSION"
EOL_WARNING_DAYS = 90
SDK_VERSION = "3.1"  # the newest version facebook-sdk 3.1.0's constructor accepts
_VERSION = re.compile(r"^v\d+\.\d+$")

RATE_LIMIT_CODES = frozenset({4, 17, 32, 613, *range(80000, 80015)})
AUTH_CODES = frozenset({190, 102})
PERMISSION_CODES = frozenset({10, *range(200, 300)})
TRANSIENT_CODES = frozenset({1, 2})
DEFAULT_RETRY_MINUTES = 60
USAGE_THRESHOLD = 95  # percent of any usage figure at which we stop asking
USAGE_HEADERS = ("x-app-usage", "x-business-use-case-usage", "x-ad-account-usage")
_PERMISSION_IN_MESSAGE = re.compile(r"'([a-z_]+)' permission|[Rr]equires (?:the )?'?([a-z_]+)'? permission")


class _Retry(Exception):
    """A transient failure of one request (5xx, timeout, broken body): try again."""


def token_for(account: Any, environ: Mapping[str, str]) -> tuple[str, str]:
    """The env var naming the account's token, and the token (MissingCredentials if unset)."""
    if not account.credentials:
        raise MissingCredentials(f"{account.key}: accounts.yaml names no credentials variable")
    env = account.credentials[0]
    token = environ.get(env)
    if not token:
        raise MissingCredentials(f"{account.key}: skipped, environment variable {env} is not set")
    return env, token


def configured_version(environ: Mapping[str, str]) -> str:
    """The Graph API version to ask for: $SMC_GRAPH_VERSION, else GRAPH_VERSION (ValueError
    when the variable is not of the form v25.0)."""
    value = (environ.get(GRAPH_VERSION_ENV) or "").strip()
    if not value:
        return GRAPH_VERSION
    if not _VERSION.match(value):
        raise ValueError(f"${GRAPH_VERSION_ENV}={value!r}: expected a Graph API version such as "
                         f"{GRAPH_VERSION}")
    return value


def version_notice(version: str, today: date) -> tuple[str, bool]:
    """What `status` says of a Graph API version on `today`, and whether it is a warning:
    it ends within EOL_WARNING_DAYS, has ended, or is not in GRAPH_VERSIONS."""
    known = GRAPH_VERSIONS.get(version)
    if known is None:
        return (f"{version} is not in the table of known versions (collectors/graph.py): "
                f"its end of life is unknown", True)
    released, until = known
    if until is None:
        return f"{version} (released {released}; end of life not announced yet)", False
    left = (until - today).days
    if left < 0:
        return f"{version} ended on {until}: Graph requests fail; set ${GRAPH_VERSION_ENV}", True
    if left <= EOL_WARNING_DAYS:
        return (f"{version} ends on {until}, in {left} days: move ${GRAPH_VERSION_ENV} to a "
                f"newer version after reading its changelog", True)
    return f"{version} (available until {until})", False


def parse_graph_time(value: Any) -> datetime | None:
    """A Graph time ('2021-08-10T18:45:03+0000') as an aware datetime, None if unusable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = parse_datetime(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None


def graph_iso(value: Any) -> str | None:
    """A Graph time as ISO UTC to the second (a cursor value: sorts as text), None if unusable."""
    parsed = parse_graph_time(value)
    return utc_iso(parsed) if parsed is not None else None


class GraphClient:
    """facebook.GraphAPI for one account's token, with our paging, errors and usage checks."""

    def __init__(self, transport: Transport, token: str, *, account: str, env_var: str,
                 options: Mapping[str, Any]):
        self.account, self.env_var = account, env_var
        version = str(options.get("graph_version") or GRAPH_VERSION)
        if not _VERSION.match(version):
            raise CollectorError(f"graph_version {version!r}: expected the form {GRAPH_VERSION}")
        self.session = transport.session()
        self.session.hooks["response"].append(self._remember)
        self.api = facebook.GraphAPI(access_token=token, version=SDK_VERSION,
                                     session=self.session,
                                     timeout=options.get("graph_timeout", DEFAULT_TIMEOUT))
        self.api.version = version  # workaround 1 of the module docstring
        self.sleep: Callable[[float], None] = options.get("sleep", time.sleep)
        self.clock: Callable[[], Any] | None = options.get("clock")
        self.attempts = max(1, int(options.get("graph_attempts", 3)))
        self.backoff = float(options.get("graph_backoff", 0.5))
        self.max_pages = int(options.get("graph_max_pages", 10_000))
        self.threshold = float(options.get("graph_usage_threshold", USAGE_THRESHOLD))
        self.requests = 0
        self._taken = 0
        self._last: requests.Response | None = None

    @property
    def version(self) -> str:
        return self.api.version

    def take_requests(self) -> int:
        """HTTP requests made since the last call."""
        spent, self._taken = self.requests - self._taken, self.requests
        return spent

    def take_spend(self) -> Spend:
        """The requests made since the last call, as the `spend` of the next event."""
        return Spend(requests=self.take_requests())

    # --- one request ---------------------------------------------------------------------
    def get(self, path: str, params: Mapping[str, Any], *, permission: str, what: str) -> dict:
        """GET `{version}/{path}`; returns the JSON body or raises a core.errors error."""
        full = path if _VERSION.match(path.split("/", 1)[0]) else f"{self.version}/{path}"
        return with_retries(
            lambda: self._once(full, dict(params), permission, what),
            lambda exc: isinstance(exc, _Retry),
            f"{self.account}: GET {what}", attempts=self.attempts, base_delay=self.backoff,
            max_delay=4 * self.backoff, sleep=self.sleep,
        )

    def _remember(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self._last = response

    def _once(self, path: str, params: dict, permission: str, what: str) -> dict:
        self._last = None
        self.requests += 1
        try:
            body = self.api.request(path, params)
        except facebook.GraphAPIError as exc:
            raise self._classify(exc, permission, what) from None
        except requests.exceptions.Timeout as exc:
            raise _Retry(f"timed out ({type(exc).__name__})") from None
        except requests.exceptions.ConnectionError as exc:
            raise _Retry(f"connection failed: {exc}") from None
        except ValueError as exc:  # requests' JSONDecodeError: a body that is not JSON
            raise _Retry(f"the body is not JSON (HTTP {self._status()}): {exc}") from None
        status = self._status()
        if status is not None and status >= 500:
            raise _Retry(f"HTTP {status}")
        if not isinstance(body, dict):
            raise _Retry(f"unexpected body of type {type(body).__name__}")
        limited = self._usage_limit(what)
        if limited is not None:
            raise limited
        return body

    def _status(self) -> int | None:
        return self._last.status_code if self._last is not None else None

    def _headers(self) -> Mapping[str, str]:
        return self._last.headers if self._last is not None else {}

    # --- errors --------------------------------------------------------------------------
    def _classify(self, exc: facebook.GraphAPIError, permission: str, what: str) -> Exception:
        """A GraphAPIError as a retry (_Retry) or a core.errors error a person can act on."""
        status = self._status()
        error = exc.result.get("error") if isinstance(exc.result, dict) else None
        error = error if isinstance(error, dict) else {}
        code = exc.code if isinstance(exc.code, int) else None
        message = str(error.get("message") or exc.message or exc)
        said = f"(Graph error {code}: {message})" if code is not None else f"({message})"
        if code in RATE_LIMIT_CODES or (code is None and status == 429):
            limited = self._usage_limit(what)
            until = limited.retry_after if limited else self._retry_after(None)
            return RateLimited(
                f"{self.account}: rate limited by the Graph API while reading {what} {said}; "
                f"stopped this account for this run, it resumes after {until}",
                retry_after=until)
        if code in AUTH_CODES or (code is None and status == 401):
            return AuthFailed(
                f"{self.account}: the access token in {self.env_var} was rejected {said}; "
                f"it has expired or been revoked: generate a new token and set {self.env_var}")
        named = _permission_named(message)
        if code in PERMISSION_CODES or (code is None and status == 403) or (
                code == 100 and named):
            needed = named or permission
            return PermissionMissing(
                f"{self.account}: the token in {self.env_var} lacks the '{needed}' permission "
                f"needed to read {what} {said}; grant '{needed}' to the app and renew "
                f"{self.env_var}")
        if code in TRANSIENT_CODES or error.get("is_transient") is True or (
                status is None or status >= 500):
            return _Retry(f"HTTP {status} {said}")
        if code is None and not error:  # not Graph talking: a proxy's page, an odd content type
            return _Retry(f"HTTP {status}: not a Graph API answer {said:.200}")
        return CollectorError(f"{self.account}: the Graph API refused to serve {what} "
                              f"(HTTP {status}) {said}")

    def _usage_limit(self, what: str) -> RateLimited | None:
        """RateLimited when a usage header says we are at (or near) 100 %."""
        worst, regain = usage_levels(self._headers(), USAGE_HEADERS, self.account)
        if worst < self.threshold and regain is None:
            return None
        until = self._retry_after(regain)
        return RateLimited(
            f"{self.account}: Graph API usage at {worst:.0f}% while reading {what} "
            f"(X-App-Usage / X-Business-Use-Case-Usage); stopped this account until {until}",
            retry_after=until)

    def _retry_after(self, minutes: float | None) -> str:
        return retry_after(self.clock, minutes or DEFAULT_RETRY_MINUTES)

    # --- paging --------------------------------------------------------------------------
    def pages(self, node: str, edge: str, params: Mapping[str, Any], *, permission: str,
              what: str) -> Iterator[tuple[dict, bool]]:
        """Every page of `{node}/{edge}` as (body, is_last), following cursors ourselves."""
        path = f"{self.version}/{node}/{edge}"
        args: dict[str, Any] = dict(params)
        seen: set = set()
        for _ in range(self.max_pages):
            body = self.get(path, args, permission=permission, what=what)
            paging = obj(body.get("paging"))
            nxt = paging.get("next")
            if not nxt:
                yield body, True
                return
            yield body, False
            cursors = obj(paging.get("cursors"))
            after = cursors.get("after")
            if after:
                key: Any = ("after", after)
                args = {**params, "after": after}
            else:
                parts = urlsplit(str(nxt))
                query = dict(parse_qsl(parts.query, keep_blank_values=True))
                query.pop("access_token", None)  # GraphAPI adds its own (workaround 2)
                key = ("next", tuple(sorted(query.items())))
                segments = [s for s in parts.path.split("/") if s]
                if segments and _VERSION.match(segments[0]):
                    segments = segments[1:]
                path, args = "/".join([self.version, *segments]), query
            if key in seen:
                raise PaginationLoop(
                    f"{self.account}: the Graph API returned the same paging cursor twice "
                    f"while reading {what}; stopped to avoid a loop (cursor {key[1]!r:.80})")
            seen.add(key)
        raise PaginationLoop(f"{self.account}: more than {self.max_pages} pages of {what}; "
                             "stopped (raise options['graph_max_pages'] if this is real)")


def usage_levels(headers: Mapping[str, str], names: tuple[str, ...],
                 account: str) -> tuple[float, float | None]:
    """Meta's usage headers (Graph and Threads): the highest percentage any of them reports,
    and the longest `estimated_time_to_regain_access` in minutes (None: none given)."""
    worst, regain = 0.0, None
    for name in names:
        raw = headers.get(name)
        if not raw:
            continue
        try:
            usage = json.loads(raw)
        except ValueError:
            log.debug("%s: unreadable %s header %r", account, name, raw)
            continue
        for entry in _usage_entries(usage):
            for key in ("call_count", "total_cputime", "total_time", "acc_id_util_pct"):
                value = entry.get(key)
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    worst = max(worst, float(value))
            minutes = entry.get("estimated_time_to_regain_access")
            if isinstance(minutes, (int, float)) and minutes > 0:
                regain = max(regain or 0, float(minutes))
    return worst, regain


def retry_after(clock: Callable[[], Any] | None, minutes: float) -> str:
    """When to come back: `minutes` after the clock's now (a datetime or a Graph time from
    `clock`, the data's own clock in tests), else after the wall clock's."""
    value = clock() if clock else None
    now = parse_graph_time(value) if isinstance(value, str) else None
    if now is None:
        now = value if isinstance(value, datetime) and value.tzinfo else datetime.now(timezone.utc)
    return utc_iso(now + timedelta(minutes=minutes))


def _usage_entries(usage: Any) -> Iterator[dict]:
    """The usage dicts of X-App-Usage ({..}) and X-Business-Use-Case-Usage ({id: [{..}]})."""
    if isinstance(usage, dict):
        if any(k in usage for k in ("call_count", "total_cputime", "total_time",
                                    "estimated_time_to_regain_access", "acc_id_util_pct")):
            yield usage
            return
        for value in usage.values():
            yield from _usage_entries(value)
    elif isinstance(usage, list):
        for value in usage:
            yield from _usage_entries(value)


def _permission_named(message: str) -> str | None:
    match = _PERMISSION_IN_MESSAGE.search(message or "")
    return (match.group(1) or match.group(2)) if match else None


class GraphCollector:
    """What the Facebook and Instagram collectors share: options and a client per account."""

    platform = ""
    default_page_size = 25

    def __init__(self, transport: Transport, environ: Mapping[str, str], accounts: list,
                 options: Mapping[str, Any]):
        self.transport, self.environ, self.accounts = transport, environ, accounts
        self.options = dict(options or {})
        self.version_error = ""  # a bad $SMC_GRAPH_VERSION fails each account, not the run
        if not self.options.get("graph_version"):
            try:
                self.options["graph_version"] = configured_version(environ)
            except ValueError as exc:
                self.version_error = str(exc)
        self.lookback = timedelta(days=float(self.options.get("lookback_days") or 7))
        self.page_size = int(self.options.get("graph_page_size") or self.default_page_size)

    def client(self, account: Any) -> "GraphClient":
        if self.version_error:
            raise CollectorError(self.version_error)
        env, token = token_for(account, self.environ)
        return GraphClient(self.transport, token, account=account.key, env_var=env,
                           options=self.options)
