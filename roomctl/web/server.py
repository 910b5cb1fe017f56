"""The web app as a service of the daemon: uvicorn serving on the daemon's own event loop, so a
tap reaches SessionControl with no process or thread in between."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Awaitable, Callable, Generator
from pathlib import Path
from typing import Any

import uvicorn

from roomctl.control.daemon import Daemon
from roomctl.devices.base import Player
from roomctl.errors import StoreError
from roomctl.model.address import HostPort
from roomctl.mqtt.overview import ClinicOverview
from roomctl.web.app import build_app
from roomctl.web.context import Web, load_secret
from roomctl.web.preview import RoomPreview
from roomctl.web.sample import MusicSample

__all__ = ["WebService", "secret_path"]

log = logging.getLogger(__name__)
STOP_TIMEOUT_S = 5.0


def secret_path(store_path: Path) -> Path:
    return store_path.with_name(store_path.name + ".web-secret")


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling (the daemon owns SIGTERM/SIGINT), and with an
    event set the moment it listens, so that READY is not held back by polling."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.listening = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self.listening.set()


class WebService:
    """Register with ``daemon.services.append(("web", WebService(address)))``; `web` and
    `port` are set once it listens (port 0 picks a free one)."""

    def __init__(
        self,
        address: HostPort,
        on_listen: Callable[[str], None] | None = None,
        *,
        before: Callable[[Daemon], Awaitable[None]] | None = None,
    ) -> None:
        self.address = address
        self.on_listen = on_listen
        self.before = before
        self.web: Web | None = None
        self.port: int | None = None
        self.listening = asyncio.Event()
        self._following: asyncio.Task[None] | None = None

    async def __call__(self, daemon: Daemon) -> None:
        assert daemon.session is not None and daemon.engine is not None
        players = {k: d for k, d in daemon.devices.items() if isinstance(d, Player)}
        sample = MusicSample(daemon.session, players, daemon.settings) if players else None
        preview = RoomPreview(daemon.session, sample=sample)
        if sample is not None:
            sample.listeners.append(daemon.engine.wake)
        preview.listeners.append(daemon.engine.wake)
        daemon.engine.set_desired(preview.desired)
        self.web = web = Web(daemon, load_secret(secret_path(daemon.store_path)), preview)
        _purge_expired_logins(web)
        mqtt = daemon.lib.room.mqtt
        if daemon.bus is not None and mqtt is not None:  # the clinic's rooms, as they publish
            web.overview = ClinicOverview(mqtt.base_topic)
            self._following = asyncio.create_task(
                web.overview.follow(daemon.bus), name="web:overview"
            )
        if self.before is not None:
            await self.before(daemon)
        self._app = app = build_app(web)
        config = uvicorn.Config(
            app,
            host=self.address.host,
            port=self.address.port_or(8080),
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=2,
        )
        try:
            sock = _bind(self.address.host, self.address.port_or(8080))
        except OSError as exc:  # one line; the room goes on without its web face
            log.error("web: cannot listen on %s: %s", self.address, exc.strerror or exc)
            return
        server = _Server(config)
        task = asyncio.create_task(server.serve(sockets=[sock]), name="web-serve")
        try:
            await self._wait_started(server, task)
            await asyncio.shield(task)
        finally:
            if self._following is not None:
                self._following.cancel()
            web.closing.set()
            server.should_exit = True
            done, _ = await asyncio.wait({task}, timeout=STOP_TIMEOUT_S)
            if not done:
                server.force_exit = True
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _wait_started(self, server: _Server, task: asyncio.Task[Any]) -> None:
        listening = asyncio.ensure_future(server.listening.wait())
        try:
            await asyncio.wait({listening, task}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            listening.cancel()
        if not server.started:
            raise OSError(f"the web app could not start on {self.address}")
        sockets = [s for srv in server.servers for s in (srv.sockets or ())]
        self.port = int(sockets[0].getsockname()[1]) if sockets else self.address.port
        url = f"http://{self.address.host}:{self.port}/"
        log.info("web: the tablet is at %s", url)
        self.listening.set()
        if self.on_listen is not None:
            self.on_listen(url)


def _purge_expired_logins(web: Web) -> None:
    """Cookie sessions past their max age are of no use: delete them (best effort)."""
    try:
        purged = web.store.purge_web_sessions(now=time.time())
    except StoreError as exc:  # a read-only database: they stay, and stay refused
        log.info("web: expired logins not purged: %s", exc)
        return
    if purged:
        log.info("web: %d expired login(s) purged", purged)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock
