"""`roomctl apply` and the session's safety limits: with a session running, a harsh scene (floor
lamp off, no fade, volume 100) goes through the session as manual overrides and never bypasses
the clamp; and the limits are built once, so `apply` and the timeline clamp a scene alike."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from roomctl.clock import SystemClock
from roomctl.control.apply import scene_states
from roomctl.model.events import Event, EventKind
from roomctl.model.library import PACKAGE_SCENES, load_library
from roomctl.model.prefs import Preferences
from roomctl.model.state import LightState, PlayerState
from roomctl.sim.demo import DemoRoom
from roomctl.timeline.fold import Timeline
from tests.daemon_support import ROOT, follows, run_cli, stop_daemon
from tests.faults import start, write_config
from tests.helpers import until

HARSH = """\
name: harsh
fade_s: 0
lights:
  lamp: {on: false}
music:
  speakers: {favorite: "Calm Waters", volume: 100}
"""


async def test_apply_during_a_session_goes_through_the_session(tmp_path: Path) -> None:
    scenes = tmp_path / "scenes"
    shutil.copytree(PACKAGE_SCENES, scenes)
    (scenes / "harsh.yaml").write_text(HARSH, encoding="utf-8")
    async with DemoRoom.start(SystemClock(), tmp_path) as room:
        config = write_config(room, tmp_path / "c.yaml", scenes_dir=str(scenes))
        assert room.sonos is not None
        speakers = room.sonos.coordinator
        for speaker in room.sonos.speakers:  # both of the pair: no slow rise to wait for
            speaker.volume = 14
        run = await start(config, SystemClock())
        try:
            run.session.start("psilocybin", by="test")
            await follows(run, room, 10)
            lamp = room.kasa["lamp"]
            assert (lamp.state["on"], speakers.volume) == (True, 14)

            code, out, err = await run_cli(config, "apply", "harsh", "--transition", "0")
            assert code == 0, err
            assert "manual overrides" in out
            await until(lambda: run.session.snapshot().status.overrides, 3, "the overrides")
            for _ in range(10):  # a second and a half: the floor lamp stays lit, no jump
                assert lamp.state["on"] and lamp.state["brightness"] >= 5, lamp.state
                assert speakers.volume <= 16, speakers.volume
                await asyncio.sleep(0.15)
            desired = run.desired()
            assert isinstance(desired["lamp"], LightState) and desired["lamp"].on
            assert isinstance(desired["speakers"], PlayerState)
            assert (desired["speakers"].volume or 0) <= 16
            kinds = {e.kind for e in run.session.events}
            assert EventKind.OVERRIDE in kinds
        finally:
            await stop_daemon(run)


def test_apply_and_the_timeline_clamp_every_scene_alike() -> None:
    lib = load_library(ROOT / "config.example.yaml")
    room = lib.room
    arc = lib.arc("psilocybin")
    prefs = Preferences(darkness_limit_pct=20, brightness_max_pct=60, volume_max=30)
    checked = 0
    for name, scene in lib.scenes.items():
        applied = scene_states(room, scene, prefs)
        events = [
            Event.of(0.0, EventKind.START, {"arc": arc.name}, seq=1),
            Event.of(10.0, EventKind.CUE_ON, {"cue": name}, seq=2),
        ]
        shown = Timeline(room, arc, lib.scenes, events, prefs).at(4000.0).devices
        for dev_id, state in applied.items():
            timeline = shown.get(dev_id)
            if isinstance(state, LightState):
                assert timeline == state, (name, dev_id, timeline, state)
                checked += 1
            elif isinstance(state, PlayerState) and state.volume is not None:
                assert isinstance(timeline, PlayerState), (name, dev_id, timeline)
                assert timeline.volume == state.volume, (name, dev_id, timeline, state)
    assert checked > 20
