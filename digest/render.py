"""The digest as files: DATE.html (self-contained), DATE.md, DATE-overdue.csv.

Korean text is drawn with NanumGothic, shipped by the pip package koreanize-matplotlib (the
font file only: we never import the package, which would change matplotlib's global
settings). Charts are PNGs drawn by matplotlib (Agg) with that font and inlined as base64;
the HTML embeds a subset of the same font (only the characters the page uses) as an
@font-face, so the page reads right on a machine without Korean system fonts. Characters the
font lacks (some simplified Chinese / Japanese Han) fall back to the system's fonts in the
browser; in charts such labels are left out and the table next to the chart lists them.
"""
from __future__ import annotations

import base64
import importlib.util
import io
import logging
from collections.abc import Iterable
from dataclasses import astuple
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path

import jinja2
import sqlite_utils
from markupsafe import Markup

from core.display import SafeCsvWriter, safe_href, shown
from core.files import atomic_write
from core.platforms import PLATFORMS
from digest.build import (
    CRISIS_MIN_COUNT,
    CRISIS_MIN_RATIO,
    OVERDUE_SHOWN,
    PREVIOUS_DAYS,
    REFLECTION_RATE,
    REFLECTION_RATE_DEF,
    RISING_MIN_COUNT,
    RISING_MIN_RATIO,
    SAME_DAY_RATE,
    SAME_DAY_RATE_DEF,
    Digest,
    build_digest,
)
from store.digest_queries import overdue_rows

TEMPLATES = Path(__file__).resolve().parent / "templates"
CHART_NAMES = ("daily", "platforms", "districts", "categories", "keywords")
ACCOUNTS_SHOWN = 100  # account rows in the digest: every configured account, with room
CSV_COLUMNS = ("received_seoul", "hours_open", "working_time", "platform", "account",
               "account_name", "department", "status", "url", "text", "id")

PLATFORM_LABELS = {p.key: p.name_ko for p in PLATFORMS}
CATEGORY_LABELS = {"report": "신고·제보", "complaint": "불편·민원", "proposal": "제안",
                   "question": "문의", "praise": "칭찬·감사", None: "미분류"}
LANG_LABELS = {"ko": "한국어", "en": "영어", "zh": "중국어", "ja": "일본어", "und": "알 수 없음"}
CRISIS_LABELS = {
    "typhoon": "태풍", "earthquake": "지진", "flooding": "침수", "heavy_rain": "호우",
    "landslide": "산사태", "sinkhole": "싱크홀·땅꺼짐", "power_cut": "정전", "fire": "화재",
    "heat": "폭염", "cold": "한파", "snow": "대설", "water_outage": "단수",
    "gas_leak": "가스 누출",
}
STATUS_LABELS = {"received": "접수", "assigned": "부서 배정", "answered": "답변",
                 "resolved": "처리 완료"}


# --- fonts ---------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def korean_font_path() -> Path:
    """NanumGothic.ttf as shipped by koreanize-matplotlib (a pinned pip dependency)."""
    spec = importlib.util.find_spec("koreanize_matplotlib")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("koreanize-matplotlib is not installed: it ships the Korean font "
                           "of the digest (pip install koreanize-matplotlib==0.1.1)")
    path = Path(next(iter(spec.submodule_search_locations))) / "fonts" / "NanumGothic.ttf"
    if not path.exists():
        raise RuntimeError(f"Korean font not found at {path}")
    return path


@lru_cache(maxsize=1)
def _font_cmap() -> frozenset[int]:
    from fontTools.ttLib import TTFont

    return frozenset(TTFont(str(korean_font_path()), lazy=True).getBestCmap())


def font_covers(text: str) -> bool:
    """Whether the shipped Korean font has a glyph for every character of text."""
    cmap = _font_cmap()
    return all(ord(ch) in cmap or ch.isspace() for ch in text)


def font_face_css(text: str, family: str = "SMC Nanum") -> str:
    """An @font-face rule embedding the subset of NanumGothic that `text` needs (WOFF)."""
    from fontTools import subset

    # fontTools logs every table at INFO and NanumGothic's hinting sources at WARNING
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    options = subset.Options()
    options.flavor = "woff"
    options.layout_features = ["*"]
    options.name_IDs = ["*"]
    options.notdef_outline = True
    font = subset.load_font(str(korean_font_path()), options)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes={ord(c) for c in text} & _font_cmap())
    subsetter.subset(font)
    buf = io.BytesIO()
    subset.save_font(font, buf, options)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return (f"@font-face {{ font-family: '{family}'; font-style: normal; font-weight: 400; "
            f"src: url(data:font/woff;base64,{data}) format('woff'); }}")


# --- charts --------------------------------------------------------------------------------
_BLUE, _GREEN, _GREY, _RED = "#1f5fa8", "#3a9a5b", "#b8c2cc", "#c0392b"


def _figure(width: float, height: float):
    from matplotlib.figure import Figure  # Agg canvas, no pyplot, no display needed

    return Figure(figsize=(width, height), dpi=100)


