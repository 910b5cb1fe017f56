"""The room's MQTT face, run beside the engine: `daemon.services.append(("mqtt-api", run))`.

On the daemon's one MQTT connection: retained state and events (`StatePublisher`), the
command topics (`MqttCommands`), Home Assistant discovery (`Discovery`) and the room
temperature read from the thermostats for both.  Without an `mqtt:` section it does nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from typing import Any

from roomctl.control.daemon import Daemon
from roomctl.control.room_state import RoomState
from roomctl.control.session import SessionControl
from roomctl.errors import DeviceError
from roomctl.model.library import Library
from roomctl.mqtt_api.commands import MqttCommands
from roomctl.mqtt_api.discovery import Discovery
from roomctl.mqtt_api.room_scene import RoomScene
from roomctl.mqtt_api.state_publisher import StatePublisher
from roomctl.mqtt_api.topics import RoomTopics

__all__ = ["MqttApi", "current_scene", "run"]

log = logging.getLogger(__name__)

TEMPERATURE_READ_S = 60.0  # how often the room temperature is read (session-clock seconds)


def current_scene(lib: Library, state: RoomState, room_scene: RoomScene) -> str | None:
    """The scene the room shows: the emergency, a cue, the phase's scene; without a session
    the scene asked for over MQTT."""
    if state.emergency:
        return "emergency"
    s = state.session
    if s is not None and not s.ended:
        if s.cue is not None:
            return s.cue
        arc = lib.arcs.get(s.arc)
        if arc is not None and 0 <= s.phase_index < len(arc.phases):
            return arc.phases[s.phase_index].scene
        return None
    return room_scene.name


class MqttApi:
    """The parts, joined to one daemon (exposed for tests and the web's overview)."""

    def __init__(self, daemon: Daemon, *, min_interval_s: float = 1.0) -> None:
        lib, bus, control = daemon.lib, daemon.bus, daemon.session
        assert bus is not None and control is not None and lib.room.mqtt is not None
        self.daemon = daemon
        self.control: SessionControl = control
        self.topics = RoomTopics.of(lib.room.mqtt, lib.room.room.id)
        self.room_scene = RoomScene()
        self.temperature_c: float | None = None
        self.commands = MqttCommands(lib, control, self.topics, self.room_scene, changed=self._wake)
        self.publisher = StatePublisher(
            bus,
            self.topics,
            daemon.hub,
            daemon.state,
            extras=self._extras,
            events=lambda: control.events,
            min_interval_s=min_interval_s,
        )
        self.discovery: Discovery | None = None
        if lib.room.mqtt.discovery:
            self.discovery = Discovery(
                bus, self.topics, lib, after_announce=self.publisher.republish
            )

    def _wake(self) -> None:
        """The room scene changed: the engine plans again, the faces look again."""
        if self.daemon.engine is not None:
            self.daemon.engine.wake()
        self.daemon.hub.changed()

    def _extras(self) -> dict[str, Any]:
        state = self.daemon.state()
        return {
            "scene": current_scene(self.daemon.lib, state, self.room_scene),
            "temperature_c": self.temperature_c,
        }

    async def run(self) -> None:
        daemon = self.daemon
        bus = daemon.bus
        assert bus is not None and daemon.engine is not None
        daemon.engine.set_desired(self.room_scene.layered(self.control))
        bus.subscribe(self.topics.cmd_filter, self.commands.handle)
        log.info("MQTT API: room %s on %s/#", self.topics.room_id, self.topics.root)
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.publisher.run(), name="mqtt-api:state")
            tg.create_task(self._read_temperature(), name="mqtt-api:temperature")
            if self.discovery is not None:
                await self.discovery.start()
                if bus.connected:
                    tg.create_task(self.discovery.announce(), name="mqtt-api:discovery")

    async def _read_temperature(self) -> None:
        """The room temperature from the thermostats (a relay thermostat's room sensor first)."""
        climate = self.daemon.climate
        if climate is None:
            return
        room = self.daemon.lib.room
        relay = {d.id for d in room.devices if d.driver == "relay_thermostat"}
        thermostats = sorted(climate.thermostats, key=lambda t: t.device_id not in relay)
        while True:
            found: float | None = None
            for thermostat in thermostats:
                with contextlib.suppress(DeviceError, TimeoutError):
                    async with asyncio.timeout(10.0):
                        reading = await thermostat.read_thermostat()
                    if reading.current_c is not None and math.isfinite(reading.current_c):
                        found = round(reading.current_c, 1)
                        break
            if found != self.temperature_c:
                self.temperature_c = found
                self.daemon.hub.changed()
            await self.daemon.clock.sleep(TEMPERATURE_READ_S)


async def run(daemon: Daemon) -> None:
    """The daemon service: the room's MQTT API, while the daemon runs."""
    room = daemon.lib.room
    if room.mqtt is None or daemon.bus is None:
        return
    await MqttApi(daemon).run()
