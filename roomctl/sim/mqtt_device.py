"""The shared part of the emulated MQTT devices: each is its own MQTT client speaking the real
topics and payloads, so the real drivers run against it in tests and in the demo.

Every emulator logs the commands it receives (`commands`, with clock timestamps) and offers
fault injection: `go_offline()`/`go_online()` (availability), and `responsive = False` (commands
are logged but neither applied nor answered, like a device that dropped off the mesh).
Clients reconnect by themselves after a broker restart.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from roomctl.clock import Clock, SystemClock
from roomctl.model.config import MqttConfig
from roomctl.mqtt.bus import MqttBus
from roomctl.retry import Backoff

__all__ = [
    "Availability",
    "MqttDeviceEmulator",
    "ReceivedCommand",
    "tasmota_availability",
    "z2m_availability",
]


@dataclass(frozen=True, slots=True)
class ReceivedCommand:
    at: float  # the emulator clock's wall time
    topic: str
    payload: Any  # decoded JSON, or the text


def _decode(payload: bytes) -> Any:
    text = payload.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


Availability = tuple[str, str, str]  # topic, online payload, offline payload


def z2m_availability(topic: str) -> Availability:
    return f"{topic}/availability", '{"state":"online"}', '{"state":"offline"}'


def tasmota_availability(topic: str) -> Availability:
    return f"tele/{topic}/LWT", "Online", "Offline"


class MqttDeviceEmulator:
    """An MQTT client with a retained availability topic (and will), a command log and faults."""

    def __init__(
        self,
        broker_host: str,
        broker_port: int,
        topic: str,
        clock: Clock | None,
        availability: Availability,
    ) -> None:
        self.topic = topic
        self.clock: Clock = clock or SystemClock()
        self.commands: list[ReceivedCommand] = []
        self.online = True
        self.responsive = True
        self.availability_topic, self._online, self._offline = availability
        self.bus = MqttBus(
            MqttConfig(host=broker_host, port=broker_port, keepalive_s=5),
            f"sim-{type(self).__name__}-{topic}".replace("/", "_"),
            will=(self.availability_topic, self._offline),
            backoff=Backoff(initial_s=0.05, max_s=0.5),
        )
        self.bus.add_connect_listener(self._announce)

    async def start(self) -> None:
        for topic_filter in self.command_topics():
            await self.bus.subscribe(topic_filter, self._on_command)
        await self.bus.start()
        await self._announce()

    async def stop(self) -> None:
        await self.bus.close()

    async def go_offline(self) -> None:
        self.online = False
        await self._announce()

    async def go_online(self) -> None:
        self.online = True
        await self._announce()

    def command_topics(self) -> list[str]:
        """The topics this device takes commands on."""
        return []

    def handle(self, topic: str, payload: Any) -> list[tuple[str, Any]]:
        """Apply a command; return the messages to publish in answer."""
        return []

    async def _announce(self) -> None:
        payload = self._online if self.online else self._offline
        await self.bus.publish(self.availability_topic, payload, retain=True)

    async def _on_command(self, topic: str, raw: bytes) -> None:
        payload = _decode(raw)
        self.commands.append(ReceivedCommand(self.clock.now(), topic, payload))
        if not (self.online and self.responsive):
            return
        for out_topic, out in self.handle(topic, payload):
            await self.publish(out_topic, out)

    async def publish(self, topic: str, payload: Any, *, retain: bool = False) -> None:
        text = payload if isinstance(payload, str) else json.dumps(payload)
        await self.bus.publish(topic, text, retain=retain)
