"""How many HTTP requests the Sonos driver makes, counted by the emulator (a speaker answers
them one after another, tens of milliseconds each), on a pair like the demo room's.

Before the driver remembered the favourites and the topology (measured on this pair): start
and a first scene with a queued favourite 15 requests, a later scene with a favourite 6 (a
stream) to 9 (queued), a volume step from the engine 7 (topology, a read of both volumes,
transport and track, then both SetVolume).
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import pytest

from roomctl.devices.sonos import SonosPlayer
from roomctl.engine.steps import apply_state
from roomctl.model.config import SonosDeviceConfig
from roomctl.model.scene import Source
from roomctl.model.state import PlayerState
from roomctl.sim.sonos import SimFavorite, SimTrack, SonosEmulator, SonosGroup
from tests.doubles import ParkedClock

_HOSTS = itertools.cycle(range(221, 250))
FOREST = Source(kind="favorite", name="Forest Morning")
CALM = Source(kind="favorite", name="Calm Radio")


@pytest.fixture
def clock() -> ParkedClock:
    return ParkedClock()


@pytest.fixture
async def pair(clock: ParkedClock) -> AsyncIterator[SonosGroup]:
    left = SonosEmulator(f"127.0.0.{next(_HOSTS)}", room_name="Left", clock=clock)
    right = SonosEmulator(f"127.0.0.{next(_HOSTS)}", room_name="Right", clock=clock)
    async with SonosGroup(left, right) as group:
        yield group


def requests(pair: SonosGroup) -> list[str]:
    return [r for s in pair.speakers for r in s.requests]


def clear(pair: SonosGroup) -> None:
    for s in pair.speakers:
        s.clear_log()


def player_for(pair: SonosGroup, clock: ParkedClock) -> SonosPlayer:
    config = SonosDeviceConfig(
        id="music", zone="main", driver="sonos", host=pair.coordinator.address, timeout_s=2
    )
    return SonosPlayer(config, clock=clock)


async def test_a_scene_with_a_favourite_makes_only_the_requests_it_needs(
    pair: SonosGroup, clock: ParkedClock
) -> None:
    player = player_for(pair, clock)
    await player.start()
    await apply_state(player, PlayerState(FOREST, 20), 0, None)  # `roomctl apply`
    assert len(requests(pair)) <= 12  # was 15
    assert pair.coordinator.current_title == "First Light"
    clear(pair)
    await clock.advance(60)  # past SoCo's own topology cache
    await apply_state(player, PlayerState(CALM, 22), 0, PlayerState(FOREST, 20))
    # was 6: SetVolume on each member, the topology (a stream's SetAVTransportURI would pull a
    # group member out of its group), SetAVTransportURI, Play
    assert len(requests(pair)) <= 5
    assert pair.coordinator.transport_state == "PLAYING"
    clear(pair)
    await apply_state(player, PlayerState(FOREST, 18), 0, PlayerState(CALM, 22))
    assert requests(pair).count("Browse") == 0  # the favourites are remembered
    assert len(requests(pair)) <= 6  # was 9
    clear(pair)
    assert await player.change_volume(+1) == (19, None)  # a volume step: no read first
    assert requests(pair) == ["SetRelativeVolume", "SetRelativeVolume"]  # was 7
    await player.close()


async def test_the_lists_are_fetched_again_when_old_or_missing(
    pair: SonosGroup, clock: ParkedClock
) -> None:
    player = player_for(pair, clock)
    await player.start()
    await player.play(FOREST)
    clear(pair)
    await clock.advance(301)  # older than the refresh: fetched once more
    await player.play(CALM)
    assert requests(pair).count("Browse") == 1 and requests(pair).count("GetZoneGroupState") == 1
    # a favourite added in the Sonos app is found: the list is fetched again on a miss
    added = SimFavorite("Night Sea", (SimTrack("Swell", "Tide", "Night Sea", 200),))
    for speaker in pair.speakers:
        speaker.speaker.library.favorites += (added,)
        speaker.speaker.library.__init__(  # type: ignore[misc]
            speaker.speaker.library.favorites, speaker.speaker.library.playlists
        )
    clear(pair)
    await player.play(Source(kind="favorite", name="Night Sea"))
    assert requests(pair).count("Browse") == 1
    assert pair.coordinator.current_title == "Swell"
    await player.close()


async def test_a_changed_group_is_looked_up_again_and_the_call_made_once_more(
    pair: SonosGroup, clock: ParkedClock
) -> None:
    left, right = pair.coordinator, pair.members[0]
    player = player_for(pair, clock)
    await player.start()
    await player.play(FOREST)
    right.leave()  # the Sonos app regroups: Right becomes the coordinator, Left its member
    left.join(right)
    await player.play(Source(kind="playlist", name="Deep Rest"))
    assert left.fault_codes("RemoveAllTracksFromQueue") == [800]  # then looked up again
    assert not left.is_coordinator and right.transport_state == "PLAYING"
    assert right.current_title == "Breathing Space"
    await player.play(CALM)  # a stream: on a topology read just before
    assert right.transport_state == "PLAYING" and not left.is_coordinator
    await player.close()
