"""The read side of the workplace (issue #18): the inbox, its filters, and the public page.

The inbox reads the `opinions` view (live opinions with their derived status) joined to the
account and the official answer, oldest first, a page at a time: keyset pagination on
(created_at, id), so page 10 costs what page 1 does, and no count of every match (the count
shown stops at COUNT_CAP, and at FAST_CAP when counting further would take long). "Overdue" compares created_at with the latest receipt time that is
overdue now, per department (core.worktime.Deadlines.cutoffs: deadlines are working hours).

The public queries never read author_key, staff notes, who set a status, or any opinion the
platform restricted (withheld ...) or the page owner hid.
"""
from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import sqlite_utils

OPEN = ("received", "assigned", "in_progress")
STATUSES = ("received", "assigned", "in_progress", "answered", "resolved", "dismissed",
            "reflected")
# Open, said as the index of the open opinions says it (migration 14, comments_opinion_open:
# oldest first, only theirs); `status IN OPEN`, the same rows, would read the status index
# and sort every open opinion (3 s at a million).
OPEN_SQL = "o.status NOT IN ({})".format(
    ", ".join(repr(s) for s in ("answered", "resolved", "reflected", "dismissed")))
COUNT_CAP = 10_000  # the inbox counts matches up to this many ("10,000+")
FAST_CAP = 1_000  # ... or up to this many when counting would take too long
PAGE = 50
# The department an opinion is with: the one staff assigned, else its account's.
DEPARTMENT = "COALESCE(o.assigned_department, ac.department)"
FILTERS = ("account", "platform", "field", "district", "category", "department", "status")
# The inbox's orders: oldest first, or the opinions with a crisis tag (comments.crisis, e.g.
# flooding) first and then the rest, each oldest first.
ORDERS = ("oldest", "crisis")
# comments_crisis (crisis, created_at) WHERE crisis <> '': `<>` lets SQLite use the
# partial index, `>` gives it a range to read (a crisis kind is never '')
CRISIS = "o.crisis > '' AND o.crisis <> ''"
NOT_CRISIS = "coalesce(o.crisis, '') = ''"


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
    order: str = "oldest"  # one of ORDERS
    after: tuple[str, str] | None = None  # (created_at, id) of the last row of the page before
    after_crisis: bool = False  # order crisis: that row was a crisis one

    def without_paging(self) -> InboxFilter:
        return replace(self, after=None, after_crisis=False)


@dataclass
class _Sql:
    where: list[str] = field(default_factory=list)
    params: dict[str, object] = field(default_factory=dict)


def _where(f: InboxFilter, cutoffs: Mapping[str, str], scoped: bool = True) -> _Sql:
    """The WHERE terms of a filter (scoped: with the department's rows said as an index can
    read them; the listing reads them account by account instead)."""
    sql = _Sql()
    for name, column in (("account", "o.account"), ("platform", "o.platform"),
                         ("field", "ac.field"), ("district", "o.district"),
                         ("category", "o.category"), ("department", DEPARTMENT)):
        value = getattr(f, name)
        if value:
            sql.where.append(f"{column} = :{name}")
            sql.params[name] = value
    if f.department and scoped:
        # the same rows, said so that SQLite reads only the department's: the comments of
        # its accounts (comments_account_created) and those assigned to it (cases_department)
        sql.where.append("(o.account IN (SELECT key FROM accounts WHERE department = "
                         ":department) OR o.id IN (SELECT comment_id FROM cases "
                         "WHERE department = :department))")
    if f.status in STATUSES:
        sql.where.append("o.status = :status")
        sql.params["status"] = f.status
    elif f.status != "all":
        sql.where.append(OPEN_SQL)
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
            sql.where.append(OPEN_SQL)
    return sql


_AFTER = "(o.created_at, o.id) > (:after_at, :after_id)"


def _parts(f: InboxFilter) -> list[tuple[int, list[str]]]:
    """The inbox's parts in their order, each read oldest first: (rank, its WHERE terms,
    with the keyset after the page before where that page ended in it)."""
    if f.order != "crisis":
        return [(0, [_AFTER] if f.after else [])]
    if f.after and not f.after_crisis:  # the crisis ones are behind us
        return [(1, [NOT_CRISIS, _AFTER])]
    return [(0, [CRISIS, *([_AFTER] if f.after else [])]), (1, [NOT_CRISIS])]


_FROM = """
    FROM opinions o
    JOIN accounts ac ON ac.key = o.account
"""
_COLUMNS = f"""
    o.id, o.created_at, o.status, o.platform, o.account, ac.name AS account_name, ac.field,
    {DEPARTMENT} AS department, ac.department AS account_department, o.text, o.lang,
    o.district, o.category, o.url, o.staff_status, o.staff_by, o.staff_at, o.answer_id,
    o.first_response_at, o.response_minutes,
    ans.text AS answer_text, ans.author_name AS answered_by, ans.url AS answer_url,
    o.suggested_department, o.suggestion_reason, o.group_id, o.abusive, o.crisis
"""


