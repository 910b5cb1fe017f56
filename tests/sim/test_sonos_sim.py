"""The Sonos emulator, driven by the real SoCo (no driver in between) and by raw HTTP."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import pytest
import requests
import soco
from soco.exceptions import SoCoSlaveException, SoCoUPnPException

from roomctl.clock import VirtualClock
from roomctl.sim.sonos import SimFavorite, SimTrack, SonosEmulator, SonosGroup
from roomctl.sim.sonos_xml import UpnpError

T = TypeVar("T")
_HOSTS = itertools.cycle(range(20, 120))


def next_host() -> str:
    """A loopback address of its own for each emulator (SoCo caches per ip:port)."""
    return f"127.0.0.{next(_HOSTS)}"


async def blocking(call: Callable[[], T]) -> T:
    """Run a SoCo call in a thread, as the emulator serves on this test's event loop."""
    return await asyncio.to_thread(call)


def client(emulator: SonosEmulator) -> Any:
    return soco.SoCo(emulator.host, port=emulator.port)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
async def speaker(clock: VirtualClock) -> AsyncIterator[SonosEmulator]:
    async with SonosEmulator(next_host(), room_name="Therapy Room", clock=clock) as emulator:
        yield emulator


@pytest.fixture
async def group(clock: VirtualClock) -> AsyncIterator[SonosGroup]:
    coordinator = SonosEmulator(next_host(), room_name="Left", clock=clock)
    member = SonosEmulator(next_host(), room_name="Right", clock=clock)
    async with SonosGroup(coordinator, member) as pair:
        yield pair


# -- identity, library ------------------------------------------------------------------------


async def test_soco_reads_identity_and_topology(speaker: SonosEmulator) -> None:
    device = client(speaker)
    info = await blocking(lambda: device.get_speaker_info(refresh=True, timeout=2))
    assert info["zone_name"] == "Therapy Room"
    assert info["model_name"] == "Sonos One"
    assert info["uid"] == speaker.uid
    assert await blocking(lambda: device.is_coordinator)
    assert await blocking(lambda: device.household_id) == speaker.household_id
    assert [r.action for r in speaker.log] == ["GetHouseholdID", "GetZoneGroupState"]


async def test_favourites_and_playlists_browse_as_soco_expects(speaker: SonosEmulator) -> None:
    device = client(speaker)
    favorites = await blocking(device.music_library.get_sonos_favorites)
    assert [f.title for f in favorites] == ["Calm Radio", "Forest Morning"]
    radio, album = (f.reference for f in favorites)
    assert device.music_source_from_uri(radio.get_uri()) == "RADIO"
    assert type(album).__name__ == "DidlPlaylistContainer"
    playlists = await blocking(lambda: device.get_sonos_playlists(complete_result=True))
    assert [(p.title, p.item_id) for p in playlists] == [
        ("Deep Rest", "SQ:1"),
        ("Gentle Wake", "SQ:2"),
    ]


async def test_custom_library_and_paging(clock: VirtualClock) -> None:
    favorites = [
        SimFavorite(f"Station {n}", (SimTrack("Song", "Band", "Album", 60),), radio=True)
        for n in range(5)
    ]
    async with SonosEmulator(next_host(), favorites=favorites, clock=clock) as emulator:
        device = client(emulator)
        page = await blocking(
            lambda: device.music_library.get_sonos_favorites(start=1, max_items=2)
        )
        assert [f.title for f in page] == ["Station 1", "Station 2"]
        assert page.total_matches == 5
        everything = await blocking(
            lambda: device.music_library.get_sonos_favorites(complete_result=True)
        )
        assert len(everything) == 5


# -- playing -----------------------------------------------------------------------------------


async def test_radio_shows_what_is_on_air_and_moves_with_the_clock(
    speaker: SonosEmulator, clock: VirtualClock
) -> None:
    device = client(speaker)
    favorites = await blocking(device.music_library.get_sonos_favorites)
    uri = favorites[0].reference.get_uri()
    await blocking(lambda: device.play_uri(uri, title="Calm Radio", timeout=2))
    assert speaker.transport_state == "PLAYING"
    track = await blocking(device.get_current_track_info)
    assert (track["title"], track["artist"], track["album"]) == (
        "Slow Tide",
        "Harbour Lights",
        "Coastlines",
    )
    await clock.advance(250)  # past the first song (241 s)
    track = await blocking(device.get_current_track_info)
    assert track["title"] == "Low Cloud"
    assert track["position"] == "0:04:10"
    media = await blocking(device.get_current_media_info)
    assert media == {"uri": uri, "channel": "Calm Radio"}


