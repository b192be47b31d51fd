"""Logins: argon2 password hashes, server-side sessions that expire, failed logins that slow
down the next try (per user name and per client), the same answer for every failure.

- Passwords are hashed with argon2id (argon2-cffi's PasswordHasher, its default parameters);
  a hash made with older parameters is re-made at the next successful login.
- A session is a random token (secrets.token_urlsafe, 256 bits) in an HttpOnly, SameSite=Lax
  cookie; the database holds its SHA-256 only. It ends `idle_minutes` after the last request,
  `max_hours` after the login whatever happens, at logout, and when the user is disabled or
  gets a new password (the rows are deleted).
- A failed login (unknown name, wrong password, disabled user: one message for all, and an
  unknown name costs a hash verification too) is recorded with the name tried and the
  client. From FREE_FAILURES failures within WINDOW for the name or for the client, each
  further try must wait WAIT_BASE x 2^(n - FREE_FAILURES) seconds (at most WAIT_MAX) after
  the last failure; a try before then is refused without looking at the password.
"""
from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlite_utils
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from core.times import parse_iso, utc_iso
from store import users as store

ROLES = store.ROLES
ROLE_LABELS = {"staff": "소셜미디어센터 직원 (staff)", "department": "부서 담당자 (department)",
               "viewer": "열람 전용 (viewer)"}
COOKIE = "smc_session"
FREE_FAILURES = 5  # failures allowed within WINDOW before tries must wait
WINDOW = timedelta(minutes=15)
WAIT_BASE = 15  # seconds, doubled for every further failure
WAIT_MAX = 15 * 60
MIN_PASSWORD = 10
FAILED = "이름 또는 비밀번호가 맞지 않습니다 (wrong name or password)."
WAIT = "로그인 시도가 너무 많습니다. {seconds}초 뒤에 다시 시도하세요 (too many tries: wait)."

_hasher = PasswordHasher()
# Verified against when the name is unknown, so that an unknown name takes as long.
_DUMMY = _hasher.hash(secrets.token_hex(16))


class AuthError(ValueError):
    """A user command's problem (a bad name, role, password), in one line."""


def hash_password(password: str) -> str:
    check_password(password)
    return _hasher.hash(password)


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AuthError(f"password: at least {MIN_PASSWORD} characters, please")
    if password != password.strip() or "\n" in password:
        raise AuthError("password: no spaces at either end, no line breaks")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Actor:
    """Who is logged in."""

    name: str
    role: str
    department: str | None
    session: str  # the token's hash

    def as_datasette(self) -> dict:
        return {"id": self.name, "role": self.role, "department": self.department,
                "smc_session": self.session}

    @property
    def staff(self) -> bool:
        return self.role == "staff"


@dataclass(frozen=True)
class Login:
    """What a login attempt gave: a session token, or the message to show and a status."""

    token: str | None = None
    message: str = ""
    status: int = 200
    actor: Actor | None = None


@dataclass(frozen=True)
class SessionPolicy:
    idle: timedelta = timedelta(minutes=480)
    longest: timedelta = timedelta(hours=12)

    def expires(self, created: datetime, now: datetime) -> datetime:
        return min(now + self.idle, created + self.longest)


def wait_seconds(failures: int, last: str | None, now: datetime) -> int:
    """Seconds a new try must still wait after `failures` failures, the last at `last`."""
    if failures < FREE_FAILURES or last is None:
        return 0
    wait = min(WAIT_BASE * 2 ** (failures - FREE_FAILURES), WAIT_MAX)
    passed = (now - parse_iso(last)).total_seconds()
    return max(0, int(wait - passed + 0.999))


def login(db: sqlite_utils.Database, name: str, password: str, client: str, now: datetime,
          policy: SessionPolicy) -> Login:
    """Check a name and password (throttled); a new session when they are right."""
    name = name.strip()
    key = name.casefold()
    since = utc_iso(now - WINDOW)
    by_user, last_user, by_client, last_client = store.failures(db, key, client, since)
    wait = max(wait_seconds(by_user, last_user, now), wait_seconds(by_client, last_client, now))
    if wait:
        return Login(message=WAIT.format(seconds=wait), status=429)
    user = store.get_user(db, name) if name else None
    ok = False
    try:
        ok = _hasher.verify(user["password_hash"] if user else _DUMMY, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        ok = False
    if not ok or user is None or user["disabled"]:
        store.add_failure(db, key, client, utc_iso(now), since)
        return Login(message=FAILED, status=401)
    if _hasher.check_needs_rehash(user["password_hash"]):
        store.set_password(db, user["name"], _hasher.hash(password), utc_iso(now),
                           end_sessions=False)
    store.clear_failures(db, key)
    token = secrets.token_urlsafe(32)
    hashed = token_hash(token)
    store.add_session(db, hashed, user["name"], utc_iso(now),
                      utc_iso(policy.expires(now, now)))
    return Login(token=token, actor=Actor(user["name"], user["role"], user["department"],
                                          hashed))


# Requests within this long of the last one do not write the session again.
TOUCH_EVERY = timedelta(minutes=1)


def session_actor(db: sqlite_utils.Database, token: str | None, now: datetime,
                  policy: SessionPolicy,
                  touch: Callable[[str, str, str], None] | None = None) -> Actor | None:
    """The user of a live session token (its idle expiry moved on, at most once a minute,
    by `touch(token_hash, now, expires)`); None when there is none, it expired or the user
    was disabled."""
    if not token or len(token) > 200:
        return None
    hashed = token_hash(token)
    row = store.session_user(db, hashed, utc_iso(now))
    if row is None:
        return None
    if touch is not None and now - parse_iso(row["last_seen"]) >= TOUCH_EVERY:
        expires = policy.expires(parse_iso(row["created_at"]), now)
        touch(hashed, utc_iso(now), utc_iso(expires))
    return Actor(row["name"], row["role"], row["department"], hashed)


def add_user(db: sqlite_utils.Database, name: str, role: str, department: str | None,
             password: str, now: datetime) -> None:
    check_name(name)
    if role not in ROLES:
        raise AuthError(f"role: unknown role {role!r} (expected one of {', '.join(ROLES)})")
    if role == "department" and not department:
        raise AuthError("department: a department user needs --department")
    if role != "department" and department:
        raise AuthError("department: only a department user has a department")
    if store.get_user(db, name) is not None:
        raise AuthError(f"name: a user {name!r} exists already (user passwd changes its "
                        "password)")
    store.add_user(db, name, role, department, hash_password(password), utc_iso(now))


def check_name(name: str) -> None:
    if not name or name != name.strip() or len(name) > 60 or any(
            ch.isspace() or not ch.isprintable() for ch in name):
        raise AuthError(f"name: {name!r}: 1-60 printable characters without spaces")