def inbox(db: sqlite_utils.Database, f: InboxFilter, cutoffs: Mapping[str, str],
          limit: int = PAGE) -> list[dict]:
    """A page of the inbox, oldest first, or crisis first and then oldest first (after
    `f.after` when given); each row's `crisis_rank` is 0 for the crisis part, else 1.

    All opinions: one walk of comments_created (crisis first: comments_crisis for the few
    crisis ones, then that walk), oldest first, until the page is full. One department's:
    the first page of each of its accounts (comments_account_created) and of the opinions
    assigned to it, merged: a page costs the same however many opinions the other
    departments have."""
    sql = _where(f, cutoffs, scoped=False)
    select = f"SELECT {_COLUMNS} {_FROM} LEFT JOIN comments ans ON ans.id = o.answer_id"
    params: dict[str, object] = {**sql.params, "limit": int(limit)}
    if f.after:
        params["after_at"], params["after_id"] = f.after
    arms: list[str | None] = [None]
    if f.department:
        accounts = [r[0] for r in db.execute("SELECT key FROM accounts WHERE department = ?",
                                             [f.department])]
        arms = [f"o.account = :arm{i}" for i in range(len(accounts))]
        params.update((f"arm{i}", key) for i, key in enumerate(accounts))
        arms.append("o.id IN (SELECT comment_id FROM cases WHERE department = :department)")
    parts = [(rank, [*([arm] if arm else []), *sql.where, *terms])
             for rank, terms in _parts(f) for arm in arms]
    # the crisis part sorts its few rows (read through comments_crisis; `+` keeps SQLite
    # from walking comments_created, every opinion, for them)
    queries = [f"{select} {'WHERE ' + ' AND '.join(where) if where else ''} "
               f"ORDER BY {'+' if CRISIS in where else ''}o.created_at, o.id LIMIT :limit"
               for _, where in parts]
    if len(queries) == 1:
        return list(db.query(queries[0], params))
    # UNION: an opinion of the department's account that is also assigned to it is one row
    query = " UNION ".join(f"SELECT {rank} AS crisis_rank, * FROM ({sub})"
                           for (rank, _), sub in zip(parts, queries))
    return list(db.query(f"SELECT * FROM ({query}) "
                         "ORDER BY crisis_rank, created_at, id LIMIT :limit", params))


@dataclass(frozen=True)
class Count:
    """How many opinions a filter matches: exactly, or at least `n` (counting took too long)."""

    n: int
    exact: bool


def rolled_count(db: sqlite_utils.Database, f: InboxFilter) -> int | None:
    """The filter's count from the centre's rollup (center_facets: opinions per account,
    status and tags), when it filters only what the rollup holds (None: not so)."""
    if f.overdue or f.department:
        return None
    where, params = ["deleted = 0"], {}
    for name in ("account", "platform", "field", "district", "category"):
        if getattr(f, name):
            where.append(f"{name} = :{name}")
            params[name] = getattr(f, name)
    if f.status in STATUSES:
        where.append("status = :status")
        params["status"] = f.status
    elif f.status != "all":
        where.append(OPEN_SQL.replace("o.status", "status"))
    return db.execute(f"SELECT coalesce(sum(n), 0) FROM center_facets "
                      f"WHERE {' AND '.join(where)}", params).fetchone()[0]


def inbox_count(db: sqlite_utils.Database, f: InboxFilter, cutoffs: Mapping[str, str],
                cap: int = COUNT_CAP, budget_ms: float = 100) -> Count:
    """How many opinions the filter matches, up to `cap` (beyond: at least cap + 1): from
    the rollup when it holds the filter's columns, else counted; a count that takes longer
    than `budget_ms` is cut short (SQLite's progress handler) and the first FAST_CAP are
    counted instead: a page never waits long for its count."""
    rolled = rolled_count(db, f)
    if rolled is not None:
        return Count(min(rolled, cap + 1), rolled <= cap)
    sql = _where(f.without_paging(), cutoffs)
    where = f"WHERE {' AND '.join(sql.where)}" if sql.where else ""
    query = f"SELECT count(*) FROM (SELECT 1 {_FROM} {where} LIMIT :cap)"
    deadline = time.perf_counter() + budget_ms / 1000
    conn = db.conn
    conn.set_progress_handler(lambda: int(time.perf_counter() > deadline), 2000)
    try:
        n = conn.execute(query, {**sql.params, "cap": int(cap) + 1}).fetchone()[0]
        return Count(min(n, cap + 1), n <= cap)
    except sqlite3.OperationalError as exc:
        if "interrupted" not in str(exc):
            raise
    finally:
        conn.set_progress_handler(None, 0)
    n = conn.execute(query, {**sql.params, "cap": FAST_CAP + 1}).fetchone()[0]
    return Count(min(n, FAST_CAP), n <= FAST_CAP)


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


def group_members(db: sqlite_utils.Database, group_id: str, limit: int = 500) -> list[dict]:
    """The live opinions of a near-duplicate group (comments.group_id), oldest first."""
    return list(db.query(
        f"SELECT o.id, o.created_at, o.status, o.account, ac.name AS account_name, o.platform, "
        f"{DEPARTMENT} AS department, o.text, o.abusive FROM opinions o "
        "JOIN accounts ac ON ac.key = o.account WHERE o.id IN "
        "(SELECT id FROM comments WHERE group_id = :g) ORDER BY o.created_at, o.id LIMIT :n",
        {"g": group_id, "n": int(limit)}))


def group_sizes(db: sqlite_utils.Database, group_ids: Sequence[str]) -> dict[str, int]:
    """How many live opinions each of these near-duplicate groups has (comments_group)."""
    if not group_ids:
        return {}
    return dict(db.execute(
        "SELECT group_id, count(*) FROM comments WHERE group_id IN (SELECT value FROM "
        "json_each(?)) AND is_official = 0 AND deleted = 0 GROUP BY group_id",
        [json.dumps(sorted(set(group_ids)))]).fetchall())


def answer_link(db: sqlite_utils.Database, comment_id: str) -> str | None:
    """The link to the city's reply staff recorded with the answer (cases.link)."""
    row = db.execute("SELECT link FROM cases WHERE comment_id = ?", [comment_id]).fetchone()
    return row[0] if row else None


# --- the public page ---------------------------------------------------------------------
# What a citizen may see of an opinion: masked text, where and when, the status, the city's
# answer. Never author_key, notes, who set a status; never restricted, hidden or abusive
# opinions.
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
# abusive text (normalize.abuse) is never public
_SHOWN = "o.restricted IS NULL AND o.hidden = 0 AND o.text <> '' AND o.abusive IS NOT 1"


def sns_map(db: sqlite_utils.Database) -> list[dict]:
    """Per account (the SNS map, by field): opinions, answered, resolved, reflected and the
    three rates (the `reflection` view's rows, which read center_counts (migration 14):
    O(accounts x statuses x tags); the per-day rollups took 230 ms at a million)."""
    return list(db.query("SELECT * FROM reflection ORDER BY field, platform, account_name"))


def totals(rows: Sequence[Mapping]) -> dict:
    """Opinions, answered, resolved, reflected (each status alone), open, and the three
    rates (store.cases.rates): all accounts."""
    from store.cases import rates

    sums = {k: sum(r[k] for r in rows) for k in ("opinions", "answered", "resolved",
                                                   "reflected", "open")}
    return {**sums, **rates(sums)}


def recently_answered(db: sqlite_utils.Database, limit: int = 30) -> list[dict]:
    """The opinions the city answered most recently (an official reply in the thread, or
    staff's answered/resolved with the link to the city's reply), newest answer first.
    Official replies are read newest first from answers_first_response, not every opinion."""
    official = list(db.query(
        """
        SELECT c.id, c.created_at, date(c.created_at, '+9 hours') AS seoul_day,
               COALESCE(k.status, 'answered') AS status, c.platform, c.account,
               ac.name AS account_name, ac.field, c.text, c.district, c.category,
               ans.text AS answer_text, ans.author_name AS answered_by,
               COALESCE(ans.url, k.link) AS answer_url, a.first_response_at
        FROM answers a INDEXED BY answers_first_response
        CROSS JOIN comments c ON c.id = a.comment_id
        JOIN accounts ac ON ac.key = c.account
        LEFT JOIN cases k ON k.comment_id = c.id
        LEFT JOIN comments ans ON ans.id = a.answer_id
        WHERE c.is_official = 0 AND c.deleted = 0 AND c.restricted IS NULL AND c.hidden = 0
          AND c.text <> '' AND c.abusive IS NOT 1
          AND (k.status IS NULL OR k.status IN ('answered', 'resolved', 'reflected'))
        ORDER BY a.first_response_at DESC, c.id DESC LIMIT :n
        """, {"n": limit}))
    linked = list(db.query(
        """
        SELECT c.id, c.created_at, date(c.created_at, '+9 hours') AS seoul_day, k.status,
               c.platform, c.account, ac.name AS account_name, ac.field, c.text, c.district,
               c.category, NULL AS answer_text, NULL AS answered_by, k.link AS answer_url,
               k.updated_at AS first_response_at
        FROM cases k CROSS JOIN comments c ON c.id = k.comment_id
        JOIN accounts ac ON ac.key = c.account
        LEFT JOIN answers a ON a.comment_id = c.id
        WHERE k.link IS NOT NULL AND k.status IN ('answered', 'resolved', 'reflected')
          AND a.comment_id IS NULL AND c.is_official = 0 AND c.deleted = 0
          AND c.abusive IS NOT 1
          AND c.restricted IS NULL AND c.hidden = 0 AND c.text <> ''
        ORDER BY k.updated_at DESC, c.id DESC LIMIT :n
        """, {"n": limit}))
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
