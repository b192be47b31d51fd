"""Datasette hooks of the workplace (registered by workplace.app.build_server).

They act only on a Datasette that carries a workplace (`datasette.smc_workplace`): the routes,
the login (`actor_from_request` from the session cookie), and the permission to see any of
Datasette's own pages, which only a logged-in `staff` or `viewer` has (department users see
their own queue in the workplace, never every opinion in Datasette). A page refused to
someone not logged in sends them to /login.
"""
from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from datasette import hookimpl
from datasette.utils.asgi import Response

# Datasette's permissions that show data; the workplace decides them all.
_VIEWS = ("view-instance", "view-database", "view-table", "view-query", "execute-sql",
          "view-database-download")


def _workplace(datasette: Any) -> Any:
    return getattr(datasette, "smc_workplace", None)


@hookimpl
def register_routes(datasette: Any) -> list:
    if _workplace(datasette) is None:
        return []
    from workplace.app import ROUTES

    return ROUTES


@hookimpl(tryfirst=True)
def actor_from_request(datasette: Any, request: Any) -> Any:
    wp = _workplace(datasette)
    if wp is None:
        return None
    from workplace.app import SessionActor
    from workplace.auth import COOKIE

    token = request.cookies.get(COOKIE)
    if not token:
        return None

    async def inner() -> SessionActor | None:
        actor = await wp.session(token)
        return SessionActor(actor.as_datasette()) if actor else None

    return inner


@hookimpl
def permission_allowed(datasette: Any, actor: Any, action: str, resource: Any) -> Any:
    if _workplace(datasette) is None or action not in _VIEWS:
        return None
    from workplace.app import ANALYSTS, SessionActor

    if not isinstance(actor, SessionActor) or actor.get("role") not in ANALYSTS:
        return False
    return None  # the centre's own rules (allow_sql, hidden tables) decide the rest


@hookimpl
def forbidden(datasette: Any, request: Any, message: str) -> Any:
    if _workplace(datasette) is None or request.actor:
        return None
    return Response.redirect("/login?" + urlencode({"next": request.full_path}), status=303)


@hookimpl
def menu_links(datasette: Any, actor: Any, request: Any) -> Any:
    if _workplace(datasette) is None:
        return None
    return [{"href": "/inbox", "label": "업무 화면 (workplace inbox)"},
            {"href": "/public", "label": "공개 결과 (public page)"}]
