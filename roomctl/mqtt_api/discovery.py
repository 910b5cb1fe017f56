"""Home Assistant MQTT discovery: the room as one HA device.

One retained config per entity on `<prefix>/<component>/roomctl_<room>/<object>/config`
(HA's documented per-entity discovery schema), every entity tied to the room's availability
topic (online by the daemon's birth, offline by its Last Will) and reading the room's retained
state JSON with a `value_template`:

- select `scene` (the library's scenes but the emergency's) → `cmd/scene`;
- buttons advance, hold, resume (→ `cmd/session`), the cues talk, break, check-in that the
  room has (→ `cmd/cue`), emergency and clear emergency (→ `cmd/emergency`);
- sensors phase, time left in the phase and time since T0 (minutes), the room temperature
  (with a thermostat); a binary sensor emergency (device class safety: on = unsafe);
- a number master volume, 0 .. the safety cap, and buttons pause music and resume music
  (with music players) → `cmd/volume`, `cmd/music`; a binary sensor music paused.

`Discovery.announce()` publishes them (also when HA's birth, `online` on `<prefix>/status`,
arrives) and clears (an empty retained config) every config of this room still on the broker
that is not in the current set: an entity that went away (a cue scene removed, the players
gone) disappears from HA.  `remove()` clears them all.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from roomctl import __version__
from roomctl.model.config import DeviceKind
from roomctl.model.library import Library
from roomctl.mqtt.bus import BrokerUnavailableError, MqttBus
from roomctl.mqtt_api.topics import RoomTopics

__all__ = ["Discovery", "Entity", "entities"]

log = logging.getLogger(__name__)

# How long retained configs take to arrive after subscribing (to find stale ones).
RETAINED_WAIT_S = 1.0

_NONE = "None"  # a value_template rendering "None" makes the HA entity's state unknown
_SESSION = "value_json.session"


@dataclass(frozen=True)
class Entity:
    component: str
    object_id: str
    config: dict[str, Any]


def _session_value(expr: str) -> str:
    return f"{{{{ {expr} if {_SESSION} and {expr} is not none else '{_NONE}' }}}}"


def entities(lib: Library, topics: RoomTopics) -> list[Entity]:
    """Every entity's discovery config for the room, as HA documents the keys."""
    room = lib.room
    node = topics.node_id
    device = {
        "identifiers": [node],
        "name": room.room.name or room.room.id,
        "manufacturer": "roomctl",
        "model": "Session room",
        "sw_version": __version__,
    }
    common = {
        "device": device,
        "origin": {"name": "roomctl", "sw_version": __version__},
        "availability_topic": topics.availability,
        "payload_available": "online",
        "payload_not_available": "offline",
    }
    out: list[Entity] = []

    def add(component: str, object_id: str, name: str, **config: Any) -> None:
        unique = {"unique_id": f"{node}_{object_id}", "name": name}
        out.append(Entity(component, object_id, {**unique, **common, **config}))

    scenes = sorted(n for n in lib.scenes if n != "emergency")
    if scenes:
        add(
            "select",
            "scene",
            "Scene",
            command_topic=topics.cmd("scene"),
            state_topic=topics.state,
            value_template=(
                f"{{{{ value_json.scene if value_json.scene in {scenes!r} else '{_NONE}' }}}}"
            ),
            options=scenes,
            icon="mdi:palette",
        )
    for action, name, icon in (
        ("advance", "Advance", "mdi:skip-next"),
        ("hold", "Hold", "mdi:pause"),
        ("resume", "Resume", "mdi:play"),
    ):
        add(
            "button",
            action,
            name,
            command_topic=topics.cmd("session"),
            payload_press=json.dumps({"action": action}),
            icon=icon,
        )
    for cue in lib.cues:
        add(
            "button",
            f"cue_{cue.replace('-', '_')}",
            cue.replace("-", " ").capitalize(),
            command_topic=topics.cmd("cue"),
            payload_press=cue,
            icon="mdi:account-voice" if cue == "talk" else "mdi:coffee",
        )
    add(
        "button",
        "emergency",
        "Emergency",
        command_topic=topics.cmd("emergency"),
        payload_press="ON",
        icon="mdi:alarm-light",
    )
    add(
        "button",
        "clear_emergency",
        "Clear emergency",
        command_topic=topics.cmd("emergency"),
        payload_press="CLEAR",
        icon="mdi:alarm-light-off",
    )
    add(
        "sensor",
        "phase",
        "Phase",
        state_topic=topics.state,
        value_template=_session_value(f"{_SESSION}.phase"),
        icon="mdi:timeline-clock",
    )
    minutes = "| float / 60) | round(1)"
    add(
        "sensor",
        "time_left",
        "Time left in phase",
        state_topic=topics.state,
        value_template=(
            f"{{{{ ({_SESSION}.to_next_phase_s {minutes} if {_SESSION} and "
            f"{_SESSION}.to_next_phase_s is not none else '{_NONE}' }}}}"
        ),
        device_class="duration",
        unit_of_measurement="min",
    )
    add(
        "sensor",
        "since_t0",
        "Time since T0",
        state_topic=topics.state,
        value_template=(f"{{{{ ({_SESSION}.since_t0_s {minutes} if {_SESSION} else '{_NONE}' }}}}"),
        device_class="duration",
        unit_of_measurement="min",
    )
    add(
        "binary_sensor",
        "emergency_on",
        "Emergency",
        state_topic=topics.state,
        value_template="{{ 'ON' if value_json.emergency else 'OFF' }}",
        payload_on="ON",
        payload_off="OFF",
        device_class="safety",
    )
    players = [d for d in room.devices if d.kind is DeviceKind.PLAYER]
    if players:
        first = players[0].id
        add(
            "number",
            "volume",
            "Master volume",
            command_topic=topics.cmd("volume"),
            state_topic=topics.state,
            value_template=(
                "{% set d = value_json.devices | selectattr('id', 'eq', "
                f"{first!r}) | first %}}"
                "{{ d.reported.volume if d and d.reported and d.reported.volume is not none "
                f"else '{_NONE}' }}}}"
            ),
            min=0,
            max=room.safety.max_volume,
            step=1,
            mode="slider",
            icon="mdi:volume-high",
        )
        for word, name, icon in (("PAUSE", "Pause music", "mdi:music-off"),
                                 ("RESUME", "Resume music", "mdi:music")):  # fmt: skip
            add("button", f"music_{word.lower()}", name, command_topic=topics.cmd("music"),
                payload_press=word, icon=icon)  # fmt: skip
        add(
            "binary_sensor",
            "music_paused",
            "Music paused",
            state_topic=topics.state,
            value_template="{{ 'ON' if value_json.music_paused else 'OFF' }}",
            payload_on="ON",
            payload_off="OFF",
            icon="mdi:music-off",
        )
    if any(d.kind is DeviceKind.THERMOSTAT for d in room.devices):
        add(
            "sensor",
            "temperature",
            "Room temperature",
            state_topic=topics.state,
            value_template=(
                "{{ value_json.temperature_c if value_json.temperature_c is not none "
                f"else '{_NONE}' }}}}"
            ),
            device_class="temperature",
            state_class="measurement",
            unit_of_measurement="°C",
        )
    return out


