"""The daemon on the demo room: real drivers (python-kasa, SoCo, MQTT through Mosquitto) against
the emulators, the session clock running 200 (or 400) times faster than real time, and at real
time where latency matters.

The emulated devices must follow the timeline's desired state; a Kasa light that dies mid-fade
is marked unavailable while the others go on, and gets the *current* state when it is back; a
speaker that refuses SetVolume affects nobody else; after a broker restart the Zigbee2MQTT light
follows again; an emergency reaches every light within about a second of real time; stopping
closes everything, and a new daemon resumes the same session from the store.

All waits are polls with deadlines (real time), never fixed sleeps.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from roomctl.clock import ScaledClock, SystemClock
from roomctl.control.daemon import Daemon
from roomctl.errors import StoreError
from roomctl.model.events import EventKind
from roomctl.model.library import load_library
from roomctl.model.state import LightState
from roomctl.sim.demo import DemoRoom
from tests.daemon_support import (
    BRIGHTNESS_TOL,
    DARK_ROOM,
    DEVICE_TIMEOUT_S,
    SPEED,
    Running,
    emergency_shown,
    follows,
    light,
    mismatches,
    run_cli,
    start_daemon,
    stop_daemon,
    time_to_emergency,
)
from tests.helpers import until

# ------------------------------------------------------------------- the rig


@dataclass
class Rig:
    room: DemoRoom
    config: Path
    clock: ScaledClock


@pytest.fixture
async def rig(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Rig]:
    """The demo room; its clock runs SPEED times real time (or as the test's parameter says)."""
    clock = ScaledClock(getattr(request, "param", SPEED))
    async with DemoRoom.start(clock, tmp_path) as room:
        cfg = room.config()
        for dev in cfg["devices"]:
            if dev["driver"] in ("kasa", "sonos"):
                dev["timeout_s"] = DEVICE_TIMEOUT_S
        path = tmp_path / "daemon.yaml"
        path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
        yield Rig(room, path, clock)


@pytest.fixture
async def running(rig: Rig) -> AsyncIterator[Running]:
    """A daemon on the demo room, following a psilocybin session that started in a dark room."""
    run = await start_daemon(rig.config, rig.clock)
    try:
        run.session.start("psilocybin", by="test", room=DARK_ROOM)
        yield run
    finally:
        await stop_daemon(run)


# ------------------------------------------------------- emulator vs desired


# ---------------------------------------------------------------------- tests


FASTER = pytest.mark.parametrize("rig", [400.0], indirect=True, ids=["400x"])


@FASTER
async def test_the_room_follows_the_session(running: Running, rig: Rig) -> None:
    room = rig.room
    lamp = room.kasa["lamp"]
    await follows(running, room, 10)
    # the settle phase's scene (arrival), not just "whatever": warm, home-like light
    assert light(running, "lamp") == LightState(on=True, brightness_pct=45.0, color_temp_k=2700)
    await until(lambda: lamp.state["brightness"] == 45, 3, lambda: lamp.state)
    assert room.sonos is not None and room.sonos.coordinator.current_title.startswith("Settling")

    # the next phase fades in over 600 clock seconds (1.5 s of real time): follow it mid-fade
    running.command(EventKind.ADVANCE)
    running.command(EventKind.EXTEND, {"minutes": 120})  # no phase change during the test
    assert running.session.snapshot().status.phase == "pre-onset"
    await until(lambda: (light(running, "lamp").brightness_pct or 0) < 42, 5, "the fade under way")
    for _ in range(3):  # sampled along the fade: within a little more than one step
        assert not mismatches(room, running.desired(), tol=5.0)
        await asyncio.sleep(0.15)
    await follows(running, room, 10)
    assert light(running, "lamp") == LightState(on=True, brightness_pct=30.0, color_temp_k=2500)
    health = running.engine.health()
    assert all(h.available and h.last_error is None for h in health.values()), health


@FASTER
async def test_a_kasa_light_dies_mid_fade_and_gets_the_current_state_back(
    running: Running, rig: Rig
) -> None:
    room = rig.room
    reading = room.kasa["reading"]
    await follows(running, room, 10)
    running.command(EventKind.ADVANCE)  # reading 45 % → 30 % over 600 clock s (1.5 s)
    running.command(EventKind.EXTEND, {"minutes": 120})  # no phase change during the test
    await until(lambda: reading.state["brightness"] <= 43, 5, lambda: reading.state)

    await reading.refuse_connections()  # unplugged mid-fade
    health = running.engine.health()
    await until(lambda: not health["reading"].available, 5, lambda: health["reading"])
    assert health["reading"].last_error
    await until(lambda: not reading.state["fading"], 3, lambda: reading.state)
    stale = reading.state["brightness"]  # where its last command took it

    # the others keep following while it is gone
    lamp_commands = health["lamp"].commands
    for _ in range(3):
        assert not mismatches(room, running.desired(), skip=("reading",), tol=5.0)
        await asyncio.sleep(0.1)
    await follows(running, room, 10, skip=("reading",))
    assert light(running, "reading").brightness_pct == 30.0
    assert health["lamp"].commands > lamp_commands
    assert all(h.available for d, h in health.items() if d != "reading"), health
    assert reading.state["brightness"] == stale  # nothing reached it
    assert stale - 30 > 2 * BRIGHTNESS_TOL  # so "current" and "stale" can be told apart

    await reading.accept_connections()
    await until(lambda: health["reading"].available, 10, lambda: health["reading"])
    await follows(running, room, 10)
    assert abs(reading.state["brightness"] - 30) <= BRIGHTNESS_TOL
    assert health["reading"].last_error is None


async def test_a_hung_kasa_light_does_not_hold_up_the_others(running: Running, rig: Rig) -> None:
    room = rig.room
    strip = room.kasa["strip"]
    await follows(running, room, 10)
    strip.faults.silent = True  # reads requests, never answers
    running.command(
        EventKind.OVERRIDE, {"device": "strip", "channel": "brightness_pct", "value": 60}
    )
    running.command(EventKind.CUE_ON, {"cue": "talk"})
    health = running.engine.health()
    await follows(running, room, 5, skip=("strip",))
    await until(lambda: not health["strip"].available, 5, lambda: health["strip"])
    assert "no answer" in (health["strip"].last_error or "")
    strip.faults.clear()
    await until(lambda: health["strip"].available, 10, lambda: health["strip"])
    await follows(running, room, 10)
    assert abs(strip.state["brightness"] - 60) <= BRIGHTNESS_TOL


async def test_a_speaker_refusing_set_volume_affects_nobody_else(
    running: Running, rig: Rig
) -> None:
    room = rig.room
    assert room.sonos is not None
    speaker = room.sonos.coordinator
    await follows(running, room, 10)
    speaker.fail_action("SetVolume")  # UPnP error 701 until cleared
    speaker.fail_action("SetRelativeVolume")  # (the engine's steps from a known volume)
    before = speaker.volume  # the arc may still be rising at this moment: 14 or a step on
    running.command(EventKind.CUE_ON, {"cue": "talk"})  # music down to 6, lights up
    health = running.engine.health()
    await until(
        lambda: "UPnP error 701" in (health["speakers"].last_error or ""),
        5,
        lambda: health["speakers"],
    )
    await follows(running, room, 5, skip=("speakers",))
    assert speaker.volume == before  # the refused change (down to 6) did not land
    assert health["speakers"].failures >= 1
    others = {d: h for d, h in health.items() if d != "speakers"}
    assert all(h.available and h.last_error is None for h in others.values()), others

    speaker.clear_faults()
    running.command(EventKind.CUE_OFF)
    await follows(running, room, 10)
    await until(lambda: health["speakers"].last_error is None, 5, lambda: health["speakers"])


async def test_the_ceiling_follows_again_after_a_broker_restart(running: Running, rig: Rig) -> None:
    room = rig.room
    ceiling = room.ceiling
    assert ceiling is not None
    await follows(running, room, 10)
    await room.broker.stop()
    running.command(EventKind.CUE_ON, {"cue": "talk"})  # ceiling 30 % → 15 %, lamp 45 → 35 %
    health = running.engine.health()
    # Kasa and Sonos do not need the broker
    await follows(running, room, 5, skip=("ceiling", "radiator"))
    await until(lambda: not health["ceiling"].available, 10, lambda: health["ceiling"])
    assert abs(ceiling.output()["level"] - 0.30 * 254) <= 1  # still where it was

    await room.broker.launch()
    await until(lambda: health["ceiling"].available, 15, lambda: health["ceiling"])
    await follows(running, room, 10)
    assert light(running, "ceiling") == LightState(on=True, brightness_pct=15.0, color_temp_k=2700)
    await until(lambda: abs(ceiling.output()["level"] - 38) <= 1, 3, ceiling.output)


async def test_stop_closes_everything_and_a_new_daemon_resumes_the_session(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    room = rig.room
    first = await start_daemon(rig.config, rig.clock)
    session = first.session.start("psilocybin", by="test", room=DARK_ROOM)
    await follows(first, room, 10)
    first.command(EventKind.JUMP, {"phase": "building"})
    first.command(EventKind.CUE_ON, {"cue": "check-in"})
    events = list(first.session.events)
    store = first.daemon.store
    assert store is not None

    with caplog.at_level(logging.WARNING):
        await stop_daemon(first)
    assert first.task.result() is None
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]
    # nothing the daemon started is left running
    current = asyncio.current_task()

    def leftovers() -> list[asyncio.Task[Any]]:
        """Tasks started since the daemon started, except the emulators' own (a Kasa connection
        handler, an emulated MQTT device's message loop and handlers)."""
        emulators = ("Queue.get", "KasaEmulator._serve")
        return [
            t
            for t in asyncio.all_tasks() - first.tasks_before
            if t is not current
            and t.get_coro().__qualname__ not in emulators  # type: ignore[union-attr]
            and not t.get_name().startswith("mqtt-handler:zigbee2mqtt/")
        ]

    await until(lambda: not leftovers(), 5, lambda: [repr(t) for t in leftovers()])
    await until(
        lambda: all(e.open_connections == 0 for e in room.kasa.values()),
        5,
        lambda: {d: e.open_connections for d, e in room.kasa.items()},
    )
    assert first.daemon.bus is not None and not first.daemon.bus.connected
    with pytest.raises(StoreError, match="closed"):
        store.events(session.id)

    # a new daemon on the same config picks the session up where it was
    second = await start_daemon(rig.config, rig.clock)
    try:
        resumed = second.session
        assert resumed.session is not None and resumed.session.id == session.id
        assert [e.seq for e in resumed.events] == [e.seq for e in events]
        st = resumed.snapshot().status
        assert (st.phase, st.cue) == ("building", "check-in")
        # the new daemon drives the room along the (still running) fade
        last: list[str] = []

        def near() -> bool:
            nonlocal last
            last = mismatches(room, second.desired(), tol=5.0)
            return not last

        await until(near, 10, lambda: last)
        second.command(EventKind.CUE_OFF)
        assert second.session.snapshot().status.cue is None
    finally:
        await stop_daemon(second)
    assert second.task.result() is None


# Regression test for a bug this test found (since fixed): roomctl/sim/demo.py +
# roomctl/cli_daemon.py: `roomctl demo` runs its session on a ScaledClock but tells the user to
# steer it with `roomctl session hold --config ...`; the CLI checks and stamps commands with the
# real clock, so it answers 'the session has not started yet' (or, once real time passes the start,
# stamps the command in the session's past: a hold freezes the arc minutes back and the room jumps
# back)
async def test_the_demo_can_be_steered_from_another_terminal(running: Running, rig: Rig) -> None:
    await follows(running, rig.room, 10)
    before = light(running, "lamp")
    code, _, err = await run_cli(rig.config, "session", "hold")
    assert code == 0, err
    await until(lambda: running.session.snapshot().status.held, 3, "the hold picked up")
    assert light(running, "lamp") == before  # held where it was, no jump back


# ------------------------------------------------------- at real-time speed


@pytest.fixture
async def realtime(tmp_path: Path) -> AsyncIterator[tuple[DemoRoom, Path, Running]]:
    """The demo room and a daemon on the system clock; the session starts without a reading of
    the room, so the arc's first scene is shown at once (a 1 s catch-up)."""
    clock = SystemClock()
    async with DemoRoom.start(clock, tmp_path) as room:
        cfg = room.config()
        for dev in cfg["devices"]:
            if dev["driver"] in ("kasa", "sonos"):
                dev["timeout_s"] = DEVICE_TIMEOUT_S
        path = tmp_path / "realtime.yaml"
        path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
        assert room.sonos is not None
        for speaker in room.sonos.speakers:  # as the arc starts: no safe slow rise to wait for
            speaker.volume = 14
        run = await start_daemon(path, clock)
        try:
            started = run.session.start("psilocybin", by="test").created_at
            await follows(run, room, 10)
            run.started_at = started
            yield room, path, run
        finally:
            await stop_daemon(run)


async def into_the_session(run: Running) -> None:
    """Wait until the session has run 1.5 s, so a light was on the desired curve a second ago
    (the normal case, for which the engine treats a change as a fade: see the no-fade test)."""
    clock = run.daemon.clock
    await until(lambda: clock.now() > run.started_at + 1.5, 5, "1.5 s into the session")


async def just_looked(run: Running, dev_id: str) -> None:
    """Return right after `dev_id`'s worker looked at the desired state (and found nothing to
    do: at rest its next look is idle_check_s, here 2 s, away).  Observes Engine.plan only."""
    engine = run.engine
    looks: list[float] = []
    plan = engine.plan

    def observed(device_id: str, now: float) -> Any:
        if device_id == dev_id:
            looks.append(now)
        return plan(device_id, now)

    engine.plan = observed
    await until(lambda: bool(looks), 10, f"{dev_id}'s worker to look again")


async def test_emergency_at_real_time(
    realtime: tuple[DemoRoom, Path, Running],
) -> None:
    room, _, run = realtime
    await into_the_session(run)
    run.command(EventKind.EMERGENCY_ON)
    took = await time_to_emergency(room)
    assert max(took.values()) < 1.0, took


async def test_emergency_from_another_terminal(realtime: tuple[DemoRoom, Path, Running]) -> None:
    room, config, run = realtime
    code, out, err = await run_cli(config, "session", "emergency")
    assert code == 0, err
    assert "[EMERGENCY]" in out
    took = await time_to_emergency(room)
    assert max(took.values()) < 2.0, took  # the daemon polls the store every second
    assert run.session.snapshot().status.emergency


# Regression test for a bug this test found (since fixed): roomctl/engine.py Engine.plan(): an
# emergency reaches a light as a 1 s native fade, not at once: the light was on the desired curve a
# second before, so _fading_from() is True, the `urgent` branch is skipped and the look-ahead's 'at
# least one second ahead' rule gives the jump to 100 % a 1 s transition
async def test_the_emergency_is_sent_to_the_lights_without_a_fade(
    realtime: tuple[DemoRoom, Path, Running],
) -> None:
    room, _, run = realtime
    await into_the_session(run)
    lamp = room.kasa["lamp"]
    sent = len(lamp.commands)
    run.command(EventKind.EMERGENCY_ON)

    def bright() -> list[Any]:
        return [c for c in lamp.commands[sent:] if c.params.get("brightness") == 100]

    await until(lambda: bool(bright()), 3, lambda: lamp.commands[sent:])
    assert bright()[0].params.get("transition_period", 0) == 0, bright()[0]


# Regression test for a bug this test found (since fixed): roomctl/daemon.py: a command given
# through daemon.session.command() in the daemon's own process (a web UI; run_demo's follow) does
# not wake the engine, and _follow_store() does not either (refresh() returns False: command()
# already folded the event in), so an emergency waits for each worker's next planned look
# (idle_check_s = 5 s at rest, the look-ahead horizon of up to 60 s while a fade is sending
# commands)
async def test_emergency_given_in_process_reaches_the_lights_within_a_second(
    realtime: tuple[DemoRoom, Path, Running],
) -> None:
    room, _, run = realtime
    await just_looked(run, "lamp")
    run.session.command(EventKind.EMERGENCY_ON, by="test")  # as SessionControl's users do
    await until(lambda: emergency_shown(room), 1.0, room.shown)


# ------------------------------------------------------------------- stopping


# Regression test for a bug this test found (since fixed): roomctl/engine.py Engine._pause(): the
# cancellation of a worker that arrives while it awaits `asyncio.gather(sleeper, waker)` in the
# finally block is swallowed by `contextlib.suppress(asyncio.CancelledError)`; the worker loops on,
# Engine.run()'s TaskGroup waits for it forever, and the daemon ignores SIGTERM / stop
async def test_an_engine_worker_never_swallows_its_cancellation() -> None:
    """The daemon stops by cancelling the engine; whenever that cancellation lands, the engine
    must end.  Cancel it 0..7 loop turns after a wake-up (the moments a worker re-plans)."""
    from roomctl.engine.reconciler import Engine
    from tests.doubles import MemoryLight

    lamp_state = LightState(on=True, brightness_pct=40.0, color_temp_k=2700)
    ignored: list[int] = []
    for turns in range(8):
        clock = SystemClock()
        lamp = MemoryLight("lamp", clock)
        engine = Engine({"lamp": lamp}, lambda t: {"lamp": lamp_state}, clock)
        task = asyncio.create_task(engine.run())
        await until(lambda: bool(lamp.commands), 3, "the first command")  # noqa: B023
        await asyncio.sleep(0.05)  # the worker idles until its next look (5 s)
        engine.wake()
        for _ in range(turns):
            await asyncio.sleep(0)
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=0.2)
        if not done:
            ignored.append(turns)
            for _ in range(10):  # clean up: cancel the worker itself once more
                for worker in asyncio.all_tasks():
                    if worker.get_name() == "device:lamp":
                        worker.cancel()
                if (await asyncio.wait({task}, timeout=0.5))[0]:
                    break
    assert not ignored, f"the engine ignored a cancellation {ignored} loop turns after a wake"


