"""A daemon restart (same boot) mid-session on the demo room: the music the client listens to
goes on (the speaker gets no Play, SetAVTransportURI, Seek or new queue), its position keeps
running, and its volume still follows the arc."""

from __future__ import annotations

import asyncio
from pathlib import Path

from roomctl.clock import SystemClock
from roomctl.control.daemon import Daemon
from roomctl.model.events import Track
from roomctl.model.library import load_library
from roomctl.model.state import PlayerState
from roomctl.sim.demo import DemoRoom
from tests.daemon_support import DARK_ROOM, Running, settings_for, stop_daemon
from tests.doubles import max_rise
from tests.faults import write_config
from tests.helpers import until

TRANSPORT = ("Play", "SetAVTransportURI", "Seek", "AddURIToQueue", "RemoveAllTracksFromQueue")


async def start(config: Path) -> Running:
    clock = SystemClock()
    daemon = Daemon(load_library(config), clock, settings=settings_for(clock), track_poll_s=0.5)
    daemon.boot_id = "boot-1"
    stop = asyncio.Event()
    task = asyncio.create_task(daemon.run(stop), name="daemon-under-test")
    await until(lambda: daemon.ready.is_set() or task.done(), 15)
    if task.done():
        task.result()
    return Running(daemon, stop, task)


async def test_a_restart_leaves_the_music_playing(tmp_path: Path) -> None:
    async with DemoRoom.start(SystemClock(), tmp_path) as room:
        assert room.sonos is not None
        speaker = room.sonos.coordinator
        config = write_config(room, tmp_path / "c.yaml")
        run = await start(config)
        session = run.session.start("psilocybin", by="test", room=DARK_ROOM)

        def tracks() -> list[Track]:
            events = run.store.events(session.id)
            return [e.payload for e in events if isinstance(e.payload, Track)]

        await until(lambda: speaker.transport_state == "PLAYING" and bool(tracks()), 15)
        await stop_daemon(run, 10)
        title, position = speaker.current_title, speaker.position_s
        speaker.clear_log()

        run = await start(config)
        try:

            def volume() -> int | None:
                want = run.desired()["speakers"]
                assert isinstance(want, PlayerState)
                return want.volume

            # the volume follows the arc (rising at the rise limit from where the speaker was)
            before = speaker.volume
            await until(lambda: len(speaker.volume_sets) >= 3, 15, lambda: speaker.volume_sets)
            assert speaker.volume > before and speaker.volume <= (volume() or 0)
            assert max_rise(speaker.volume_sets, before) <= 6
            await asyncio.sleep(1.0)
            assert [a for a in TRANSPORT if speaker.count(a)] == []
            assert speaker.transport_state == "PLAYING" and speaker.current_title == title
            assert speaker.position_s > position
        finally:
            await stop_daemon(run, 10)
