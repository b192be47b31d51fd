"""The workplace in a real browser (issue #18): Selenium driving Debian's chromium with its
chromium-driver, typing and clicking, against `serve` on 127.0.0.1 in a subprocess.

Skipped only where chromium or chromedriver cannot be found (`.ci/run` installs both:
apt-get install chromium chromium-driver).
"""
from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import ROOT, sim_collect
from test_browser import WAIT, log_in_as, need_browser, new_driver, replaced, serving
from test_center import opinion_by_marker, scenario_world

from store import cases
from store.db import connect
from workplace import auth

pytestmark = pytest.mark.browser

STAFF, DEPT = "kim-jumgwan", "taxi-park"
PASSWORDS = {STAFF: "kim-password-1", DEPT: "park-password-1"}


@pytest.fixture(scope="module")
def server(accounts, tmp_path_factory):
    need_browser()
    world, _ = scenario_world(accounts, "x")
    chosen = [a for a in accounts if a.key in world.accounts]
    path = tmp_path_factory.mktemp("browser-workplace") / "smc.db"
    sim_collect(path, chosen, world, platforms=("x",))
    db = connect(path)
    home = opinion_by_marker(db, "SCNE")["department"]
    now = datetime.now(UTC)
    auth.add_user(db, STAFF, "staff", None, PASSWORDS[STAFF], now)
    auth.add_user(db, DEPT, "department", home, PASSWORDS[DEPT], now)
    db.conn.close()
    with serving(path) as base:
        yield base, path, home


@pytest.fixture(scope="module")
def driver(server, tmp_path_factory):
    browser = new_driver(tmp_path_factory.mktemp("chrome-profile"))
    yield browser
    browser.quit()


# --- helpers: what a person does ---------------------------------------------------------------
def by_id(driver, name: str):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT).until(ec.presence_of_element_located((By.ID, name)))


def css(driver, selector: str) -> list:
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, selector)


def choose(driver, select_id: str, text: str | None = None, value: str | None = None) -> None:
    from selenium.webdriver.support.ui import Select

    select = Select(by_id(driver, select_id))
    if value is not None:
        select.select_by_value(value)
    else:
        select.select_by_visible_text(text or "")


def choose_other(driver, select_id: str) -> str:
    """Pick the last department offered (the current one is never offered); its name."""
    from selenium.webdriver.support.ui import Select

    select = Select(by_id(driver, select_id))
    value = [o.get_attribute("value") or "" for o in select.options][-1]
    assert value, "no department offered"
    select.select_by_value(value)
    return value


def type_into(driver, field_id: str, text: str) -> None:
    box = by_id(driver, field_id)
    box.clear()
    box.send_keys(text)


def click(driver, element_id: str) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    old = driver.find_element("tag name", "html")
    by_id(driver, element_id).click()
    WebDriverWait(driver, WAIT).until(replaced(old))  # the next page has loaded


def log_in(driver, base: str, name: str, password: str | None = None) -> None:
    log_in_as(driver, base, name, password or PASSWORDS[name])


def body(driver) -> str:
    return driver.find_element("tag name", "body").text


def status_of(path: Path, oid: str) -> str:
    db = connect(path)
    try:
        row = cases.opinion(db, oid)
        assert row is not None
        return row["status"]
    finally:
        db.conn.close()


def marker_id(path: Path, marker: str) -> str:
    db = connect(path)
    try:
        return opinion_by_marker(db, marker)["id"]
    finally:
        db.conn.close()


def shot(driver, tmp_path: Path, name: str) -> None:
    driver.save_screenshot(str(tmp_path / f"{name}.png"))


# --- the tests -----------------------------------------------------------------------------
def test_a_wrong_password_is_refused_and_the_right_one_logs_in(server, driver):
    base, _, _ = server
    driver.delete_all_cookies()
    driver.get(f"{base}/inbox")
    assert "/login" in driver.current_url  # anyone not logged in
    log_in(driver, base, STAFF, "not-the-password")
    assert "/login" in driver.current_url
    assert auth.FAILED in by_id(driver, "name").find_element(
        "xpath", "ancestor::div[contains(@class,'login')]").text
    assert driver.get_cookie(auth.COOKIE) is None
    log_in(driver, base, "nobody-at-all", PASSWORDS[STAFF])
    assert auth.FAILED in body(driver)  # the same words: nothing says which part was wrong
    log_in(driver, base, STAFF)
    assert driver.current_url.endswith("/inbox")
    assert "받은 의견" in body(driver) and STAFF in body(driver)


