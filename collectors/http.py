"""How the real client libraries reach HTTP: the internet, the simulator or a recording.

tweepy and facebook-sdk speak through a `requests.Session`; googleapiclient through an
httplib2-style object. A Transport hands out both, so the same collector code runs live,
on the simulator, or on recorded traffic: only the transport changes.
"""
from __future__ import annotations

from typing import Any, Protocol

import requests

DEFAULT_TIMEOUT = (5.0, 30.0)  # connect, read (seconds)


class TimeoutSession(requests.Session):
    """A Session that puts a timeout on every request (tweepy sets none of its own)."""

    def __init__(self, timeout: float | tuple[float, float] = DEFAULT_TIMEOUT):
        super().__init__()
        self.default_timeout = timeout

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.default_timeout
        return super().request(method, url, **kwargs)


class Transport(Protocol):
    """The HTTP a run's clients use."""

    def session(self) -> requests.Session:
        """A requests Session for tweepy and facebook-sdk."""
        ...

    def httplib2(self) -> Any:
        """An httplib2.Http-like object for googleapiclient."""
        ...


class LiveTransport:
    """The internet, with timeouts on every request."""

    def __init__(self, timeout: float = DEFAULT_TIMEOUT[1]):
        self.timeout = timeout

    def session(self) -> requests.Session:
        return TimeoutSession((DEFAULT_TIMEOUT[0], self.timeout))

    def httplib2(self) -> Any:
        import httplib2

        return httplib2.Http(timeout=self.timeout)
