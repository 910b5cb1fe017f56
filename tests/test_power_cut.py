"""A power cut mid-session on the demo room (real drivers, emulators, a real Mosquitto; the boot
id read from a file the test writes): the daemon comes back with the music paused (a
`music_pause` "power cut" by system): the speaker's volume fades down and it is paused, never
sent Play; the lamp, back at its power-on default, catches up to the arc over the slow
catch-up.  `roomctl session music resume` (handed to the daemon) plays the same music again
with Play alone, its volume rising from 0 at the rise limit."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest

from roomctl.clock import SystemClock
from roomctl.control.daemon import Daemon
from roomctl.model.events import MusicPause, Override, Track
from roomctl.model.library import load_library
from roomctl.sim.demo import DemoRoom
from tests.daemon_support import DARK_ROOM, Running, run_cli, settings_for, stop_daemon
from tests.doubles import max_rise
from tests.faults import write_config
from tests.helpers import until

CATCH_UP_S = 10.0
RESTART = ("SetAVTransportURI", "Seek", "AddURIToQueue", "RemoveAllTracksFromQueue")
pytestmark = pytest.mark.timeout(180)


async def start(config: Path, boot_file: Path) -> Running:
    clock = SystemClock()
    settings = replace(settings_for(clock), catch_up_s=CATCH_UP_S)
    daemon = Daemon(load_library(config), clock, settings=settings, track_poll_s=0.5,
                    boot_id_file=boot_file)  # fmt: skip
    stop = asyncio.Event()
    task = asyncio.create_task(daemon.run(stop), name="daemon-under-test")
    await until(lambda: daemon.ready.is_set() or task.done(), 15)
    if task.done():
        task.result()
    return Running(daemon, stop, task)


async def test_after_a_power_cut_the_music_waits_paused_for_a_facilitator(
    tmp_path: Path,
) -> None:
    boot = tmp_path / "boot_id"
    boot.write_text("boot-1\n", encoding="ascii")
    async with DemoRoom.start(SystemClock(), tmp_path) as room:
        assert room.sonos is not None
        speaker, lamp = room.sonos.coordinator, room.kasa["lamp"]
        config = write_config(room, tmp_path / "c.yaml")
        run = await start(config, boot)
        session = run.session.start("psilocybin", by="test", room=DARK_ROOM)

        def tracks() -> list[Track]:
            return [e.payload for e in run.store.events(session.id)
                    if isinstance(e.payload, Track)]  # fmt: skip

        await until(lambda: speaker.transport_state == "PLAYING" and bool(tracks()), 20)
        await until(lambda: speaker.volume >= 4, 20, lambda: speaker.volume)
        await stop_daemon(run, 10)
        # A volume step the stopped daemon had in flight (a SoCo call in its thread) lands:
        # wait until the speaker has heard nothing for a second.
        heard = -1
        while heard != len(speaker.volume_sets):
            heard = len(speaker.volume_sets)
            await asyncio.sleep(1.0)

        # The power comes back: a new boot; the bulb is at its power-on default (full).
        boot.write_text("boot-2\n", encoding="ascii")
        lamp.change_at_device(on=True, brightness=100)
        commands_before = len(lamp.commands)
        playing_at = speaker.volume
        speaker.clear_log()
        run = await start(config, boot)
        try:
            events = run.store.events(session.id)
            paused = [(e.payload, e.by) for e in events if isinstance(e.payload, MusicPause)]
            assert paused == [(MusicPause(reason="power cut"), "system")]
            assert not any(isinstance(e.payload, Override) for e in events)
            state = run.daemon.state().music_paused
            assert state is not None and (state.reason, state.by) == ("power cut", "system")

            # the volume fades down, then the speaker pauses; Play is never sent
            await until(lambda: speaker.transport_state == "PAUSED_PLAYBACK", 20,
                        lambda: (speaker.transport_state, speaker.volume_sets))  # fmt: skip
            volumes = [v for _, v in speaker.volume_sets]
            assert len(volumes) >= 2 and volumes == sorted(volumes, reverse=True), volumes
            assert volumes[0] < playing_at and speaker.volume == 0
            await asyncio.sleep(1.5)
            assert speaker.count("Play") == 0 and [a for a in RESTART if speaker.count(a)] == []

            # the lamp catches up to the arc over the slow catch-up, not at once
            await until(lambda: len(lamp.commands) > commands_before, 10, "the lamp is driven")
            first = lamp.commands[commands_before].params
            assert first.get("transition_period", 0) >= (CATCH_UP_S - 1) * 1000, first

            # a facilitator resumes the music from the command line (handed to the daemon)
            code, out, err = await run_cli(config, "session", "music", "resume", "--by", "ana")
            assert code == 0, err
            assert "music paused" not in out
            await until(lambda: speaker.transport_state == "PLAYING", 10,
                        lambda: speaker.transport_state)  # fmt: skip
            assert speaker.count("Play") == 1  # Play alone: the same track goes on
            assert [a for a in RESTART if speaker.count(a)] == []
            await until(lambda: speaker.volume >= 3, 20, lambda: speaker.volume_sets)
            assert max_rise(speaker.volume_sets, 0) <= 6, speaker.volume_sets
            assert run.daemon.state().music_paused is None
            resumed = [e for e in run.store.events(session.id) if e.kind.value == "music_resume"]
            assert [e.by for e in resumed] == ["ana"]
        finally:
            await stop_daemon(run, 10)
