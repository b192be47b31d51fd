"""The centre in a real browser: headless Chromium (Debian's) against `serve` on 127.0.0.1.

Chromium is driven directly (`--headless --dump-dom` / `--screenshot`): the DOM it returns is
what the browser built, links are followed the way a click would. Skipped only when no
chromium binary exists (`.ci/run` installs it: apt-get install chromium).
"""
from __future__ import annotations

import html
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote, urljoin

import pytest
from conftest import ROOT, sim_collect
from test_center import opinion_by_marker, scenario_world

from store import cases
from store.db import connect

pytestmark = pytest.mark.browser

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome",
                                           "google-chrome-stable") if shutil.which(n)), None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(accounts, tmp_path_factory):
    if CHROMIUM is None:
        pytest.skip("no chromium binary (apt-get install chromium) for the browser test")
    world, _ = scenario_world(accounts, "x")
    chosen = [a for a in accounts if a.key in world.accounts]
    path = tmp_path_factory.mktemp("browser") / "smc.db"
    sim_collect(path, chosen, world, platforms=("x",))
    db = connect(path)
    resolved = opinion_by_marker(db, "SCND")["id"]
    cases.set_status(db, cases.Change(resolved, "resolved", department="푸른도시여가국",
                                      note="가로등 교체 완료", by="browser-test"))
    db.conn.close()
    port = free_port()
    log = open(path.parent / "serve.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "run_pipeline.py", "--db", str(path), "serve", "--host", "127.0.0.1",
         "--port", str(port)], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(base + "/", timeout=2).read()
                break
            except (urllib.error.URLError, ConnectionError, OSError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    pytest.fail("serve did not start: "
                                + (path.parent / "serve.log").read_text()[-2000:])
                time.sleep(0.3)
        yield base, path
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def chromium(tmp_path: Path, url: str, *extra: str) -> str:
    assert CHROMIUM is not None  # the server fixture skips without one
    profile = tmp_path / f"profile-{time.monotonic_ns()}"
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--no-first-run", "--disable-dev-shm-usage", f"--user-data-dir={profile}",
           *extra, url]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def dom(tmp_path: Path, url: str) -> str:
    page = chromium(tmp_path, url, "--dump-dom")
    assert "<html" in page.lower(), page[:500]
    return page


def row_count(page: str) -> int:
    found = re.search(r"([\d,]+)\s+rows?", page)
    assert found, "no row count on the page"
    return int(found.group(1).replace(",", ""))


def link(page: str, pattern: str, base: str) -> str:
    """The absolute URL of the first link whose href matches `pattern`, as a click follows."""
    for href in re.findall(r'href="([^"]+)"', page):
        href = html.unescape(href)
        if re.search(pattern, href):
            return urljoin(base + "/", href)
    raise AssertionError(f"no link matching {pattern!r}")


def row_with(page: str, text: str) -> str:
    """The table row (<tr>...</tr>) of the page that contains `text`."""
    for row in re.findall(r"<tr.*?</tr>", page, flags=re.DOTALL):
        if text in row:
            return row
    raise AssertionError(f"no row with {text!r}")


def test_centre_lists_opinions_and_a_facet_narrows_them(server, tmp_path):
    base, _ = server
    page = dom(tmp_path, f"{base}/smc/center")
    assert "Social Media Center" in page
    assert "SCNE 도서관 주말 운영을 늘려 주세요" in page  # Korean text, rendered
    total = row_count(page)
    for facet in ("platform", "account", "field", "status", "district", "category",
                  "seoul_day"):
        assert f'data-column="{facet}"' in page, f"facet {facet} missing"
    narrowed = dom(tmp_path, link(page, r"[?&]status=received(&|$)", base))
    count = row_count(narrowed)
    assert 0 < count < total
    assert 'where status = "received"' in narrowed
    assert "SCNE 도서관" in narrowed  # a received opinion stays
    assert "SCNA 택시 승차 거부" not in narrowed  # an answered one is gone
    shot = tmp_path / "center.png"
    chromium(tmp_path, f"{base}/smc/center", f"--screenshot={shot}", "--window-size=1280,900")
    assert shot.exists() and shot.stat().st_size > 10_000


def test_search_finds_and_the_opinion_page_shows_the_answer(server, tmp_path):
    base, _ = server
    page = dom(tmp_path, f"{base}/smc/search?q={quote('택시')}")
    assert "SCNA 택시 승차 거부" in page
    assert "SCNE 도서관" not in page
    opinion = dom(tmp_path, link(row_with(page, "SCNA 택시"), r"/smc/opinion\?id=", base))
    assert "SCNA 택시 승차 거부" in opinion
    assert "official answer" in opinion
    assert "120다산콜로 신고해 주세요" in opinion


def test_opinion_page_shows_thread_and_history(server, tmp_path):
    base, path = server
    db = connect(path)
    reply, resolved = opinion_by_marker(db, "SCNC")["id"], opinion_by_marker(db, "SCND")["id"]
    db.conn.close()
    page = dom(tmp_path, f"{base}/smc/opinion?id={quote(reply)}")
    assert "SCNB 버스 정류장" in page and "replies to" in page  # the parent chain
    assert "교체하겠습니다" in page
    page = dom(tmp_path, f"{base}/smc/opinion?id={quote(resolved)}")
    assert "가로등 교체 완료" in page and "browser-test" in page
    assert "resolved" in page


def test_no_arbitrary_sql_by_default(server, tmp_path):
    base, _ = server
    page = dom(tmp_path, f"{base}/smc?sql={quote('select count(*) from raw')}")
    assert "403" in page or "Forbidden" in page or "not allowed" in page.lower()
