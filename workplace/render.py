"""The workplace's HTML: one Jinja environment for the served pages and the published site.

Every page is autoescaped and passes core.display.shown (bidi overrides and control
characters in citizens' text cannot reorder what staff read); links are only http(s)
(core.display.safe_href). All times are shown in Seoul time (KST), the stored UTC time in
the element's title.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup, escape

from core.display import safe_href, shown
from core.platforms import PLATFORMS
from core.times import parse_iso, seoul_time
from workplace.actions import ACTION_LABELS, STATUS_LABELS

TEMPLATES = Path(__file__).resolve().parent / "templates"

# the registry's names (core/platforms.py), X with its former name as staff know it
PLATFORM_LABELS = {p.key: p.name_ko for p in PLATFORMS} | {"x": "X (트위터)"}
CATEGORY_LABELS = {"report": "신고·제보", "complaint": "불편·민원", "proposal": "제안",
                   "question": "문의", "praise": "칭찬·감사"}
FIELD_LABELS = {"general": "시정 일반", "transport": "교통", "culture": "문화",
                "safety": "안전", "international": "국제", "environment": "환경",
                "welfare": "복지", "economy": "경제", "tourism": "관광", "housing": "주택",
                "health": "건강", "education": "교육"}
ROLE_LABELS = {"staff": "센터 직원", "department": "부서 담당", "viewer": "열람"}


def kst(value: str | None, fmt: str = "%Y-%m-%d %H:%M") -> Markup:
    """A stored UTC time as Seoul time, with the UTC time as the element's title."""
    if not value:
        return Markup("-")
    try:
        local = seoul_time(value, fmt)
    except ValueError:
        return Markup(escape(value))
    return Markup(f'<time datetime="{escape(value)}" title="{escape(value)} (UTC)">'
                  f'{escape(local)}</time>')


def kst_text(value: str | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if not value:
        return ""
    try:
        return seoul_time(value, fmt)
    except ValueError:
        return value


def utc_label(value: str | None) -> str:
    if not value:
        return ""
    try:
        return parse_iso(value).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return value


def minutes(value: int | None) -> str:
    """Wall-clock minutes as '11시간 12분' / '45분'."""
    if value is None:
        return "-"
    hours, rest = divmod(int(value), 60)
    return (f"{hours}시간 {rest}분" if rest else f"{hours}시간") if hours else f"{rest}분"


def label(mapping: dict, value: Any) -> str:
    return mapping.get(value, value) if value is not None else "-"


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)),
                             autoescape=True, trim_blocks=True, lstrip_blocks=True,
                             undefined=jinja2.StrictUndefined)
    env.filters.update(
        kst=kst, kst_text=kst_text, utc=utc_label, href=safe_href,
        status=lambda s: label(STATUS_LABELS, s), action=lambda a: label(ACTION_LABELS, a),
        platform=lambda p: label(PLATFORM_LABELS, p),
        category=lambda c: label(CATEGORY_LABELS, c), field=lambda f: label(FIELD_LABELS, f),
        role=lambda r: label(ROLE_LABELS, r), minutes=minutes,
        num=lambda n: f"{n:,}" if isinstance(n, int) else n,
        pct=lambda p: "-" if p is None else f"{p:.1f} %",
    )
    env.globals.update(STATUS_LABELS=STATUS_LABELS, PLATFORM_LABELS=PLATFORM_LABELS,
                       CATEGORY_LABELS=CATEGORY_LABELS, FIELD_LABELS=FIELD_LABELS)
    return env


def render(template: str, **context: Any) -> str:
    """A page, as it may be shown (core.display.shown)."""
    return shown(environment().get_template(template).render(**context))
