"""The SQLite database: connection settings, versioned migrations, views and triggers.

The schema has two parts. Tables (and their indexes and data) change by MIGRATIONS, one
script per schema version (PRAGMA user_version), never edited once shipped. Views and
triggers exist in one version only, the current one: store/sql/views.sql and
store/sql/triggers.sql, re-created on every upgrade and whenever their text changed
(`schema_sql`, `migrate`). docs/SCHEMA.md says how an upgrade runs.
"""
from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import quote

import jinja2
import sqlite_utils

from core.platforms import flat_threads, sql_list
from core.redact import redact
from core.times import SEOUL_DAY_END, seoul_day_sql

log = logging.getLogger(__name__)

# --- migration 8's rollups -----------------------------------------------------------------
ROLLUPS_DOC = """
opinion_days: every opinion (comments with is_official = 0 AND deleted = 0) counted once
  (n) under its Seoul day, platform, account, district, category, lang and crisis ('' for
  NULL); untagged = how many of them have crisis NULL (stored before migration 7; they are
  counted under crisis ''), unkeyed = keywords NULL (stored before migration 5).
keyword_days: per Seoul day, the opinions whose comments.keywords contain the word.
answer_days: per Seoul day of the opinion, platform and account, the opinions with a derived
  answer (table answers), by response minutes when answered before the end of the opinion's
  Seoul day, else under minutes = -1.
Counts that fall to 0 keep their row (readers sum, and skip n = 0).
Kept by the triggers of store/sql/triggers.sql; recounted by the SQL below.
"""

# '' / -1 when SQLite cannot read the time (e.g. a year before 1000), as in the triggers.
_M8_DAY = "coalesce(" + seoul_day_sql("{r}.created_at") + ", '')"
# The words as rows w.value: {j} is the JSON array (an expression used twice: in triggers a
# subquery's column, computed once; the recount cannot join such a subquery to c).
_M8_SPLIT = "json_each(CASE WHEN json_valid({j}) THEN {j} ELSE '[]' END) AS w"
_M8_WORDS = ("""('["' || replace(replace(replace({r}.keywords, '\\', '\\\\'), '"', '\\"'), """
             """' ', '","') || '"]')""")
# Response minutes as the opinions view computes them; -1 when answered after the Seoul day.
_M8_MINUTES = (f"coalesce(CASE WHEN a.first_response_at < {{day}} || '{SEOUL_DAY_END}' THEN "
               "CAST(round((julianday(a.first_response_at) - julianday({r}.created_at)) * 1440)"
               " AS INTEGER) END, -1)")

# The rollups recounted from the base tables: migration 8's backfill, `rebuild_rollups` and
# `rollup_drift` (table -> (columns, SELECT)).
_M8_RECOUNT = {
    "opinion_days": (
        "seoul_day, platform, account, district, category, lang, crisis, n, untagged, unkeyed",
        f"""SELECT {_M8_DAY.format(r="c")}, platform, account, coalesce(district, ''),
               coalesce(category, ''), lang, coalesce(crisis, ''), count(*),
               sum(crisis IS NULL), sum(keywords IS NULL)
        FROM comments c WHERE is_official = 0 AND deleted = 0
        GROUP BY 1, 2, 3, 4, 5, 6, 7"""),
    "keyword_days": (
        "seoul_day, word, n",
        f"""SELECT {_M8_DAY.format(r="c")}, w.value, count(*)
        FROM comments c, {_M8_SPLIT.format(j=_M8_WORDS.format(r="c"))}
        WHERE c.is_official = 0 AND c.deleted = 0 AND c.keywords <> '' AND w.value <> ''
        GROUP BY 1, 2"""),
    "answer_days": (
        "seoul_day, platform, account, minutes, n",
        f"""SELECT {_M8_DAY.format(r="c")}, c.platform, c.account,
               {_M8_MINUTES.format(r="c", day=_M8_DAY.format(r="c"))}, count(*)
        FROM answers a JOIN comments c ON c.id = a.comment_id
        WHERE c.is_official = 0 AND c.deleted = 0
        GROUP BY 1, 2, 3, 4"""),
}
_M8_BACKFILL = "".join(f"\n    INSERT INTO {table} ({cols})\n    {select};"
                       for table, (cols, select) in _M8_RECOUNT.items())


# --- migration 10 --------------------------------------------------------------------------
_M10_COLUMNS = "".join(
    f"\n    ALTER TABLE {table} ADD COLUMN {column} TEXT;"
    for table in ("comments", "posts")
    for column in ("restricted", "restricted_countries", "restricted_at", "version_id",
                   "edit_ids"))

