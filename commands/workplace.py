"""The workplace's commands: `user` (logins of the browser workplace) and `publish`.

    user add NAME --role staff|department|viewer [--department D] [--password-stdin]
    user passwd NAME [--password-stdin]      (ends the user's sessions)
    user disable NAME / user enable NAME     (disable ends the user's sessions)
    user list
    publish --out DIR [--index N]            (the public results page as a static site)

Passwords come from a prompt (asked twice, never echoed) or, with --password-stdin, from the
first line of standard input (for scripts: `printf '%s\\n' "$PW" | smc user add ...`); they
are never an argument, which `ps` and shell histories would show.
"""
from __future__ import annotations

import argparse
import getpass
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from commands.common import EXIT_OK, UsageError, open_db, positive_int, read_db
from core.display import shown


def _config_path(args: argparse.Namespace) -> str | None:
    return getattr(args, "workplace_config", None) or os.environ.get("SMC_WORKPLACE_CONFIG")


def workplace_config(args: argparse.Namespace):  # -> core.worktime.WorkplaceConfig
    from core.worktime import WorktimeConfigError, load_workplace_config

    path = _config_path(args)
    try:
        return load_workplace_config(path) if path else load_workplace_config()
    except WorktimeConfigError as exc:
        raise UsageError(str(exc)) from None


def read_password(args: argparse.Namespace, prompt: str = "password") -> str:
    """The new password: the first line of stdin (--password-stdin) or typed twice."""
    if args.password_stdin:
        line = sys.stdin.readline()
        password = line.removesuffix("\n")
        if not password:
            raise UsageError("password: nothing on standard input (--password-stdin)")
        return password.rstrip("\r")
    if not sys.stdin.isatty():
        raise UsageError("password: no terminal to ask on; use --password-stdin")
    first = getpass.getpass(f"{prompt}: ")
    if getpass.getpass(f"{prompt} again: ") != first:
        raise UsageError("password: the two entries differ; nothing changed")
    return first


def user_db(args: argparse.Namespace):  # -> sqlite_utils.Database
    """The database of --db, which must exist (a typo must not make an empty one)."""
    if not Path(args.db).exists():
        raise UsageError(f"no database at {args.db} (run collect or demo first)")
    return open_db(args, unmasked=False)


def _now() -> datetime:
    return datetime.now(UTC)


def cmd_user_add(args: argparse.Namespace) -> int:
    from workplace import auth

    db = user_db(args)
    password = read_password(args)
    try:
        auth.add_user(db, args.name, args.role, args.department, password, _now())
    except auth.AuthError as exc:
        raise UsageError(str(exc)) from None
    where = f" of {args.department}" if args.department else ""
    print(shown(f"user {args.name} added: {args.role}{where}"))
    return EXIT_OK


def cmd_user_passwd(args: argparse.Namespace) -> int:
    from store import users
    from workplace import auth

    db = user_db(args)
    if users.get_user(db, args.name) is None:
        raise UsageError(f"name: no user {args.name!r} (user list shows them)")
    try:
        hashed = auth.hash_password(read_password(args, "new password"))
    except auth.AuthError as exc:
        raise UsageError(str(exc)) from None
    users.set_password(db, args.name, hashed, _iso(_now()))
    print(shown(f"user {args.name}: password changed; their sessions ended"))
    return EXIT_OK


def _iso(at: datetime) -> str:
    from core.times import utc_iso

    return utc_iso(at)


def cmd_user_disable(args: argparse.Namespace) -> int:
    from store import users

    db = user_db(args)
    disabled = args.user_command == "disable"
    if not users.set_disabled(db, args.name, disabled, _iso(_now())):
        raise UsageError(f"name: no user {args.name!r} (user list shows them)")
    print(shown(f"user {args.name}: " + ("disabled; their sessions ended" if disabled
                                         else "enabled")))
    return EXIT_OK


