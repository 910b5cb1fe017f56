"""A command from another process acts at once: `roomctl session emergency` beside the daemon is
handed to it over its command socket (not left for the store poll), and the command line's
hand-off imports no device, MQTT or pydantic code."""

from __future__ import annotations

import asyncio
import os
import stat
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from roomctl.clock import SystemClock
from roomctl.control.paths import socket_paths
from roomctl.sim.demo import DemoRoom
from tests.daemon_support import ROOT, emergency_shown, follows, run_cli, stop_daemon
from tests.faults import start, write_config
from tests.helpers import until

HEAVY = ("pydantic", "kasa", "soco", "aiomqtt", "paho")


@pytest.fixture
async def beside(tmp_path: Path) -> AsyncIterator[tuple[DemoRoom, Path, Any]]:
    """A daemon on the demo room that looks at the store only once a minute."""
    async with DemoRoom.start(SystemClock(), tmp_path) as room:
        config = write_config(room, tmp_path / "c.yaml")
        assert room.sonos is not None
        for speaker in room.sonos.speakers:
            speaker.volume = 14
        run = await start(config, SystemClock(), poll_s=60.0)
        try:
            run.session.start("psilocybin", by="test")
            await follows(run, room, 10)
            yield room, config, run
        finally:
            await stop_daemon(run)


async def test_an_emergency_from_the_command_line_is_handed_to_the_daemon(
    beside: tuple[DemoRoom, Path, Any],
) -> None:
    room, config, run = beside
    code, out, err = await run_cli(config, "session", "emergency", "--by", "alice")
    returned = time.monotonic()
    assert code == 0, err
    assert "[EMERGENCY]" in out
    await until(lambda: emergency_shown(room), 1.0, room.shown)  # no store poll for a minute
    assert time.monotonic() - returned < 1.0
    event = run.session.events[-1]
    assert (event.kind.value, event.by) == ("emergency_on", "alice")
    sock = next(p for p in socket_paths(run.daemon.store_path) if p.exists())
    assert stat.S_IMODE(sock.stat().st_mode) == 0o600


async def test_the_hand_off_imports_only_what_it_needs(beside: tuple[DemoRoom, Path, Any]) -> None:
    _, config, _ = beside
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-X", "importtime", "-m", "roomctl", "session", "status",
        "--config", str(config),
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0, err.decode()
    assert "psilocybin" in out.decode()
    modules = [line.rsplit("|", 1)[-1].strip() for line in err.decode().splitlines()]
    heavy = [m for m in modules if m.split(".")[0] in HEAVY]
    assert not heavy, heavy


async def test_a_cue_from_the_command_line_is_handed_to_the_daemon_without_heavy_imports(
    beside: tuple[DemoRoom, Path, Any],
) -> None:
    _, config, run = beside
    code, out, err = await run_cli(config, "session", "cue", "talk", "--by", "bob")
    assert code == 0, err
    assert "cue talk" in out, out
    event = run.session.events[-1]  # in the daemon at once: its store poll is a minute away
    assert (event.kind.value, event.data, event.by) == ("cue_on", {"cue": "talk"}, "bob")
    code, _, err = await run_cli(config, "session", "cue", "tlak")
    assert code == 2
    assert err.startswith("roomctl: ") and "tlak" in err and "Traceback" not in err, err
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-X", "importtime", "-m", "roomctl", "session", "cue", "break",
        "--config", str(config),
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    _, imports = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0, imports.decode()
    modules = [line.rsplit("|", 1)[-1].strip() for line in imports.decode().splitlines()]
    assert not [m for m in modules if m.split(".")[0] in HEAVY]