class Discovery:
    def __init__(
        self,
        bus: MqttBus,
        topics: RoomTopics,
        lib: Library,
        *,
        after_announce: Callable[[], Any] | None = None,
        retained_wait_s: float = RETAINED_WAIT_S,
    ) -> None:
        self.bus = bus
        self.topics = topics
        self.lib = lib
        self.after_announce = after_announce  # e.g. republish the state HA just learnt to read
        self.retained_wait_s = retained_wait_s
        self.on_broker: set[str] = set()  # config topics of this room the broker holds
        self.announced = 0
        self._lock = asyncio.Lock()

    def configs(self) -> dict[str, dict[str, Any]]:
        return {
            self.topics.discovery(e.component, e.object_id): e.config
            for e in entities(self.lib, self.topics)
        }

    async def start(self) -> None:
        """Follow this room's configs on the broker and HA's birth; announce on every connect
        (a restarted broker without persistence has forgotten them)."""
        await self.bus.subscribe(self.topics.discovery_filter, self.seen)
        await self.bus.subscribe(self.topics.ha_status, self._ha_status)
        self.bus.add_connect_listener(self.announce)

    def seen(self, topic: str, payload: bytes) -> None:
        if payload:
            self.on_broker.add(topic)
        else:
            self.on_broker.discard(topic)

    async def _ha_status(self, topic: str, payload: bytes) -> None:
        del topic
        if payload.strip().lower() == b"online":
            log.info("Home Assistant is online: announcing the room again")
            await self.announce(wait=False)

    async def announce(self, *, wait: bool = True) -> None:
        """Publish every config (retained), then clear those of entities that went away."""
        async with self._lock:
            current = self.configs()
            try:
                for topic, config in current.items():
                    await self.bus.publish(topic, json.dumps(config), retain=True)
                if wait:  # let the retained configs of earlier runs arrive
                    await asyncio.sleep(self.retained_wait_s)
                for topic in sorted(self.on_broker - set(current)):
                    log.info("Home Assistant: removing %s (no longer in the room)", topic)
                    await self.bus.publish(topic, b"", retain=True)
                    self.on_broker.discard(topic)
            except BrokerUnavailableError as exc:
                log.info("Home Assistant discovery not sent: %s (sent again on reconnect)", exc)
                return
            self.announced += 1
        if self.after_announce is not None:
            result = self.after_announce()
            if asyncio.iscoroutine(result):
                await result

    async def remove(self) -> list[str]:
        """Clear every config of this room (the current ones and any left on the broker)."""
        async with self._lock:
            await asyncio.sleep(self.retained_wait_s)
            gone = sorted(self.on_broker | set(self.configs()))
            for topic in gone:
                await self.bus.publish(topic, b"", retain=True)
            self.on_broker.clear()
            return gone