def cmd_user_list(args: argparse.Namespace) -> int:
    from store import users

    db = read_db(args)
    now = _iso(_now())
    rows = users.list_users(db)
    for u in rows:
        state = "disabled" if u["disabled"] else f"{users.session_count(db, u['name'], now)} " \
                                                 "sessions"
        print(shown(f"{u['name']:<20} {u['role']:<10} {u['department'] or '-':<20} {state}"))
    print(f"-- {len(rows)} users")
    return EXIT_OK


def cmd_publish(args: argparse.Namespace) -> int:
    from workplace.public import publish_site

    db = read_db(args)
    try:
        paths = publish_site(db, Path(args.out), _now(), index_size=args.index)
    finally:
        db.conn.close()
    for path in paths:
        print(path)
    print(f"-- the public results page: open {paths[0]} (no server needed), or host "
          f"{args.out} as it is")
    return EXIT_OK


# The demo's logins: fixed, printed by `demo`, made on the demo's (simulated) database only.
DEMO_USERS = (("demo", "smc-demo-staff", "staff", None),
              ("demo-taxi", "smc-demo-taxi", "department", "택시물류과"))


def demo_logins(db) -> list[tuple[str, str, str, str | None]]:  # db: sqlite_utils.Database
    """Create (or reset to the printed passwords) the demo's users; what to print."""
    from store import users
    from workplace import auth

    now = _now()
    for name, password, role, department in DEMO_USERS:
        if users.get_user(db, name) is None:
            auth.add_user(db, name, role, department, password, now)
        else:
            users.set_password(db, name, auth.hash_password(password), _iso(now))
            users.set_role(db, name, role, department, _iso(now))
            users.set_disabled(db, name, False, _iso(now))
    return list(DEMO_USERS)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `user` and `publish`."""
    from workplace.auth import MIN_PASSWORD, ROLES

    user = subparsers.add_parser(
        "user", help="logins of the browser workplace (serve): add, passwd, disable, list",
        description="Manage who may log in to the workplace `serve` runs. Roles: staff "
                    "(the Social Media Center: every opinion, every action, Datasette), "
                    "department (its own department's queue and opinions only), viewer "
                    "(reads the inbox and Datasette, changes nothing). Passwords are hashed "
                    f"with argon2id; at least {MIN_PASSWORD} characters.")
    sub = user.add_subparsers(dest="user_command", metavar="ACTION", required=True)

    p = sub.add_parser("add", help="add a user (password from a prompt or --password-stdin)")
    p.add_argument("name", help="login name, recorded as `by` in the case history")
    p.add_argument("--role", required=True, choices=ROLES, help="staff, department or viewer")
    p.add_argument("--department", metavar="D",
                   help="the department of a department user (as in accounts.yaml)")
    p.add_argument("--password-stdin", action="store_true",
                   help="read the password from the first line of standard input")
    p.set_defaults(func=cmd_user_add)

    p = sub.add_parser("passwd", help="set a new password (ends the user's sessions)")
    p.add_argument("name")
    p.add_argument("--password-stdin", action="store_true",
                   help="read the password from the first line of standard input")
    p.set_defaults(func=cmd_user_passwd)

    for action, text in (("disable", "refuse further logins and end the user's sessions"),
                         ("enable", "allow a disabled user to log in again")):
        p = sub.add_parser(action, help=text)
        p.add_argument("name")
        p.set_defaults(func=cmd_user_disable)

    p = sub.add_parser("list", help="every user with role, department and live sessions")
    p.set_defaults(func=cmd_user_list)

    p = subparsers.add_parser(
        "publish", help="write the public results page as a static site (no server needed)",
        description="Write the public page of `serve`'s /public into DIR as static files "
                    "(index.html and search-index.js): the 처리율 (reflection rate), the SNS "
                    "map of accounts by field, recently answered opinions with the city's "
                    "answers, and search in the browser. Masked text only: no author keys, "
                    "no staff notes or names, no restricted or hidden opinions.")
    p.add_argument("--out", required=True, metavar="DIR", help="directory to write into")
    p.add_argument("--index", type=positive_int, default=5000, metavar="N",
                   help="the newest N opinions go into the search index (default 5000)")
    p.set_defaults(func=cmd_publish)
