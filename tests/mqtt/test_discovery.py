"""Home Assistant discovery on a real Mosquitto: every config uses only the keys HA documents
for its platform and carries what HA requires; the configs come again when HA's birth arrives;
an entity that went away is cleared (empty retained config); `roomctl discovery remove`
clears them all."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from roomctl.cli.main import main
from roomctl.model.library import load_library
from roomctl.mqtt_api.discovery import entities
from roomctl.mqtt_api.topics import RoomTopics
from roomctl.sim.broker import Broker
from tests.helpers import until
from tests.mqtt.rig import api_room, observer, small_room

ROOT = Path(__file__).resolve().parents[2]

# From HA's MQTT integration docs (home-assistant.io/integrations/<platform>.mqtt/):
# the keys roomctl may use, per platform, and those each platform requires.
COMMON = {
    "availability_topic", "payload_available", "payload_not_available", "device", "origin",
    "name", "unique_id", "icon", "entity_category", "enabled_by_default", "qos",
}  # fmt: skip
DOCUMENTED = {
    "select": COMMON | {"command_topic", "state_topic", "value_template", "options", "retain"},
    "button": COMMON | {"command_topic", "payload_press", "device_class", "retain"},
    "sensor": COMMON
    | {"state_topic", "value_template", "device_class", "unit_of_measurement", "state_class"},
    "binary_sensor": COMMON
    | {"state_topic", "value_template", "payload_on", "payload_off", "device_class"},
    "number": COMMON
    | {"command_topic", "state_topic", "value_template", "min", "max", "step", "mode"},
}
REQUIRED = {
    "select": {"command_topic", "options"},
    "button": {"command_topic"},
    "sensor": {"state_topic"},
    "binary_sensor": {"state_topic"},
    "number": {"command_topic"},
}
DEVICE_KEYS = {"identifiers", "name", "manufacturer", "model", "sw_version"}
SENSOR_CLASSES = {"duration": {"s", "min", "h", "d"}, "temperature": {"°C"}}


def test_demo_room_entities_use_documented_keys() -> None:
    lib = load_library(ROOT / "config.example.yaml")
    topics = RoomTopics("roomctl", lib.room.room.id)
    found = entities(lib, topics)
    ids = {(e.component, e.object_id) for e in found}
    assert {
        ("select", "scene"),
        ("button", "advance"),
        ("button", "hold"),
        ("button", "resume"),
        ("button", "cue_talk"),
        ("button", "cue_break"),
        ("button", "cue_check_in"),
        ("button", "emergency"),
        ("button", "clear_emergency"),
        ("sensor", "phase"),
        ("sensor", "time_left"),
        ("sensor", "since_t0"),
        ("binary_sensor", "emergency_on"),
        ("number", "volume"),
        ("button", "music_pause"),
        ("button", "music_resume"),
        ("binary_sensor", "music_paused"),
        ("sensor", "temperature"),
    } <= ids
    uniques = [e.config["unique_id"] for e in found]
    assert len(set(uniques)) == len(uniques)
    for e in found:
        keys = set(e.config)
        assert keys <= DOCUMENTED[e.component], (e.object_id, keys - DOCUMENTED[e.component])
        assert REQUIRED[e.component] <= keys, e.object_id
        assert set(e.config["device"]) <= DEVICE_KEYS
        assert e.config["device"]["identifiers"] == [f"roomctl_{lib.room.room.id}"]
        assert e.config["availability_topic"] == f"roomctl/{lib.room.room.id}/availability"
        cls = e.config.get("device_class")
        if e.component == "sensor" and cls is not None:
            assert e.config["unit_of_measurement"] in SENSOR_CLASSES[cls]
        if "command_topic" in e.config:
            assert e.config["command_topic"].startswith(f"roomctl/{lib.room.room.id}/cmd/")
    volume = next(e for e in found if e.object_id == "volume")
    assert volume.config["max"] == lib.room.safety.max_volume
    scene = next(e for e in found if e.object_id == "scene")
    assert "emergency" not in scene.config["options"]


async def test_announce_rebirth_stale_removal_and_remove(
    tmp_path: Path, private_broker: Broker
) -> None:
    config = small_room(tmp_path, private_broker, "ha-room", "zigbee2mqtt/ha-ceiling")
    node = "roomctl_ha-room"
    stale = f"homeassistant/button/{node}/cue_gone/config"
    async with observer(private_broker, "homeassistant/#") as ha:
        # an entity of an earlier run that this room no longer has
        await ha.publish(stale, json.dumps({"name": "gone"}), retain=True)
        async with api_room(config) as room:
            disc = room.api.discovery
            assert disc is not None
            await until(lambda: disc.announced >= 1, what="the first announcement")
            configs = {m.topic: m.payload for m in ha.messages if m.topic.endswith("/config")}
            assert f"homeassistant/select/{node}/scene/config" in configs
            assert "homeassistant/number" not in " ".join(configs)  # no players in this room
            await until(lambda: ha.last(stale) is not None and ha.last(stale).payload == b"")  # type: ignore[union-attr]

            count = len(ha.on(f"homeassistant/select/{node}/scene/config"))
            await ha.publish("homeassistant/status", "online")  # HA restarted
            await until(lambda: len(ha.on(f"homeassistant/select/{node}/scene/config")) > count)
        # the daemon stopped; the configs stay for HA (offline by availability) until removed
        assert await asyncio.to_thread(main, ["discovery", "remove", "--config", str(config)]) == 0
        async with observer(private_broker, f"homeassistant/+/{node}/+/config") as late:
            await asyncio.sleep(1.0)
            assert [m.topic for m in late.messages if m.payload] == []


def _render(template: str, state: dict[str, Any]) -> str:
    """A value_template rendered as Home Assistant renders it: Jinja2 in a sandbox, the state
    topic's JSON as `value_json`."""
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    return ImmutableSandboxedEnvironment().from_string(template).render(value_json=state).strip()


