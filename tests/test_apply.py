"""`roomctl apply SCENE` against the demo room's emulators, through the real drivers
(python-kasa, SoCo, MQTT): one line per device with its time, the emulators show the scene, and a
dead or hung device fails on its own line without holding up the others."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from roomctl.cli.main import main
from roomctl.clock import SystemClock
from roomctl.sim.demo import DemoRoom
from tests.helpers import until

ROOT = Path(__file__).resolve().parent.parent
DEVICES = ["lamp", "reading", "strip", "ceiling", "speakers", "radiator", "room-heat"]
KASA_TIMEOUT_S = 3.0
LINE = re.compile(r"^(\S+)\s+(ok|FAILED)\s+(\d+\.\d\d) s  (.*)$")


@dataclass(frozen=True)
class Result:
    ok: bool
    elapsed_s: float
    detail: str


@dataclass
class Rig:
    room: DemoRoom
    config: Path


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    """The demo room's emulators, and a config for them with short device timeouts."""
    async with DemoRoom.start(SystemClock(), tmp_path) as room:
        cfg = room.config()
        for dev in cfg["devices"]:
            if dev["driver"] in ("kasa", "sonos"):
                dev["timeout_s"] = KASA_TIMEOUT_S
        path = tmp_path / "apply.yaml"
        path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
        yield Rig(room, path)


def parse(out: str) -> dict[str, Result]:
    """One line per device, in the config's order."""
    results: dict[str, Result] = {}
    for line in out.splitlines():
        m = LINE.match(line)
        assert m, f"unexpected line {line!r} in:\n{out}"
        results[m[1]] = Result(m[2] == "ok", float(m[3]), m[4])
    assert list(results) == DEVICES, out
    return results


async def apply(
    capsys: pytest.CaptureFixture[str], config: Path, *extra: str
) -> tuple[int, dict[str, Result], str]:
    """`roomctl apply calm` in a worker thread (it runs its own event loop), while the
    emulators keep serving on this one."""
    argv = ["apply", "calm", "--config", str(config), "--transition", "0", *extra]
    code = await asyncio.wait_for(asyncio.to_thread(main, argv), timeout=30)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, parse(out), err


def assert_calm(room: DemoRoom, *, skip: tuple[str, ...] = ()) -> None:
    """The emulators show the `calm` scene (read from the emulators themselves)."""
    k = room.kasa
    if "lamp" not in skip:
        lamp = k["lamp"].state
        assert (lamp["on"], lamp["brightness"], lamp["color_temp"]) == (True, 20, 2700)
        assert not lamp["fading"]  # --transition 0
    if "reading" not in skip:
        assert (k["reading"].state["on"], k["reading"].state["brightness"]) == (True, 20)
    if "strip" not in skip:
        strip = k["strip"].state
        assert (strip["brightness"], strip["hue"], strip["saturation"]) == (10, 30, 70)
    assert room.ceiling is not None and room.ceiling.on is False
    assert room.ceiling.output()["level"] == 0
    sonos = room.sonos
    assert sonos is not None
    if "speakers" not in skip:
        assert sonos.coordinator.transport_state == "PLAYING"
        assert sonos.coordinator.current_title.startswith("Calm Waters")
        assert sonos.coordinator.volume == 18
    assert room.radiator is not None and room.radiator.setpoint_c == 21.5


async def test_apply_shows_the_scene_on_every_device(
    rig: Rig, capsys: pytest.CaptureFixture[str]
) -> None:
    code, results, err = await apply(capsys, rig.config)
    assert code == 0, err
    assert all(r.ok for r in results.values()), results
    assert results["lamp"].detail == "20% 2700 K"
    assert results["reading"].detail == "20%"
    assert results["strip"].detail == "10% hue 30° sat 70%"
    assert results["ceiling"].detail == "off"
    assert results["speakers"].detail == "Calm Waters, volume 18"
    assert results["radiator"].detail == "21.5 °C"
    assert all(r.elapsed_s < KASA_TIMEOUT_S for r in results.values())
    assert "devices failed" not in err
    assert_calm(rig.room)
    # every Kasa connection was closed again
    await until(lambda: all(e.open_connections == 0 for e in rig.room.kasa.values()))


async def test_apply_with_a_device_that_refuses_connections(
    rig: Rig, capsys: pytest.CaptureFixture[str]
) -> None:
    strip = rig.room.kasa["strip"]
    await strip.refuse_connections()
    before = strip.state
    code, results, err = await apply(capsys, rig.config)
    assert code == 1
    failed = results["strip"]
    assert not failed.ok
    assert f"{strip.host}:{strip.port}" in failed.detail
    assert "Connect call failed" in failed.detail or "refused" in failed.detail.lower()
    assert all(r.ok for d, r in results.items() if d != "strip"), results
    assert "1 of 7 devices failed" in err
    assert strip.state == before  # nothing reached it
    assert_calm(rig.room, skip=("strip",))


async def test_a_hung_device_does_not_delay_the_others(
    rig: Rig, capsys: pytest.CaptureFixture[str]
) -> None:
    lamp = rig.room.kasa["lamp"]
    lamp.faults.silent = True  # accepts, reads, never answers
    code, results, err = await apply(capsys, rig.config, "--timeout", "10")
    assert code == 1
    hung = results["lamp"]
    assert not hung.ok
    assert hung.detail == f"no answer from {lamp.address} within {KASA_TIMEOUT_S:g} s"
    assert KASA_TIMEOUT_S - 0.1 <= hung.elapsed_s < KASA_TIMEOUT_S + 2
    others = {d: r for d, r in results.items() if d != "lamp"}
    assert all(r.ok for r in others.values()), results
    # the others finished long before the hung lamp gave up
    assert max(r.elapsed_s for r in others.values()) < KASA_TIMEOUT_S / 2, results
    assert "1 of 7 devices failed" in err
    assert_calm(rig.room, skip=("lamp",))


async def test_apply_overall_timeout_bounds_a_hung_device(
    rig: Rig, capsys: pytest.CaptureFixture[str]
) -> None:
    rig.room.kasa["reading"].faults.silent = True
    code, results, _ = await apply(capsys, rig.config, "--timeout", "1")
    assert code == 1
    assert results["reading"] == Result(False, results["reading"].elapsed_s, "no answer within 1 s")
    assert 0.9 <= results["reading"].elapsed_s < 2.5
    assert all(r.ok for d, r in results.items() if d != "reading"), results


async def test_apply_with_the_speaker_offline(rig: Rig, capsys: pytest.CaptureFixture[str]) -> None:
    sonos = rig.room.sonos
    assert sonos is not None
    await sonos.coordinator.go_offline()
    code, results, err = await apply(capsys, rig.config)
    assert code == 1
    assert not results["speakers"].ok
    assert "no answer" in results["speakers"].detail
    assert all(r.ok for d, r in results.items() if d != "speakers"), results
    assert "1 of 7 devices failed" in err
    assert_calm(rig.room, skip=("speakers",))


async def test_apply_as_a_process(rig: Rig) -> None:
    """The installed command, with one device gone: exit 1, a line per device, no traceback."""
    await rig.room.kasa["reading"].refuse_connections()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "roomctl", "apply", "calm", "--config", str(rig.config),
        "--transition", "0",
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 1, err.decode()
    assert b"Traceback" not in err
    results = parse(out.decode())
    assert not results["reading"].ok
    assert [d for d, r in results.items() if r.ok] == [d for d in DEVICES if d != "reading"]
    assert_calm(rig.room, skip=("reading",))