def test_engine_settings_come_from_the_config(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parent.parent
    text = (root / "config.example.yaml").read_text(encoding="utf-8")
    text = text.replace(
        "engine: {readback_s: 30, adopt_manual_changes: true, catch_up_s: 10}",
        "engine: {readback_s: 0, adopt_manual_changes: false, catch_up_s: 20}",
    ).replace("scenes_dir: scenes", f"scenes_dir: {root / 'scenes'}")
    config = tmp_path / "config.yaml"
    config.write_text(text, encoding="utf-8")
    daemon = Daemon(load_library(config), SystemClock())
    settings = daemon.settings
    assert (settings.readback_s, settings.adopt_manual_changes, settings.catch_up_s) == (
        0,
        False,
        20,
    )
    assert settings.max_volume_rise_per_10s == 6


async def test_the_collector_runs_once_the_daemon_serves(rig: Rig) -> None:
    """`roomctl` starts with the cyclic garbage collector off (a faster start-up); the daemon
    turns it on, with what start-up built frozen, once it serves: a daemon left without it
    would grow for as long as it runs."""
    gc.disable()
    try:
        run = await start_daemon(rig.config, rig.clock)
        try:
            assert gc.isenabled()
            assert gc.get_freeze_count() > 10_000  # libraries, config and app: out of its way
        finally:
            await stop_daemon(run)
    finally:
        gc.enable()
