"""The digest's files: self-contained HTML with Korean charts, Markdown, overdue CSV, Chromium."""
from __future__ import annotations

import base64
import csv
import io
import re
import shutil
import subprocess
import warnings
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_digest import DAY, NOW, build_known_db

from digest.build import build_digest
from digest.render import charts, font_covers, korean_font_path, render_markdown, write_digest
from store.db import connect

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def known_db(tmp_path_factory, accounts) -> Path:
    path = tmp_path_factory.mktemp("digest-render") / "smc.db"
    build_known_db(path, accounts)
    return path


@pytest.fixture(scope="module")
def files(known_db, tmp_path_factory) -> dict[str, Path]:
    db = connect(known_db)
    out = tmp_path_factory.mktemp("out")
    paths = write_digest(db, DAY, out, now=NOW)
    db.conn.close()
    return {p.suffix: p for p in paths}


def test_three_files_named_by_day(files):
    assert sorted(p.name for p in files.values()) == [
        "2026-11-24-overdue.csv", "2026-11-24.html", "2026-11-24.md"]


def test_korean_font_ships_with_a_pip_package():
    path = korean_font_path()
    assert path.name == "NanumGothic.ttf" and path.stat().st_size > 1_000_000
    assert font_covers("서울시 자치구별 의견 접수 답변 강남구 관악구 침수")


def test_charts_draw_korean_without_missing_glyphs(known_db):
    db = connect(known_db)
    d = build_digest(db, DAY, now=NOW)
    db.conn.close()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns "Glyph ... missing from font(s)"
        images = charts(d)
    assert set(images) == {"daily", "platforms", "districts", "categories", "keywords"}
    for url in images.values():
        assert url.startswith("data:image/png;base64,")
        assert base64.b64decode(url.split(",", 1)[1]).startswith(PNG_MAGIC)


def test_html_is_self_contained(files):
    html = files[".html"].read_text(encoding="utf-8")
    assert "<script" not in html and "<link" not in html and "@import" not in html
    # every image and font is a data: URL; the only http links are the opinions' own
    assert not re.findall(r'src="(?!data:)', html)
    assert not re.findall(r"url\((?!data:)", html)
    assert html.count('src="data:image/png;base64,') == 5
    assert "@font-face" in html and "data:font/woff;base64," in html
    for text in ("위기 경보: 침수", "지하차도가 침수됐어요", "57.1%", "50분", "강남구",
                 "HTTP 503 after 3 tries", "120 / 10,000", "https://example.org/o2"):
        assert text in html, text


def test_markdown_has_the_same_content(files):
    md = files[".md"].read_text(encoding="utf-8")
    assert md.startswith("# 서울시 소셜미디어센터 일일 다이제스트 · 2026-11-24")
    for line in ("| 접수 | 7 | 1.1 (일평균) | +512.5% |",
                 "| 당일 답변율 (same-day answer rate) | 57.1% | 62.5% | -5.4%p |",
                 "| 첫 답변까지 (중앙값) | 50분 | 1시간 0분 | |",
                 "| X | 5 | 3 | 60.0% | 40분 | 1 | 57.1% |",
                 "## 미답변 지연 (24시간 초과): 3건",
                 "> **⚠ 위기 경보: 침수 관련 의견 급증** · 오늘 6건, 이전 7일 일평균 0.1건",
                 "급상승 키워드: 침수 5 (이전 0.1, 5.2배)",
                 "강남구 2 · 관악구 1 · 마포구 1",
                 "| 신고·제보 | 2 | 28.6% | 0.1 |",
                 "한국어 5 (71.4%) · 영어 1 (14.3%) · 일본어 1 (14.3%)",
                 "- 실패: 서울택시 (x_seoul_taxi) 1/1회 – HTTP 503 after 3 tries",
                 "- 수집 누락: 서울특별시 (x_seoulmania) 플랫폼 20건 중 18건 저장, 2건 누락"):
        assert line in md, line
    overdue = md[md.index("## 미답변 지연"):md.index("## 키워드")]
    assert overdue.index("쓰레기 수거 문의") < overdue.index("가로등이 고장") < overdue.index("택시 민원")


