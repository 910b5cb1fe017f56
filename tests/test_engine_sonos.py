"""The engine driving the real SoCo against the Sonos emulator, on a virtual clock: the volume
rise limit across outages, hangs and restarts; health that is true to the speaker; only real
manual changes become overrides; every member of a group keeps the limits."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import pytest

from roomctl.devices.sonos import SonosPlayer
from roomctl.model.config import SonosDeviceConfig
from roomctl.model.scene import Source
from roomctl.model.state import PlayerState
from roomctl.sim.sonos import SonosEmulator, SonosGroup
from tests.doubles import ParkedClock, max_rise
from tests.engine_rig import Room, new_room

_HOSTS = itertools.cycle(range(60, 110))
CALM = Source(kind="favorite", name="Calm Radio")


def next_host() -> str:
    return f"127.0.0.{next(_HOSTS)}"


def player_for(emulator: SonosEmulator, timeout_s: float = 0.3) -> SonosPlayer:
    config = SonosDeviceConfig(
        id="music", zone="main", driver="sonos", host=emulator.address, timeout_s=timeout_s
    )
    return SonosPlayer(config)


def set_volumes(emulator: SonosEmulator) -> list[tuple[float, int]]:
    """(virtual time, volume) after every SetVolume or SetRelativeVolume the speaker carried
    out."""
    return list(emulator.volume_sets)


@pytest.fixture
def clock() -> ParkedClock:
    return ParkedClock()


@pytest.fixture
async def rooms() -> AsyncIterator[list[Room]]:
    made: list[Room] = []
    yield made
    for room in made:
        await room.stop()


OUTAGES = {"offline": (10, 31.0, 31), "hang": (8, 40.0, 33)}  # start, seconds, goal


@pytest.mark.parametrize("outage", sorted(OUTAGES))
async def test_volume_rises_from_what_the_speaker_shows_after_an_outage(
    clock: ParkedClock, rooms: list[Room], outage: str
) -> None:
    start, seconds, goal = OUTAGES[outage]
    async with SonosEmulator(next_host(), volume=start, clock=clock) as speaker:
        room = new_room(rooms, clock, {"music": player_for(speaker)}, backoff_max_s=8)
        room.want("music", PlayerState(CALM, start))
        await room.run(3)
        assert speaker.transport_state == "PLAYING" and speaker.volume == start
        assert room.engine.health()["music"].available
        if outage == "offline":
            await speaker.go_offline()
        else:
            speaker.silent = True
        room.want("music", PlayerState(CALM, goal))  # the arc moves on meanwhile
        await room.run(seconds)
        assert not room.engine.health()["music"].available
        before = len(set_volumes(speaker))
        if outage == "offline":
            await speaker.come_online()
        else:
            speaker.silent = False
        await room.run(12)
        after = set_volumes(speaker)[before:]
        assert after, "no volume sent after the speaker came back"
        assert after[0][1] == start + 1  # one step from what it shows, not a jump
        assert room.engine.health()["music"].available
        await room.run(45)
        assert speaker.volume == goal
        assert max_rise(set_volumes(speaker), start) <= 6
        assert room.manual == []


async def test_volume_is_not_touched_until_the_speaker_was_read(
    clock: ParkedClock, rooms: list[Room]
) -> None:
    """A daemon restart meets a speaker whose volume cannot be read at first."""
    async with SonosEmulator(next_host(), volume=8, clock=clock) as speaker:
        speaker.fail_action("GetVolume", code=501, count=3)
        room = new_room(rooms, clock, {"music": player_for(speaker)}, backoff_max_s=2)
        room.want("music", PlayerState(CALM, 33))
        await room.run(20)
        sent = set_volumes(speaker)
        assert sent and sent[0][1] == 9
        assert max_rise(sent, 8) <= 6


async def test_a_speaker_at_rest_that_stops_answering_is_unavailable_and_comes_back(
    clock: ParkedClock, rooms: list[Room]
) -> None:
    async with SonosEmulator(next_host(), volume=15, clock=clock) as speaker:
        room = new_room(rooms, clock, {"music": player_for(speaker)}, readback_s=30)
        room.want("music", PlayerState(CALM, 15))
        await room.run(4)
        health = room.engine.health()["music"]
        assert health.available
        speaker.silent = True  # a hang: requests are read, never answered
        await room.run(8)
        assert not health.available and "no answer" in (health.last_error or "")
        speaker.silent = False
        await room.run(8)
        assert health.available and health.last_error is None


async def test_a_refused_favourite_leaves_the_volume_steps_alone(
    clock: ParkedClock, rooms: list[Room]
) -> None:
    """The speaker refuses the source; roomctl's own volume steps are not 'manual changes'."""
    async with SonosEmulator(next_host(), volume=10, clock=clock) as speaker:
        room = new_room(rooms, clock, {"music": player_for(speaker)}, readback_s=10)
        missing = Source(kind="favorite", name="Whale Song")
        room.want("music", PlayerState(missing, 10))
        await room.run(2)
        for volume in range(11, 21):  # a fade, one step at a time, while the source is refused
            room.want("music", PlayerState(missing, volume))
            await room.run(3)
        await room.run(40)
        assert speaker.volume == 20
        assert room.manual == []
        health = room.engine.health()["music"]
        assert "Whale Song" in (health.last_error or "")
        assert speaker.count("AddURIToQueue") + speaker.count("SetAVTransportURI") == 0
        # a real change in the Sonos app is still noticed
        speaker.volume = 4
        await room.run(12)
        assert room.manual == [("music", PlayerState(None, 4))]


