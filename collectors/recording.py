"""`collect --record DIR` / `--replay DIR`: live traffic saved and replayed with vcrpy.

vcrpy patches the HTTP libraries themselves (requests/urllib3 for tweepy and facebook-sdk,
httplib2 for googleapiclient), so the collectors run unchanged. Before anything is written,
every secret is replaced by a placeholder: Authorization headers, `access_token`, `key`,
`appsecret_proof` and similar query parameters, and any credential value found anywhere in a
URL or body (Graph `paging.next` links carry the token).
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator

import vcr

from core.redact import PLACEHOLDER, SECRET_HEADERS, redact, redact_url

CASSETTE = "traffic.yaml"


def scrub_text(text: str, secrets: Iterable[str]) -> str:
    """Replace known secret values and token-looking parameters in any text."""
    return redact(text, secrets)


def scrub_url(url: str, secrets: Iterable[str]) -> str:
    """A URL with secret query parameters replaced by the placeholder."""
    return redact_url(url, secrets)


def _scrub_body(body: Any, secrets: Iterable[str]) -> Any:
    if isinstance(body, bytes):
        try:
            return scrub_text(body.decode("utf-8"), secrets).encode("utf-8")
        except UnicodeDecodeError:
            return body
    if isinstance(body, str):
        return scrub_text(body, secrets)
    return body


def _request_filter(secrets: list[str]):
    def before(request: Any) -> Any:
        request.uri = scrub_url(request.uri, secrets)
        for name in list(request.headers):
            if name.lower() in SECRET_HEADERS:
                request.headers[name] = PLACEHOLDER
        request.body = _scrub_body(request.body, secrets)
        return request
    return before


def _response_filter(secrets: list[str]):
    def before(response: dict) -> dict:
        headers = response.get("headers", {})
        for name in list(headers):
            if name.lower() in SECRET_HEADERS:
                headers[name] = [PLACEHOLDER]
            else:
                headers[name] = [scrub_text(str(v), secrets) for v in headers[name]]
        body = response.get("body", {})
        if "string" in body:
            body["string"] = _scrub_body(body["string"], secrets)
        return response
    return before


@contextmanager
def recorded_traffic(directory: str | Path, mode: str, secrets: Iterable[str]) -> Iterator[Any]:
    """Record (mode "record") or replay (mode "replay") all HTTP inside the block."""
    folder = Path(directory)
    path = folder / CASSETTE
    if mode == "replay" and not path.exists():
        raise FileNotFoundError(f"{path}: no recorded traffic (make it with collect --record)")
    folder.mkdir(parents=True, exist_ok=True)
    known = list(secrets)
    recorder = vcr.VCR(
        record_mode="all" if mode == "record" else "none",
        match_on=["method", "scheme", "host", "port", "path", "query"],
        decode_compressed_response=True,  # bodies stored as text, so they can be scrubbed
        before_record_request=_request_filter(known),
        before_record_response=_response_filter(known),
    )
    with recorder.use_cassette(str(path)) as cassette:
        yield cassette
