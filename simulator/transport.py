"""HTTP that is not the internet: the simulator mounted on each client library's own hook.

`SimTransport.session()` is a requests Session whose adapter answers from the simulated
platforms (tweepy, facebook-sdk); `SimTransport.httplib2()` does the same for
googleapiclient. Faults (429, 5xx, timeouts, broken bodies, expired tokens) are injected
here on demand, before a platform server sees the request.

Besides errors, three kinds tamper with what a server answered (generic, every platform):
- "repeat": the previous answer to the same request (same host, path and parameters apart
  from the page token) is served again: a duplicated page whose next-page token is the one
  just followed, i.e. a page token that repeats;
- "loop": the answer before the previous one is served again (the first page if there is
  only one): fired repeatedly, paging cycles between two pages whose tokens differ from the
  one just followed, so only a collector that remembers every token sees the loop;
- "corrupt_item": the server's answer with the first item of its `data` / `items` list
  replaced by an object no normalizer can read (`{"unexpected": "shape", "fault": n}`); the
  originals are kept in `Fault.replaced`.
When there is nothing to repeat or corrupt, the request is served normally and the fault
does not count as fired.

Network faults never reach a server: `handle` raises `NetworkFault` and each adapter raises
what its library raises when the network fails, worded as the library words it:
- requests (tweepy, facebook-sdk), built from the real urllib3 exceptions the way
  `requests.adapters.HTTPAdapter.send` wraps them: "dns" -> ConnectionError(MaxRetryError(...
  NameResolutionError)), "connection" -> ConnectionError(MaxRetryError(... NewConnectionError
  "Connection refused")), "connect_timeout" -> ConnectTimeout(MaxRetryError(...
  ConnectTimeoutError)): all three say "Max retries exceeded with url: /path?query", query
  (access_token, appsecret_proof) included, as urllib3 does; "reset" -> ConnectionError(
  ProtocolError("Connection aborted.", ConnectionResetError(104, ...))) and "timeout" ->
  ReadTimeout(ReadTimeoutError) name only the host, as the real ones do.
- httplib2 (googleapiclient): "dns" -> httplib2.ServerNotFoundError, "connection" /
  "reset" -> ConnectionRefusedError / ConnectionResetError (OSError), "timeout" /
  "connect_timeout" -> socket.timeout. Real httplib2 names only the host; these messages
  add the full request URI (`key=` included), the worst a wrapping library or proxy does.

Errors that echo the request (what proxies, gateways and some API errors do), rendered in each
platform's error shape by its server: "4xx_echo" (400) and "5xx_echo" (503 on X and YouTube,
500 on Graph) whose message repeats the method, the full request URL (tokens and keys
included) and the Authorization header. "quota" is each platform's quota or rate limit (X:
429 with x-rate-limit-reset; Graph: code 4; YouTube: 403 quotaExceeded).
"""
from __future__ import annotations

import copy
import json
import socket
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from core.platforms import PLATFORMS, load
from core.shapes import SIMULATED_KEY
from simulator.world import World

# host -> the simulator module serving it, "module:Server" (from the platform registry)
SERVERS = {host: p.simulator for p in PLATFORMS for host in p.hosts}
# "module:Server" -> the server family faults name (Fault.platform)
PLATFORM_OF_HOST = {p.simulator: p.family for p in PLATFORMS}


