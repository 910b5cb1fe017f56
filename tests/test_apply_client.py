"""`roomctl apply SCENE --client ID`: a rehearsal in the real room with a stored client's latest
preferences, through `python -m roomctl` and the real drivers against the demo room's emulators.
An unknown or deleted client is refused with one clear line."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from roomctl.clock import SystemClock
from roomctl.sim.demo import DemoRoom
from tests.faults import write_config

ROOT = Path(__file__).resolve().parent.parent
WISHES = "brightness_max_pct: 15\nvolume_max: 12\ntemperature_c: 25\n"


@dataclass
class Rig:
    room: DemoRoom
    config: Path


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async with DemoRoom.start(SystemClock(), tmp_path) as room:
        yield Rig(room, write_config(room, tmp_path / "c.yaml"))


async def roomctl(rig: Rig, *argv: str) -> tuple[int, str, str]:
    """`python -m roomctl ARGV --config …` as a user runs it (no terminal)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "roomctl", *argv, "--config", str(rig.config),
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode is not None
    assert b"Traceback" not in out + err
    return proc.returncode, out.decode(), err.decode()


async def client_with_wishes(rig: Rig) -> str:
    code, out, err = await roomctl(rig, "client", "add")
    assert code == 0, err
    cid = out.strip()
    wishes = rig.config.parent / "wishes.yaml"
    wishes.write_text(WISHES, encoding="utf-8")
    code, _, err = await roomctl(rig, "client", "prefs", cid, "--set", str(wishes), "--consent")
    assert code == 0, err
    return cid


async def test_apply_with_a_clients_preferences_shows_them_in_the_room(rig: Rig) -> None:
    cid = await client_with_wishes(rig)
    code, out, err = await roomctl(rig, "apply", "calm", "--client", cid, "--transition", "0")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == f"client {cid}: preferences v1"
    assert lines[1] == "The room's limits override some of the client's choices:"
    assert "25 °C" in lines[2] and "24 °C" in lines[2], lines  # the room's band wins
    devices = {line.split()[0] for line in lines[3:]}
    assert {"lamp", "speakers", "radiator"} <= devices, out
    # calm is lamp 20 %, volume 18, 21.5 °C; the client's choices, within the limits, win
    lamp = rig.room.kasa["lamp"].state
    assert (lamp["on"], lamp["brightness"]) == (True, 15)
    assert rig.room.sonos is not None and rig.room.sonos.coordinator.volume == 12
    assert rig.room.radiator is not None and rig.room.radiator.setpoint_c == 24.0


async def test_apply_without_a_client_is_unchanged(rig: Rig) -> None:
    code, out, err = await roomctl(rig, "apply", "calm", "--transition", "0")
    assert code == 0, err
    assert not out.startswith("client")
    assert rig.room.kasa["lamp"].state["brightness"] == 20


async def test_apply_refuses_an_unknown_or_deleted_client(rig: Rig) -> None:
    before = dict(rig.room.kasa["lamp"].state)
    code, out, err = await roomctl(rig, "apply", "calm", "--client", "c-nobody00")
    assert code != 0 and out == ""
    assert err.splitlines() == [err.strip()] and "c-nobody00" in err, err

    cid = await client_with_wishes(rig)
    code, _, err = await roomctl(rig, "client", "delete", cid, "--yes")
    assert code == 0, err
    code, out, err = await roomctl(rig, "apply", "calm", "--client", cid)
    assert code != 0 and out == ""
    assert len(err.splitlines()) == 1 and cid in err and "deleted" in err, err
    assert rig.room.kasa["lamp"].state["brightness"] == before["brightness"]  # nothing applied
