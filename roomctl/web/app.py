"""The web app: FastAPI with the API, the pages and the static files, and errors that are
readable sentences — JSON for the API, a dark page for a browser — never a traceback."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from roomctl.errors import (
    PreferencesError,
    RoomctlError,
    SessionError,
    StoreBusyError,
    StoreCorruptError,
    StoreError,
    StoreFullError,
    StoreReadOnlyError,
)
from roomctl.web import api, api_music, api_people, api_records, pages
from roomctl.web.context import Web

__all__ = ["build_app"]

log = logging.getLogger(__name__)
STATIC = Path(__file__).with_name("static")
STORAGE_FAULTS = (StoreFullError, StoreReadOnlyError, StoreBusyError, StoreCorruptError)


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api") and "text/html" in request.headers.get(
        "accept", ""
    )


def _error(request: Request, status: int, detail: object, headers: Mapping[str, str] | None = None
           ) -> Response:  # fmt: skip
    if _wants_html(request) and isinstance(detail, str):
        page = pages.TEMPLATES.TemplateResponse(
            request, "error.html", {"status": status, "detail": detail}, status_code=status
        )
        if headers:
            page.headers.update(headers)
        return page
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def _field_errors(exc: RequestValidationError) -> list[dict[str, object]]:
    out = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body",)]
        field = ".".join(loc) or "body"
        out.append({"field": field, "message": f"{field}: {err.get('msg', 'not valid')}",
                    "type": err.get("type")})  # fmt: skip
    return out


def build_app(web: Web) -> FastAPI:
    app = FastAPI(
        title="roomctl",
        summary="The session room's API: room state, sessions, preferences, logins",
        version="1",
        docs_url=None,  # the docs pages load scripts from a CDN: the Pi may be offline
        redoc_url=None,
    )
    app.state.web = web
    app.include_router(api.router)
    app.include_router(api_music.router)
    app.include_router(api_people.router)
    app.include_router(api_records.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        detail = (
            exc.detail
            if exc.status_code != 404 or exc.detail != "Not Found"
            else ("There is nothing at this address.")
        )
        return _error(request, exc.status_code, detail, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = _field_errors(exc)
        return JSONResponse({"detail": errors[0]["message"], "errors": errors}, 422)

    @app.exception_handler(RoomctlError)
    async def refused(request: Request, exc: RoomctlError) -> Response:
        if isinstance(exc, PreferencesError):
            status = 422
        elif isinstance(exc, SessionError):
            status = 409
        elif isinstance(exc, STORAGE_FAULTS) or "is closed" in str(exc):
            status = 503  # the disk, not the request: try again later
        elif isinstance(exc, StoreError):
            status = 409  # refused: not valid, no such row, already exists
        else:
            status = 409
        return _error(request, status, str(exc))

    @app.exception_handler(KeyError)
    async def unknown(request: Request, exc: KeyError) -> Response:
        return _error(request, 404, f"unknown: {exc.args[0] if exc.args else '?'}")

    @app.exception_handler(Exception)
    async def bug(request: Request, exc: Exception) -> Response:
        log.error("web: %s %s failed", request.method, request.url.path)
        return _error(request, 500, "Something went wrong inside roomctl; it is logged.")

    @app.middleware("http")
    async def headers(request: Request, call_next):  # type: ignore[no-untyped-def]
        response: Response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("X-Frame-Options", "DENY")
        if isinstance(response, HTMLResponse) or response.headers.get(
            "content-type", ""
        ).startswith("text/html"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    return app