def _rc():
    import matplotlib

    name = _font_name()
    return matplotlib.rc_context({"font.family": [name], "axes.unicode_minus": False,
                                  "font.size": 10, "axes.spines.top": False,
                                  "axes.spines.right": False})


@lru_cache(maxsize=1)
def _font_name() -> str:
    from matplotlib import font_manager

    regular = korean_font_path()
    known = {f.fname for f in font_manager.fontManager.ttflist}
    for path in (regular, regular.with_name("NanumGothicBold.ttf")):
        if path.exists() and str(path) not in known:
            font_manager.fontManager.addfont(str(path))
    return font_manager.FontProperties(fname=str(regular)).get_name()


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _hbar(title: str, labels: list[str], values: list[float], prev: list[float] | None = None,
          color: str = _BLUE, xlabel: str = "의견 수") -> str:
    from matplotlib.ticker import MaxNLocator

    with _rc():
        fig = _figure(6.2, 0.8 + 0.32 * max(len(labels), 1))
        ax = fig.add_subplot()
        ys = list(range(len(labels)))[::-1]
        ax.barh(ys, values, color=color, height=0.6, label="오늘")
        if prev is not None:
            ax.scatter(prev, ys, marker="|", s=160, color="#222", zorder=3,
                       label=f"이전 {PREVIOUS_DAYS}일 일평균")
            ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=2, frameon=False,
                      fontsize=9)
        ax.set_yticks(ys, labels)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(title, loc="left", fontsize=12, fontweight=600, pad=22 if prev is not None else 6)
        ax.set_xlabel(xlabel)
        for y, v in zip(ys, values):
            ax.text(v, y, f" {v:g}", va="center", fontsize=8)
        return _png(fig)


def chart_daily(d: Digest) -> str:
    """Received and answered opinions over the previous 7 days and the day."""
    from matplotlib.ticker import MaxNLocator

    with _rc():
        fig = _figure(7.2, 3.0)
        ax = fig.add_subplot()
        xs = range(len(d.daily))
        labels = [f"{x.day[5:7]}/{x.day[8:]}" for x in d.daily]
        rec = [x.received for x in d.daily]
        ans = [x.answered for x in d.daily]
        colors = [_GREY] * (len(d.daily) - 1) + [_BLUE]
        ax.bar([x - 0.2 for x in xs], rec, width=0.4, color=colors, label="접수")
        ax.bar([x + 0.2 for x in xs], ans, width=0.4, color=_GREEN, label="당일 답변")
        ax.set_xticks(list(xs), labels)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(f"일별 접수·답변 (이전 {PREVIOUS_DAYS}일과 {d.day})", loc="left",
                     fontsize=12, fontweight=600)
        ax.set_ylabel("의견 수")
        ax.legend(frameon=False, fontsize=9)
        return _png(fig)


def charts(d: Digest) -> dict[str, str]:
    """Every chart of the digest as a data: URL (PNG), by name; none when there is nothing."""
    out: dict[str, str] = {}
    if any(x.received for x in d.daily):
        out["daily"] = chart_daily(d)
    if d.empty:
        return out
    if d.platforms:
        out["platforms"] = _hbar(
            "플랫폼별 접수", [PLATFORM_LABELS.get(p.key, p.key) for p in d.platforms],
            [p.received for p in d.platforms], [p.prev_received for p in d.platforms])
    districts = [c for c in d.districts if c.count]
    if districts:
        out["districts"] = _hbar("자치구별 의견 (district 열)", [c.name or "" for c in districts],
                                 [c.count for c in districts], [c.prev_avg for c in districts])
    out["categories"] = _hbar(
        "유형별 의견 (category 열)", [CATEGORY_LABELS.get(c.name) or c.name or "" for c in d.categories],
        [c.count for c in d.categories], [c.prev_avg for c in d.categories], color=_GREEN)
    drawable = [k for k in d.keywords if k.name and font_covers(k.name)]
    if drawable:
        out["keywords"] = _hbar("주요 키워드 (명사, 의견 수)", [k.name or "" for k in drawable],
                                [k.count for k in drawable], [k.prev_avg for k in drawable],
                                color="#7d5ba6")
    return out


