"""Every route of the app, listed from the app itself: each one that reads health data or
changes anything refuses a call without credentials (401/403, or the tablet's redirect to the
login page); only the login page, a client link, the static files and the OpenAPI schema are
open.  Every HTML page starts with the dark background in its first bytes.  The OpenAPI schema
names a body model for every write."""

from __future__ import annotations

import re
from typing import Any

import httpx
from fastapi.routing import APIRoute
from starlette.routing import Mount, Route

from tests.web.conftest import Site

# Open without credentials, and why.
PUBLIC = {
    ("GET", "/login"): "the login form",
    ("POST", "/login"): "logging in",
    ("POST", "/logout"): "logging out (ends a session, reads nothing)",
    ("GET", "/c/{token}"): "a client's link: the token is the credential",
    ("GET", "/openapi.json"): "the API's shape, no data",
}
DUMMY = {"token": "rmt_not-a-token", "name": "calm", "session_id": "s-00000000",
         "client_id": "c-00000000", "username": "ana"}  # fmt: skip


def _walk(items: list[Any], prefix: str, out: list[tuple[str, str]]) -> None:
    for route in items:
        included = getattr(route, "original_router", None)  # FastAPI's included routers
        if included is not None:
            _walk(included.routes, prefix + route.include_context.prefix, out)
        elif isinstance(route, Mount):
            continue
        else:
            assert isinstance(route, APIRoute | Route), route
            out += [(m, prefix + route.path) for m in sorted(route.methods or ()) if m != "HEAD"]


def routes(site: Site) -> list[tuple[str, str]]:
    """Every (method, path) the app answers, read from the app itself."""
    out: list[tuple[str, str]] = []
    _walk(list(site.service._app.routes), "", out)
    return out


async def test_every_protected_route_refuses_without_credentials(site: Site) -> None:
    listed = routes(site)
    assert len(listed) > 40, listed
    async with httpx.AsyncClient(base_url=site.url) as http:
        for method, path in listed:
            url = re.sub(r"{(\w+)}", lambda m: DUMMY[m[1]], path)
            r = await http.request(method, url, json={})
            if (method, path) in PUBLIC:
                assert r.status_code < 500, (method, path, r.status_code)
                continue
            if path in ("/", "/client", "/overview") and method == "GET":  # pages: to the login
                assert r.status_code in (303, 401), (path, r.status_code)
                continue
            assert r.status_code in (401, 403), (method, path, r.status_code, r.text[:200])
            # a bearer token that is not one is refused too
            r = await http.request(method, url, json={},
                                   headers={"Authorization": "Bearer rmt_wrong"})  # fmt: skip
            assert r.status_code in (401, 403), (method, path, r.status_code)


async def test_pages_are_dark_from_the_first_byte(site: Site) -> None:
    async with httpx.AsyncClient(base_url=site.url, headers={"Accept": "text/html"}) as http:
        for path in ("/login", "/nothing-here", "/client", "/c/rmt_nope"):
            r = await http.get(path)
            head = r.text[:200]
            assert r.headers["content-type"].startswith("text/html"), path
            assert '<html style="background:#0b0b0c"' in head, (path, head)
            assert '<meta name="color-scheme" content="dark">' in head, path
            assert r.status_code < 500


async def test_openapi_names_a_schema_for_every_body(site: Site) -> None:
    async with httpx.AsyncClient(base_url=site.url) as http:
        spec = (await http.get("/openapi.json")).json()
    bodies = 0
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            body = op.get("requestBody")
            if body is not None:
                bodies += 1
                schema = body["content"]["application/json"]["schema"]
                assert "$ref" in schema or "anyOf" in schema, (method, path, schema)
    assert bodies >= 12
    assert "RoomState" in spec["components"]["schemas"]