async def test_every_member_of_a_group_keeps_the_limits(
    clock: ParkedClock, rooms: list[Room]
) -> None:
    left = SonosEmulator(next_host(), room_name="Left", volume=12, clock=clock)
    right = SonosEmulator(next_host(), room_name="Right", volume=10, clock=clock)
    async with SonosGroup(left, right):
        room = new_room(rooms, clock, {"music": player_for(left)})  # the coordinator
        room.want("music", PlayerState(CALM, 10))
        await room.run(3)
        assert (left.volume, right.volume) == (10, 10)
        room.want("music", PlayerState(CALM, 30))
        await room.run(40)
        assert (left.volume, right.volume) == (30, 30)
        for member, start in ((left, 12), (right, 10)):
            assert max_rise(set_volumes(member), start) <= 6
        room.want("music", PlayerState(CALM, 12))  # the Talk cue drops the volume
        await room.run(2)
        assert (left.volume, right.volume) == (12, 12)
        assert room.manual == []


async def test_a_volume_turned_down_in_the_app_mid_rise_is_where_the_next_step_starts(
    clock: ParkedClock, rooms: list[Room]
) -> None:
    """No read before a rise: each step is relative to what the speaker shows at that moment
    (SetRelativeVolume), so a change in the Sonos app is never stepped over, and is noticed."""
    async with SonosEmulator(next_host(), volume=10, clock=clock) as speaker:
        room = new_room(rooms, clock, {"music": player_for(speaker)}, readback_s=30)
        room.want("music", PlayerState(CALM, 10))
        await room.run(2)
        speaker.clear_log()
        room.want("music", PlayerState(CALM, 40))  # a long rise at the limit (6 steps / 10 s)
        await room.run(10)
        high = speaker.volume
        assert 14 <= high < 40
        assert speaker.count("GetVolume") == 0  # not one read during the rise
        assert all(r == "SetRelativeVolume" for r in speaker.requests)
        speaker.volume = 3  # turned down in the Sonos app, mid-rise
        mark = len(set_volumes(speaker))
        await room.run(6)
        after = set_volumes(speaker)[mark:]
        assert after and after[0][1] == 4  # the next step counts from 3, not from `high`
        assert max_rise(set_volumes(speaker)[mark:], 3) <= 6
        assert max(v for _, v in after) <= 3 + 4  # ≤ 6 steps in 6 s from the lowered value
        assert room.manual == [("music", PlayerState(None, 3))]