def test_the_value_templates_render_the_room_state() -> None:
    """Every entity's value_template, rendered by Jinja2 (HA's template engine) over the state
    the room publishes (RoomState as JSON), with a session running and without one."""
    from roomctl.control.room_state import RoomState

    lib = load_library(ROOT / "config.example.yaml")
    found = {e.object_id: e.config for e in entities(lib, RoomTopics("roomctl", "room-1"))}
    device = {"zone": "speakers", "available": True, "last_error": None, "last_ok_at": 1.0}
    running = RoomState.model_validate({
        "room_id": "room-1", "room_name": "Session Room 1", "at": 1_800_000_000.0,
        "session": {
            "id": "s-1", "arc": "psilocybin", "arc_title": "Psilocybin", "client_id": None,
            "phase": "onset", "phase_index": 2, "phases": ["settle", "pre-onset", "onset"],
            "next_phase": "building", "since_t0_s": 2700.0, "dosed": True,
            "phase_started_at": 1.0, "to_next_phase_s": 900.0, "held": False, "cue": None,
            "cue_ends_at": None, "cooling": False, "ended": False, "started_at": 0.0,
        },
        "scene": "onset", "emergency": False, "temperature_c": 21.4, "alerts": [],
        "devices": [{"id": "speakers", "kind": "player", "desired": None,
                     "reported": {"source": "favorite:Onset", "volume": 18}, **device}],
    }).model_dump(mode="json")  # fmt: skip
    idle = {**running, "session": None, "scene": None, "temperature_c": None,
            "emergency": True, "devices": []}  # fmt: skip
    values = {k: _render(c["value_template"], running) for k, c in found.items()
              if "value_template" in c}  # fmt: skip
    assert values == {
        "scene": "onset",
        "phase": "onset",
        "time_left": "15.0",
        "since_t0": "45.0",
        "emergency_on": "OFF",
        "volume": "18",
        "music_paused": "OFF",
        "temperature": "21.4",
    }
    paused = {**running, "music_paused": {"since": 1.0, "reason": "power cut", "by": "system"}}
    assert _render(found["music_paused"]["value_template"], paused) == "ON"
    nothing = {k: _render(c["value_template"], idle) for k, c in found.items()
               if "value_template" in c}  # fmt: skip
    assert nothing == {
        "scene": "None",
        "phase": "None",
        "time_left": "None",
        "since_t0": "None",
        "emergency_on": "ON",
        "volume": "None",
        "music_paused": "OFF",
        "temperature": "None",
    }
