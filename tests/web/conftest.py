"""A daemon on the emulated demo room with its web app on a free loopback port, a facilitator
and an admin login, and httpx clients that log in through the real login form."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from roomctl.clock import ScaledClock
from roomctl.control.daemon import Daemon
from roomctl.model.address import HostPort
from roomctl.model.library import load_library
from roomctl.sim.demo import DemoRoom
from roomctl.web.server import WebService
from tests.daemon_support import settings_for

SPEED = 20.0
PASSWORD = "correct horse battery"
DARK_ROOM = {light: {"on": False} for light in ("lamp", "reading", "strip", "ceiling")}


@dataclass
class Site:
    daemon: Daemon
    room: DemoRoom
    service: WebService
    url: str
    stop: asyncio.Event
    task: asyncio.Task[None]

    @property
    def web(self) -> Any:
        assert self.service.web is not None
        return self.service.web

    @contextlib.asynccontextmanager
    async def login(
        self, username: str = "ana", password: str = PASSWORD
    ) -> AsyncIterator[httpx.AsyncClient]:
        """An httpx client logged in through the login form; its CSRF token in `.headers`."""
        async with httpx.AsyncClient(base_url=self.url, timeout=30) as client:
            await self._login(client, username, password)
            yield client

    async def _login(self, client: httpx.AsyncClient, username: str, password: str) -> None:
        page = await client.get("/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf is not None
        r = await client.post(
            "/login", data={"username": username, "password": password, "csrf": csrf[1]}
        )
        assert r.status_code == 303, r.text
        tablet = await client.get("/")
        token = re.search(r'<meta name="csrf" content="([^"]+)"', tablet.text)
        assert token is not None, tablet.text[:500]
        client.headers["X-CSRF-Token"] = token[1]


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    clock = ScaledClock(SPEED)
    async with DemoRoom.start(clock, tmp_path) as room:
        cfg = room.config()
        for dev in cfg["devices"]:
            if dev["driver"] in ("kasa", "sonos"):
                dev["timeout_s"] = 1.0
        path = tmp_path / "daemon.yaml"
        path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
        daemon = Daemon(load_library(path), clock, settings=settings_for(clock), poll_s=1.0)

        async def logins(d: Daemon) -> None:
            assert d.store is not None
            await asyncio.to_thread(d.store.add_user, "ana", PASSWORD, "facilitator")
            await asyncio.to_thread(d.store.add_user, "root", PASSWORD, "admin")

        service = WebService(HostPort("127.0.0.1", 0), before=logins)
        daemon.services.append(("web", service))
        stop = asyncio.Event()
        task = asyncio.create_task(daemon.run(stop), name="daemon-under-test")
        listening = asyncio.ensure_future(service.listening.wait())
        await asyncio.wait({listening, task}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
        listening.cancel()
        if task.done():
            task.result()
        assert service.listening.is_set(), "the web app did not listen within 30 s"
        site = Site(daemon, room, service, f"http://127.0.0.1:{service.port}", stop, task)
        try:
            yield site
        finally:
            stop.set()
            done, _ = await asyncio.wait({task}, timeout=15)
            assert done, "the daemon did not stop within 15 s"
            task.result()
