"""Cookie sessions live in the store: a logout holds after the web app is rebuilt on the same
database (as after a daemon restart), a new password or a removed login ends every cookie of
that user, and expired sessions are purged."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx

from roomctl.clock import VirtualClock
from roomctl.store.store import Store
from roomctl.web.app import build_app
from roomctl.web.auth import COOKIE
from roomctl.web.context import Web
from tests.web.conftest import PASSWORD, Site


def _restarted(site: Site) -> httpx.AsyncClient:
    """A client of a new app on the same daemon, store and secret: nothing kept in memory."""
    old = site.web
    web = Web(old.daemon, old.secret, old.preview)
    transport = httpx.ASGITransport(app=build_app(web))
    return httpx.AsyncClient(transport=transport, base_url="http://roomctl.test")


def _with(cookie: str) -> dict[str, str]:
    return {"Cookie": f"{COOKIE}={cookie}"}


async def _cookie_of(site: Site, username: str = "ana") -> tuple[str, str]:
    async with site.login(username) as http:
        cookie = http.cookies.get(COOKIE)
        assert cookie is not None
        return cookie, http.headers["X-CSRF-Token"]


async def test_a_logged_out_cookie_stays_refused_after_a_restart(site: Site) -> None:
    kept, _ = await _cookie_of(site)  # a second login of the same user: not logged out
    async with site.login() as http:
        cookie = http.cookies.get(COOKIE)
        assert cookie is not None
        assert (await http.get("/api/state")).status_code == 200
        r = await http.post("/logout", data={"csrf": http.headers["X-CSRF-Token"]})
        assert r.status_code == 303
    async with _restarted(site) as fresh:
        r = await fresh.get("/api/state", headers=_with(cookie))
        assert r.status_code == 401, r.text
        r = await fresh.get("/api/state", headers=_with(kept))
        assert r.status_code == 200, "logging out one cookie must not end another"
    async with httpx.AsyncClient(base_url=site.url, headers=_with(cookie)) as old:
        assert (await old.get("/api/state")).status_code == 401


async def test_a_new_password_or_a_removed_login_ends_their_cookies(site: Site) -> None:
    store = site.daemon.store
    assert store is not None
    await asyncio.to_thread(store.add_user, "ben", PASSWORD, "facilitator")
    ana, _ = await _cookie_of(site, "ana")
    ben, _ = await _cookie_of(site, "ben")
    root, _ = await _cookie_of(site, "root")
    async with httpx.AsyncClient(base_url=site.url) as http:
        assert (await http.get("/api/state", headers=_with(ana))).status_code == 200
        await asyncio.to_thread(store.set_password, "ana", "a new long password", by="root")
        assert (await http.get("/api/state", headers=_with(ana))).status_code == 401
        assert (await http.get("/api/state", headers=_with(ben))).status_code == 200
        bearer = {"Authorization": "Bearer " + store.create_token("admin-tool", "admin")[1]}
        r = await http.delete("/api/users/ben", headers=bearer)
        assert r.status_code == 200, r.text
        assert (await http.get("/api/state", headers=_with(ben))).status_code == 401
        assert (await http.get("/api/state", headers=_with(root))).status_code == 200


def test_expired_web_sessions_are_refused_and_purged(tmp_path: Path) -> None:
    with Store.open(tmp_path / "db.sqlite", VirtualClock(0.0)) as store:
        now = time.time()
        old = store.create_web_session("ana", now=now - 100, max_age_s=50)
        live = store.create_web_session("ana", now=now, max_age_s=50)
        assert not store.web_session_live(old, "ana", now=now)
        assert store.web_session_live(live, "ana", now=now)
        assert not store.web_session_live(live, "ben", now=now), "a session is its user's only"
        assert store.end_web_session(live, now=now)
        assert not store.end_web_session(live, now=now)
        assert not store.web_session_live(live, "ana", now=now)
        assert store.purge_web_sessions(now=now) == 1
        assert store.purge_web_sessions(now=now + 60) == 1