def test_two_rates_two_names_each_with_its_definition(files):
    """The digest's rate is same-day (당일 답변율); the centre's reflection rate (처리율) is
    named as a different figure; no bare 답변율 is left for the same-day one (#15)."""
    import html as html_lib

    from digest.build import REFLECTION_RATE, REFLECTION_RATE_DEF, SAME_DAY_RATE, SAME_DAY_RATE_DEF

    assert SAME_DAY_RATE == "당일 답변율 (same-day answer rate)"
    assert REFLECTION_RATE == "응답률 (answer rate: answered, resolved or reflected)"
    md = files[".md"].read_text(encoding="utf-8")
    page = html_lib.unescape(re.sub(r"<[^>]+>", " ", files[".html"].read_text(encoding="utf-8")))
    for text in (md, page):
        assert f"{SAME_DAY_RATE} = {SAME_DAY_RATE_DEF}" in text
        assert f"{REFLECTION_RATE}은 다른 수치입니다: {REFLECTION_RATE_DEF}" in text
        assert not re.findall(r"(?<!당일 )답변율", text)  # every 답변율 is the 당일 one
    # next to the headline figure: its name, its value, its definition
    summary = md[md.index("## 요약"):md.index("일별 접수")]
    assert summary.index("| 당일 답변율 (same-day answer rate) | 57.1%") < \
        summary.index(SAME_DAY_RATE_DEF) < summary.index(REFLECTION_RATE_DEF)
    card = page[page.index(SAME_DAY_RATE):]
    assert card.index("57.1%") < card.index(SAME_DAY_RATE_DEF) < card.index(REFLECTION_RATE)


def test_markdown_escapes_table_breakers(known_db):
    db = connect(known_db)
    d = build_digest(db, DAY, now=NOW)
    db.conn.close()
    d.overdue[0].text = "a | b *c*\nd"
    md = render_markdown(d)
    assert "a \\| b \\*c\\* d" in md


