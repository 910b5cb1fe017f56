"""The daemon under test on the demo room: start and stop it, run the command line beside it,
and compare what the emulated devices show with what the session wants."""

from __future__ import annotations

import asyncio
import io
import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from roomctl.clock import Clock, ScaledClock
from roomctl.control.daemon import Daemon
from roomctl.engine.reconciler import EngineSettings
from roomctl.model.events import EventKind
from roomctl.model.library import load_library
from roomctl.model.state import DeviceState, LightState, PlayerState, ThermostatState
from roomctl.sim.demo import DemoRoom
from roomctl.store.store import Store
from tests.helpers import until

ROOT = Path(__file__).resolve().parent.parent


SPEED = 200.0


DEVICE_TIMEOUT_S = 1.0


LIGHTS = ("lamp", "reading", "strip", "ceiling")


DARK_ROOM = {light_id: {"on": False} for light_id in LIGHTS}


# How close an emulator must be to the desired state (what a person would not see).
BRIGHTNESS_TOL = 2.5  # percent


MIRED_TOL = 12.0


HUE_TOL = 3.0


@dataclass
class Running:
    daemon: Daemon
    stop: asyncio.Event
    task: asyncio.Task[None]
    tasks_before: set[asyncio.Task[Any]] = field(default_factory=set)
    started_at: float = 0.0  # when the session started (clock time)

    @property
    def session(self) -> Any:
        assert self.daemon.session is not None
        return self.daemon.session

    @property
    def store(self) -> Store:
        assert self.daemon.store is not None
        return self.daemon.store

    @property
    def engine(self) -> Any:
        assert self.daemon.engine is not None
        return self.daemon.engine

    def command(self, kind: EventKind, data: dict[str, Any] | None = None) -> None:
        """A facilitator's command given in the daemon's own process (as a web UI would): the
        session wakes the engine itself."""
        self.session.command(kind, data, by="test")

    def desired(self) -> Mapping[str, DeviceState]:
        return self.session.desired(self.daemon.clock.now())  # type: ignore[no-any-return]


def settings_for(clock: Clock) -> EngineSettings:
    speed = clock.speed if isinstance(clock, ScaledClock) else 1.0
    return EngineSettings(
        transition_scale=1.0 / speed,  # the emulators fade in real time
        readback_s=0,  # no read-back: a mid-fade reading must not become a manual override
        max_volume_rise_per_10s=6,
        # at real time, shorter than the defaults (10 s, 5 s) to keep the tests short
        catch_up_s=10.0 if speed > 1 else 1.0,
        idle_check_s=5.0 if speed > 1 else 2.0,
    )


async def start_daemon(config: Path, clock: Clock, **kwargs: Any) -> Running:
    """A daemon on `config`, ready; `kwargs` are more Daemon keyword arguments."""
    before = asyncio.all_tasks()
    options: dict[str, Any] = {"settings": settings_for(clock), "poll_s": 1.0, **kwargs}
    daemon = Daemon(load_library(config), clock, **options)
    stop = asyncio.Event()
    task = asyncio.create_task(daemon.run(stop), name="daemon-under-test")
    ready = asyncio.ensure_future(daemon.ready.wait())
    await asyncio.wait({ready, task}, timeout=15, return_when=asyncio.FIRST_COMPLETED)
    ready.cancel()
    if task.done():
        task.result()  # raise what stopped it
    assert daemon.ready.is_set(), "the daemon did not get ready within 15 s"
    return Running(daemon, stop, task, before)


async def stop_daemon(run: Running, timeout_s: float = 5.0) -> None:
    """Stop the daemon as SIGTERM does (`stop.set()`) and wait for it to end by itself."""
    run.stop.set()
    done, _ = await asyncio.wait({run.task}, timeout=timeout_s)
    if not done:
        stacks = io.StringIO()
        for task in asyncio.all_tasks():
            task.print_stack(limit=4, file=stacks)
        for task in asyncio.all_tasks():  # clean up what is stuck, then say so
            if task.get_name().startswith(("device:", "engine", "daemon-under-test")):
                task.cancel()
        await asyncio.wait({run.task}, timeout=timeout_s)
        pytest.fail(f"the daemon did not stop within {timeout_s:g} s:\n{stacks.getvalue()}")
    run.task.result()  # ended without an exception


def _mired(kelvin: float) -> float:
    return 1e6 / kelvin


# The colour-temperature range of each emulated light (the drivers clamp to it).
KELVIN_RANGE = {"lamp": (2500, 9000), "strip": (2500, 9000), "ceiling": (2000, 6536)}


