"""The read side of the workplace (issue #18): the inbox, its filters, and the public page.

The inbox reads the `opinions` view (live opinions with their derived status) joined to the
account and the official answer, oldest first, a page at a time: keyset pagination on
(created_at, id), so page 10 costs what page 1 does, and no count of every match (the count
shown stops at COUNT_CAP). "Overdue" compares created_at with the latest receipt time that is
overdue now, per department (core.worktime.Deadlines.cutoffs: deadlines are working hours).

The public queries never read author_key, staff notes, who set a status, or any opinion the
platform restricted (withheld ...) or the page owner hid.
"""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import sqlite_utils

OPEN = ("received", "assigned", "in_progress")
STATUSES = ("received", "assigned", "in_progress", "answered", "resolved", "dismissed")
COUNT_CAP = 10_000  # the inbox counts matches up to this many ("10,000+")
PAGE = 50
# The department an opinion is with: the one staff assigned, else its account's.
DEPARTMENT = "COALESCE(o.assigned_department, ac.department)"
FILTERS = ("account", "platform", "field", "district", "category", "department", "status")


@dataclass(frozen=True)
class InboxFilter:
    """What the inbox shows: every field None shows all (status None: the open ones)."""

    account: str | None = None
    platform: str | None = None
    field: str | None = None
    district: str | None = None
    category: str | None = None
    department: str | None = None
    status: str | None = None  # one of STATUSES, "all", or None (open: OPEN)
    overdue: bool = False
    after: tuple[str, str] | None = None  # (created_at, id) of the last row of the page before

    def without_paging(self) -> InboxFilter:
        return replace(self, after=None)


@dataclass
class _Sql:
    where: list[str] = field(default_factory=list)
    params: dict[str, object] = field(default_factory=dict)


def _where(f: InboxFilter, cutoffs: Mapping[str, str]) -> _Sql:
    sql = _Sql()
    for name, column in (("account", "o.account"), ("platform", "o.platform"),
                         ("field", "ac.field"), ("district", "o.district"),
                         ("category", "o.category"), ("department", DEPARTMENT)):
        value = getattr(f, name)
        if value:
            sql.where.append(f"{column} = :{name}")
            sql.params[name] = value
    if f.status in STATUSES:
        sql.where.append("o.status = :status")
        sql.params["status"] = f.status
    elif f.status != "all":
        sql.where.append(f"o.status IN ({', '.join(repr(s) for s in OPEN)})")
    if f.overdue:
        # created_at at or before the department's cutoff; not answered, resolved, dismissed
        whens = []
        for i, (department, cut) in enumerate(sorted(cutoffs.items())):
            if department:
                whens.append(f"WHEN :dep{i} THEN :cut{i}")
                sql.params[f"dep{i}"], sql.params[f"cut{i}"] = department, cut
        sql.params["cut"] = cutoffs[""]
        case = (f"CASE {DEPARTMENT} {' '.join(whens)} ELSE :cut END" if whens else ":cut")
        sql.where.append(f"o.created_at <= {case}")
        if f.status in (None, "all"):
            sql.where.append(f"o.status IN ({', '.join(repr(s) for s in OPEN)})")
    if f.after:
        sql.where.append("(o.created_at, o.id) > (:after_at, :after_id)")
        sql.params["after_at"], sql.params["after_id"] = f.after
    return sql


_FROM = """
    FROM opinions o
    JOIN accounts ac ON ac.key = o.account
"""
_COLUMNS = f"""
    o.id, o.created_at, o.status, o.platform, o.account, ac.name AS account_name, ac.field,
    {DEPARTMENT} AS department, ac.department AS account_department, o.text, o.lang,
    o.district, o.category, o.url, o.staff_status, o.staff_by, o.staff_at, o.answer_id,
    o.first_response_at, o.response_minutes,
    ans.text AS answer_text, ans.author_name AS answered_by, ans.url AS answer_url
"""


def inbox(db: sqlite_utils.Database, f: InboxFilter, cutoffs: Mapping[str, str],
          limit: int = PAGE) -> list[dict]:
    """A page of the inbox, oldest first (after `f.after` when given)."""
    sql = _where(f, cutoffs)
    where = f"WHERE {' AND '.join(sql.where)}" if sql.where else ""
    query = f"""
    SELECT {_COLUMNS}
    {_FROM}
    LEFT JOIN comments ans ON ans.id = o.answer_id
    {where}
    ORDER BY o.created_at, o.id
    LIMIT :limit
    """
    return list(db.query(query, {**sql.params, "limit": int(limit)}))


def inbox_count(db: sqlite_utils.Database, f: InboxFilter, cutoffs: Mapping[str, str],
                cap: int = COUNT_CAP) -> int:
    """How many opinions the filter matches, counted up to `cap` (more: cap + 1)."""
    sql = _where(f.without_paging(), cutoffs)
    where = f"WHERE {' AND '.join(sql.where)}" if sql.where else ""
    query = f"SELECT count(*) FROM (SELECT 1 {_FROM} {where} LIMIT :cap)"
    return db.execute(query, {**sql.params, "cap": int(cap) + 1}).fetchone()[0]


def opinion_ids_department(db: sqlite_utils.Database, ids: Sequence[str]) -> dict[str, str]:
    """The department each of these opinions is with now (assigned, else the account's)."""
    rows = db.execute(
        f"SELECT o.id, {DEPARTMENT} FROM opinion_records o JOIN accounts ac "
        "ON ac.key = o.account WHERE o.id IN (SELECT value FROM json_each(?))",
        [json.dumps(list(ids))]).fetchall()
    return {r[0]: r[1] for r in rows}


