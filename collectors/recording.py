"""`collect --record DIR` / `--replay DIR`: live traffic saved and replayed with vcrpy.

vcrpy patches the HTTP libraries themselves (requests/urllib3 for tweepy and facebook-sdk,
httplib2 for googleapiclient), so the collectors run unchanged. Before anything is written,
every secret is replaced by a placeholder: Authorization headers, `access_token`, `key`,
`appsecret_proof` and similar query parameters, and any credential value found anywhere in a
URL or body (Graph `paging.next` links carry the token).
"""
from __future__ import annotations

import re
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator

import vcr
from vcr import matchers

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


_GRAPH_HOST = "graph.facebook.com"
# The version leading a Graph path, or after the host when a proxy puts it in the path
# (http://127.0.0.1:PORT/graph.facebook.com/v21.0/..., as tests/test_recording.py does).
_GRAPH_VERSION = re.compile(r"^(/graph\.facebook\.com)?/v\d+\.\d+(?=/|$)")


def graph_path(request: Any) -> str:
    """The request's path, without the Graph API version."""
    if request.host == _GRAPH_HOST:
        return _GRAPH_VERSION.sub("", request.path)
    return _GRAPH_VERSION.sub(lambda m: m.group(1) or m.group(0), request.path)


def path_any_graph_version(r1: Any, r2: Any) -> None:
    """vcrpy matcher: the same path, whatever Graph API version each names, so traffic
    recorded at v21.0 replays after $SMC_GRAPH_VERSION (or the default) moved on."""
    if graph_path(r1) != graph_path(r2):
        matchers.path(r1, r2)  # raises, naming both paths


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
        match_on=["method", "scheme", "host", "port", "graph_path", "query"],
        decode_compressed_response=True,  # bodies stored as text, so they can be scrubbed
        before_record_request=_request_filter(known),
        before_record_response=_response_filter(known),
    )
    recorder.register_matcher("graph_path", path_any_graph_version)
    with recorder.use_cassette(str(path)) as cassette:
        yield cassette
