"""Staff accounts, their sessions and failed logins (migration 13): the SQL of the workplace's
login. Hashing, the session policy and throttling are workplace/auth.py's; this module only
reads and writes rows. A session is stored by the SHA-256 of its token (the cookie holds the
token), so the database never holds anything a browser could present.
"""
from __future__ import annotations

import sqlite_utils

from store.cases import _write

ROLES = ("staff", "department", "viewer")


def get_user(db: sqlite_utils.Database, name: str) -> dict | None:
    rows = list(db.query("SELECT name, role, department, password_hash, disabled, created_at, "
                         "updated_at FROM users WHERE name = ?", [name]))
    return rows[0] if rows else None


def list_users(db: sqlite_utils.Database) -> list[dict]:
    """Every user, without the hash, with the number of sessions alive at `now`."""
    return list(db.query(
        "SELECT u.name, u.role, u.department, u.disabled, u.created_at, u.updated_at "
        "FROM users u ORDER BY u.name"))


def add_user(db: sqlite_utils.Database, name: str, role: str, department: str | None,
             password_hash: str, at: str) -> None:
    """A new user (sqlite3.IntegrityError when the name is taken)."""
    with _write(db):
        db.conn.execute(
            "INSERT INTO users (name, role, department, password_hash, disabled, created_at, "
            "updated_at) VALUES (?, ?, ?, ?, 0, ?, ?)",
            (name, role, department, password_hash, at, at))


def set_password(db: sqlite_utils.Database, name: str, password_hash: str, at: str,
                 end_sessions: bool = True) -> bool:
    """A new hash (and, by default, every session of the user ended); False: no such user."""
    with _write(db):
        done = db.conn.execute("UPDATE users SET password_hash = ?, updated_at = ? "
                               "WHERE name = ?", (password_hash, at, name)).rowcount
        if done and end_sessions:
            db.conn.execute("DELETE FROM sessions WHERE user = ?", (name,))
    return bool(done)


def set_disabled(db: sqlite_utils.Database, name: str, disabled: bool, at: str) -> bool:
    """Disable (ending every session) or enable a user; False: no such user."""
    with _write(db):
        done = db.conn.execute("UPDATE users SET disabled = ?, updated_at = ? WHERE name = ?",
                               (int(disabled), at, name)).rowcount
        if done and disabled:
            db.conn.execute("DELETE FROM sessions WHERE user = ?", (name,))
    return bool(done)


def set_role(db: sqlite_utils.Database, name: str, role: str, department: str | None,
             at: str) -> bool:
    with _write(db):
        return bool(db.conn.execute(
            "UPDATE users SET role = ?, department = ?, updated_at = ? WHERE name = ?",
            (role, department, at, name)).rowcount)


# --- sessions ----------------------------------------------------------------------------
def add_session(db: sqlite_utils.Database, token_hash: str, user: str, at: str,
                expires_at: str) -> None:
    with _write(db):
        db.conn.execute("INSERT INTO sessions (token_hash, user, created_at, last_seen, "
                        "expires_at) VALUES (?, ?, ?, ?, ?)",
                        (token_hash, user, at, at, expires_at))


def session_user(db: sqlite_utils.Database, token_hash: str, now: str) -> dict | None:
    """The session and its user, when the session has not expired and the user is enabled."""
    rows = list(db.query(
        "SELECT s.token_hash, s.created_at, s.last_seen, s.expires_at, u.name, u.role, "
        "u.department FROM sessions s JOIN users u ON u.name = s.user "
        "WHERE s.token_hash = ? AND s.expires_at > ? AND u.disabled = 0", [token_hash, now]))
    return rows[0] if rows else None


def touch_session(db: sqlite_utils.Database, token_hash: str, at: str, expires_at: str) -> None:
    with _write(db):
        db.conn.execute("UPDATE sessions SET last_seen = ?, expires_at = ? "
                        "WHERE token_hash = ?", (at, expires_at, token_hash))


def end_session(db: sqlite_utils.Database, token_hash: str) -> None:
    with _write(db):
        db.conn.execute("DELETE FROM sessions WHERE token_hash = ?", (token_hash,))


def purge_sessions(db: sqlite_utils.Database, now: str) -> int:
    """Delete expired sessions; how many."""
    with _write(db):
        return db.conn.execute("DELETE FROM sessions WHERE expires_at <= ?", (now,)).rowcount


def session_count(db: sqlite_utils.Database, user: str, now: str) -> int:
    return db.execute("SELECT count(*) FROM sessions WHERE user = ? AND expires_at > ?",
                      [user, now]).fetchone()[0]


# --- failed logins -----------------------------------------------------------------------
def add_failure(db: sqlite_utils.Database, user: str, client: str, at: str,
                forget_before: str) -> None:
    """Record a failed login (and forget those older than `forget_before`)."""
    with _write(db):
        db.conn.execute("INSERT INTO login_failures (at, user, client) VALUES (?, ?, ?)",
                        (at, user, client))
        db.conn.execute("DELETE FROM login_failures WHERE at < ?", (forget_before,))


def failures(db: sqlite_utils.Database, user: str, client: str,
             since: str) -> tuple[int, str | None, int, str | None]:
    """(failures of this user name, the last one's time, failures of this client, the last
    one's time) since `since`."""
    by_user = db.execute("SELECT count(*), max(at) FROM login_failures "
                         "WHERE user = ? AND at >= ?", [user, since]).fetchone()
    by_client = db.execute("SELECT count(*), max(at) FROM login_failures "
                           "WHERE client = ? AND at >= ?", [client, since]).fetchone()
    return by_user[0], by_user[1], by_client[0], by_client[1]


def clear_failures(db: sqlite_utils.Database, user: str) -> None:
    """A successful login forgets the user's failures (not the client's)."""
    with _write(db):
        db.conn.execute("DELETE FROM login_failures WHERE user = ?", (user,))
