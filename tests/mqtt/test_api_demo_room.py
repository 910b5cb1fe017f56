"""The MQTT API on the demo room of emulators: the master volume and a scene during a session
become manual overrides (within the safety cap), and the state carries the room temperature."""

from __future__ import annotations

import itertools
from pathlib import Path

import yaml

from roomctl.clock import ScaledClock
from roomctl.sim.demo import DemoRoom
from tests.faults import write_config
from tests.helpers import until
from tests.mqtt.rig import api_room, observer


async def test_volume_scene_and_temperature_on_the_demo_room(tmp_path: Path) -> None:
    clock = ScaledClock(200.0)
    async with DemoRoom.start(clock, tmp_path) as demo:
        path = write_config(demo, tmp_path / "daemon.yaml")
        root = "roomctl/demo"
        async with api_room(path, clock) as room, observer(demo.broker, f"{root}/#") as obs:
            session = room.daemon.session
            assert session is not None
            session.start("psilocybin", by="test")
            cap = room.daemon.lib.room.safety.max_volume

            await obs.publish(f"{root}/cmd/volume", str(cap + 1))  # above the cap: refused
            await until(lambda: room.api.commands.ignored == 1)
            await obs.publish(f"{root}/cmd/volume", "12")
            await until(lambda: room.api.commands.handled == 1)
            overrides = [e for e in session.events if e.kind.value == "override"]
            assert [(e.data["device"], e.data["channel"], e.data["value"]) for e in overrides] == [
                ("speakers", "volume", 12)
            ]
            assert overrides[0].by == f"mqtt:{root}/cmd/volume"

            await obs.publish(f"{root}/cmd/scene", "calm")
            await until(lambda: room.api.commands.handled == 2)
            by_scene = [e for e in session.events if e.by == f"mqtt:{root}/cmd/scene"]
            assert by_scene and all(e.kind.value == "override" for e in by_scene)
            assert {e.data["device"] for e in by_scene} >= {"lamp", "ceiling"}

            await obs.publish(f"{root}/cmd/scene", "break")  # a cue scene is the cue
            await until(lambda: session.events[-1].kind.value == "cue_on")

            await until(
                lambda: (
                    (obs.last(f"{root}/state") or obs.messages[0]).json().get("temperature_c")
                    is not None
                ),
                30,
                what="the room temperature in the state",
            )
            state = obs.last(f"{root}/state").json()  # type: ignore[union-attr]
            assert 10 < state["temperature_c"] < 35
            assert state["scene"] == "break"


async def test_state_is_coalesced_to_once_a_second_during_fades(tmp_path: Path) -> None:
    """At 200× the room changes hundreds of times a second; the state goes out at most once a
    second (plus the first)."""
    import asyncio

    clock = ScaledClock(200.0)
    async with DemoRoom.start(clock, tmp_path) as demo:
        cfg = demo.config()
        path = tmp_path / "daemon.yaml"
        path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
        async with (
            api_room(path, clock) as room,
            observer(demo.broker, "roomctl/demo/state") as obs,
        ):
            assert room.daemon.session is not None
            room.daemon.session.start("psilocybin", by="test")
            await until(lambda: len(obs.messages) >= 2)
            start = len(obs.messages)
            await asyncio.sleep(3.5)
            times = [m.at for m in obs.messages[start:]]
            assert 2 <= len(times) <= 5, times
            gaps = [b - a for a, b in itertools.pairwise(times)]
            assert all(g > 0.8 for g in gaps), gaps