def test_filter_the_inbox(server, driver, tmp_path):
    base, _, _ = server
    log_in(driver, base, STAFF)
    everything = len(css(driver, "article.opinion"))
    choose(driver, "f-status", value="received")
    click(driver, "apply")
    assert "status=received" in driver.current_url
    rows = css(driver, "article.opinion")
    assert 0 < len(rows) <= everything
    assert all("접수 (received)" in r.text for r in rows)
    page = body(driver)
    assert "SCNE 도서관 주말 운영을 늘려 주세요" in page  # received
    assert "SCNA 택시 승차 거부" not in page  # answered by the city: not in the queue
    choose(driver, "f-status", value="all")
    click(driver, "apply")
    assert "SCNA 택시 승차 거부" in body(driver)
    assert "120다산콜로 신고해 주세요" in body(driver)  # the official answer, inline
    shot(driver, tmp_path, "inbox")


def test_bulk_assign_two_opinions(server, driver):
    base, path, _ = server
    log_in(driver, base, STAFF)
    driver.get(f"{base}/inbox?status=received")
    rows = css(driver, "article.opinion")
    chosen = [r.get_attribute("data-id") for r in rows
              if "SCNE" not in r.text][:2]  # SCNE is kept for the next tests
    assert len(chosen) == 2
    for oid in chosen:
        driver.find_element("css selector", f'input[type=checkbox][value="{oid}"]').click()
    department = choose_other(driver, "bulk-department")
    click(driver, "bulk-assign")
    assert f"2건을 {department}에 배정했습니다" in body(driver)
    for oid in chosen:
        assert status_of(path, oid) == "assigned"
        history = cases.history(connect(path), oid)
        assert [(e["action"], e["department"], e["by"]) for e in history] == \
            [("assign", department, STAFF)]


def test_open_one_transfer_answer_resolve_and_its_history(server, driver, tmp_path):
    base, path, home = server
    log_in(driver, base, STAFF)
    driver.get(f"{base}/inbox?status=received")
    card = next(r for r in css(driver, "article.opinion") if "SCND" in r.text or "SCNE" in r.text)
    oid = card.get_attribute("data-id")
    old = driver.find_element("tag name", "html")
    card.find_element("css selector", "a.open").click()
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, WAIT).until(replaced(old))
    assert f"/opinions/{oid}" in driver.current_url
    assert "이 의견 (this opinion)" in body(driver)
    # transfer (이관) with a reason
    target = choose_other(driver, "transfer-department")
    assert target != home
    type_into(driver, "transfer-note", "도서관 운영 소관이라 이관합니다")
    click(driver, "transfer-submit")
    assert "기록했습니다" in by_id(driver, "ok").text
    assert by_id(driver, "department").text == target
    # record the answer, with the link to the city's reply on the platform
    type_into(driver, "answer-note", "주말 운영 확대를 검토한다고 답글을 달았습니다")
    type_into(driver, "answer-link", "https://x.com/seoulmania/status/123")
    click(driver, "answer-submit")
    assert "답변 (answered)" in by_id(driver, "status").text
    # resolve
    click(driver, "resolve-submit")
    assert "처리 완료 (resolved)" in by_id(driver, "status").text
    assert status_of(path, oid) == "resolved"
    # the history shows each step with the person logged in
    rows = by_id(driver, "history").find_elements("css selector", "tr")[1:]
    steps = [r.text for r in rows]
    assert len(steps) == 3, steps
    for text, step in zip(("이관 (transfer)", "답변 등록", "처리 완료 (resolve)"), steps):
        assert text in step and STAFF in step, step
    assert f"{home} → {target}" in steps[0] and "도서관 운영 소관" in steps[0]
    assert [e["by"] for e in cases.history(connect(path), oid)] == [STAFF] * 3
    shot(driver, tmp_path, "opinion")


