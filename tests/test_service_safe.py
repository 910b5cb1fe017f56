"""Safe states on the demo room (real drivers, emulators, a real Mosquitto): with no session the
lights go to the safe level when the daemon starts and when it stops; a running session's room
is left as it is when the daemon stops; a reboot is told from a restart of the service by the
boot id (after a reboot mid-session the music waits paused: tests/test_power_cut.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from roomctl.clock import SystemClock
from roomctl.control.daemon import Daemon
from roomctl.control.safe_state import rebooted_since
from roomctl.errors import ConfigError
from roomctl.model.library import load_library
from roomctl.sim.demo import DemoRoom
from tests.daemon_support import DARK_ROOM, Running, settings_for, stop_daemon
from tests.faults import write_config
from tests.helpers import until

SAFE_PCT = 30
SAFE_K = 2700


async def start(config: Path, boot_id: str | None = "boot-1") -> Running:
    daemon = Daemon(load_library(config), SystemClock(), settings=settings_for(SystemClock()))
    daemon.boot_id = boot_id
    stop = asyncio.Event()
    task = asyncio.create_task(daemon.run(stop), name="daemon-under-test")
    ready = asyncio.ensure_future(daemon.ready.wait())
    await asyncio.wait({ready, task}, timeout=15, return_when=asyncio.FIRST_COMPLETED)
    ready.cancel()
    if task.done():
        task.result()
    assert daemon.ready.is_set()
    return Running(daemon, stop, task)


def at_safe_level(lamp: Any) -> bool:
    s = lamp.state
    return bool(s["on"]) and abs(s["brightness"] - SAFE_PCT) <= 1 and s["color_temp"] == SAFE_K


def test_the_safe_light_is_never_below_the_session_floor(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "room: {id: r, name: R}\n"
        "safety: {min_brightness_pct: 10, idle: {brightness_pct: 4}}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match="never dimmer than the session floor"):
        load_library(path)


def test_a_reboot_is_told_from_a_restart_by_the_boot_id(tmp_path: Path) -> None:
    marker = tmp_path / "r.db.boot"
    assert not rebooted_since(marker, "a")  # the first run: nothing to compare
    assert not rebooted_since(marker, "a")  # the service restarted in the same boot
    assert rebooted_since(marker, "b")  # the machine booted since
    assert not rebooted_since(marker, None)  # no boot id (not Linux): never a power cut
    assert marker.stat().st_mode & 0o777 == 0o600


async def test_with_no_session_the_lights_go_to_the_safe_level_at_start(tmp_path: Path) -> None:
    async with DemoRoom.start(SystemClock(), tmp_path) as room:
        lamp = room.kasa["lamp"]
        assert not at_safe_level(lamp)
        config = write_config(room, tmp_path / "c.yaml", safety={"idle": {"fade_s": 1}})
        run = await start(config)
        try:
            await until(lambda: at_safe_level(lamp), 10, lambda: lamp.state)
        finally:
            await stop_daemon(run, 10)


async def test_with_no_session_the_lights_go_to_the_safe_level_on_stop(tmp_path: Path) -> None:
    async with DemoRoom.start(SystemClock(), tmp_path) as room:
        lamp = room.kasa["lamp"]
        config = write_config(
            room, tmp_path / "c.yaml", safety={"idle": {"on_start": False, "fade_s": 1}}
        )
        run = await start(config)
        health = run.engine.health()
        await until(lambda: health["lamp"].landed is not None, 5, "the lamp read")
        await asyncio.sleep(0.5)
        assert not at_safe_level(lamp)  # left alone while the daemon ran
        await stop_daemon(run, 10)
        await until(lambda: at_safe_level(lamp), 5, lambda: lamp.state)


async def test_a_running_session_is_left_as_it_is_when_the_daemon_stops(tmp_path: Path) -> None:
    async with DemoRoom.start(SystemClock(), tmp_path) as room:
        lamp = room.kasa["lamp"]
        config = write_config(room, tmp_path / "c.yaml", safety={"idle": {"fade_s": 1}})
        run = await start(config)
        run.session.start("psilocybin", by="test", room=DARK_ROOM)
        await asyncio.sleep(1.0)
        before = dict(lamp.state)
        await stop_daemon(run, 10)
        await asyncio.sleep(1.0)
        assert not at_safe_level(lamp)  # where the session had it (its fade may finish)
        assert abs(lamp.state["brightness"] - before["brightness"]) <= 3, (before, lamp.state)