# --- migration 14 --------------------------------------------------------------------------
# The centre's counts (issue #17): every citizen's comment, deleted ones too (the centre
# shows tombstones), by account and stored status, with its tags, and per Seoul day.
# Tags and days '' for NULL (a key column); the views center_facets and center_day_facets
# give them back as NULL.
CENTER_ROLLUPS_DOC = """
center_counts: every citizen's comment (is_official = 0, deleted or not) counted once (n)
  under its platform, account, status (comments.status), district and category ('' for
  NULL) and deleted.
center_days: the same comments per Seoul day ('' when SQLite cannot read the time),
  platform, account, status, category ('' for NULL) and deleted.
Counts that fall to 0 keep their row (readers skip n = 0). Kept by the triggers of
store/sql/triggers.sql; recounted by the SQL below.
"""
_M14_RECOUNT = {
    "center_counts": (
        "platform, account, status, district, category, deleted, n",
        """SELECT platform, account, status, coalesce(district, ''), coalesce(category, ''),
               deleted, count(*)
        FROM comments WHERE is_official = 0
        GROUP BY 1, 2, 3, 4, 5, 6"""),
    "center_days": (
        "seoul_day, platform, account, status, category, deleted, n",
        f"""SELECT {_M8_DAY.format(r="c")}, platform, account, status, coalesce(category, ''),
               deleted, count(*)
        FROM comments c WHERE is_official = 0
        GROUP BY 1, 2, 3, 4, 5, 6"""),
}
_M14_BACKFILL = "".join(f"\n    INSERT INTO {table} ({cols})\n    {select};"
                        for table, (cols, select) in _M14_RECOUNT.items())

ROLLUP_TABLES = (*_M8_RECOUNT, *_M14_RECOUNT)

# The centre's text of an opinion its author deleted (views.sql `center`, deleted_text).
DELETED_TEXT = "작성자가 삭제함 (deleted by its author)"


