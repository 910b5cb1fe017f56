"""The Sonos driver running the real SoCo against the loopback emulator (no mocks)."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from roomctl.devices.sonos import SonosPlayer
from roomctl.engine.steps import apply_state
from roomctl.errors import DeviceRejected, DeviceUnreachable
from roomctl.model.config import SonosDeviceConfig
from roomctl.model.scene import Source
from roomctl.model.state import PlayerState
from roomctl.sim.sonos import SonosEmulator, SonosGroup

_HOSTS = itertools.cycle(range(120, 220))
MakePlayer = Callable[..., Awaitable[SonosPlayer]]


def next_host() -> str:
    """A loopback address of its own for each emulator (SoCo caches per ip:port)."""
    return f"127.0.0.{next(_HOSTS)}"


def favorite(name: str) -> Source:
    return Source(kind="favorite", name=name)


def playlist(name: str) -> Source:
    return Source(kind="playlist", name=name)


SILENCE = Source(kind="silence")


@pytest.fixture
async def speaker() -> AsyncIterator[SonosEmulator]:
    async with SonosEmulator(next_host(), room_name="Therapy Room") as emulator:
        yield emulator


@pytest.fixture
async def group() -> AsyncIterator[SonosGroup]:
    coordinator = SonosEmulator(next_host(), room_name="Left")
    member = SonosEmulator(next_host(), room_name="Right")
    async with SonosGroup(coordinator, member) as pair:
        yield pair


@pytest.fixture
async def make_player() -> AsyncIterator[MakePlayer]:
    """Drivers for an emulator (started unless told not to); all closed at the end."""
    players: list[SonosPlayer] = []

    async def make(
        emulator: SonosEmulator, *, timeout_s: float = 2.0, start: bool = True
    ) -> SonosPlayer:
        config = SonosDeviceConfig(
            id="music", zone="main", driver="sonos", host=emulator.address, timeout_s=timeout_s
        )
        player = SonosPlayer(config)
        players.append(player)
        if start:
            await player.start()
        return player

    yield make
    for player in players:
        await player.close()


@pytest.fixture
async def player(speaker: SonosEmulator, make_player: MakePlayer) -> SonosPlayer:
    return await make_player(speaker)


# -- playing -----------------------------------------------------------------------------------


async def test_start_connects_and_describes(speaker: SonosEmulator, player: SonosPlayer) -> None:
    assert player.describe() == f"music: Sonos at {speaker.address}"
    assert speaker.count("GetZoneGroupState") == 1
    assert await player.favorites() == ["Calm Radio", "Forest Morning"]
    assert await player.playlists() == ["Deep Rest", "Gentle Wake"]


async def test_radio_favourite_streams_by_uri(speaker: SonosEmulator, player: SonosPlayer) -> None:
    await player.play(favorite("Calm Radio"))
    assert speaker.transport_state == "PLAYING"
    assert speaker.current_uri.startswith("x-rincon-mp3radio:")
    assert speaker.count("AddURIToQueue") == 0
    reading = await player.read_player()
    assert reading.transport == "playing"
    assert reading.track is not None
    assert (reading.track.title, reading.track.artist) == ("Slow Tide", "Harbour Lights")
    assert reading.track.duration_s is None  # a stream has no duration


async def test_album_favourite_is_queued(speaker: SonosEmulator, player: SonosPlayer) -> None:
    await player.play(favorite("forest morning"))  # case is forgiven
    assert [t.title for t in speaker.queue] == ["First Light", "Moss", "Birch Canopy"]
    assert speaker.current_uri == f"x-rincon-queue:{speaker.uid}#0"
    reading = await player.read_player()
    assert reading.track is not None
    assert (reading.track.title, reading.track.album) == ("First Light", "Forest Morning")
    assert reading.track.duration_s == 212
    assert reading.track.position_s is not None and reading.track.position_s < 5


async def test_playlist_replaces_the_queue(speaker: SonosEmulator, player: SonosPlayer) -> None:
    await player.play(favorite("Forest Morning"))
    await player.play(playlist("Deep Rest"))
    assert [t.title for t in speaker.queue] == [
        "Breathing Space",
        "Warm Stone",
        "Underwater Lanterns",
    ]
    assert speaker.transport_state == "PLAYING"
    assert speaker.current_title == "Breathing Space"
    assert [r.action for r in speaker.log][-4:] == [  # a cleared queue starts at track 1
        "RemoveAllTracksFromQueue",
        "AddURIToQueue",
        "SetAVTransportURI",
        "Play",
    ]


async def test_uri_plays_directly(speaker: SonosEmulator, player: SonosPlayer) -> None:
    uri = "x-rincon-mp3radio://radio.example/ambient"
    await player.play(Source(kind="uri", name=uri))
    assert speaker.current_uri == uri
    assert speaker.current_title == "ambient"
    assert (await player.read_player()).transport == "playing"


async def test_silence_pauses_and_is_quiet_when_nothing_plays(
    speaker: SonosEmulator, player: SonosPlayer
) -> None:
    await player.play(SILENCE)  # nothing loaded: no error, nothing starts
    assert (await player.read_player()).transport == "stopped"
    await player.play(playlist("Gentle Wake"))
    await player.play(SILENCE)
    assert speaker.transport_state == "PAUSED_PLAYBACK"
    assert (await player.read_player()).transport == "paused"


async def test_pause_falls_back_to_stop_when_a_stream_refuses(
    speaker: SonosEmulator, player: SonosPlayer
) -> None:
    await player.play(favorite("Calm Radio"))
    speaker.fail_action("Pause", code=701)
    await player.pause()
    assert speaker.transport_state == "STOPPED"


async def test_volume_is_set_and_read(speaker: SonosEmulator, player: SonosPlayer) -> None:
    await player.set_volume(37)
    assert speaker.volume == 37
    assert (await player.read_player()).volume == 37
    with pytest.raises(ValueError, match="140"):  # a bug in the caller, not a refusal
        await player.set_volume(140)
    await apply_state(player, PlayerState(None, 140), 0, None)  # quantize clamps, once
    assert speaker.volume == 100


async def test_steps_keep_their_order(speaker: SonosEmulator, player: SonosPlayer) -> None:
    await asyncio.gather(*(player.set_volume(v) for v in (10, 11, 12, 13, 14)))
    sent = [r.arguments["DesiredVolume"] for r in speaker.log if r.action == "SetVolume"]
    assert sent == ["10", "11", "12", "13", "14"]
    assert speaker.volume == 14


async def test_group_member_sends_transport_to_coordinator(
    group: SonosGroup, make_player: MakePlayer
) -> None:
    left, right = group.coordinator, group.members[0]
    player = await make_player(right)  # configured with the member
    await player.play(playlist("Deep Rest"))
    assert left.count("Play") == 1 and right.count("Play") == 0
    assert left.queue[0].title == "Breathing Space"
    await player.set_volume(44)  # volume goes to every member
    assert (right.volume, left.volume) == (44, 44)
    reading = await player.read_player()
    assert (reading.volume, reading.transport, reading.loudest) == (44, "playing", None)
    left.volume = 50  # changed in the Sonos app: the reading shows the quietest and loudest
    reading = await player.read_player()
    assert (reading.volume, reading.loudest) == (44, 50)
    assert reading.track is not None and reading.track.title == "Breathing Space"
    await player.pause()
    assert left.transport_state == "PAUSED_PLAYBACK"


# -- errors -----------------------------------------------------------------------------------


async def test_unknown_names_are_rejected_with_what_exists(player: SonosPlayer) -> None:
    with pytest.raises(DeviceRejected) as caught:
        await player.play(favorite("Whale Song"))
    message = str(caught.value)
    assert "music" in message and "'Whale Song'" in message
    assert "'Calm Radio'" in message and "'Forest Morning'" in message
    with pytest.raises(DeviceRejected, match="'Deep Rest', 'Gentle Wake'"):
        await player.play(playlist("Nope"))


async def test_upnp_errors_are_rejections_with_the_code(
    speaker: SonosEmulator, player: SonosPlayer
) -> None:
    speaker.fail_action("Play", code=701, count=1)
    with pytest.raises(
        DeviceRejected, match=r"music: play favorite:Calm Radio failed: UPnP error 701"
    ):
        await player.play(favorite("Calm Radio"))
    speaker.fail_action("SetVolume", code=402, count=1)
    with pytest.raises(DeviceRejected, match="UPnP error 402") as caught:
        await player.set_volume(30)
    assert caught.value.device_id == "music"
    assert caught.value.operation == "set volume 30"
    await player.set_volume(30)  # the fault was for one call only
    assert speaker.volume == 30


async def test_latency_is_tolerated(speaker: SonosEmulator, player: SonosPlayer) -> None:
    speaker.latency_s = 0.1
    started = time.monotonic()
    await player.set_volume(25)
    assert time.monotonic() - started >= 0.1
    assert speaker.volume == 25


async def test_silent_speaker_is_unreachable_within_the_timeout(
    speaker: SonosEmulator, make_player: MakePlayer
) -> None:
    player = await make_player(speaker, timeout_s=0.3)
    speaker.silent = True
    started = time.monotonic()
    with pytest.raises(DeviceUnreachable, match="music: set volume 30 failed"):
        await player.set_volume(30)
    assert time.monotonic() - started < 0.3 * 3 + 0.5
    speaker.silent = False
    await player.set_volume(31)
    assert speaker.volume == 31


async def test_a_slow_call_holds_back_the_next_one(
    speaker: SonosEmulator, make_player: MakePlayer
) -> None:
    player = await make_player(speaker, timeout_s=0.2)
    # A patient player elsewhere raises SoCo's process-wide request timeout to 5 s, so this
    # player's thread outlives its own 0.6 s budget.
    await make_player(speaker, timeout_s=5.0, start=False)
    speaker.silent = True
    with pytest.raises(DeviceUnreachable, match=r"no answer within 0\.6 s"):
        await player.set_volume(30)
    with pytest.raises(DeviceUnreachable, match="an earlier call is still waiting"):
        await player.set_volume(40)
    speaker.silent = False  # drops the held connection: the first thread ends
    await player.set_volume(50)
    assert speaker.volume == 50
    assert [r.arguments["DesiredVolume"] for r in speaker.log if r.action == "SetVolume"] == [
        "30",
        "50",
    ]


async def test_speaker_goes_away_and_comes_back(
    speaker: SonosEmulator, player: SonosPlayer
) -> None:
    await speaker.go_offline()
    started = time.monotonic()
    with pytest.raises(DeviceUnreachable, match="read player"):
        await player.read_player()
    assert time.monotonic() - started < 1.5  # refused: well before the 6 s budget
    await speaker.come_online()
    await player.play(favorite("Forest Morning"))
    assert (await player.read_player()).transport == "playing"


async def test_start_fails_readably_when_nothing_listens(make_player: MakePlayer) -> None:
    async with SonosEmulator(next_host()) as emulator:
        await emulator.go_offline()
        player = await make_player(emulator, start=False)
        with pytest.raises(DeviceUnreachable, match=r"^music: connect failed: no answer"):
            await player.start()


async def test_topology_failure_is_a_rejection_with_the_code(make_player: MakePlayer) -> None:
    async with SonosEmulator(next_host()) as emulator:
        emulator.fail_action("GetZoneGroupState", code=501)
        player = await make_player(emulator, start=False)
        with pytest.raises(DeviceRejected, match=r"music: connect failed: UPnP error 501"):
            await player.start()


async def test_transitioning_is_reported(make_player: MakePlayer) -> None:
    async with SonosEmulator(next_host(), transition_s=30) as emulator:
        player = await make_player(emulator)
        await player.play(favorite("Calm Radio"))
        assert (await player.read_player()).transport == "transitioning"
