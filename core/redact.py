"""Secret redaction: the one step every error passes before it becomes a result or a log line.

Known values (the credential variables accounts.yaml names, and any variable whose name says
it is a secret) are replaced wherever they appear; token-looking parameters, Authorization
headers and Bearer values are replaced even when their value is unknown (a Graph error echoes
its whole request URL, page tokens included).
"""
from __future__ import annotations

import os
import re
import threading
from typing import Iterable, Mapping
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urlsplit, urlunsplit

PLACEHOLDER = "REDACTED"
SECRET_HEADERS = ("authorization", "x-goog-api-key", "cookie", "set-cookie", "proxy-authorization")
SECRET_PARAMS = ("access_token", "key", "appsecret_proof", "client_secret", "oauth_token",
                 "input_token", "fb_exchange_token", "refresh_token", "api_key", "token")
_SECRET_NAME = re.compile(r"(TOKEN|KEY|SECRET|PASSWORD|PROOF|BEARER|CREDENTIAL)", re.IGNORECASE)
_MIN_SECRET = 6  # shorter values would blank ordinary words

# name=value in URLs and messages, also URL-encoded (%3D) and JSON/dict style ("name": "v").
_NAMES = "|".join(SECRET_PARAMS)
# Also inside a URL-encoded URL: after %3F (?) or %26 (&).
_PARAM = re.compile(r"(?:(?<![A-Za-z0-9_])|(?<=%%3F)|(?<=%%26))((?:%s)(?:=|%%3D))"
                    r"[^&\"'\s\\<>,;)]+" % _NAMES, re.IGNORECASE)
_QUOTED = re.compile(r"""(["'](?:%s)["']\s*:\s*["'])[^"']+""" % _NAMES, re.IGNORECASE)
_HEADER = re.compile(r"""((?:%s)["']?\s*[:=]\s*["']?(?:(?:Bearer|Basic|OAuth)\s+)?)"""
                     r"""[^\s"',}]+""" % "|".join(SECRET_HEADERS), re.IGNORECASE)
_BEARER = re.compile(r"((?:Bearer|OAuth)\s+)[A-Za-z0-9%._~+/=|-]{6,}")  # app tokens: id|secret

_known: set[str] = set()
_lock = threading.Lock()


def secret_values(environ: Mapping[str, str] = os.environ,
                  names: Iterable[str] = ()) -> list[str]:
    """Values of the named variables and of every variable whose name says it is a secret."""
    wanted = set(names)
    return [v for k, v in environ.items()
            if (k in wanted or _SECRET_NAME.search(k)) and len(v) >= _MIN_SECRET]


def register(values: Iterable[str]) -> None:
    """Add values that `redact` removes wherever they appear, for the rest of the process."""
    with _lock:
        _known.update(v for v in values if v and len(v) >= _MIN_SECRET)


def known() -> list[str]:
    """Registered values and those of every variable whose name says it is a secret (read
    each time: a migration or a library may run before any config is loaded)."""
    with _lock:
        values = _known | set(secret_values(os.environ))
    return sorted(values, key=len, reverse=True)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every known secret and every token-looking value replaced."""
    plain = {*known(), *(s for s in secrets if s and len(s) >= _MIN_SECRET)}
    # as they appear in URLs too (a Graph app token's "|" is "%7C" there)
    values = sorted(plain | {quote(v, safe="") for v in plain} | {quote_plus(v) for v in plain},
                    key=len, reverse=True)
    for secret in values:
        if secret in text:
            text = text.replace(secret, PLACEHOLDER)
    text = _PARAM.sub(lambda m: m.group(1) + PLACEHOLDER, text)
    text = _QUOTED.sub(lambda m: m.group(1) + PLACEHOLDER, text)
    text = _HEADER.sub(lambda m: m.group(1) + PLACEHOLDER, text)
    return _BEARER.sub(lambda m: m.group(1) + PLACEHOLDER, text)


def redact_url(url: str, secrets: Iterable[str] = ()) -> str:
    """A URL with secret query parameters replaced by the placeholder."""
    parts = urlsplit(url)
    query = [(k, PLACEHOLDER if k.lower() in SECRET_PARAMS else v)
             for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    return redact(urlunsplit(parts._replace(query=urlencode(query))), secrets)


def error_text(exc: BaseException, prefix: str = "") -> str:
    """What an exception may say outside the process: redacted, one line."""
    message = str(exc) or type(exc).__name__
    return redact(f"{prefix}{message}".replace("\r", " ").replace("\n", " "))
