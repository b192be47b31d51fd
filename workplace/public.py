"""The public results page (`/public`, and `publish --out DIR` as a static site).

What it shows, per the seed's "opinions and results at a glance": the 처리율 (reflection rate),
the SNS map (every account by field, with its opinions and rate), the opinions the city
answered most recently with the city's answers, and search. Only what a citizen may see:
masked text, where and when, the status and the city's own answer on the platform. Never an
author key, a staff note, who set a status or a department's person; never an opinion the
platform restricted or its page owner hid (store.workplace_queries._PUBLIC).

The static site is `index.html` (self-contained: styles inline) and `search-index.js` (the
newest opinions as a JS array, loaded by a <script> tag, so that search works from a file://
path too, with no server); a city can host the folder as it is.
"""
from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from core.display import safe_href, shown
from core.files import atomic_write
from core.times import utc_iso
from store import workplace_queries as q
from workplace.actions import STATUS_LABELS
from workplace.render import kst_text, render

RECENT = 30
SEARCH_SHOWN = 50
INDEX_SIZE = 5_000  # opinions in the static site's search index (newest first)
FILES = ("index.html", "search-index.js")
_search_lock = threading.Lock()  # the query's words go through the shared Kiwi, one at a time


def by_field(rows: Iterable[dict]) -> list[tuple[str, list[dict]]]:
    fields: dict[str, list[dict]] = {}
    for row in rows:
        fields.setdefault(row["field"], []).append(row)
    return sorted(fields.items(), key=lambda kv: (-sum(r["opinions"] for r in kv[1]), kv[0]))


def context(db: sqlite_utils.Database, now: datetime, query: str = "",
            static: bool = False) -> dict[str, Any]:
    """What the public page shows (the search results only when `query` and not static)."""
    accounts = q.sns_map(db)
    results: list[dict] = []
    total = 0
    if query.strip() and not static:
        from store.search import find

        with _search_lock:
            found = find(db, query, limit=SEARCH_SHOWN)
        results, total = q.public_rows(db, [r["id"] for r in found.rows]), found.total
    return {"static": static, "totals": q.totals(accounts), "fields": by_field(accounts),
            "accounts_count": len(accounts), "recent": q.recently_answered(db, RECENT),
            "q": query, "results": results, "results_total": total,
            "generated_at": utc_iso(now), "index_size": 0}


def index_entry(row: dict) -> dict[str, str]:
    """One opinion of the static search index: shown text, no ids, no author."""
    entry = {"when": kst_text(row["created_at"]), "account": row["account_name"],
             "status": row["status"], "status_label": STATUS_LABELS.get(row["status"],
                                                                       row["status"]),
             "text": shown(row["text"] or "")}
    if row["answer_text"] or safe_href(row["answer_url"]):
        entry.update(answer=shown(row["answer_text"] or "플랫폼에서 답변했습니다."),
                     answered_by=shown(row["answered_by"] or "서울시"))
        link = safe_href(row["answer_url"])
        if link:
            entry["link"] = link
    return entry


def publish_site(db: sqlite_utils.Database, out_dir: str | Path, now: datetime,
                 index_size: int = INDEX_SIZE) -> list[Path]:
    """Write the static public site into out_dir; returns the files written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    page = context(db, now, static=True)
    entries = [index_entry(r) for r in q.public_index(db, index_size)]
    page["index_size"] = len(entries)
    html = render("public.html", actor=None, csrftoken="", db_name="", here="public", **page)
    # JSON inside a script: "</" and U+2028/9 escaped, so no text can end the script early
    data = json.dumps(entries, ensure_ascii=False, separators=(",", ":"))
    data = data.replace("</", "<\\/").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    paths = [out / "index.html", out / "search-index.js"]
    for path, text in zip(paths, (html, f"window.SMC_INDEX = {data};\n")):
        with atomic_write(path) as fh:
            fh.write(text)
    return paths
