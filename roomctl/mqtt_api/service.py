"""The room's MQTT face, run beside the engine: `daemon.services.append(("mqtt-api", run))`.

On the daemon's one MQTT connection: retained state and events (`StatePublisher`), the
command topics (`MqttCommands`), Home Assistant discovery (`Discovery`) and the room
temperature read from the thermostats for both.  Without an `mqtt:` section it does nothing.
"""

from __future__ import annotations

import asyncio
import logging

from roomctl.control.daemon import Daemon
from roomctl.control.session import SessionControl
from roomctl.mqtt_api.commands import MqttCommands
from roomctl.mqtt_api.discovery import Discovery
from roomctl.mqtt_api.state_publisher import StatePublisher
from roomctl.mqtt_api.topics import RoomTopics

__all__ = ["MqttApi", "run"]

log = logging.getLogger(__name__)



class MqttApi:
    """The parts, joined to one daemon (exposed for tests and the web's overview)."""

    def __init__(self, daemon: Daemon, *, min_interval_s: float = 1.0) -> None:
        lib, bus, control = daemon.lib, daemon.bus, daemon.session
        assert bus is not None and control is not None and lib.room.mqtt is not None
        self.daemon = daemon
        self.control: SessionControl = control
        self.topics = RoomTopics.of(lib.room.mqtt, lib.room.room.id)
        self.room_scene = control.room_scene
        self.commands = MqttCommands(lib, control, self.topics, self.room_scene, changed=self._wake)
        self.publisher = StatePublisher(
            bus,
            self.topics,
            daemon.hub,
            daemon.state,
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

    async def run(self) -> None:
        daemon = self.daemon
        bus = daemon.bus
        assert bus is not None and daemon.engine is not None
        bus.subscribe(self.topics.cmd_filter, self.commands.handle)
        log.info("MQTT API: room %s on %s/#", self.topics.room_id, self.topics.root)
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.publisher.run(), name="mqtt-api:state")
            if self.discovery is not None:
                await self.discovery.start()
                if bus.connected:
                    tg.create_task(self.discovery.announce(), name="mqtt-api:discovery")


async def run(daemon: Daemon) -> None:
    """The daemon service: the room's MQTT API, while the daemon runs."""
    room = daemon.lib.room
    if room.mqtt is None or daemon.bus is None:
        return
    await MqttApi(daemon).run()