async def test_queue_plays_track_after_track_and_stops_at_the_end(
    speaker: SonosEmulator, clock: VirtualClock
) -> None:
    device = client(speaker)
    playlist = (await blocking(device.get_sonos_playlists))[1]  # Gentle Wake
    await blocking(device.clear_queue)
    assert await blocking(lambda: device.add_to_queue(playlist, timeout=2)) == 1
    await blocking(lambda: device.play_from_queue(1))
    assert speaker.current_title == "Kettle Song"
    assert [t.title for t in speaker.queue] == ["Open Window", "Kettle Song", "Long Walk Home"]
    assert [i.title for i in await blocking(device.get_queue)] == [t.title for t in speaker.queue]
    await clock.advance(210)  # Kettle Song is 201 s
    info = await blocking(device.get_current_track_info)
    assert (info["title"], info["playlist_position"], info["position"]) == (
        "Long Walk Home",
        "3",
        "0:00:09",
    )
    await clock.advance(300)
    assert speaker.transport_state == "STOPPED"
    await blocking(device.play)
    await blocking(device.pause)
    assert (await blocking(device.get_current_transport_info))["current_transport_state"] == (
        "PAUSED_PLAYBACK"
    )


async def test_pause_with_nothing_loaded_is_a_upnp_701(speaker: SonosEmulator) -> None:
    with pytest.raises(SoCoUPnPException) as caught:
        await blocking(client(speaker).pause)
    assert caught.value.error_code == "701"


async def test_volume_mute_relative_and_ramp(speaker: SonosEmulator, clock: VirtualClock) -> None:
    device = client(speaker)

    def adjust() -> tuple[int, int]:
        device.volume = 40
        device.mute = True
        return device.set_relative_volume(-5), device.ramp_to_volume(15)

    assert await blocking(adjust) == (35, 16)  # 20 steps at 1.25 steps/s
    assert speaker.muted
    await clock.advance(8)
    assert speaker.volume == 25
    await clock.advance(10)
    assert await blocking(lambda: device.volume) == 15


# -- groups ------------------------------------------------------------------------------------


async def test_topology_leads_soco_from_member_to_coordinator(group: SonosGroup) -> None:
    member = client(group.members[0])
    coordinator = await blocking(lambda: member.group.coordinator)
    assert (coordinator.ip_address, coordinator.port) == (
        group.coordinator.host,
        group.coordinator.port,
    )
    with pytest.raises(SoCoSlaveException):
        await blocking(member.play)
    favorites = await blocking(member.music_library.get_sonos_favorites)
    await blocking(lambda: coordinator.play_uri(favorites[0].get_uri(), title="Calm Radio"))
    assert group.members[0].transport_state == "PLAYING"  # the member plays what the group plays
    state = await blocking(member.get_current_transport_info)
    assert state["current_transport_state"] == "PLAYING"


async def test_group_volume_and_unjoin_join_through_soco(group: SonosGroup) -> None:
    left, right = group.coordinator, group.members[0]
    left.volume, right.volume = 20, 40
    coordinator = client(left)
    assert await blocking(lambda: coordinator.group.volume) == 30
    await blocking(lambda: setattr(coordinator.group, "volume", 60))
    assert (left.volume, right.volume) == (40, 80)
    await blocking(client(right).unjoin)
    assert right.is_coordinator
    assert await blocking(lambda: client(right).is_coordinator)
    await blocking(lambda: client(right).join(coordinator))
    assert right.coordinator_uid == left.uid


# -- faults and the action log -----------------------------------------------------------------


async def test_named_action_fault_counts_down(speaker: SonosEmulator) -> None:
    device = client(speaker)
    speaker.fail_action("SetVolume", code=402, count=2)
    for _ in range(2):
        with pytest.raises(SoCoUPnPException) as caught:
            await blocking(lambda: setattr(device, "volume", 30))
        assert caught.value.error_code == "402"
    await blocking(lambda: setattr(device, "volume", 30))
    assert speaker.volume == 30
    outcomes = [r.outcome for r in speaker.log if r.action == "SetVolume"]
    assert outcomes == ["fault 402", "fault 402", "ok"]
    assert [r.fault_code for r in speaker.log if r.action == "SetVolume"] == [402, 402, None]


