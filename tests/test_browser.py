"""The centre (Datasette, behind the workplace's login) in a real browser: Selenium driving
Debian's chromium with its chromium-driver against `serve` on 127.0.0.1.

The DOM read is what the browser built, links are followed the way a click would. Skipped
only when chromium or chromedriver cannot be found (`.ci/run` installs both: apt-get install
chromium chromium-driver). The workplace's own screens: test_browser_workplace.py.
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
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote, urljoin

import pytest
from conftest import ROOT, sim_collect
from test_center import opinion_by_marker, scenario_world

from store import cases
from store.db import connect
from workplace import auth

pytestmark = pytest.mark.browser

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome",
                                           "google-chrome-stable") if shutil.which(n)), None)
CHROMEDRIVER = next((p for p in (shutil.which("chromedriver"), "/usr/lib/chromium/chromedriver",
                                 "/usr/bin/chromedriver") if p and Path(p).exists()), None)
ANALYST, ANALYST_PASSWORD = "analyst-lee", "analyst-password-1"
WAIT = 30


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def need_browser() -> None:
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip("no chromium and chromedriver (apt-get install chromium chromium-driver) "
                    "for the browser tests")


@contextmanager
def serving(path: Path) -> Iterator[str]:
    """`serve` on the database in a subprocess on a free port of 127.0.0.1; its base URL."""
    port = free_port()
    log = open(path.parent / "serve.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "run_pipeline.py", "--db", str(path), "serve", "--host", "127.0.0.1",
         "--port", str(port)], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(base + "/login", timeout=2).read()
                break
            except (urllib.error.URLError, ConnectionError, OSError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    pytest.fail("serve did not start: "
                                + (path.parent / "serve.log").read_text()[-2000:])
                time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def new_driver(profile: Path):  # -> selenium.webdriver.Chrome
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    assert CHROMIUM is not None and CHROMEDRIVER is not None
    options = Options()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,900", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run",
                f"--user-data-dir={profile}"):
        options.add_argument(arg)
    browser = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    browser.set_page_load_timeout(60)
    return browser


def replaced(old):  # a WebDriverWait condition: the page of `old` (an element) is gone
    from selenium.common.exceptions import WebDriverException

    def gone(_driver) -> bool:
        try:
            old.is_enabled()
        except WebDriverException:  # stale, or "does not belong to the document"
            return True
        return False

    return gone


def log_in_as(driver, base: str, name: str, password: str) -> None:
    """Open the login page, type a name and password, press the button."""
    driver.delete_all_cookies()
    driver.get(f"{base}/login")
    submit_login(driver, name, password)


def submit_login(driver, name: str, password: str) -> None:
    """On the login page: type a name and password, press the button."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, WAIT)
    for field, text in (("name", name), ("password", password)):
        box = wait.until(ec.presence_of_element_located((By.ID, field)))
        box.clear()
        box.send_keys(text)
    old = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.ID, "login").click()
    wait.until(replaced(old))


@pytest.fixture(scope="module")
def server(accounts, tmp_path_factory):
    need_browser()
    world, _ = scenario_world(accounts, "x")
    chosen = [a for a in accounts if a.key in world.accounts]
    path = tmp_path_factory.mktemp("browser") / "smc.db"
    sim_collect(path, chosen, world, platforms=("x",))
    db = connect(path)
    resolved = opinion_by_marker(db, "SCND")["id"]
    cases.set_status(db, cases.Change(resolved, "resolved", department="푸른도시여가국",
                                      note="가로등 교체 완료", by="browser-test"))
    auth.add_user(db, ANALYST, "viewer", None, ANALYST_PASSWORD, datetime.now(timezone.utc))
    db.conn.close()
    with serving(path) as base:
        yield base, path


@pytest.fixture(scope="module")
def driver(server, tmp_path_factory):
    browser = new_driver(tmp_path_factory.mktemp("chrome-profile"))
    log_in_as(browser, server[0], ANALYST, ANALYST_PASSWORD)
    yield browser
    browser.quit()


def dom(driver, url: str) -> str:
    driver.get(url)
    page = driver.page_source
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


