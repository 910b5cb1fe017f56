"""The broker down for a whole minute and back (a real Mosquitto, stopped, then started again on
the same port), under a daemon with its MQTT API on the demo room, in real time, with the
daemon's own reconnect policy: meanwhile Kasa and Sonos follow the arc (and a cue given
meanwhile), the MQTT devices are reported unavailable and the log stays quiet; once the broker
is back the MQTT devices follow again and the API republishes its retained state and
availability and takes commands again, each within a few seconds."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from pathlib import Path

import pytest

from roomctl.clock import SystemClock
from roomctl.model.events import EventKind
from roomctl.sim.demo import DemoRoom
from tests.daemon_support import Running, mismatches
from tests.faults import write_config
from tests.helpers import until
from tests.mqtt.rig import api_room, observer

DOWN_S = 60.0  # the figure, in real time
BACK_WITHIN_S = 10.0  # "within a few seconds" of the broker answering again
MQTT_DEVICES = ("ceiling", "radiator", "room-heat")
ROOT = "roomctl/demo"


# What a worker asleep until its next look or an event holds (clock.sleep_or_wake): as many as
# there are workers asleep at the moment of counting, not a growth.
NAPS = ("SessionClock.sleep", "Event.wait")


def task_kinds() -> Counter[str]:
    """The running tasks, counted by what they run (a growth names its kind)."""
    return Counter(t.get_coro().__qualname__ for t in asyncio.all_tasks())  # type: ignore[union-attr]


async def test_the_broker_down_for_a_minute_and_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    clock = SystemClock()
    async with DemoRoom.start(clock, tmp_path) as room:
        config = write_config(room, tmp_path / "c.yaml")
        assert room.sonos is not None
        for speaker in room.sonos.speakers:  # as the arc starts: no slow rise to wait for
            speaker.volume = 14
        async with api_room(config, clock, reconnect=None) as api:
            run = api.run
            run.session.start("psilocybin", by="test", room=room.initial_state())  # a 2-min fade
            health = run.engine.health()
            # (the room thermostat needs a reading from its sensor, once a minute)
            await until(lambda: all(h.available for d, h in health.items() if d != "room-heat"),
                        15, lambda: health)  # fmt: skip
            tasks_before = task_kinds()

            first_log = len(caplog.records)
            await room.broker.stop()
            down_at = time.monotonic()
            await until(lambda: not health["ceiling"].available, 15, lambda: health["ceiling"])
            samples = await outage(run, room, down_at)
            # the arc kept moving the Kasa lights and the speakers, and they followed it
            late = [s for s in samples if s]
            print(f"{len(late)} of {len(samples)} looks at Kasa and Sonos off the session")
            assert len(late) <= len(samples) // 20, late
            assert all(health[d].available for d in ("lamp", "reading", "strip", "speakers"))
            outage_log = caplog.records[first_log:]

            await room.broker.launch()  # the same port; it has forgotten every retained message
            back_at = time.monotonic()
            took = await recovered(api.run, room, back_at)
            print("broker back: " + ", ".join(f"{k} {v:.1f} s" for k, v in took.items()))
            assert max(took.values()) <= BACK_WITHIN_S, took
            await in_step(run, room, 10)
            tasks_after = task_kinds()
            grown = {k: n for k, n in (tasks_after - tasks_before).items() if k not in NAPS}
            assert sum(grown.values()) <= 2, grown
            # a sleeping worker has a nap and its waker: at most one each per sleeper
            sleepers = tasks_after["Engine._worker"] + 2
            assert all(tasks_after[k] <= sleepers for k in NAPS), tasks_after

    # No storm in the log while the broker was away: a few lines for the outage, none per try
    # (four MQTT clients lost the broker: the daemon's and three emulators').
    lines = Counter(f"{r.levelname} {r.name}: {r.getMessage()}" for r in outage_log)
    print(f"{lines.total()} log lines in {DOWN_S:g} s of outage:", *lines.items(), sep="\n  ")
    assert lines.total() <= 30 and max(lines.values()) <= 4, lines
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR and r.name != "mqtt"]
    assert not errors, [r.getMessage() for r in errors]


async def outage(run: Running, room: DemoRoom, down_at: float) -> list[list[str]]:
    """Sample what Kasa and Sonos show against the session (the arc fading in, and from
    halfway a cue) until the broker has been down DOWN_S."""
    samples: list[list[str]] = []
    lamp: list[float] = []
    cued = False
    while time.monotonic() - down_at < DOWN_S:
        if not cued and time.monotonic() - down_at > DOWN_S / 2:
            run.command(EventKind.CUE_ON, {"cue": "talk"})  # through the session, not MQTT
            cued = True
        samples.append(mismatches(room, run.desired(), skip=MQTT_DEVICES, tol=5.0))
        lamp.append(room.kasa["lamp"].state["brightness"])
        await asyncio.sleep(0.5)
    assert max(lamp) - min(lamp) >= 10, lamp  # the room moved meanwhile
    assert run.session.snapshot().status.cue == "talk"
    return samples


async def in_step(run: Running, room: DemoRoom, timeout_s: float) -> float:
    """Wait until every device shows what the session wants now (mid-fade: within 5 %)."""
    last: list[str] = []

    def check() -> bool:
        nonlocal last
        last = mismatches(room, run.desired(), tol=5.0)
        return not last

    return await until(check, timeout_s, lambda: last)


async def recovered(run: Running, room: DemoRoom, back_at: float) -> dict[str, float]:
    """Seconds after the broker is back until each part has recovered."""
    took: dict[str, float] = {}
    health = run.engine.health()
    assert room.broker is not None
    async with observer(room.broker, f"{ROOT}/state", f"{ROOT}/availability") as obs:
        await until(lambda: obs.last(f"{ROOT}/state") is not None, 30, "retained state")
        took["state republished"] = time.monotonic() - back_at
        await until(lambda: obs.last(f"{ROOT}/availability") is not None, 30, "availability")
        assert obs.last(f"{ROOT}/availability").payload == b"online"  # type: ignore[union-attr]
        took["availability online"] = time.monotonic() - back_at
        # the command subscription is back (sent again every 2 s, as a client not told would)
        while not run.session.snapshot().status.held:
            assert time.monotonic() - back_at < 30, "hold through MQTT not obeyed"
            await obs.publish(f"{ROOT}/cmd/session", "hold")
            with contextlib.suppress(pytest.fail.Exception):
                await until(lambda: run.session.snapshot().status.held, 2, "hold")
        took["command obeyed"] = time.monotonic() - back_at
        run.command(EventKind.RESUME)
    for dev in ("ceiling", "radiator"):
        await until(lambda d=dev: health[d].available, 30, lambda d=dev: health[d])  # type: ignore[misc]
        took[f"{dev} available"] = time.monotonic() - back_at
    return took
