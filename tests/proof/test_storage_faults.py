"""The disk full, and the database read-only, while a session runs: a note or a cue given through
the command line (handed to the daemon over its socket) and through the web API gets a clear
refusal (one line and a non-zero exit; a 503 with a JSON message), the room keeps its state,
the daemon keeps running, and the next command is served once the disk is writable again."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest

from roomctl.clock import SystemClock
from roomctl.control.daemon import Daemon
from roomctl.model.address import HostPort
from roomctl.model.events import EventKind
from roomctl.model.library import load_library
from roomctl.sim.demo import DemoRoom
from roomctl.web.server import WebService
from tests.cli_support import one_line
from tests.daemon_support import DARK_ROOM, run_cli, settings_for
from tests.faults import SmallDisk, small_disk, write_config
from tests.test_store_faults import conn_of
from tests.web.conftest import PASSWORD, Site


@pytest.fixture
async def site_on_disk(tmp_path: Path) -> AsyncIterator[tuple[Site, SmallDisk, Path]]:
    """The demo room's daemon with its web app, its database on a small disk of its own."""
    clock = SystemClock()
    with small_disk(tmp_path, 2048) as disk:
        async with DemoRoom.start(clock, tmp_path) as room:
            config = write_config(
                room, tmp_path / "c.yaml", storage={"path": str(disk.path / "roomctl.db")}
            )
            daemon = Daemon(load_library(config), clock, settings=settings_for(clock))

            async def logins(d: Daemon) -> None:
                assert d.store is not None
                await asyncio.to_thread(d.store.add_user, "ana", PASSWORD, "facilitator")

            service = WebService(HostPort("127.0.0.1", 0), before=logins)
            daemon.services.append(("web", service))
            stop = asyncio.Event()
            task = asyncio.create_task(daemon.run(stop), name="daemon-under-test")
            await asyncio.wait_for(service.listening.wait(), 30)
            site = Site(daemon, room, service, f"http://127.0.0.1:{service.port}", stop, task)
            try:
                yield site, disk, config
            finally:
                disk.free()
                stop.set()
                await asyncio.wait_for(task, 15)


async def refused(site: Site, config: Path | None, web: httpx.AsyncClient, reason: str) -> None:
    """A note through the CLI (unless `config` is None) and a cue through the API are refused,
    saying `reason`."""
    if config is not None:
        code, out, err = await run_cli(config, "session", "note", "a quiet moment")
        assert code != 0 and "Traceback" not in out + err
        assert reason in one_line(err).lower(), err
    r = await web.post("/api/session/cue", json={"cue": "talk"})
    assert r.status_code == 503, (r.status_code, r.text)
    assert reason in r.json()["detail"].lower()
    assert not site.task.done()  # the daemon keeps running


async def served(site: Site, config: Path, web: httpx.AsyncClient) -> None:
    code, out, err = await run_cli(config, "session", "note", "back to normal")
    assert code == 0, out + err
    r = await web.post("/api/session/cue", json={"cue": "talk"})
    assert r.status_code == 200, r.text
    assert site.daemon.session is not None
    status = site.daemon.session.snapshot().status
    assert status is not None and status.cue == "talk"
    r = await web.post("/api/session/cue-off", json={})
    assert r.status_code == 200, r.text


def kinds(site: Site) -> Callable[[], list[EventKind]]:
    return lambda: [e.kind for e in site.daemon.session.events]  # type: ignore[union-attr]


async def test_full_disk_then_read_only_disk(site_on_disk: tuple[Site, SmallDisk, Path]) -> None:
    site, disk, config = site_on_disk
    control = site.daemon.session
    assert control is not None
    control.start("psilocybin", by="test", room=DARK_ROOM)
    events = kinds(site)
    async with site.login() as web:
        desired = control.desired(control.now())
        stored = events()

        disk.fill()
        await refused(site, config, web, "full")
        assert events() == stored  # nothing half-written
        assert control.snapshot().status.cue is None  # type: ignore[union-attr]
        assert control.desired(control.now()) == desired  # the room keeps its state
        disk.free()
        await served(site, config, web)

        # The database turns read-only under the running daemon (as after the kernel remounts
        # a failing SD card read-only; a tmpfs in use cannot be remounted, so SQLite itself is
        # told to refuse writes on the daemon's connection).  The command line writes through
        # a connection of its own (then pokes the daemon), so only the API meets this one; a
        # CLI on a read-only database is tests/test_faults_daemon.py's case.
        assert site.daemon.store is not None
        conn = conn_of(site.daemon.store)
        stored = events()
        conn.execute("PRAGMA query_only = ON")
        await refused(site, None, web, "read-only")
        assert events() == stored
        assert control.desired(control.now()) == control.desired(control.now())
        conn.execute("PRAGMA query_only = OFF")
        await served(site, config, web)