# Each entry upgrades the tables by one version (PRAGMA user_version): tables, indexes and
# data only, never a view or a trigger (store/sql/; a test checks). Migrations run with no
# view or trigger in the database: one that changes what a trigger maintains does that
# work itself. Never edit a shipped entry: append a new one, so a database made by any
# earlier version upgrades in place. (The views and triggers each version created as it
# shipped are in tests/shipped_schema.py.)
MIGRATIONS: list[str] = [
    # 1: the one schema of DESIGN.md
    """
    CREATE TABLE accounts (
        key TEXT PRIMARY KEY,
        platform TEXT NOT NULL,
        handle TEXT NOT NULL,
        native_id TEXT,
        name TEXT NOT NULL,
        owner TEXT NOT NULL,
        field TEXT NOT NULL,
        department TEXT NOT NULL,
        language TEXT NOT NULL,
        interval_minutes INTEGER NOT NULL,
        placeholder INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE posts (
        id TEXT PRIMARY KEY,
        platform TEXT NOT NULL,
        account TEXT NOT NULL,
        native_id TEXT NOT NULL,
        title TEXT,
        text TEXT NOT NULL,
        lang TEXT NOT NULL,
        created_at TEXT,
        edited_at TEXT,
        url TEXT,
        like_count INTEGER,
        comment_count INTEGER,
        deleted INTEGER NOT NULL DEFAULT 0,
        content_hash INTEGER NOT NULL,
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL
    );
    CREATE INDEX posts_account_created ON posts(account, created_at);
    CREATE TABLE comments (
        id TEXT PRIMARY KEY,
        platform TEXT NOT NULL,
        account TEXT NOT NULL,
        native_id TEXT NOT NULL,
        post_id TEXT,
        parent_id TEXT,
        author_key TEXT,
        author_name TEXT,
        is_official INTEGER NOT NULL DEFAULT 0,
        text TEXT NOT NULL,
        lang TEXT NOT NULL,
        district TEXT,
        category TEXT,
        created_at TEXT NOT NULL,
        edited_at TEXT,
        like_count INTEGER,
        reply_count INTEGER,
        url TEXT,
        deleted INTEGER NOT NULL DEFAULT 0,
        hidden INTEGER NOT NULL DEFAULT 0,
        tokens TEXT,
        content_hash INTEGER NOT NULL,
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL
    );
    CREATE INDEX comments_created ON comments(created_at);
    CREATE INDEX comments_post ON comments(post_id);
    CREATE INDEX comments_parent ON comments(parent_id);
    CREATE TABLE cursors (
        account TEXT NOT NULL,
        stream TEXT NOT NULL,
        value TEXT,
        updated_at TEXT NOT NULL,
        retry_after TEXT,
        PRIMARY KEY (account, stream)
    );
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL,
        account TEXT NOT NULL,
        platform TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        status TEXT NOT NULL DEFAULT 'running',
        fetched INTEGER NOT NULL DEFAULT 0,
        inserted INTEGER NOT NULL DEFAULT 0,
        updated INTEGER NOT NULL DEFAULT 0,
        quarantined INTEGER NOT NULL DEFAULT 0,
        requests INTEGER NOT NULL DEFAULT 0,
        error TEXT
    );
    CREATE INDEX runs_account ON runs(account, started_at);
    CREATE TABLE quarantine (
        id INTEGER PRIMARY KEY,
        platform TEXT NOT NULL,
        account TEXT NOT NULL,
        native_id TEXT,
        reason TEXT NOT NULL,
        payload TEXT NOT NULL,
        payload_hash TEXT NOT NULL,
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        times_seen INTEGER NOT NULL DEFAULT 1,
        UNIQUE (platform, payload_hash)
    );
    CREATE TABLE raw (
        id TEXT PRIMARY KEY,
        account TEXT NOT NULL,
        stream TEXT NOT NULL,
        fetched_at TEXT NOT NULL,
        payload TEXT NOT NULL
    );
    CREATE INDEX raw_fetched ON raw(fetched_at);
    CREATE TABLE cases (
        comment_id TEXT PRIMARY KEY,
        status TEXT NOT NULL,
        department TEXT,
        note TEXT,
        updated_by TEXT,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE case_events (
        id INTEGER PRIMARY KEY,
        comment_id TEXT NOT NULL,
        at TEXT NOT NULL,
        by TEXT,
        from_status TEXT,
        to_status TEXT NOT NULL,
        department TEXT,
        note TEXT
    );
    CREATE INDEX case_events_comment ON case_events(comment_id, at);
    CREATE TABLE quota (
        day TEXT NOT NULL,
        platform TEXT NOT NULL,
        units INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (day, platform)
    );
    """,
    # 2: search, derived answers. The search index gets the tokens of the rows stored
    # before it (what its insert trigger would have indexed).
    """
    CREATE VIRTUAL TABLE comments_fts USING fts5(
        tokens, content='comments', content_rowid='rowid'
    );
    INSERT INTO comments_fts (rowid, tokens)
    SELECT rowid, tokens FROM comments WHERE tokens IS NOT NULL;
    CREATE TABLE answers (
        comment_id TEXT PRIMARY KEY,
        answer_id TEXT NOT NULL,
        first_response_at TEXT NOT NULL
    );
    CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT
    );
    CREATE INDEX comments_account_created ON comments(account, created_at);
    """,
    # 3: the centre (issue #5): staff statuses by status; case_events is append-only (its
    # triggers).
    """
    CREATE INDEX cases_status ON cases(status);
    """,
    # 4: re-runs skip unchanged payloads (issue #9). The hash of each raw API item (with the
    # normalizer's context) -> the records it made and their content hashes; an item seen
    # again whose records are still stored as it made them is not normalized again (no
    # Kiwi), its records only get last_seen. A cache: deleting its rows is always safe.
    """
    CREATE TABLE item_seen (
        hash INTEGER PRIMARY KEY,
        records TEXT NOT NULL
    );
    """,
    # 5: keywords computed once, at ingest (normalize.morph.analyse_many, with the search
    # tokens): the digest counts them in SQL instead of running Kiwi over a week of texts.
    # Rows stored before stay NULL until they are next updated or `backfill` fills them;
    # the digest analyses those itself (digest.build._keywords).
    """
    ALTER TABLE comments ADD COLUMN keywords TEXT;
    """,
    # 6: the flat-thread rule of migration 3 moves from the view into `answers` (derived
    # once, incrementally, by Writer.refresh_answers) so that reading opinions costs no
    # per-row subquery; the watermark is reset so the next connect re-derives every answer.
    """
    DELETE FROM answers;
    DELETE FROM meta WHERE key = 'answers_rowid';
    """,
    # 7: crisis words tagged once, at ingest (Tagger.crisis, next to district and category):
    # the digest counts comments.crisis in SQL instead of running the regexes over a week of
    # texts. '' = tagged, no crisis; NULL = official, or stored before this migration and not
    # updated since (the digest tests those texts itself, until `backfill` tags them).
    """
    ALTER TABLE comments ADD COLUMN crisis TEXT;
    """,
    # 8: per-Seoul-day rollups kept by triggers in the writing transaction (issue #9), so the
    # digest reads O(days x accounts) rows instead of a week of opinions. See ROLLUPS_DOC.
    # The backfill counts what is stored; the triggers keep the counts from then on.
    f"""
    CREATE TABLE opinion_days (
        seoul_day TEXT NOT NULL,
        platform TEXT NOT NULL,
        account TEXT NOT NULL,
        district TEXT NOT NULL,
        category TEXT NOT NULL,
        lang TEXT NOT NULL,
        crisis TEXT NOT NULL,
        n INTEGER NOT NULL,
        untagged INTEGER NOT NULL,
        unkeyed INTEGER NOT NULL,
        PRIMARY KEY (seoul_day, platform, account, district, category, lang, crisis)
    ) WITHOUT ROWID;
    CREATE TABLE keyword_days (
        seoul_day TEXT NOT NULL,
        word TEXT NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (seoul_day, word)
    ) WITHOUT ROWID;
    CREATE TABLE answer_days (
        seoul_day TEXT NOT NULL,
        platform TEXT NOT NULL,
        account TEXT NOT NULL,
        minutes INTEGER NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (seoul_day, platform, account, minutes)
    ) WITHOUT ROWID;
    CREATE INDEX answers_first_response ON answers(first_response_at);
    CREATE INDEX comments_crisis ON comments(crisis, created_at) WHERE crisis <> '';
    DROP INDEX comments_post;
    CREATE INDEX comments_post ON comments(post_id, deleted);
    {_M8_BACKFILL}
    """,
    # 9: item_seen as an append-only table with a unique index on the hash: item hashes are
    # random, and as the table's own key they scattered every insert over all of its pages
    # (the records JSON too); the index is small enough to stay in the page cache. A cache:
    # its rows are copied, though dropping them would be as safe.
    """
    CREATE TABLE item_seen_rows (
        hash INTEGER NOT NULL,
        records TEXT NOT NULL
    );
    INSERT INTO item_seen_rows (hash, records) SELECT hash, records FROM item_seen;
    DROP TABLE item_seen;
    ALTER TABLE item_seen_rows RENAME TO item_seen;
    CREATE UNIQUE INDEX item_seen_hash ON item_seen(hash);
    """,
    # 10: real platform data (issue #13). Restrictions (a notice served instead of the words)
    # in their own columns; X edit histories: the version held, every id of the history as
    # an alias of the one row, earlier texts in `versions` (kept by the versions triggers);
    # counted skips in `runs`.
    f"""
    {_M10_COLUMNS}
    CREATE TABLE versions (
        id TEXT NOT NULL,
        version TEXT NOT NULL,
        text TEXT NOT NULL,
        created_at TEXT,
        seen_at TEXT NOT NULL,
        PRIMARY KEY (id, version)
    ) WITHOUT ROWID;
    CREATE TABLE record_aliases (
        alias TEXT PRIMARY KEY,
        id TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE answers_pending (
        id TEXT PRIMARY KEY
    ) WITHOUT ROWID;
    ALTER TABLE runs ADD COLUMN unchanged INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE runs ADD COLUMN skipped INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE runs ADD COLUMN skip_reasons TEXT;
    ALTER TABLE runs ADD COLUMN quarantine_reasons TEXT;
    ALTER TABLE runs ADD COLUMN kind TEXT NOT NULL DEFAULT 'collect';
    CREATE INDEX comments_restricted ON comments(restricted) WHERE restricted IS NOT NULL;
    """,
    # 11: security and privacy (issue #14). Tombstones lose their words (the erase trigger
    # from now on); the centre keeps a deleted opinion, with its status and history, as
    # "deleted by its author" (`opinions` stays the live ones); a citizen's link falls back
    # to its post's (Instagram comments have none of their own). Stored data is rewritten
    # by `_m11_rewrite`: errors redacted, citizens' links without handles, tombstones
    # blanked (and erased, as the trigger does).
    """
    CREATE TABLE erasures (
        id TEXT PRIMARY KEY,
        platform TEXT NOT NULL,
        native_id TEXT NOT NULL
    ) WITHOUT ROWID;
    """,
    # 12: search tokens changed (issue #15): morphemes kept in text order for phrases, the
    # pieces of compounds (콜택시 -> 택시), none for official answers. Tokens stored before
    # are marked stale until `reindex` rebuilds them (store.search.rebuild_tokens): minutes
    # at a million rows, not a migration's work inside whatever command opened the file.
    """
    INSERT INTO meta (key, value)
    SELECT 'tokens_stale', 'stored before migration 12 (compound pieces, phrases)'
    WHERE EXISTS (SELECT 1 FROM comments WHERE tokens IS NOT NULL);
    """,
    # 13: the workplace in the browser (issue #18). Staff accounts (argon2 hashes), server-
    # side sessions (only a hash of the token is stored: disabling a user ends them), failed
    # logins (to slow repeated failures per user and per client); what each case event was
    # (the action, the department it came from, the link to the city's reply). Tables and
    # indexes only: the inbox reads the views as they are.
    """
    CREATE TABLE users (
        name TEXT PRIMARY KEY,
        role TEXT NOT NULL CHECK (role IN ('staff', 'department', 'viewer')),
        department TEXT,
        password_hash TEXT NOT NULL,
        disabled INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE sessions (
        token_hash TEXT PRIMARY KEY,
        user TEXT NOT NULL REFERENCES users(name),
        created_at TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        expires_at TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX sessions_user ON sessions(user);
    CREATE TABLE login_failures (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        user TEXT NOT NULL,
        client TEXT NOT NULL
    );
    CREATE INDEX login_failures_user ON login_failures(user, at);
    CREATE INDEX login_failures_client ON login_failures(client, at);
    ALTER TABLE case_events ADD COLUMN action TEXT;
    ALTER TABLE case_events ADD COLUMN from_department TEXT;
    ALTER TABLE case_events ADD COLUMN link TEXT;
    ALTER TABLE cases ADD COLUMN link TEXT;
    CREATE INDEX cases_department ON cases(department, status);
    CREATE INDEX case_events_at ON case_events(at);
    """,
    # 14: the centre at a million (issue #17). An opinion's status is stored with it
    # (comments.status: the staff's, else answered when it has a derived answer, else
    # received), kept by triggers on answers and cases in the writing transaction, so the
    # centre filters it without joining; its counts per account, status and tags and per
    # Seoul day (center_counts, center_days, kept by triggers) answer the centre's count and
    # facets; the district and the Seoul day of an opinion are indexed for the rest.
    # Set-based: the statuses in two UPDATEs (answers, then the few cases), the counts in
    # one GROUP BY each. The centre's list is newest first: a filter on district, status or
    # Seoul day reads its index in created_at order (no sort of every match: a day holds
    # 25,000 at a million; with the account, a district's Seoul day facet reads the index
    # alone: center_rows); the overdue query and the inbox read the open opinions oldest
    # first from their own index (comments_opinion_open: its WHERE is theirs word for word,
    # or SQLite will not use it).
    """
    ALTER TABLE comments ADD COLUMN status TEXT NOT NULL DEFAULT 'received';
    UPDATE comments SET status = 'answered'
    WHERE rowid IN (SELECT c.rowid FROM answers a JOIN comments c ON c.id = a.comment_id);
    UPDATE comments SET status = (SELECT k.status FROM cases k WHERE k.comment_id = comments.id)
    WHERE rowid IN (SELECT c.rowid FROM cases k JOIN comments c ON c.id = k.comment_id);
    CREATE TABLE center_counts (
        platform TEXT NOT NULL,
        account TEXT NOT NULL,
        status TEXT NOT NULL,
        district TEXT NOT NULL,
        category TEXT NOT NULL,
        deleted INTEGER NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (account, status, district, category, deleted, platform)
    ) WITHOUT ROWID;
    CREATE TABLE center_days (
        seoul_day TEXT NOT NULL,
        platform TEXT NOT NULL,
        account TEXT NOT NULL,
        status TEXT NOT NULL,
        category TEXT NOT NULL,
        deleted INTEGER NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (seoul_day, account, status, category, deleted, platform)
    ) WITHOUT ROWID;
    """ + _M14_BACKFILL + f"""
    CREATE INDEX comments_opinion_district ON comments(district, created_at, account)
        WHERE is_official = 0;
    CREATE INDEX comments_opinion_status ON comments(status, created_at) WHERE is_official = 0;
    CREATE INDEX comments_opinion_open ON comments(created_at, id)
        WHERE is_official = 0 AND status NOT IN ('answered', 'resolved', 'reflected', 'dismissed');
    CREATE INDEX comments_opinion_day ON comments({seoul_day_sql("created_at")}, created_at)
        WHERE is_official = 0;
    """,
    # 15: opinions that sort themselves (issue #19). Routing's suggestion and its reason and
    # the abuse flag, written at ingest with the row (NULL: stored before, or official);
    # near-duplicate groups (store/grouping.py, after each run like the answers): an
    # opinion's group is the id of its group's first opinion, its LSH bands are kept in
    # group_bands (band key -> comment rowid) so a later run finds its matches by index;
    # `reflected` cases record the policy or measure they fed into.
    """
    ALTER TABLE comments ADD COLUMN suggested_department TEXT;
    ALTER TABLE comments ADD COLUMN suggestion_reason TEXT;
    ALTER TABLE comments ADD COLUMN abusive INTEGER;
    ALTER TABLE comments ADD COLUMN group_id TEXT;
    CREATE INDEX comments_group ON comments(group_id, created_at, id) WHERE group_id IS NOT NULL;
    CREATE TABLE group_bands (
        band INTEGER NOT NULL,
        comment_rowid INTEGER NOT NULL,
        PRIMARY KEY (band, comment_rowid)
    ) WITHOUT ROWID;
    ALTER TABLE cases ADD COLUMN policy TEXT;
    ALTER TABLE case_events ADD COLUMN policy TEXT;
    """,
]


# --- views and triggers: the current ones only ---------------------------------------------
SQL_DIR = Path(__file__).with_name("sql")
OBJECT_FILES = ("views.sql", "triggers.sql")
OBJECTS_KEY = "schema_objects"  # meta: the hash of the views and triggers a file has


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def template_parameters() -> dict[str, Any]:
    """What the .sql templates of store/sql/ may use (rendered into them, so covered by the
    hash in meta): deleted_text, flat_threads from the platform registry, and the Seoul
    day of core.times (seoul_day_of(column), day_end)."""
    return {"deleted_text": _sql_string(DELETED_TEXT), "flat_threads": sql_list(flat_threads()),
            "seoul_day_of": seoul_day_sql, "day_end": SEOUL_DAY_END}


def render_sql(name: str, **parameters: str) -> str:
    """A template of store/sql/ rendered (Jinja2; an unknown parameter is an error)."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(SQL_DIR), autoescape=False,
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return env.get_template(name).render(**{**template_parameters(), **parameters})


@lru_cache(maxsize=1)
def schema_sql() -> str:
    """The views and triggers of the current schema, as SQL (views first: no trigger reads
    a view)."""
    return "\n".join(render_sql(name) for name in OBJECT_FILES)


def schema_hash() -> str:
    """What `meta` keeps of the views and triggers a database was given."""
    return hashlib.sha256(schema_sql().encode("utf-8")).hexdigest()[:16]


UNMASKED = "unmasked"  # schema name of the attached file of unmasked payloads
UNMASKED_TABLES = {
    "raw": """CREATE TABLE IF NOT EXISTS {s}.raw (
        id TEXT PRIMARY KEY,
        account TEXT NOT NULL,
        stream TEXT NOT NULL,
        fetched_at TEXT NOT NULL,
        payload TEXT NOT NULL
    )""",
    "quarantine": """CREATE TABLE IF NOT EXISTS {s}.quarantine (
        id INTEGER PRIMARY KEY,
        platform TEXT NOT NULL,
        account TEXT NOT NULL,
        native_id TEXT,
        reason TEXT NOT NULL,
        payload TEXT NOT NULL,
        payload_hash TEXT NOT NULL,
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        times_seen INTEGER NOT NULL DEFAULT 1,
        UNIQUE (platform, payload_hash)
    )""",
}
UNMASKED_INDEXES = (
    "CREATE INDEX IF NOT EXISTS {s}.raw_fetched ON raw(fetched_at)",
    "CREATE INDEX IF NOT EXISTS {s}.quarantine_seen ON quarantine(last_seen)",
    "CREATE INDEX IF NOT EXISTS {s}.quarantine_native ON quarantine(platform, native_id)",
)
PRAGMAS = (
    "journal_mode = WAL",  # readers (Datasette, analysts) never block the collector
    "synchronous = NORMAL",  # durable at each checkpoint; safe with WAL
    "busy_timeout = 30000",
    "cache_size = -65536",  # 64 MB: 1.6x faster inserts (DESIGN.md figures)
    "temp_store = MEMORY",
    "secure_delete = FAST",  # what is erased (tombstones, purges) does not linger in pages
)


_PER_FILE = ("journal_mode", "synchronous", "secure_delete")


def unmasked_path(path: str | Path) -> str:
    """The file of unmasked payloads next to the database: smc.db -> smc.unmasked.db."""
    if str(path) == ":memory:":
        return ":memory:"
    p = Path(path)
    return str(p.with_name(f"{p.stem}.unmasked{p.suffix or '.db'}"))


class UnusableDatabase(Exception):
    """A database file this program cannot or must not use; the message says which, why."""

    def __init__(self, message: str, corrupt: bool = False):
        super().__init__(message)
        self.corrupt = corrupt  # the file's content is damaged (not its path or version)


_PROBLEMS = (
    ("file is not a database", "is not an SQLite database (or is encrypted or corrupted)"),
    ("malformed", "is corrupted ({error}): restore it from a backup"),
    ("unable to open", "cannot be opened (a directory? a missing folder? no permission?)"),
    ("readonly", "is read-only: a writing command needs write access to it and its folder"),
    ("disk i/o error", "cannot be read or written (disk I/O error)"),
)


def describe(path: str | Path, exc: sqlite3.Error) -> str:
    """One line for a person: which file, what is wrong with it."""
    error = str(exc)
    for needle, text in _PROBLEMS:
        if needle in error.lower():
            return f"{path} " + text.format(error=error)
    return f"{path}: database error: {error}"


def connect(path: str | Path, unmasked: bool = True) -> sqlite_utils.Database:
    """`open_database`, with every SQLite failure turned into an UnusableDatabase."""
    try:
        return open_database(path, unmasked)
    except UnusableDatabase:
        raise
    except (sqlite3.Error, OSError) as exc:
        if isinstance(exc, OSError):
            raise UnusableDatabase(f"{path} cannot be created: {exc.strerror}") from None
        damaged = any(n in str(exc).lower() for n in ("malformed", "not a database"))
        raise UnusableDatabase(describe(path, exc), corrupt=damaged) from None


class WritingDatabase(sqlite_utils.Database):
    """A Database whose transactions take the write lock when they begin (BEGIN IMMEDIATE):
    a deferred one that reads first and then writes cannot wait for the lock (SQLite
    answers "database is locked" at once, busy timeout or not) when staff write a case at
    the same moment."""

    @contextmanager
    def atomic(self) -> Iterator[sqlite_utils.Database]:
        if self.conn.in_transaction:  # nested: a savepoint, as sqlite-utils does
            with super().atomic() as db:
                yield db
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self
        except BaseException:
            self.conn.rollback()
            raise
        else:
            self.conn.execute("COMMIT")


def open_readonly(path: str | Path) -> sqlite_utils.Database:
    """Open an existing database for reading only: never created, never migrated, nothing
    written (works on a read-only file system); UnusableDatabase when it cannot serve."""
    file = Path(path)
    if not file.exists():
        raise UnusableDatabase(f"no database at {path} (run collect or demo first)")
    if not file.is_file():
        raise UnusableDatabase(f"{path} is not a file (a directory?)")
    try:
        conn = _readonly_connection(file)
        db = sqlite_utils.Database(conn)
        version = schema_version(db)
    except sqlite3.Error as exc:
        damaged = any(n in str(exc).lower() for n in ("malformed", "not a database"))
        raise UnusableDatabase(describe(path, exc), corrupt=damaged) from None
    if version > len(MIGRATIONS):
        raise UnusableDatabase(f"{path} was made by a newer version of this program (schema "
                               f"{version}; this one knows {len(MIGRATIONS)}): upgrade it")
    if version < len(MIGRATIONS):
        raise UnusableDatabase(f"{path} is at schema {version} and needs upgrading to "
                               f"{len(MIGRATIONS)}: run `migrate` (or any collect) first")
    return db


def _readonly_connection(file: Path) -> sqlite3.Connection:
    """mode=ro; on a read-only file system, where SQLite cannot make the WAL's shared
    memory file, as an immutable file (nobody can be writing it there)."""
    uri = f"file:{quote(str(file.resolve()))}"
    conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=30, check_same_thread=False,
                           isolation_level=None)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError as exc:
        if "unable to open" not in str(exc) and "readonly" not in str(exc):
            raise
        conn.close()
        conn = sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True, timeout=30,
                               check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 30000")
    return conn


def open_database(path: str | Path, unmasked: bool = True) -> sqlite_utils.Database:
    """Open (creating if needed) the database with WAL and our pragmas, migrated to current.

    unmasked: attach the file of raw and quarantined payloads (the writer's view). Without
    it no statement on this connection can reach them: what `serve` opens.
    """
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), timeout=30, isolation_level=None, check_same_thread=False)
    db = WritingDatabase(conn)
    for pragma in PRAGMAS:
        conn.execute(f"PRAGMA {pragma}")
    if unmasked:
        attach_unmasked(db, unmasked_path(path))
    migrate(db)
    if _has_table(db, "main", "raw"):  # payloads still in this file (made before 11)
        if not unmasked:
            attach_unmasked(db, unmasked_path(path))
        move_unmasked(db)
        if not unmasked:
            conn.execute(f"DETACH DATABASE {UNMASKED}")
    return db


def remove_database(path: str | Path) -> None:
    """Delete a database with its unmasked file and their WAL files (fresh benches, tests)."""
    for file in (Path(path), Path(unmasked_path(path))):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{file}{suffix}").unlink(missing_ok=True)


def copy_database(source: str | Path, target: str | Path) -> None:
    """Copy a closed database with its unmasked file (a backup needs both)."""
    import shutil

    shutil.copy(source, target)
    if Path(unmasked_path(source)).exists():
        shutil.copy(unmasked_path(source), unmasked_path(target))


def open_plain(path: str | Path, readonly: bool = False) -> sqlite3.Connection:
    """A plain sqlite3 connection to the database with the unmasked file attached (for
    operators' tools and tests; the served database never gets one)."""
    mode = "?mode=ro" if readonly else ""
    conn = sqlite3.connect(f"file:{Path(path)}{mode}", uri=True, timeout=30)
    conn.execute(f"ATTACH DATABASE ? AS {UNMASKED}",
                 (f"file:{unmasked_path(path)}{mode}",))
    return conn


def attach_unmasked(db: sqlite_utils.Database, file: str) -> None:
    """Attach the unmasked file (owner-only permissions), with its tables."""
    if file != ":memory:" and not Path(file).exists():
        Path(file).touch(mode=0o600)
    db.conn.execute(f"ATTACH DATABASE ? AS {UNMASKED}", (file,))
    for pragma in (p for p in PRAGMAS if p.split()[0] in _PER_FILE):
        db.conn.execute(f"PRAGMA {UNMASKED}.{pragma}")
    with db.atomic():
        for ddl in (*UNMASKED_TABLES.values(), *UNMASKED_INDEXES):
            db.conn.execute(ddl.format(s=UNMASKED))


def move_unmasked(db: sqlite_utils.Database) -> dict[str, int]:
    """Move raw and quarantine from the main file into the unmasked one, idempotently: the
    copy commits before the main file drops its tables, so a crash between loses nothing."""
    moved = {}
    for table in UNMASKED_TABLES:
        if not _has_table(db, "main", table):
            continue
        with db.atomic():
            moved[table] = db.conn.execute(
                f"INSERT OR IGNORE INTO {UNMASKED}.{table} SELECT * FROM main.{table}").rowcount
        with db.atomic():
            db.conn.execute(f"DROP TABLE main.{table}")
    erase_pending(db)
    if any(moved.values()):
        db.conn.execute("VACUUM main")  # the dropped payloads' pages still hold their bytes
    return moved


def erase_pending(db: sqlite_utils.Database) -> int:
    """Delete the unmasked payloads of tombstoned comments (queued by the erase triggers):
    payloads first, then the queue, so that a crash between only repeats the work."""
    if not _has_table(db, UNMASKED, "raw"):
        return 0
    queued = db.conn.execute("SELECT count(*) FROM erasures").fetchone()[0]
    if not queued:
        return 0
    with db.atomic():
        db.conn.execute(f"DELETE FROM {UNMASKED}.raw WHERE id IN (SELECT id FROM erasures)")
        db.conn.execute(
            f"DELETE FROM {UNMASKED}.quarantine WHERE (platform, native_id) IN "
            "(SELECT platform, native_id FROM erasures)")
    with db.atomic():
        db.conn.execute("DELETE FROM erasures")
    return queued


def _has_table(db: sqlite_utils.Database, schema: str, table: str) -> bool:
    try:
        return db.conn.execute(f"SELECT 1 FROM {schema}.sqlite_master WHERE type = 'table' "
                               "AND name = ?", (table,)).fetchone() is not None
    except sqlite3.OperationalError:  # schema not attached
        return False


def db_file(db: sqlite_utils.Database) -> str:
    """The main file of a connection (':memory:' when it has none)."""
    row = db.conn.execute("PRAGMA database_list").fetchone()
    return row[2] or ":memory:"


def _redact_sql(text: str | None) -> str | None:
    return None if text is None else redact(text)


def schema_version(db: sqlite_utils.Database) -> int:
    """The migration level of this database."""
    return db.execute("PRAGMA user_version").fetchone()[0]


def migrate(db: sqlite_utils.Database) -> int:
    """Bring the database to the current schema in one transaction, and return its version.

    An upgrade drops every view and trigger, applies the pending MIGRATIONS (tables and
    data; each with its DATA_STEPS), then creates the current views and triggers
    (`schema_sql`). A current database whose views and triggers were made from other
    definitions (meta `schema_objects`) gets them re-created; otherwise nothing is written.
    """
    latest = len(MIGRATIONS)
    current = _check_version(db)
    if current == latest and _objects_hash(db) == schema_hash():
        return latest
    db.conn.create_function("smc_redact", 1, _redact_sql, deterministic=True)
    with _write_transaction(db):
        current = _check_version(db)  # again: another process may have upgraded meanwhile
        if current < latest:
            _drop_objects(db)
            for version in range(current + 1, latest + 1):
                for statement in _statements(MIGRATIONS[version - 1]):
                    db.execute(statement)
                rewrite = DATA_STEPS.get(version)
                if rewrite:
                    rewrite(db)
                db.execute(f"PRAGMA user_version = {version}")
            _create_objects(db)
        elif _objects_hash(db) != schema_hash():
            _drop_objects(db)
            _create_objects(db)
            log.info("views and triggers re-created (their definitions changed)")
    if current < latest:
        _derive_answers_if_reset(db)
    return latest


def _check_version(db: sqlite_utils.Database) -> int:
    current = schema_version(db)
    if current > len(MIGRATIONS):
        raise UnusableDatabase(
            f"{db_file(db)} was made by a newer version of this program (schema {current}; "
            f"this one knows {len(MIGRATIONS)}): upgrade the program, or use a backup")
    return current


@contextmanager
def _write_transaction(db: sqlite_utils.Database) -> Iterator[None]:
    """One transaction holding the write lock from its start (BEGIN IMMEDIATE), whatever
    kind of Database this is; inside a transaction already, a savepoint in it."""
    conn = db.conn
    if conn.in_transaction:
        with db.atomic():
            yield
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _objects_hash(db: sqlite_utils.Database) -> str | None:
    """The hash of the views and triggers the database was given (None: unknown)."""
    if not _has_table(db, "main", "meta"):
        return None
    row = db.execute("SELECT value FROM main.meta WHERE key = ?", [OBJECTS_KEY]).fetchone()
    return row[0] if row else None


def _drop_objects(db: sqlite_utils.Database) -> None:
    """Drop every view and trigger of the main file: all of them are the program's."""
    for kind, name in db.execute("SELECT type, name FROM main.sqlite_master "
                                 "WHERE type IN ('view', 'trigger')").fetchall():
        db.execute(f"DROP {kind.upper()} IF EXISTS main.[{name}]")


def _create_objects(db: sqlite_utils.Database) -> None:
    """Create the current views and triggers and record their hash."""
    for statement in _statements(schema_sql()):
        db.execute(statement)
    db.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE "
               "SET value = excluded.value", [OBJECTS_KEY, schema_hash()])


def _m11_rewrite(db: sqlite_utils.Database) -> None:
    """Migration 11's data: what it rewrote is kept in `meta` (key migration_11). It does
    what the erase trigger does to comments deleted before it existed: words, search terms
    and earlier versions gone, payloads queued for erasure. (Rollups count no tombstone.)"""
    conn = db.conn
    done = {}
    for table, column in (("runs", "error"), ("quarantine", "reason")):
        if table == "quarantine" and not _has_table(db, "main", "quarantine"):
            continue
        done[f"{table}.{column}"] = conn.execute(
            f"UPDATE {table} SET {column} = smc_redact({column}) "
            f"WHERE {column} IS NOT NULL AND {column} <> smc_redact({column})").rowcount
    done["x_links"] = conn.execute(
        "UPDATE comments SET url = 'https://x.com/i/web/status/' || native_id "
        "WHERE platform = 'x' AND is_official = 0 AND url IS NOT NULL "
        "AND url <> 'https://x.com/i/web/status/' || native_id").rowcount
    # The search index follows the blanked tokens as its update trigger would have it
    # (migrations run without triggers): the old terms out, a row without terms in.
    conn.execute("INSERT INTO comments_fts (comments_fts, rowid, tokens) "
                 "SELECT 'delete', rowid, tokens FROM comments "
                 "WHERE deleted = 1 AND tokens IS NOT NULL AND tokens <> ''")
    conn.execute("INSERT INTO comments_fts (rowid, tokens) "
                 "SELECT rowid, '' FROM comments WHERE deleted = 1 AND tokens IS NOT ''")
    done["tombstones"] = conn.execute(
        "UPDATE comments SET text = '', tokens = '', keywords = NULL "
        "WHERE deleted = 1 AND (text <> '' OR tokens IS NOT '' OR keywords IS NOT NULL)"
    ).rowcount
    conn.execute("DELETE FROM versions WHERE id IN (SELECT id FROM comments WHERE deleted = 1)")
    conn.execute("INSERT OR IGNORE INTO erasures (id, platform, native_id) "
                 "SELECT id, platform, native_id FROM comments WHERE deleted = 1")
    conn.execute("INSERT INTO meta (key, value) VALUES ('migration_11', ?) "
                 "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                 (json.dumps(done, sort_keys=True),))
    if any(done.values()):
        log.info("migration 11 rewrote: %s", done)


# Data a migration rewrites in Python, in the same transaction as its SQL.
DATA_STEPS = {11: _m11_rewrite}


def _derive_answers_if_reset(db: sqlite_utils.Database) -> None:
    """A migration that resets the derived answers (6) has them derived again at once."""
    reset = db.execute("SELECT 1 FROM meta WHERE key = 'answers_rowid'").fetchone() is None
    if reset and db.execute("SELECT 1 FROM comments LIMIT 1").fetchone():
        from store.writer import Writer

        Writer(db).refresh_answers()


def _statements(script: str) -> list[str]:
    """Split an SQL script into complete statements (triggers contain ';')."""
    statements, buffer = [], ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements


def rebuild_rollups(db: sqlite_utils.Database) -> None:
    """Recount the rollups (migrations 8 and 14) from the base tables, in one transaction."""
    with db.atomic():
        for table in ROLLUP_TABLES:
            db.execute(f"DELETE FROM {table}")
        for statement in _statements(_M8_BACKFILL + _M14_BACKFILL):
            db.execute(statement)


def rollup_drift(db: sqlite_utils.Database) -> dict[str, int]:
    """Per rollup table, how many rows differ from a recount of the base tables (0: in step;
    rows whose counts fell to 0 are ignored)."""
    drift = {}
    for table, (cols, select) in {**_M8_RECOUNT, **_M14_RECOUNT}.items():
        kept = f"SELECT {cols} FROM {table} WHERE n <> 0"
        sql = (f"SELECT count(*) FROM (SELECT * FROM ({kept} EXCEPT {select}) "
               f"UNION ALL SELECT * FROM ({select} EXCEPT {kept}))")
        drift[table] = db.execute(sql).fetchone()[0]
    return drift