def test_centre_lists_opinions_and_a_facet_narrows_them(server, driver, tmp_path):
    base, _ = server
    page = dom(driver, f"{base}/smc/center")
    assert "Social Media Center" in page
    assert "SCNE 도서관 주말 운영을 늘려 주세요" in page  # Korean text, rendered
    total = row_count(page)
    for facet in ("platform", "account", "field", "status", "district", "category",
                  "seoul_day"):
        assert f'data-column="{facet}"' in page, f"facet {facet} missing"
    narrowed = dom(driver, link(page, r"[?&]status=received(&|$)", base))
    count = row_count(narrowed)
    assert 0 < count < total
    assert 'where status = "received"' in narrowed
    assert "SCNE 도서관" in narrowed  # a received opinion stays
    assert "SCNA 택시 승차 거부" not in narrowed  # an answered one is gone
    driver.get(f"{base}/smc/center")
    shot = tmp_path / "center.png"
    driver.save_screenshot(str(shot))
    assert shot.exists() and shot.stat().st_size > 10_000


def test_search_finds_and_the_opinion_page_shows_the_answer(server, driver):
    base, _ = server
    page = dom(driver, f"{base}/smc/search?q={quote('택시')}")
    assert "SCNA 택시 승차 거부" in page
    assert "SCNE 도서관" not in page
    opinion = dom(driver, link(row_with(page, "SCNA 택시"), r"/smc/opinion\?id=", base))
    assert "SCNA 택시 승차 거부" in opinion
    assert "official answer" in opinion
    assert "120다산콜로 신고해 주세요" in opinion


def test_opinion_page_shows_thread_and_history(server, driver):
    base, path = server
    db = connect(path)
    reply, resolved = opinion_by_marker(db, "SCNC")["id"], opinion_by_marker(db, "SCND")["id"]
    db.conn.close()
    page = dom(driver, f"{base}/smc/opinion?id={quote(reply)}")
    assert "SCNB 버스 정류장" in page and "replies to" in page  # the parent chain
    assert "교체하겠습니다" in page
    page = dom(driver, f"{base}/smc/opinion?id={quote(resolved)}")
    assert "가로등 교체 완료" in page and "browser-test" in page
    assert "resolved" in page


def test_no_arbitrary_sql_by_default(server, driver):
    base, _ = server
    page = dom(driver, f"{base}/smc?sql={quote('select count(*) from raw')}")
    assert "403" in page or "Forbidden" in page or "not allowed" in page.lower()


def test_the_centre_reads_well_descriptions_sql_and_seoul_times(server, driver):
    from selenium.webdriver.common.by import By

    base, _ = server
    driver.get(f"{base}/smc/center")
    toggle = driver.find_element(By.CSS_SELECTOR, "details.smc-columns")
    assert toggle.get_attribute("open") is None  # collapsed until asked for
    descriptions = driver.find_element(By.CSS_SELECTOR, "dl.column-descriptions")
    assert not descriptions.is_displayed()
    table = driver.find_element(By.CSS_SELECTOR, "table.rows-and-columns")
    before = table.location["y"]
    toggle.find_element(By.TAG_NAME, "summary").click()
    assert descriptions.is_displayed() and "PII masked" in descriptions.text
    assert table.location["y"] - before > 500  # what the descriptions took before
    kst = driver.find_elements(By.CSS_SELECTOR, "td.col-created_at small.smc-kst")
    assert kst and re.fullmatch(r"\(서울 \d{4}-\d\d-\d\d \d\d:\d\d KST\)", kst[0].text)
    # a canned query's SQL is hidden until asked for
    driver.get(f"{base}/smc/overdue?hours=24")
    assert not driver.find_elements(By.ID, "sql-query")
    show = driver.find_element(By.CSS_SELECTOR, ".show-hide-sql a")
    assert show.text == "show"
    show.click()
    assert "FROM" in driver.find_element(By.ID, "sql-query").text.upper()


def test_the_centre_is_behind_the_login(server, driver):
    base, _ = server
    driver.delete_all_cookies()
    driver.get(f"{base}/smc/center")
    assert "/login" in driver.current_url and "로그인" in driver.page_source
    submit_login(driver, ANALYST, ANALYST_PASSWORD)
    assert driver.current_url.endswith("/smc/center")  # back where they were going
