"""The tracks that played, read from the speakers while a session runs and stored as events.

First the watch alone on a VirtualClock with a small working speaker (tests/doubles.py's
MemoryPlayer, which here also reports a track): nothing is read without a session; a new track
is stored once; a paused speaker adds nothing; a speaker that does not answer (or whose driver
raises) is logged and asked again, never stopping the watch.  Then a real daemon on the demo
room: SoCo reads the Sonos emulator, and a track skipped with SoCo (as the Sonos app would)
becomes a second event; while the emergency has paused the music nothing is added."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
import soco

from roomctl.clock import ScaledClock, VirtualClock
from roomctl.control.session import SessionControl
from roomctl.control.tracks import TrackWatch
from roomctl.model.events import End, Track
from roomctl.model.library import Library
from roomctl.model.state import PlayerReading, TrackInfo
from roomctl.record import build_record
from roomctl.sim.demo import DemoRoom
from roomctl.store.store import Store
from tests.daemon_support import DARK_ROOM, stop_daemon
from tests.doubles import MemoryPlayer
from tests.faults import start, write_config
from tests.helpers import until

ROOT = Path(__file__).resolve().parent.parent
T = 1_800_000_000.0
SEA = TrackInfo("Slow Tide", "Harbour Lights", "Coastlines", "x-file-cifs://nas/slow-tide.flac")
CLOUD = TrackInfo("Low Cloud", "Mira Sand", "Weather Diary", "x-file-cifs://nas/low-cloud.flac")


class PlayingSpeaker(MemoryPlayer):
    """A MemoryPlayer that also says which track it plays (and may have a bug)."""

    def __init__(self, device_id: str, clock: VirtualClock) -> None:
        super().__init__(device_id, clock)
        self.track: TrackInfo | None = None
        self.bug = False

    async def read_player(self) -> PlayerReading:
        reading = await super().read_player()
        if self.bug:
            raise KeyError("CurrentTrackMetaData")  # a firmware answer the driver did not expect
        return PlayerReading(reading.volume, reading.transport, self.track)


def stored_tracks(control: SessionControl) -> list[tuple[float, str, str, str | None]]:
    assert control.session is not None
    return [
        (e.at, e.payload.title, e.payload.device, e.payload.source)
        for e in control.store.events(control.session.id)
        if isinstance(e.payload, Track)
    ]


async def test_the_watch_on_a_virtual_clock(
    lib: Library, store: Store, clock: VirtualClock, caplog: pytest.LogCaptureFixture
) -> None:
    control = SessionControl(lib, store, clock)
    speaker = PlayingSpeaker("speakers", clock)
    await speaker.start()
    speaker.track, speaker.playing = SEA, True
    watch = TrackWatch(control, {"speakers": speaker}, clock, interval_s=10.0)
    task = asyncio.create_task(watch.run())
    try:
        await clock.advance(120)
        assert speaker.reads == 0 and watch.reads == 0  # no session: no speaker is read

        control.start("psilocybin", by="alice")
        await clock.advance(10)
        await clock.advance(30)  # the same track: stored once
        assert stored_tracks(control) == [
            (T + 130, "Slow Tide", "speakers", "favorite:Settling In")
        ]
        assert speaker.reads == 4  # every 10 s

        speaker.track = CLOUD
        await clock.advance(10)
        speaker.playing = False  # paused: nothing while it is
        speaker.track = SEA
        await clock.advance(30)
        speaker.playing = True
        await clock.advance(10)  # playing again: a new start of a track
        titles = [t[1] for t in stored_tracks(control)]
        assert titles == ["Slow Tide", "Low Cloud", "Slow Tide"]

        speaker.down = True  # no answer: logged once, asked again
        await clock.advance(30)
        speaker.down = False
        await clock.advance(10)  # it answers again
        speaker.bug = True  # and then the driver fails in its own way: logged once
        await clock.advance(30)
        speaker.bug = False
        speaker.track = CLOUD
        await clock.advance(10)
        assert [t[1] for t in stored_tracks(control)][-1] == "Low Cloud"
        assert not task.done()
        warnings = [r.getMessage() for r in caplog.records if r.name == "roomctl.control.tracks"]
        assert warnings.count("speakers: cannot read what it plays: no answer") == 1
        assert sum("reading what it plays failed" in w for w in warnings) == 1

        control.command(End(), by="alice")
        reads = speaker.reads
        await clock.advance(120)
        assert speaker.reads == reads  # the session ended: no more reading
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_restarted_watch_does_not_store_the_same_track_again(
    lib: Library, store: Store, clock: VirtualClock
) -> None:
    control = SessionControl(lib, store, clock)
    control.start("psilocybin", by="alice")
    speaker = PlayingSpeaker("speakers", clock)
    await speaker.start()
    speaker.track, speaker.playing = SEA, True
    await TrackWatch(control, {"speakers": speaker}, clock).look()
    again = SessionControl(lib, store, clock)  # the daemon restarted
    again.refresh()
    await TrackWatch(again, {"speakers": speaker}, clock).look()
    assert [t[1] for t in stored_tracks(again)] == ["Slow Tide"]


# ---------------------------------------------------------------- a real daemon, real SoCo


async def test_the_daemon_records_the_tracks_the_sonos_plays(tmp_path: Path) -> None:
    clock = ScaledClock(200.0)
    async with DemoRoom.start(clock, tmp_path) as room:
        assert room.sonos is not None
        emulator = room.sonos.coordinator
        config = write_config(room, tmp_path / "daemon.yaml")
        run = await start(config, clock, track_poll_s=60.0)  # 0.3 s of real time
        try:
            sid = run.session.start("psilocybin", by="alice", room=DARK_ROOM).id

            def titles() -> list[str]:
                return [
                    e.payload.title
                    for e in run.session.store.events(sid)
                    if isinstance(e.payload, Track)
                ]

            await until(lambda: titles() == ["Settling In 1"], what=titles)
            first = next(e.payload for e in run.session.events if isinstance(e.payload, Track))
            assert (first.artist, first.album, first.device, first.source) == (
                "Demo Ensemble", "Settling In", "speakers", "favorite:Settling In"
            )  # fmt: skip
            assert first.uri

            speaker = soco.SoCo(emulator.host, port=emulator.port)
            await asyncio.to_thread(speaker.next)  # someone skips a track in the Sonos app
            await until(lambda: titles() == ["Settling In 1", "Settling In 2"], what=titles)

            run.session.emergency(True, by="bob")  # music paused at once
            await until(lambda: emulator.transport_state == "PAUSED_PLAYBACK")
            await asyncio.to_thread(speaker.next)
            await asyncio.sleep(2.5)  # nothing may happen: two looks or more at the paused speaker
            assert titles() == ["Settling In 1", "Settling In 2"]

            run.session.command(End(), by="alice")
            record = build_record(run.session.store, run.daemon.lib, sid)
            assert [t.title for t in record.tracks] == ["Settling In 1", "Settling In 2"]
        finally:
            await stop_daemon(run)


def test_track_events_need_a_device() -> None:
    with pytest.raises(ValueError, match="device"):
        Track(device="", title="x")
    logging.getLogger(__name__).debug("Track payloads validate their device")