def test_overdue_csv_utf8_bom_oldest_first(files):
    raw = files[".csv"].read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert [(r["id"], r["account"], r["hours_open"], r["text"], r["url"]) for r in rows] == [
        ("youtube:o2", "yt_seoul", "370.0", "쓰레기 수거 문의", "https://example.org/o2"),
        ("facebook:o1", "fb_seoul", "346.0", "가로등이 고장 났어요", "https://example.org/o1"),
        ("x:o4", "x_seoul_taxi", "25.0", "택시 민원입니다", "https://example.org/o4"),
    ]
    assert rows[0]["received_seoul"] == "2026-11-09 14:00"
    assert rows[2]["account_name"] == "서울택시"


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.mark.browser
def test_html_renders_in_headless_chromium(files, tmp_path):
    binary = _chromium()
    if binary is None:
        pytest.skip("no chromium binary on PATH (CI installs Debian's chromium with apt-get)")
    png = tmp_path / "digest.png"
    result = subprocess.run(
        [binary, "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={png}",
         "--window-size=1200,3000", files[".html"].resolve().as_uri()],
        check=False, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert png.exists() and png.stat().st_size > 50_000
    from PIL import Image

    with Image.open(png) as im:
        assert im.size == (1200, 3000)
        colors = im.convert("RGB").resize((300, 750)).getcolors(maxcolors=1_000_000)
    assert len(colors) > 100  # text, charts and tables, not a blank page


def test_digest_holds_the_first_overdue_csv_streams_all(known_db, tmp_path, monkeypatch, files):
    """More overdue opinions than the digest holds: the count and the CSV still have them all,
    in the same order and content as when the digest holds them all."""
    from digest import build as digest_build

    monkeypatch.setattr(digest_build, "OVERDUE_SHOWN", 2)
    db = connect(known_db)
    d = build_digest(db, DAY, now=NOW)
    assert [o.id for o in d.overdue] == ["youtube:o2", "facebook:o1"] and d.overdue_count == 3
    paths = write_digest(db, DAY, tmp_path, now=NOW)
    db.conn.close()
    csv_path = next(p for p in paths if p.suffix == ".csv")
    assert csv_path.read_bytes() == files[".csv"].read_bytes()


# --- hostile text (issue #14) ---------------------------------------------------------------
FORMULAS = ('=HYPERLINK("http://evil","x")', "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1")
BAD_URLS = ("JaVaScRiPt:alert(1)", "javascript:alert(2)", " data:text/html,<b>x</b>",
            "vbscript:msgbox(1)", "/relative/path", "//evil.example/x")
RLO = "반지하 침수 \u202e요금 환불\u202c 바랍니다"  # U+202E draws what follows right to left


def add_hostile(path: Path) -> None:
    """Citizens' comments of hostile text and links, as a normalizer hands them to the writer:
    overdue formulas (in the previous week) and a crisis example with a bidi override."""
    from normalize.schema import Comment
    from store.writer import Writer

    db = connect(path)
    records = [Comment(
        id=f"x:h{n}", platform="x", account="x_seoulmania", native_id=f"h{n}",
        post_id="x:post-x_seoulmania", parent_id=None, author_key=f"k-h{n}", author_name=None,
        is_official=0, text=text, lang="ko", created_at=f"2026-11-20T0{n}:00:00Z", url=url,
        crisis="") for n, (text, url) in enumerate(zip(FORMULAS, BAD_URLS))]
    records.append(Comment(
        id="x:hr", platform="x", account="x_seoulmania", native_id="hr",
        post_id="x:post-x_seoulmania", parent_id=None, author_key="k-hr", author_name=None,
        is_official=0, text=RLO, lang="ko", created_at="2026-11-23T15:05:00Z",
        url="jAvAsCrIpT:alert(3)", crisis="flooding"))
    Writer(db).write_page("x_seoulmania", "comments", records, [{}] * len(records),
                          platform="x")
    db.conn.close()


@pytest.fixture(scope="module")
def hostile_files(known_db, tmp_path_factory) -> dict[str, Path]:
    import sqlite3

    path = tmp_path_factory.mktemp("hostile") / "smc.db"
    src, dst = sqlite3.connect(known_db), sqlite3.connect(path)
    src.backup(dst)
    src.close()
    dst.close()
    add_hostile(path)
    db = connect(path)
    paths = write_digest(db, DAY, path.parent / "out", now=NOW)
    db.conn.close()
    return {p.suffix: p for p in paths}


def test_overdue_csv_neutralizes_formulas(hostile_files):
    text = hostile_files[".csv"].read_bytes().decode("utf-8-sig")
    rows = {r["id"]: r for r in csv.DictReader(io.StringIO(text, newline=""))}
    for n, formula in enumerate(FORMULAS):
        assert rows[f"x:h{n}"]["text"] == "'" + formula, formula
    assert rows["x:o4"]["text"] == "택시 민원입니다" and rows["x:o4"]["hours_open"] == "25.0"


def test_digests_link_only_http_urls(hostile_files):
    html = hostile_files[".html"].read_text(encoding="utf-8")
    md = hostile_files[".md"].read_text(encoding="utf-8")
    hrefs = re.findall(r'href="([^"]*)"', html)
    assert hrefs and all(h.startswith("https://example.org/") for h in hrefs), hrefs
    autolinks = re.findall(r"<([a-zA-Z][a-zA-Z0-9+.-]*:[^>\s]*)>", md)
    assert autolinks and all(a.startswith("https://example.org/") for a in autolinks)
    for bad in (*BAD_URLS, "jAvAsCrIpT:alert(3)"):
        assert bad.strip() not in html and bad.strip() not in md, bad
    # the opinions are still listed, as text
    assert "@SUM(A1)" in html and "@SUM(A1)" in md
    assert "반지하 침수" in html and "반지하 침수" in md


def test_safe_href():
    from core.display import safe_href

    for url in (*BAD_URLS, "jAvAsCrIpT:alert(3)", "java\tscript:alert(1)", "\x01javascript:x",
                "https:evil.example", "http://[::1", "", None, 5):
        assert safe_href(url) == "", url
    assert safe_href("https://example.org/o2") == "https://example.org/o2"
    assert safe_href(" HTTPS://Example.org/a b") == "https://Example.org/a%20b"
    # cannot end a Markdown <autolink> or an attribute early
    assert safe_href('https://x.org/a>"<[x](javascript:alert(1))') == \
        "https://x.org/a%3E%22%3C[x](javascript:alert(1))"
    assert safe_href("https://news.seoul.go.kr/택시?q=요금") == \
        "https://news.seoul.go.kr/%ED%83%9D%EC%8B%9C?q=%EC%9A%94%EA%B8%88"


def test_digests_show_no_bidi_overrides(hostile_files):
    from core.display import BIDI_CONTROLS

    for suffix in (".html", ".md"):
        text = hostile_files[suffix].read_text(encoding="utf-8")
        assert not set(BIDI_CONTROLS) & set(text), suffix
        assert "반지하 침수 \ufffd요금 환불\ufffd 바랍니다" in text, suffix
    # the stored text keeps what the citizen sent
    db = connect(hostile_files[".csv"].parent.parent / "smc.db")
    assert db.execute("SELECT text FROM comments WHERE id = 'x:hr'").fetchone()[0] == RLO


def test_shown():
    from core.display import shown

    assert shown("abc\u202eFED\u202c \u2066x\u2069") == "abc\ufffdFED\ufffd \ufffdx\ufffd"
    assert shown("\x1b[2J\x07ok\x08\x00\x9b1m") == "\ufffd[2J\ufffdok\ufffd\ufffd\ufffd1m"
    assert shown("a\r\nb\rc\td") == "a\r\nb\ufffdc\td"  # a lone CR draws over the line
    text = "서울 \u200f\u200eשלום 택시"  # marks of ordinary right-to-left text are kept
    assert shown(text) == text


@given(st.text(alphabet=st.characters(max_codepoint=0x2100), max_size=60))
def test_shown_replaces_exactly_the_controls(text):
    """shown is one regex (a page is ~1 MB): every bidi control, C0 but tab/newline, DEL,
    C1 and lone CR becomes U+FFFD, one for one; nothing else changes."""
    from core.display import BIDI_CONTROLS, REPLACEMENT, shown

    bad = set(BIDI_CONTROLS) | {chr(c) for c in [*range(0x09), 0x0B, 0x0C,
                                                 *range(0x0E, 0x20), *range(0x7F, 0xA0)]}
    want = "".join(REPLACEMENT if ch in bad or (ch == "\r" and text[i + 1:i + 2] != "\n")
                   else ch for i, ch in enumerate(text))
    assert shown(text) == want