def test_a_department_user_sees_its_queue_only_and_cannot_act_elsewhere(server, driver):
    base, path, home = server
    log_in(driver, base, DEPT)
    assert driver.current_url.endswith("/inbox")
    rows = css(driver, "article.opinion")
    assert rows and all(f"부서 {home}" in r.text for r in rows)
    assert not by_id(driver, "filters").find_elements("css selector", "#f-department")
    assert not css(driver, "#bulk-assign")  # assigning is the centre's
    db = connect(path)
    theirs = next(r["id"] for r in db.query(
        "SELECT id, department FROM center WHERE status = 'received' ORDER BY created_at")
        if r["department"] != home)
    ours = next(r["id"] for r in db.query(
        "SELECT id, department FROM center WHERE status = 'received' ORDER BY created_at")
        if r["department"] == home)
    db.conn.close()
    driver.get(f"{base}/opinions/{theirs}")
    assert "다른 부서의 의견" in body(driver) and not css(driver, "form[id^=act-]")
    # its own opinion's answer form, sent to another department's opinion: refused
    driver.get(f"{base}/opinions/{ours}")
    type_into(driver, "answer-note", "우리 부서가 답했습니다")
    driver.execute_script(
        "document.getElementById('act-answer').action = arguments[0];",
        f"/opinions/{theirs}/act")
    click(driver, "answer-submit")
    assert "권한 없음" in body(driver) or "다른 부서" in body(driver)
    assert status_of(path, theirs) == "received"
    assert cases.history(connect(path), theirs) == []
    # and on its own it may record the answer
    driver.get(f"{base}/opinions/{ours}")
    type_into(driver, "answer-note", "부서에서 답변했습니다")
    click(driver, "answer-submit")
    assert status_of(path, ours) == "answered"
    assert cases.history(connect(path), ours)[-1]["by"] == DEPT


def test_a_form_posted_without_its_csrf_token_is_refused(server, driver):
    base, path, _ = server
    log_in(driver, base, STAFF)
    oid = marker_id(path, "SCNE")
    driver.get(f"{base}/opinions/{oid}")
    before = status_of(path, oid)
    form = "act-dismiss" if before in ("received", "assigned", "in_progress") else "act-reopen"
    driver.execute_script(
        "var f = document.getElementById(arguments[0]);"
        "f.querySelector('input[name=csrftoken]').remove();"
        "var n = f.querySelector('textarea'); if (n) n.value = '토큰 없이';", form)
    click(driver, form.replace("act-", "") + "-submit")
    assert "CSRF" in body(driver) and "요청 거부" in body(driver)
    assert status_of(path, oid) == before
    assert not any(e["note"] == "토큰 없이" for e in cases.history(connect(path), oid))


def test_the_public_page_shows_the_answer_and_no_author_note_or_staff(server, driver,
                                                                       tmp_path):
    base, path, _ = server
    db = connect(path)
    answered = opinion_by_marker(db, "SCNA")["id"]
    cases.set_status(db, cases.Change(answered, "resolved", note="NOTE-내부-메모",
                                      by="박주무관"))
    keys = {r[0] for r in db.execute("SELECT author_key FROM comments WHERE author_key "
                                     "IS NOT NULL")}
    db.conn.close()
    driver.delete_all_cookies()
    driver.get(f"{base}/public")
    page = body(driver)
    assert "처리율" in page
    card = next(c for c in css(driver, "article.public-opinion") if "SCNA" in c.text)
    assert "SCNA 택시 승차 거부" in card.text and "120다산콜로 신고해 주세요" in card.text
    type_into(driver, "q", "택시")
    click(driver, "search")
    assert "SCNA 택시 승차 거부" in by_id(driver, "results").text
    shot(driver, tmp_path, "public")
    source = driver.page_source
    for secret in ("NOTE-내부-메모", "박주무관", STAFF, DEPT, "author_key", *keys):
        assert secret not in source, secret


def test_the_published_site_searches_without_a_server(server, driver, tmp_path):
    _, path, _ = server
    out = tmp_path / "site"
    done = subprocess.run([sys.executable, "run_pipeline.py", "--db", str(path), "publish",
                           "--out", str(out)], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    driver.get((out / "index.html").as_uri())
    assert "120다산콜로 신고해 주세요" in body(driver)
    type_into(driver, "q", "도서관")
    by_id(driver, "search").click()
    results = by_id(driver, "results")
    assert "SCNE 도서관 주말 운영" in results.text