# --- formatting filters --------------------------------------------------------------------
def fmt_pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def fmt_num(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def fmt_minutes(value: float | None) -> str:
    """Minutes as '8시간 27분' / '45분'."""
    if value is None:
        return "–"
    total = round(value)
    h, m = divmod(total, 60)
    return f"{h}시간 {m}분" if h else f"{m}분"


def fmt_change(cur: float | None, prev: float | None) -> str:
    """Relative change of a count against its previous average ('+12.5%', 'new', '–')."""
    if cur is None or prev is None:
        return "–"
    if not prev:
        return "신규" if cur else "–"
    change = (cur - prev) / prev * 100
    return f"{change:+.1f}%"


def fmt_points(cur: float | None, prev: float | None) -> str:
    """Difference of two rates in percentage points."""
    if cur is None or prev is None:
        return "–"
    return f"{(cur - prev) * 100:+.1f}%p"


def md_escape(value: object) -> str:
    """Text safe inside a Markdown table cell or line."""
    text = " ".join(str("" if value is None else value).split())
    for ch in "\\`*[]<>|":
        text = text.replace(ch, "\\" + ch)
    return text


def shown_value(value: object) -> object:
    """Every {{ }} of the digests passes here (finalize): text as it may be shown."""
    if isinstance(value, Markup):
        return Markup(shown(str(value)))
    return shown(value) if isinstance(value, str) else value


def _env(autoescape: bool) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=autoescape,
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=True, finalize=shown_value,
    )
    # href: the one way a URL becomes a link (http(s) only; "" otherwise: no link)
    env.filters.update(pct=fmt_pct, num=fmt_num, minutes=fmt_minutes, change=fmt_change,
                       points=fmt_points, md=md_escape, href=safe_href)
    env.globals.update(
        PLATFORM=PLATFORM_LABELS, CATEGORY=CATEGORY_LABELS, LANG=LANG_LABELS,
        CRISIS=CRISIS_LABELS, STATUS=STATUS_LABELS, PREVIOUS_DAYS=PREVIOUS_DAYS,
        OVERDUE_SHOWN=OVERDUE_SHOWN, ACCOUNTS_SHOWN=ACCOUNTS_SHOWN,
        RISING_MIN_COUNT=RISING_MIN_COUNT, RISING_MIN_RATIO=RISING_MIN_RATIO,
        CRISIS_MIN_COUNT=CRISIS_MIN_COUNT, CRISIS_MIN_RATIO=CRISIS_MIN_RATIO,
        SAME_DAY_RATE=SAME_DAY_RATE, SAME_DAY_RATE_DEF=SAME_DAY_RATE_DEF,
        REFLECTION_RATE=REFLECTION_RATE, REFLECTION_RATE_DEF=REFLECTION_RATE_DEF,
    )
    return env


def render_html(d: Digest, embed_font: bool = True) -> str:
    """The self-contained HTML digest (inline CSS, PNG charts and font as data: URLs)."""
    template = _env(autoescape=True).get_template("digest.html.j2")
    images = {name: None for name in CHART_NAMES} | charts(d)
    html = template.render(d=d, charts=images, font_css="")
    if not embed_font:
        return html
    return template.render(d=d, charts=images, font_css=font_face_css(html))


def render_markdown(d: Digest) -> str:
    """The digest as Markdown, for mail or a chat channel."""
    return _env(autoescape=False).get_template("digest.md.j2").render(d=d)


def write_overdue_csv(d: Digest, path: Path, rows: Iterable[tuple] | None = None) -> None:
    """The overdue list, oldest first, UTF-8 with BOM (Excel opens the Korean text right).

    rows: every overdue opinion as store.digest_queries.overdue_rows tuples (streamed, not
    held); None: the digest's own list (only the first OVERDUE_SHOWN when there are more)."""
    if rows is None:
        rows = (astuple(o) for o in d.overdue)
    with atomic_write(path, encoding="utf-8-sig", newline="") as fh:
        writer = SafeCsvWriter(fh)  # citizens' text: no cell may run as a formula
        writer.writerow(CSV_COLUMNS)
        # OverdueItem order: id, created_at, seoul_time, hours_open, platform, account,
        # account_name, department, status, url, text
        writer.writerows(
            (seoul, f"{hours:.1f}", d.working_time(created, department), platform, account,
             name, department or "", status, url or "", text, oid)
            for oid, created, seoul, hours, platform, account, name, department, status, url,
            text in rows)


def write_files(d: Digest, out_dir: str | Path,
                db: sqlite_utils.Database | None = None) -> list[Path]:
    """Write DATE.html, DATE.md and DATE-overdue.csv of a built digest into out_dir.

    db: the digest's database, read again for the full overdue CSV (without it the CSV has
    only the digest's first OVERDUE_SHOWN rows)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    html, md, csv_path = (out / f"{d.day}.html", out / f"{d.day}.md",
                          out / f"{d.day}-overdue.csv")
    for path, text in ((html, render_html(d)), (md, render_markdown(d))):
        with atomic_write(path) as fh:
            fh.write(text)
    rows = None
    if db is not None and d.overdue_count > len(d.overdue):
        rows = overdue_rows(db, d.reference, d.overdue_threshold)
    write_overdue_csv(d, csv_path, rows)
    return [html, md, csv_path]


def write_digest(db: sqlite_utils.Database, day: date | str, out_dir: str | Path,
                 overdue_hours: float = 24, now: datetime | str | None = None) -> list[Path]:
    """Build the digest of one Seoul day and write its three files; returns their paths.

    `now` (default: the clock) caps the reference time: the demo passes its simulated clock.
    The overdue CSV streams every overdue opinion from the database (the digest holds only
    the first OVERDUE_SHOWN).
    """
    d = build_digest(db, day, overdue_hours=overdue_hours, now=now)
    return write_files(d, out_dir, db)
