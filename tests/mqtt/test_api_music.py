"""`cmd/music` on the demo room of emulators and a real Mosquitto: PAUSE fades the speaker down
and pauses it (the retained state says so, an event tells it), an emergency and its clear
leave it paused, RESUME plays it again; a bad word is logged and ignored."""

from __future__ import annotations

import asyncio
from pathlib import Path

from roomctl.clock import ScaledClock
from roomctl.sim.demo import DemoRoom
from tests.faults import write_config
from tests.helpers import until
from tests.mqtt.rig import api_room, observer


async def test_pause_and_resume_the_music_over_mqtt(tmp_path: Path) -> None:
    clock = ScaledClock(50.0)
    async with DemoRoom.start(clock, tmp_path) as demo:
        assert demo.sonos is not None
        speaker = demo.sonos.coordinator
        path = write_config(demo, tmp_path / "daemon.yaml")
        root = "roomctl/demo"
        async with api_room(path, clock) as room, observer(demo.broker, f"{root}/#") as obs:
            session = room.daemon.session
            assert session is not None
            session.start("psilocybin", by="test")
            await until(lambda: speaker.transport_state == "PLAYING", 20, "the music plays")

            def state() -> dict[str, object]:
                last = obs.last(f"{root}/state")
                return {} if last is None else dict(last.json())

            await obs.publish(f"{root}/cmd/music", "LOUDER")  # neither: logged and ignored
            await until(lambda: room.api.commands.ignored == 1)
            await obs.publish(f"{root}/cmd/music", "PAUSE")
            await until(lambda: speaker.transport_state == "PAUSED_PLAYBACK", 20,
                        lambda: speaker.transport_state)  # fmt: skip
            assert speaker.volume == 0
            await until(lambda: bool(state().get("music_paused")), 10, "music_paused in the state")
            paused = state()["music_paused"]
            assert isinstance(paused, dict) and paused["reason"] == "facilitator"
            assert paused["by"] == f"mqtt:{root}/cmd/music"
            events = [m.json() for m in obs.on(f"{root}/event")]
            assert any(e["type"] == "music" and e["paused"] for e in events), events

            plays = speaker.count("Play")
            await obs.publish(f"{root}/cmd/emergency", "ON")
            await until(lambda: session.emergency_on, 10, "the emergency")
            await obs.publish(f"{root}/cmd/emergency", "CLEAR")
            await until(lambda: not session.emergency_on, 10, "the clear")
            await asyncio.sleep(2.0)  # 100 s of session time: the lights fade back
            assert speaker.transport_state == "PAUSED_PLAYBACK" and speaker.count("Play") == plays

            await obs.publish(f"{root}/cmd/music", "resume")
            await until(lambda: speaker.transport_state == "PLAYING", 20,
                        lambda: speaker.transport_state)  # fmt: skip
            await until(lambda: speaker.volume > 0, 20, lambda: speaker.volume)
            await until(lambda: state().get("music_paused") is None, 10, "resumed in the state")
            kinds = [(e.kind.value, e.by) for e in session.events if e.kind.value.startswith("mu")]
            by = f"mqtt:{root}/cmd/music"
            assert kinds == [("music_pause", by), ("music_resume", by)]
