"""Datasette plugin of the Social Media Center view.

- `smc_match(q)`: the FTS5 MATCH expression of a Korean (or English/Chinese/Japanese) query,
  made by normalize.morph.query_tokens, so that `comments_fts MATCH smc_match(:q)` finds
  택시요금이 for 택시. An empty query gives a phrase that matches nothing (MATCH of an
  empty string is an FTS5 syntax error).
- opinion ids in the centre's tables and queries link to the opinion page (canned query
  `opinion`: the post, the parent chain, the replies and the official answer).
"""
from __future__ import annotations

import re
import sys
import threading
from pathlib import Path
from urllib.parse import quote

from datasette import hookimpl
from markupsafe import Markup, escape

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `python -m datasette serve` from elsewhere
    sys.path.insert(0, str(ROOT))

_lock = threading.Lock()  # Datasette runs queries on several threads; Kiwi is shared
_OPINION_ID = re.compile(r"^(x|facebook|instagram|youtube):\S+$")
_LINKED = {"center", "opinions", "cases", "case_events", None}
NOTHING = '"\ue000"'  # a private-use character: a valid token that no text contains


def smc_match(query: str | None) -> str:
    """FTS5 MATCH expression for a user's query (NOTHING when there is nothing to search)."""
    if not query or not str(query).strip():
        return NOTHING
    from normalize.morph import query_tokens

    with _lock:
        return query_tokens(str(query)) or NOTHING


@hookimpl
def prepare_connection(conn):
    conn.create_function("smc_match", 1, smc_match, deterministic=True)


@hookimpl
def render_cell(row, value, column, table, database, datasette):
    if column not in ("id", "comment_id", "opinion_id") or table not in _LINKED:
        return None
    if not isinstance(value, str) or not _OPINION_ID.match(value):
        return None
    href = datasette.urls.database(database) + "/opinion?id=" + quote(value, safe="")
    return Markup(f'<a class="smc-opinion" href="{escape(href)}">{escape(value)}</a>')


@hookimpl
def startup(datasette):
    """Load the Korean analyser before serving: the first search would otherwise spend
    its whole SQL time limit loading the model."""
    smc_match("서울")
