"""Who is calling: signed cookie sessions (people), bearer tokens (machines, a client's link),
CSRF on every cookie-authenticated write, and the role each route needs.

A cookie holds the user, role, a CSRF token and a session id, signed with the install's secret
(itsdangerous); it is HttpOnly and SameSite=Strict.  The session id is a row of the store
(store/web_sessions.py): logging out ends it there, so the old cookie stays refused after a
restart; a new password or a removed login ends every session of that user.  A
bearer token (``Authorization: Bearer rmt_…``) needs no CSRF token: it is never sent by a
browser on its own.

Roles: ``admin`` > ``facilitator`` > ``readonly``; ``client`` reaches only its own client's
preferences and preview.  No credentials: 401; the wrong role, a client token elsewhere, or a
missing CSRF token: 403.
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import Depends, HTTPException, Request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from roomctl.web.context import Web, web_of

__all__ = [
    "COOKIE",
    "CSRF_HEADER",
    "Admin",
    "AnyCaller",
    "Facilitator",
    "Principal",
    "Reader",
    "cookie_value",
    "current",
    "end_cookie_session",
    "serializer",
]

COOKIE = "roomctl_session"
CSRF_HEADER = "x-csrf-token"
MAX_AGE_S = 18 * 3600  # longer than the longest session
SAFE = frozenset({"GET", "HEAD", "OPTIONS"})
RANK = {"readonly": 1, "facilitator": 2, "admin": 3}


@dataclass(frozen=True)
class Principal:
    who: str  # a username, "token:NAME" or "client:ID": what the audit log and events say
    role: Literal["admin", "facilitator", "readonly", "client"]
    via: Literal["cookie", "bearer"]
    client_id: str | None = None
    csrf: str | None = None
    sid: str | None = None

    def at_least(self, role: str) -> bool:
        return RANK.get(self.role, 0) >= RANK[role]


def serializer(web: Web) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(web.secret, salt="roomctl-session")


def cookie_value(web: Web, who: str, role: str, client_id: str | None = None) -> str:
    """A new signed cookie for `who`, its session recorded in the store."""
    sid = web.store.create_web_session(who, now=time.time(), max_age_s=MAX_AGE_S)
    data = {"u": who, "r": role, "c": client_id, "x": secrets.token_urlsafe(24), "s": sid}
    return str(serializer(web).dumps(data))


def end_cookie_session(web: Web, who: Principal) -> None:
    """Log out: this cookie is refused from now on, also after a restart."""
    if who.sid is not None:
        web.store.end_web_session(who.sid, now=time.time())


def _from_cookie(web: Web, raw: str) -> Principal | None:
    try:
        data: Any = serializer(web).loads(raw, max_age=MAX_AGE_S)
    except BadSignature:  # also expired
        return None
    if not isinstance(data, dict):
        return None
    role, who, client_id, sid = data.get("r"), data.get("u"), data.get("c"), data.get("s")
    if role not in ("admin", "facilitator", "readonly", "client"):
        return None
    if not isinstance(who, str) or not isinstance(sid, str):
        return None
    if not web.store.web_session_live(sid, who, now=time.time()):
        return None  # logged out, ended by a new password or a removed login, or expired
    if role == "client":
        if not isinstance(client_id, str) or web.store.get_client(client_id) is None:
            return None
    elif not any(u.username == who and u.role == role for u in web.store.list_users()):
        return None  # removed, or given another role since
    return Principal(who, role, "cookie", client_id, str(data.get("x")), sid)


def _from_bearer(web: Web, header: str) -> Principal | None:
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    row = web.store.verify_token(token.strip())
    if row is None:
        return None
    who = f"client:{row.client_id}" if row.role == "client" else f"token:{row.name}"
    return Principal(who, row.role, "bearer", row.client_id)


def current(request: Request) -> Principal | None:
    """The caller, or None (no or bad credentials)."""
    web = web_of(request)
    header = request.headers.get("authorization")
    if header:
        return _from_bearer(web, header)
    raw = request.cookies.get(COOKIE)
    return None if raw is None else _from_cookie(web, raw)


async def _check_csrf(request: Request, who: Principal) -> None:
    if request.method in SAFE or who.via != "cookie":
        return
    given = request.headers.get(CSRF_HEADER)
    if given is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get("csrf")
        given = value if isinstance(value, str) else None
    if not given or who.csrf is None or not hmac.compare_digest(given, who.csrf):
        raise HTTPException(403, "missing or wrong CSRF token: reload the page")


async def _caller(request: Request) -> Principal:
    who = current(request)
    if who is None:
        raise HTTPException(401, "log in first", headers={"WWW-Authenticate": "Bearer"})
    await _check_csrf(request, who)
    request.state.principal = who
    return who


def _needs(role: str) -> Any:
    async def dependency(who: Annotated[Principal, Depends(_caller)]) -> Principal:
        if not who.at_least(role):
            raise HTTPException(403, f"this needs the {role} role")
        return who

    return Depends(dependency)


AnyCaller = Annotated[Principal, Depends(_caller)]  # clients included: check their scope
Reader = Annotated[Principal, _needs("readonly")]
Facilitator = Annotated[Principal, _needs("facilitator")]
Admin = Annotated[Principal, _needs("admin")]


def web_dep(request: Request) -> Web:
    return web_of(request)


WebDep = Annotated[Web, Depends(web_dep)]