@dataclass(frozen=True)
class SimRequest:
    """One request as a platform server sees it."""

    method: str
    host: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    body: bytes | None = None

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class SimResponse:
    """What a platform server answers."""

    status: int = 200
    body: Any = None  # JSON-able, or bytes sent as they are
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Saved (e.g. by twarc) and imported, a page must still say it was invented.
        if self.status == 200 and isinstance(self.body, dict):
            self.body.setdefault(SIMULATED_KEY, True)

    def content(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        return json.dumps(self.body, ensure_ascii=False).encode("utf-8")


@dataclass
class Fault:
    """Answer matching requests with a fault instead of the world.

    kind: "429", "500", "503", "timeout", "bad_json", "truncated", "expired_token",
    "permission", "quota", "repeat", "loop", "corrupt_item", network kinds ("dns",
    "connection", "reset", "timeout", "connect_timeout") and echoing errors ("4xx_echo",
    "5xx_echo") (module docstring), or a platform-specific kind its server renders (e.g.
    "graph:613").
    """

    kind: str
    platform: str | None = None  # a server family (core.platforms.families()); None = any
    path: str | None = None  # substring of the path
    after: int = 0  # let this many matching requests through first
    times: int = 1  # then fire this many times; -1 = forever
    reset_seconds: int = 900
    fired: int = 0
    matched: int = 0
    replaced: list = field(default_factory=list)  # corrupt_item: the items it replaced


# Parameters that only say which page (or carry a secret): two requests differing only in
# these ask for the same list, so "repeat" / "loop" may answer one with the other's page.
PAGE_PARAMS = frozenset({"pagination_token", "pageToken", "after", "before", "__paging_token",
                         "__previous", "access_token", "appsecret_proof", "key"})
REPLAY_KINDS = ("repeat", "loop")
TAMPER_KINDS = (*REPLAY_KINDS, "corrupt_item")
NETWORK_KINDS = ("dns", "connection", "reset", "timeout", "connect_timeout")


class NetworkFault(TimeoutError):
    """The network failed before any server answered; each adapter raises its library's error.

    A TimeoutError (hence an OSError) so that code calling `SimTransport.handle` directly
    still sees the timeouts it always saw.
    """

    def __init__(self, kind: str):
        super().__init__(f"simulated {kind}")
        self.kind = kind


def request_url(req: SimRequest) -> str:
    """The full URL of a request, query (tokens, keys) included."""
    query = urlencode(req.params)
    return f"https://{req.host}{req.path}" + (f"?{query}" if query else "")


def echo(req: SimRequest) -> str:
    """What an echoing error says about the request: method, full URL, Authorization."""
    text = f"{req.method} {request_url(req)}"
    auth = req.headers.get("authorization")
    return f"{text} (Authorization: {auth})" if auth else text


class SimTransport:
    """Serves the simulated world to the real client libraries."""

    def __init__(self, world: World, faults: list[Fault] | None = None):
        self.world = world
        self.faults = list(faults or [])
        self.requests: dict[str, int] = {}
        self.log: list[SimRequest] = []
        self._servers: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._answers: dict[tuple, list[SimResponse]] = {}  # for "repeat" / "loop"

    def session(self) -> requests.Session:
        from collectors.http import TimeoutSession

        session = TimeoutSession()
        adapter = _Adapter(self)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        return session

    def httplib2(self) -> Any:
        return _Httplib2(self)

    def handle(self, req: SimRequest) -> SimResponse:
        """Route one request: faults first, then the platform server of its host."""
        module = SERVERS.get(req.host)
        platform = PLATFORM_OF_HOST.get(module or "", req.host)
        with self._lock:
            self.requests[platform] = self.requests.get(platform, 0) + 1
            self.log.append(req)
            fault = self._due_fault(platform, req)
        server = self._server(module) if module else None
        if fault is not None and fault.kind in TAMPER_KINDS and server is not None:
            return self._tampered(fault, server, req)
        if fault is not None and fault.kind in NETWORK_KINDS:
            raise NetworkFault(fault.kind)
        if fault is not None:
            render = getattr(server, "render_fault", None)
            rendered = render(fault, req) if render else None
            return rendered or _generic_fault(fault, self.world, req)
        if server is None:
            return SimResponse(501, {"error": f"the simulator does not serve {req.host} yet"})
        return self._remember(req, server.handle(req))

    def _remember(self, req: SimRequest, answer: SimResponse) -> SimResponse:
        """Keep successful answers per list while a "repeat" / "loop" fault may need them."""
        if answer.status == 200 and any(f.kind in REPLAY_KINDS for f in self.faults):
            with self._lock:
                self._answers.setdefault(_list_key(req), []).append(answer)
        return answer

    def _unfire(self, fault: Fault) -> None:
        with self._lock:
            fault.fired -= 1

    def _tampered(self, fault: Fault, server: Any, req: SimRequest) -> SimResponse:
        if fault.kind in REPLAY_KINDS:
            with self._lock:
                earlier = self._answers.get(_list_key(req), [])
                back = 1 if fault.kind == "repeat" or len(earlier) < 2 else 2
                answer = earlier[-back] if earlier else None
            if answer is None:  # nothing served yet on this list: nothing to repeat
                self._unfire(fault)
                return self._remember(req, server.handle(req))
            return self._remember(req, answer)
        answer = self._remember(req, server.handle(req))  # corrupt_item
        body = answer.body
        for name in ("data", "items"):
            items = body.get(name) if isinstance(body, dict) else None
            if answer.status == 200 and isinstance(items, list) and items:
                bad = copy.deepcopy(body)
                with self._lock:
                    fault.replaced.append(items[0])
                    bad[name][0] = {"unexpected": "shape", "fault": len(fault.replaced)}
                return SimResponse(answer.status, bad, dict(answer.headers))
        self._unfire(fault)
        return answer

    def _due_fault(self, platform: str, req: SimRequest) -> Fault | None:
        for fault in self.faults:
            if fault.platform not in (None, platform):
                continue
            if fault.path and fault.path not in req.path:
                continue
            fault.matched += 1
            if fault.matched <= fault.after:
                continue
            if fault.times != -1 and fault.fired >= fault.times:
                continue
            fault.fired += 1
            return fault
        return None

    def server(self, platform: str) -> Any:
        """The server of a family (core.platforms.families()), e.g. for tests to tune it."""
        module = {v: k for k, v in PLATFORM_OF_HOST.items()}[platform]
        return self._server(module)

    def _server(self, target: str) -> Any:
        if target not in self._servers:
            self._servers[target] = load(target)(self.world)
        return self._servers[target]


def _list_key(req: SimRequest) -> tuple:
    """Which list a request reads, whatever page of it."""
    params = tuple(sorted((k, v) for k, v in req.params.items() if k not in PAGE_PARAMS))
    return req.method, req.host, req.path, params


def _generic_fault(fault: Fault, world: World, req: SimRequest) -> SimResponse:
    """Faults no server rendered, in X's (problem JSON) shape."""
    if fault.kind in NETWORK_KINDS:
        raise NetworkFault(fault.kind)
    if fault.kind in ("429", "quota"):
        reset = int(world.now.timestamp()) + fault.reset_seconds
        return SimResponse(429, {"title": "Too Many Requests", "detail": "Too Many Requests"},
                           {"x-rate-limit-reset": str(reset), "retry-after": str(fault.reset_seconds)})
    if fault.kind in ("500", "502", "503"):
        return SimResponse(int(fault.kind), {"error": "simulated server error"})
    if fault.kind == "bad_json":
        return SimResponse(200, b"<html>upstream proxy error</html>",
                           {"content-type": "application/json"})
    if fault.kind == "truncated":
        return SimResponse(200, b'{"data": [{"id": "1", "te', {"content-type": "application/json"})
    if fault.kind == "expired_token":
        return SimResponse(401, {"title": "Unauthorized", "detail": "token expired"})
    if fault.kind == "permission":
        return SimResponse(403, {"title": "Forbidden", "detail": "permission missing"})
    if fault.kind == "4xx_echo":
        said = f"Invalid Request: {echo(req)}"
        return SimResponse(400, {"errors": [{"message": said}], "title": "Invalid Request",
                                 "detail": said,
                                 "type": "https://api.twitter.com/2/problems/invalid-request"})
    if fault.kind == "5xx_echo":
        said = f"Service Unavailable while proxying {echo(req)}"
        return SimResponse(503, {"errors": [{"message": said}], "title": "Service Unavailable",
                                 "detail": said})
    raise ValueError(f"unknown fault kind {fault.kind!r}")


def _sim_request(method: str, url: str, headers: Any, body: Any) -> SimRequest:
    parts = urlsplit(url)
    if isinstance(body, str):
        body = body.encode("utf-8")
    return SimRequest(
        method=method.upper(), host=parts.hostname or "", path=parts.path,
        params=dict(parse_qsl(parts.query, keep_blank_values=True)),
        headers={k.lower(): v for k, v in dict(headers or {}).items()}, body=body,
    )


class _Adapter(BaseAdapter):
    """A requests transport adapter answering from the simulator."""

    def __init__(self, transport: SimTransport):
        super().__init__()
        self.transport = transport

    def send(self, request: requests.PreparedRequest, stream: bool = False, timeout: Any = None,
             verify: Any = True, cert: Any = None, proxies: Any = None) -> requests.Response:
        sim = _sim_request(request.method or "GET", request.url or "", request.headers, request.body)
        try:
            answer = self.transport.handle(sim)
        except NetworkFault as exc:
            raise _requests_error(exc.kind, request, timeout) from None
        except TimeoutError as exc:
            raise requests.exceptions.ReadTimeout(str(exc), request=request) from None
        response = requests.Response()
        response.status_code = answer.status
        response._content = answer.content()
        response.headers = CaseInsensitiveDict(
            {"content-type": "application/json; charset=utf-8", **answer.headers})
        response.url = request.url or ""
        response.request = request
        response.encoding = "utf-8"
        response.reason = "OK" if answer.status < 400 else "Error"
        return response

    def close(self) -> None:
        pass


class _Httplib2:
    """The httplib2.Http surface googleapiclient uses, answering from the simulator."""

    timeout = 30

    def __init__(self, transport: SimTransport):
        self.transport = transport

    def request(self, uri: str, method: str = "GET", body: Any = None, headers: Any = None,
                redirections: int = 5, connection_type: Any = None) -> tuple[Any, bytes]:
        import httplib2

        try:
            answer = self.transport.handle(_sim_request(method, uri, headers, body))
        except NetworkFault as exc:
            raise _httplib2_error(exc.kind, method, uri) from None
        except TimeoutError:
            raise socket.timeout("simulated timeout") from None
        info = {"status": str(answer.status), "content-type": "application/json; charset=UTF-8"}
        info.update({k.lower(): v for k, v in answer.headers.items()})
        return httplib2.Response(info), answer.content()

    def close(self) -> None:
        pass


def _requests_error(kind: str, request: requests.PreparedRequest,
                    timeout: Any) -> requests.exceptions.RequestException:
    """What requests raises when the network fails, built as HTTPAdapter.send builds it."""
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
    from urllib3.exceptions import (
        ConnectTimeoutError,
        MaxRetryError,
        NameResolutionError,
        NewConnectionError,
        ProtocolError,
        ReadTimeoutError,
    )

    parts = urlsplit(request.url or "")
    host = parts.hostname or ""
    https = parts.scheme == "https"
    port = parts.port or (443 if https else 80)
    pool = (HTTPSConnectionPool if https else HTTPConnectionPool)(host, port)
    conn = (HTTPSConnection if https else HTTPConnection)(host, port)
    connect, read = timeout if isinstance(timeout, tuple) else (timeout, timeout)
    url = request.path_url  # what requests hands urllib3: path and query, tokens included
    errors = requests.exceptions
    if kind == "dns":
        reason: Exception = NameResolutionError(host, conn, socket.gaierror(
            socket.EAI_NONAME, "Name or service not known"))
        return errors.ConnectionError(MaxRetryError(pool, url, reason), request=request)
    if kind == "connection":
        reason = NewConnectionError(
            conn, "Failed to establish a new connection: [Errno 111] Connection refused")
        return errors.ConnectionError(MaxRetryError(pool, url, reason), request=request)
    if kind == "connect_timeout":
        reason = ConnectTimeoutError(
            conn, f"Connection to {host} timed out. (connect timeout={connect})")
        return errors.ConnectTimeout(MaxRetryError(pool, url, reason), request=request)
    if kind == "reset":
        return errors.ConnectionError(ProtocolError(
            "Connection aborted.", ConnectionResetError(104, "Connection reset by peer")),
            request=request)
    return errors.ReadTimeout(ReadTimeoutError(pool, url, f"Read timed out. (read timeout={read})"),
                              request=request)


def _httplib2_error(kind: str, method: str, uri: str) -> Exception:
    """What httplib2 raises when the network fails, its message carrying the whole URI."""
    import httplib2

    host = urlsplit(uri).hostname
    if kind == "dns":
        return httplib2.ServerNotFoundError(f"Unable to find the server at {host} "
                                            f"({method} {uri})")
    if kind == "connection":
        return ConnectionRefusedError(111, f"Connection refused ({method} {uri})")
    if kind == "reset":
        return ConnectionResetError(104, f"Connection reset by peer ({method} {uri})")
    return TimeoutError(f"timed out ({method} {uri})")


FAULTS_ENV = "SMC_SIM_FAULTS"


def faults_from_env(environ: Any) -> list[Fault]:
    """Faults for `collect --simulate` from $SMC_SIM_FAULTS (tests and demos of failures only).

    A JSON list of Fault fields, in the order they fire, e.g.
    `[{"kind": "dns", "platform": "graph", "times": 3}, {"kind": "graph:613"}]`.
    """
    text = (environ.get(FAULTS_ENV) or "").strip()
    if not text:
        return []
    try:
        specs = json.loads(text)
        return [Fault(**spec) for spec in specs]
    except (TypeError, ValueError) as exc:
        raise ValueError(f"${FAULTS_ENV}: expected a JSON list of faults "
                         f'like [{{"kind": "dns", "platform": "x"}}]: {exc}') from None
