"""What the HTTP benches share (bench.inbox, bench.center): a free port of 127.0.0.1, `smc
serve` in a subprocess, sequential requests with a cookie jar, and their timings."""
from __future__ import annotations

import http.cookiejar
import re
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from html import unescape
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Client:
    """Sequential HTTP requests to the local server with a cookie jar."""

    def __init__(self, base: str):
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def get(self, path: str) -> tuple[int, str, float]:
        started = time.perf_counter()
        with self.opener.open(self.base + path, timeout=60) as response:
            body = response.read().decode("utf-8")
            return response.status, body, time.perf_counter() - started

    def login(self, user: str, password: str) -> None:
        _, page, _ = self.get("/login")
        found = re.search(r'name="csrftoken" value="([^"]+)"', page)
        assert found, "no CSRF token on the login page"
        token = unescape(found.group(1))
        data = urllib.parse.urlencode({"csrftoken": token, "name": user, "password": password,
                                       "next": "/inbox"}).encode()
        with self.opener.open(self.base + "/login", data=data, timeout=60) as response:
            assert response.url.endswith("/inbox"), response.url


def serve(db: Path, port: int, log: Path, root: Path = ROOT) -> subprocess.Popen:
    """`smc serve` of the checkout at root on db, once it answers."""
    proc = subprocess.Popen(
        [sys.executable, "run_pipeline.py", "--db", str(db), "serve", "--host", "127.0.0.1",
         "--port", str(port)], cwd=root, stdout=log.open("w"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 180
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2).read()
            return proc
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise SystemExit("serve did not start: " + log.read_text()[-2000:]) from None
            time.sleep(0.3)


def timings(times_ms: list[float], first_ms: float, path: str) -> dict:
    """first / p50 / p95 / max of one page's requests (ms)."""
    q = (statistics.quantiles(times_ms, n=20, method="inclusive") if len(times_ms) > 1
         else times_ms * 19)
    return {"path": path, "first_ms": round(first_ms, 1),
            "p50_ms": round(statistics.median(times_ms), 1),
            "p95_ms": round(q[18], 1), "max_ms": round(max(times_ms), 1)}


def time_pages(client: Client, paths: dict[str, str], requests: int) -> dict[str, dict]:
    """Each page requested once (the first: nothing remembered yet), then `requests` times in
    turn, sequentially; every answer must be 200."""
    results = {}
    for name, path in paths.items():
        status, _, seconds = client.get(path)
        assert status == 200, (path, status)
        times = []
        for _ in range(requests):
            status, _, took = client.get(path)
            assert status == 200, (path, status)
            times.append(took * 1000)
        results[name] = timings(times, seconds * 1000, path)
    return results


def report_lines(results: dict[str, dict], width: int = 28) -> list[str]:
    return [f"  {name:<{width}} first {r['first_ms']:>7.1f} ms   p50 {r['p50_ms']:>7.1f} ms"
            f"   p95 {r['p95_ms']:>7.1f} ms   max {r['max_ms']:>7.1f} ms"
            for name, r in results.items()]
