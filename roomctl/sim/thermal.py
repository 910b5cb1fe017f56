"""The room's thermal model and an emulated temperature sensor that reports it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from roomctl.clock import Clock
from roomctl.mqtt.bus import BrokerUnavailableError
from roomctl.sim.mqtt_device import MqttDeviceEmulator, tasmota_availability, z2m_availability

__all__ = ["RoomModel", "TemperatureSensorEmulator"]

log = logging.getLogger(__name__)


@dataclass
class RoomModel:
    """A room that a heater warms and the outside cools (Newton's law), in °C and seconds."""

    temperature_c: float = 19.0
    outside_c: float = 12.0
    heater_c_per_s: float = 0.01
    loss_per_s: float = 0.0005
    heater: Callable[[], bool] = field(default=lambda: False)

    def advance(self, dt_s: float) -> float:
        warming = self.heater_c_per_s if self.heater() else 0.0
        cooling = self.loss_per_s * (self.temperature_c - self.outside_c)
        self.temperature_c += (warming - cooling) * max(0.0, dt_s)
        return self.temperature_c


class TemperatureSensorEmulator(MqttDeviceEmulator):
    """A temperature sensor publishing every `interval_s`: Zigbee2MQTT JSON on `<topic>`, or
    Tasmota telemetry on `tele/<topic>/SENSOR`.  With a `room`, it reports the room model."""

    def __init__(
        self,
        broker_host: str,
        broker_port: int,
        topic: str,
        *,
        kind: Literal["z2m", "tasmota"] = "z2m",
        temperature_c: float = 20.0,
        interval_s: float = 60.0,
        room: RoomModel | None = None,
        clock: Clock | None = None,
    ) -> None:
        avail = z2m_availability(topic) if kind == "z2m" else tasmota_availability(topic)
        super().__init__(broker_host, broker_port, topic, clock, avail)
        self.kind = kind
        self.temperature_c = temperature_c
        self.interval_s = interval_s
        self.room = room
        self.silent = False
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await super().start()
        self._task = asyncio.create_task(self._run(), name=f"sim-sensor:{self.topic}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await super().stop()

    async def publish_now(self) -> None:
        """Publish the current temperature (unless silent or offline)."""
        if self.silent or not self.online:
            return
        value = round(self.temperature_c, 2)
        if self.kind == "z2m":
            await self.publish(self.topic, {"temperature": value, "humidity": 45.0})
        else:
            data = {"Time": "2026-01-01T00:00:00", "DS18B20": {"Temperature": value}}
            await self.publish(f"tele/{self.topic}/SENSOR", {**data, "TempUnit": "C"})

    async def _run(self) -> None:
        last = self.clock.monotonic()
        while True:
            if self.room is not None:
                now = self.clock.monotonic()
                self.temperature_c = self.room.advance(now - last)
                last = now
            try:
                await self.publish_now()
            except BrokerUnavailableError as exc:
                log.warning("Sensor emulator %s: reading not published: %s", self.topic, exc)
            await self.clock.sleep(self.interval_s)