def filter_options(db: sqlite_utils.Database) -> dict[str, list]:
    """The choices of the inbox's filters: accounts (key, name, platform), platforms,
    fields, districts and categories seen (from the rollups: no scan of opinions),
    departments (accounts' and assigned ones)."""
    accounts = [dict(r) for r in db.query(
        "SELECT key, name, platform, field, department FROM accounts ORDER BY platform, name")]
    seen = db.execute("SELECT DISTINCT district, category FROM opinion_days").fetchall()
    return {
        "account": accounts,
        "platform": sorted({a["platform"] for a in accounts}),
        "field": sorted({a["field"] for a in accounts}),
        "district": sorted({d for d, _ in seen if d}),
        "category": sorted({c for _, c in seen if c}),
        "department": departments(db),
        "status": list(STATUSES),
    }


def departments(db: sqlite_utils.Database, extra: Sequence[str] = ()) -> list[str]:
    """Every department: the accounts', those staff assigned, and `extra` (config)."""
    rows = db.execute("SELECT department FROM accounts UNION SELECT DISTINCT department "
                      "FROM cases WHERE department IS NOT NULL").fetchall()
    return sorted({r[0] for r in rows if r[0]} | {d for d in extra if d})


def opinion_department(db: sqlite_utils.Database, comment_id: str) -> str | None:
    return opinion_ids_department(db, [comment_id]).get(comment_id)


def assigned_department(db: sqlite_utils.Database, comment_id: str) -> str | None:
    """The department staff assigned the opinion (cases.department), None if none."""
    row = db.execute("SELECT department FROM cases WHERE comment_id = ?",
                     [comment_id]).fetchone()
    return row[0] if row else None


def answer_link(db: sqlite_utils.Database, comment_id: str) -> str | None:
    """The link to the city's reply staff recorded with the answer (cases.link)."""
    row = db.execute("SELECT link FROM cases WHERE comment_id = ?", [comment_id]).fetchone()
    return row[0] if row else None


# --- the public page ---------------------------------------------------------------------
# What a citizen may see of an opinion: masked text, where and when, the status, the city's
# answer. Never author_key, notes, who set a status; never restricted or hidden opinions.
_PUBLIC = """
    SELECT o.id, o.created_at, o.seoul_day, o.status, o.platform, o.account,
           ac.name AS account_name, ac.field, o.text, o.district, o.category,
           ans.text AS answer_text, ans.author_name AS answered_by,
           COALESCE(ans.url, k.link) AS answer_url, o.first_response_at
    FROM opinions o
    JOIN accounts ac ON ac.key = o.account
    LEFT JOIN comments ans ON ans.id = o.answer_id
    LEFT JOIN cases k ON k.comment_id = o.id
"""
_SHOWN = "o.restricted IS NULL AND o.hidden = 0 AND o.text <> ''"


def sns_map(db: sqlite_utils.Database) -> list[dict]:
    """Per account (the SNS map, by field): opinions, answered, resolved, the 처리율."""
    return list(db.query(
        "SELECT account, platform, account_name, field, opinions, answered, resolved, "
        "reflected, reflection_pct, open, dismissed FROM reflection "
        "ORDER BY field, platform, account_name"))


def recently_answered(db: sqlite_utils.Database, limit: int = 30) -> list[dict]:
    """The opinions the city answered most recently (an official reply in the thread, or
    staff's answered/resolved with the link to the city's reply), newest answer first."""
    official = list(db.query(
        f"{_PUBLIC} WHERE o.answer_id IS NOT NULL AND o.status IN ('answered', 'resolved') "
        f"AND {_SHOWN} ORDER BY o.first_response_at DESC, o.id DESC LIMIT :n", {"n": limit}))
    linked = list(db.query(
        f"{_PUBLIC} WHERE o.answer_id IS NULL AND k.link IS NOT NULL "
        f"AND o.status IN ('answered', 'resolved') AND {_SHOWN} "
        "ORDER BY k.updated_at DESC, o.id DESC LIMIT :n", {"n": limit}))
    for row in linked:
        row["first_response_at"] = db.execute(
            "SELECT updated_at FROM cases WHERE comment_id = ?", [row["id"]]).fetchone()[0]
    rows = sorted(official + linked, key=lambda r: (r["first_response_at"] or "", r["id"]),
                  reverse=True)
    return rows[:limit]


def public_rows(db: sqlite_utils.Database, ids: Sequence[str]) -> list[dict]:
    """These opinions as the public page shows them (the restricted and hidden left out),
    in the order given."""
    rows = {r["id"]: r for r in db.query(
        f"{_PUBLIC} WHERE o.id IN (SELECT value FROM json_each(:ids)) AND {_SHOWN}",
        {"ids": json.dumps(list(ids))})}
    return [rows[i] for i in ids if i in rows]


def public_index(db: sqlite_utils.Database, limit: int) -> list[dict]:
    """The newest `limit` opinions as the public page shows them (the static site's search
    index), newest first."""
    return list(db.query(f"{_PUBLIC} WHERE {_SHOWN} ORDER BY o.created_at DESC, o.id DESC "
                         "LIMIT :n", {"n": int(limit)}))


def public_totals(db: sqlite_utils.Database) -> dict:
    """Opinions, answered, resolved, reflected (answered + resolved) over every account."""
    row = db.execute("SELECT coalesce(sum(opinions), 0), coalesce(sum(answered), 0), "
                     "coalesce(sum(resolved), 0), coalesce(sum(reflected), 0), "
                     "coalesce(sum(open), 0) FROM reflection").fetchone()
    total, answered, resolved, reflected, still_open = row
    return {"opinions": total, "answered": answered, "resolved": resolved,
            "reflected": reflected, "open": still_open,
            "reflection_pct": round(100.0 * reflected / total, 1) if total else None}
