"""The room's topics under `<base_topic>/<room id>/`, and Home Assistant's under its prefix."""

from __future__ import annotations

from dataclasses import dataclass

from roomctl.model.config import MqttConfig

__all__ = ["COMMANDS", "RoomTopics"]

# The command topics a room listens to: <base>/<room>/cmd/<name>.
COMMANDS = ("scene", "session", "cue", "emergency", "volume", "music")


@dataclass(frozen=True)
class RoomTopics:
    base: str
    room_id: str
    discovery_prefix: str = "homeassistant"

    @classmethod
    def of(cls, config: MqttConfig, room_id: str) -> RoomTopics:
        return cls(config.base_topic, room_id, config.discovery_prefix)

    @property
    def root(self) -> str:
        return f"{self.base}/{self.room_id}"

    @property
    def state(self) -> str:
        return f"{self.root}/state"

    @property
    def availability(self) -> str:
        return f"{self.root}/availability"

    @property
    def event(self) -> str:
        return f"{self.root}/event"

    def cmd(self, name: str) -> str:
        return f"{self.root}/cmd/{name}"

    @property
    def cmd_filter(self) -> str:
        return f"{self.root}/cmd/#"

    @property
    def node_id(self) -> str:
        """The room's node id in discovery topics and unique ids (letters, digits, _ and -)."""
        return "roomctl_" + "".join(c if c.isalnum() or c in "_-" else "_" for c in self.room_id)

    def discovery(self, component: str, object_id: str) -> str:
        return f"{self.discovery_prefix}/{component}/{self.node_id}/{object_id}/config"

    @property
    def discovery_filter(self) -> str:
        """Every discovery config of this room (to find ones that went away)."""
        return f"{self.discovery_prefix}/+/{self.node_id}/+/config"

    @property
    def ha_status(self) -> str:
        """Home Assistant's birth and will: `online` when it (re)starts."""
        return f"{self.discovery_prefix}/status"
