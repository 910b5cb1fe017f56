"""The HTML faces: login and logout, the facilitator's tablet, the client's page (opened by
their link).  Every page starts with the dark background in its first bytes."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import secrets
import time
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from roomctl.model.library import CUES
from roomctl.web.auth import (
    COOKIE,
    MAX_AGE_S,
    Principal,
    cookie_value,
    current,
    end_cookie_session,
)
from roomctl.web.context import Web, web_of

__all__ = ["TEMPLATES", "router"]

log = logging.getLogger(__name__)
TEMPLATES = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))
LOGIN_CSRF = "roomctl_login"
router = APIRouter(include_in_schema=False)


def _cookie(response: Response, name: str, value: str, max_age: int = MAX_AGE_S) -> None:
    response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="strict", path="/")


def _page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(request, template, context, status_code=status)


def _login_page(request: Request, message: str | None = None, status: int = 200) -> HTMLResponse:
    token = secrets.token_urlsafe(24)
    response = _page(request, "login.html", status, csrf=token, message=message)
    _cookie(response, LOGIN_CSRF, token, max_age=3600)
    return response


@router.get("/login")
async def login_form(request: Request) -> HTMLResponse:
    return _login_page(request)


@router.post("/login", response_model=None)
async def login(
    request: Request,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    web = web_of(request)
    expected = request.cookies.get(LOGIN_CSRF, "")
    if not csrf or not expected or not hmac.compare_digest(csrf, expected):
        return _login_page(request, "The form had expired. Please try again.", 403)
    address = request.client.host if request.client else "unknown"
    keys = (f"user:{username}", f"addr:{address}")
    wait = web.throttle.wait_s(keys)
    if wait > 0:
        log.warning("login throttled for a user from %s (%.0f s)", address, wait)
        return _login_page(request, f"Too many failed tries. Please wait {wait:.0f} seconds.", 429)
    role = await asyncio.to_thread(web.store.verify_user, username, password)
    if role is None or role == "client":
        web.throttle.failed(keys)
        log.warning("failed login from %s", address)
        web.store.audit(username or "-", "login_failed", address)
        return _login_page(request, "Username or password is not right.", 401)
    web.throttle.succeeded(keys[0])
    web.store.audit(username, "login", address)
    response = RedirectResponse("/", status_code=303)
    _cookie(response, COOKIE, cookie_value(web, username, role))
    response.delete_cookie(LOGIN_CSRF, path="/")
    return response


@router.post("/logout", response_model=None)
async def logout(request: Request, csrf: Annotated[str, Form(max_length=100)] = "") -> Response:
    web = web_of(request)
    who = current(request)
    if who is not None and who.via == "cookie":
        if who.csrf is None or not hmac.compare_digest(csrf, who.csrf):
            raise HTTPException(403, "missing or wrong CSRF token: reload the page")
        end_cookie_session(web, who)
        web.store.audit(who.who, "logout", "web")
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


def _config(web: Web) -> dict[str, Any]:
    lib = web.daemon.lib
    room = lib.room
    speakers = [d.id for d in room.devices if d.kind.value == "player"]
    thermostats = [d.id for d in room.devices if d.kind.value == "thermostat"]
    return {
        "room": room.room.name,
        "cues": [c for c in CUES if c in lib.scenes],
        "scenes": [
            {"name": n, "title": s.title or n}
            for n, s in sorted(lib.scenes.items())
            if n not in CUES and n != "emergency"
        ],
        "arcs": sorted(lib.arcs),
        "speakers": speakers,
        "thermostats": thermostats,
        "max_volume": room.safety.max_volume,
        "temperature_c": [room.safety.temperature_c.min, room.safety.temperature_c.max],
    }


def _staff(request: Request) -> Principal | None:
    who = current(request)
    return who if who is not None and who.at_least("facilitator") else None


@router.get("/", response_model=None)
async def tablet(request: Request) -> Response:
    who = current(request)
    if who is not None and who.role == "client":
        return RedirectResponse("/client", status_code=303)
    if who is None or who.via != "cookie" or not who.at_least("facilitator"):
        return RedirectResponse("/login", status_code=303)
    web = web_of(request)
    config = json.dumps(_config(web))
    return _page(request, "tablet.html", who=who, config=config, csrf=who.csrf)


@router.get("/overview", response_model=None)
async def clinic_overview(request: Request) -> Response:
    """Every room on the broker: phase, scene, emergency, health, last seen (read only)."""
    who = current(request)
    if who is None or who.via != "cookie" or not who.at_least("facilitator"):
        return RedirectResponse("/login", status_code=303)
    web = web_of(request)
    rows = [] if web.overview is None else web.overview.rows()
    now = time.time()
    seen = {r.room_id: "–" if r.heard is None else _ago(now - r.heard) for r in rows}
    mqtt = web.daemon.lib.room.mqtt is not None
    return _page(request, "overview.html", who=who, rows=rows, seen=seen, mqtt=mqtt, csrf=who.csrf)


def _ago(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f} s ago"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.1f} h ago"


@router.get("/c/{token}", response_model=None)
async def client_link(token: str, request: Request) -> Response:
    web = web_of(request)
    row = web.store.verify_token(token)
    if row is None or row.client_id is None:
        raise HTTPException(404, "this link is not valid (any more): ask your facilitator")
    web.store.audit(f"client:{row.client_id}", "open_link", row.id)
    response = RedirectResponse("/client", status_code=303)
    _cookie(response, COOKIE, cookie_value(web, f"client:{row.client_id}", "client",
                                           row.client_id))  # fmt: skip
    return response


@router.get("/client", response_model=None)
async def client_page(request: Request, client: str | None = None) -> Response:
    who = current(request)
    if who is None or who.via != "cookie":
        raise HTTPException(401, "open the link your facilitator gave you")
    if who.role == "client":
        client_id = who.client_id
    elif who.at_least("facilitator") and client:
        client_id = client
    else:
        raise HTTPException(403, "choose a client on the tablet first")
    assert client_id is not None
    if web_of(request).store.get_client(client_id) is None:
        raise HTTPException(404, "no such client")
    return _page(request, "client.html", client_id=client_id, csrf=who.csrf,
                 staff=who.role != "client")  # fmt: skip