def light_mismatch(dev_id: str, want: LightState, room: DemoRoom, tol: float) -> str | None:
    if dev_id == "ceiling":
        assert room.ceiling is not None
        out = room.ceiling.output()
        on, bri = out["level"] >= 0.5, out["level"] / 254 * 100
        ct: float | None = 1e6 / out["color_temp"]
        hue = sat = None
    else:
        s = room.kasa[dev_id].state
        on, bri, ct, hue, sat = s["on"], s["brightness"], s["color_temp"], s["hue"], s["saturation"]
    shown = f"{dev_id}: shows on={on} {bri:.1f}% ct={ct} hue={hue} sat={sat}, wants {want}"
    if not want.on:
        return shown if on else None
    if not on or want.brightness_pct is None or abs(bri - want.brightness_pct) > tol:
        return shown
    if want.color_temp_k is not None and ct:
        low, high = KELVIN_RANGE[dev_id]
        kelvin = min(max(want.color_temp_k, low), high)
        if abs(_mired(ct) - _mired(kelvin)) > MIRED_TOL * tol / BRIGHTNESS_TOL:
            return shown
    if want.hue is not None and hue is not None and sat is not None:
        dh = abs((hue - want.hue + 180) % 360 - 180)
        if dh > HUE_TOL * tol / BRIGHTNESS_TOL or abs(sat - (want.saturation or 0)) > HUE_TOL:
            return shown
    return None


def mismatches(
    room: DemoRoom,
    desired: Mapping[str, DeviceState],
    *,
    skip: tuple[str, ...] = (),
    tol: float = BRIGHTNESS_TOL,
) -> list[str]:
    """What the emulators show that differs from `desired` (empty: the room follows)."""
    out: list[str] = []
    for dev_id, want in desired.items():
        if dev_id in skip:
            continue
        problem: str | None = None
        if isinstance(want, LightState):
            problem = light_mismatch(dev_id, want, room, tol)
        elif isinstance(want, PlayerState):
            assert room.sonos is not None
            c = room.sonos.coordinator
            playing = c.transport_state == "PLAYING"
            src = want.source
            if src is not None and src.is_silence and playing:
                problem = f"speakers: still playing {c.current_title}"
            elif (
                src is not None
                and not src.is_silence
                and (not playing or not c.current_title.startswith(src.name))
            ):
                problem = f"speakers: {c.transport_state} {c.current_title!r}, wants {src}"
            elif want.volume is not None and abs(c.volume - want.volume) > 1:
                problem = f"speakers: volume {c.volume}, wants {want.volume}"
        elif isinstance(want, ThermostatState) and dev_id == "radiator":
            assert room.radiator is not None
            if abs(room.radiator.setpoint_c - want.setpoint_c) > 0.5:
                problem = f"radiator: {room.radiator.setpoint_c} °C, wants {want}"
        if problem:
            out.append(problem)
    return out


async def follows(
    run: Running, room: DemoRoom, timeout_s: float, *, skip: tuple[str, ...] = ()
) -> float:
    """Wait until the session's fades are over and the emulators show what it wants."""
    last: list[str] = []

    def steady() -> bool:
        now = run.daemon.clock.now()
        return bool(run.session.desired(now) == run.session.desired(now + 60.0))

    await until(steady, timeout_s, lambda: f"the fades to end: {run.desired()}")

    def check() -> bool:
        nonlocal last
        last = mismatches(room, run.desired(), skip=skip)
        return not last

    return await until(check, timeout_s, lambda: last)


def light(run: Running, dev_id: str) -> LightState:
    state = run.desired()[dev_id]
    assert isinstance(state, LightState)
    return state


def emergency_parts(room: DemoRoom) -> dict[str, bool]:
    """Per device: at full brightness (4000 K where it has colour temperature) / music paused."""
    k, ceiling, sonos = room.kasa, room.ceiling, room.sonos
    assert ceiling is not None and sonos is not None
    out = ceiling.output()

    def kasa(dev_id: str, kelvin: bool) -> bool:
        s = k[dev_id].state
        return bool(s["on"] and s["brightness"] == 100 and (not kelvin or s["color_temp"] == 4000))

    return {
        "lamp": kasa("lamp", True),
        "reading": kasa("reading", False),
        "strip": kasa("strip", True),
        "ceiling": out["level"] >= 253.5 and abs(out["color_temp"] - 250) <= 1,  # 4000 K
        "speakers": sonos.coordinator.transport_state != "PLAYING",
    }


def emergency_shown(room: DemoRoom) -> bool:
    return all(emergency_parts(room).values())


async def time_to_emergency(room: DemoRoom, timeout_s: float = 5.0) -> dict[str, float]:
    """Real seconds until each device showed the emergency (polled every 10 ms)."""
    began = time.monotonic()
    seen: dict[str, float] = {}
    while time.monotonic() - began < timeout_s:
        for dev_id, shown in emergency_parts(room).items():
            if shown and dev_id not in seen:
                seen[dev_id] = round(time.monotonic() - began, 2)
        if len(seen) == 5:
            return seen
        await asyncio.sleep(0.01)
    pytest.fail(f"no emergency within {timeout_s:g} s: {seen}, {room.shown()}")


async def run_cli(config: Path, *argv: str) -> tuple[int, str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "roomctl", *argv, "--config", str(config),
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()
