"""The engine driving the real python-kasa against the Kasa emulator, on a virtual clock: one
driver's bug never stops the room, and a light at rest has health true to the device."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping

import pytest

from roomctl.devices.base import Device
from roomctl.devices.kasa import KasaLight
from roomctl.model.config import KasaDeviceConfig
from roomctl.model.state import LightState
from roomctl.sim.kasa import KasaEmulator
from tests.doubles import MemoryLight, ParkedClock
from tests.engine_rig import Room, new_room

HOST = "127.0.0.23"


@pytest.fixture
def clock() -> ParkedClock:
    return ParkedClock()


@pytest.fixture
async def rooms() -> AsyncIterator[list[Room]]:
    made: list[Room] = []
    yield made
    for room in made:
        await room.stop()


@pytest.fixture
async def bulb(clock: ParkedClock) -> AsyncIterator[KasaEmulator]:
    async with KasaEmulator("color_bulb", host=HOST, time_fn=clock.monotonic) as emulator:
        yield emulator


def lamp_for(emulator: KasaEmulator) -> KasaLight:
    config = KasaDeviceConfig(
        id="lamp", zone="room", driver="kasa", host=emulator.address, timeout_s=0.5
    )
    return KasaLight(config)


def warm(brightness_pct: float) -> LightState:
    return LightState(on=True, brightness_pct=brightness_pct, color_temp_k=2700)


@pytest.mark.parametrize(
    "bug",
    [AttributeError("'NoneType' object has no attribute 'brightness'"), KeyError("on_off")],
    ids=["AttributeError", "KeyError"],
)
async def test_a_driver_bug_never_stops_the_room(
    clock: ParkedClock,
    rooms: list[Room],
    bulb: KasaEmulator,
    bug: Exception,
    caplog: pytest.LogCaptureFixture,
) -> None:
    broken = MemoryLight("broken", clock)
    broken.bug = bug
    devices: Mapping[str, Device] = {"lamp": lamp_for(bulb), "broken": broken}
    room = new_room(rooms, clock, devices, backoff_max_s=8, catch_up_s=2)
    room.want("broken", warm(40))
    room.want("lamp", warm(60))
    with caplog.at_level(logging.ERROR, logger="roomctl.engine"):
        await room.run(5)
        for brightness in range(58, 19, -2):  # the arc moves on: the lamp keeps following
            room.want("lamp", warm(brightness))
            await room.run(3)
    assert bulb.commands[-1].params["brightness"] == 20  # followed the arc to its end
    assert len(bulb.commands) > 10
    health = room.engine.health()["broken"]
    assert not health.available and health.failures > 3
    assert health.driver_error is not None and type(bug).__name__ in health.driver_error
    tracebacks = [r for r in caplog.records if r.exc_info and "broken" in r.getMessage()]
    assert len(tracebacks) == 1  # once, however often it is retried
    assert room.engine.health()["lamp"].available
    broken.bug = None  # the firmware answers properly again
    await room.run(10)
    assert broken.state == warm(40)
    assert health.available and health.driver_error is None


async def test_a_light_at_rest_that_stops_answering_is_unavailable_and_comes_back(
    clock: ParkedClock, rooms: list[Room], bulb: KasaEmulator
) -> None:
    room = new_room(rooms, clock, {"lamp": lamp_for(bulb)}, readback_s=30)
    room.want("lamp", warm(35))
    await room.run(15)
    health = room.engine.health()["lamp"]
    assert health.available and bulb.state["brightness"] == 35
    await bulb.refuse_connections()  # unplugged at rest: nothing is being sent
    await room.run(8)
    assert not health.available
    await bulb.accept_connections()
    await room.run(8)
    assert health.available and health.last_error is None


async def test_a_change_at_the_wall_is_a_manual_change_but_a_refusal_is_not(
    clock: ParkedClock, rooms: list[Room], bulb: KasaEmulator
) -> None:
    room = new_room(rooms, clock, {"lamp": lamp_for(bulb)}, readback_s=10, catch_up_s=2)
    room.want("lamp", warm(35))
    await room.run(10)
    bulb.faults.error_code = -3  # the bulb refuses the next target
    room.want("lamp", warm(50))
    await room.run(20)
    assert bulb.state["brightness"] == 35 and room.manual == []
    bulb.faults.clear()
    bulb.change_at_device(brightness=80)  # a dimmer at the wall
    await room.run(15)
    assert [(dev, shown) for dev, shown in room.manual] == [("lamp", warm(80))]