async def test_fail_next_hits_whatever_comes(speaker: SonosEmulator) -> None:
    device = client(speaker)
    speaker.fail_next(1, code=714)
    with pytest.raises(SoCoUPnPException) as caught:
        await blocking(lambda: device.volume)
    assert caught.value.error_code == "714"
    assert await blocking(lambda: device.volume) == 20


async def test_latency_delays_every_reply() -> None:
    async with SonosEmulator(next_host()) as emulator:  # system clock: latency is real time
        emulator.latency_s = 0.15
        started = time.monotonic()
        await blocking(lambda: client(emulator).volume)
        assert time.monotonic() - started >= 0.15
        assert emulator.log[0].action == "GetVolume"


async def test_silence_times_out_and_going_offline_refuses(speaker: SonosEmulator) -> None:
    device = client(speaker)
    speaker.silent = True
    with pytest.raises(requests.Timeout):
        await blocking(
            lambda: device.renderingControl.GetVolume(
                [("InstanceID", 0), ("Channel", "Master")], timeout=0.3
            )
        )
    assert speaker.log[-1].outcome == "silent"
    speaker.silent = False
    await speaker.go_offline()
    with pytest.raises(requests.ConnectionError):
        await blocking(lambda: device.volume)
    await speaker.come_online()
    assert await blocking(lambda: device.volume) == 20


# -- raw HTTP ----------------------------------------------------------------------------------


def _soap(
    emulator: SonosEmulator, action: str, args: str, soap_action: str | None = None
) -> requests.Response:
    body = (
        '<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">'
        f'<s:Body><u:{action} xmlns:u="urn:schemas-upnp-org:service:RenderingControl:1">'
        f"{args}</u:{action}></s:Body></s:Envelope>"
    )
    header = soap_action or f'"urn:schemas-upnp-org:service:RenderingControl:1#{action}"'
    return requests.post(
        f"http://{emulator.address}/MediaRenderer/RenderingControl/Control",
        data=body.encode(),
        headers={"SOAPACTION": header, "Content-Type": 'text/xml; charset="utf-8"'},
        timeout=2,
    )


async def test_raw_soap_errors_and_documents(speaker: SonosEmulator) -> None:
    unknown = await blocking(lambda: _soap(speaker, "Dance", ""))
    assert unknown.status_code == 500 and "<errorCode>401</errorCode>" in unknown.text
    missing = await blocking(lambda: _soap(speaker, "SetVolume", "<InstanceID>0</InstanceID>"))
    assert missing.status_code == 500 and "<errorCode>402</errorCode>" in missing.text
    ok = await blocking(
        lambda: _soap(
            speaker,
            "GetVolume",
            "<InstanceID>0</InstanceID><Channel>Master</Channel>",
            soap_action="urn:schemas-upnp-org:service:RenderingControl:1#GetVolume",
        )
    )
    assert ok.status_code == 200 and "<CurrentVolume>20</CurrentVolume>" in ok.text
    assert ok.headers["Content-Type"] == 'text/xml; charset="utf-8"'
    scpd = await blocking(
        lambda: requests.get(f"http://{speaker.address}/xml/AVTransport1.xml", timeout=2)
    )
    assert scpd.status_code == 200 and "<name>AddURIToQueue</name>" in scpd.text
    missing_page = await blocking(lambda: requests.get(f"http://{speaker.address}/nope", timeout=2))
    assert missing_page.status_code == 404


# -- transport rules without the network -------------------------------------------------------


async def test_queue_rules(speaker: SonosEmulator, clock: VirtualClock) -> None:
    transport = speaker.speaker.transport
    tracks = speaker.speaker.library.playlists[0].tracks
    assert transport.enqueue(tracks[0].uri, "", 0, as_next=False) == (1, 1)
    assert transport.enqueue(tracks[1].uri, "", 0, as_next=False) == (2, 1)
    transport.set_uri(f"x-rincon-queue:{speaker.uid}#0", "")
    transport.seek("TRACK_NR", "2")
    assert transport.enqueue(tracks[2].uri, "", 1, as_next=False) == (1, 1)
    assert speaker.current_title == tracks[1].title  # inserting before it keeps the current track
    with pytest.raises(UpnpError) as at_end:
        transport.next()
    assert at_end.value.code == 711
    transport.play_mode = "REPEAT_ALL"
    transport.next()
    assert speaker.current_title == tracks[2].title
    with pytest.raises(UpnpError) as too_far:
        transport.seek("REL_TIME", "1:00:00")
    assert too_far.value.code == 711
    transport.seek("REL_TIME", "0:01:00")
    transport.play()
    await clock.advance(30)
    assert speaker.position_s == 90
