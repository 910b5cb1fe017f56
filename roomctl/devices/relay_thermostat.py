"""A room thermostat made of an MQTT temperature sensor and any heater `Switch` (a Kasa plug,
or a Tasmota or Shelly relay).

The decision is the pure control law in `heater_control`; this module gathers its inputs on
the injected clock, applies the answer, and says when the sensor falls silent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from typing import Literal

from roomctl.clock import Clock, sleep_or_wake
from roomctl.devices.base import Switch, Thermostat
from roomctl.devices.heater_control import ControlInput, Decision, decide_heater
from roomctl.devices.relay import json_dict
from roomctl.errors import DeviceError, DeviceUnreachable
from roomctl.model.device_config import RelayThermostatConfig, SensorConfig
from roomctl.model.state import ThermostatReading
from roomctl.mqtt.bus import MqttBus, Subscription

__all__ = ["PLAUSIBLE_C", "RelayThermostat", "parse_temperature"]

log = logging.getLogger(__name__)


# Readings outside this range are sensor faults, not room temperatures: they are ignored, so a
# broken sensor ends in sensor silence (heater off), never in a heater held on by a bad number.
PLAUSIBLE_C = (-40.0, 85.0)


def parse_temperature(sensor: SensorConfig, payload: bytes) -> float | None:
    """°C from a Zigbee2MQTT report (`temperature`) or Tasmota SENSOR (any `*.Temperature`);
    None when the payload has none, or an implausible one (NaN, infinite, out of range)."""
    data = json_dict(payload)
    celsius: float | None = None
    if sensor.type == "z2m":
        value = data.get("temperature")
        celsius = _number(value)
    else:
        for reading in data.values():
            celsius = _number(reading.get("Temperature")) if isinstance(reading, dict) else None
            if celsius is not None:
                if data.get("TempUnit") == "F":
                    celsius = round((celsius - 32) * 5 / 9, 2)
                break
    low, high = PLAUSIBLE_C
    if celsius is None or not math.isfinite(celsius) or not low <= celsius <= high:
        return None
    return celsius


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


class RelayThermostat(Thermostat):
    """A thermostat made of an MQTT temperature sensor and any heater `Switch`.

    The control loop runs every `tick_s` on the injected clock and at once after a new reading,
    setpoint or mode; it re-sends the heater's state every `refresh_s` (restarting a Shelly's
    `toggle_after` timer).  close() turns the heater off.
    """

    def __init__(
        self,
        config: RelayThermostatConfig,
        bus: MqttBus,
        heater: Switch,
        clock: Clock,
        *,
        tick_s: float = 10.0,
        refresh_s: float = 60.0,
    ) -> None:
        super().__init__(config.id)
        self.config = config
        self.bus = bus
        self.heater = heater
        self.clock = clock
        self.tick_s = tick_s
        self.refresh_s = refresh_s
        self.setpoint_c: float | None = None
        self.mode: Literal["off", "heat"] = "heat"
        self.temperature_c: float | None = None
        self.last_decision: Decision | None = None
        self._temperature_at: float | None = None
        self._heater_on: bool | None = None
        self._heater_since: float | None = None
        self._sent_at: float | None = None
        self._sensor_silent = False  # as last logged
        self._started_at = clock.monotonic()
        self._wake = asyncio.Event()
        self._sub: Subscription | None = None
        self._loop: asyncio.Task[None] | None = None

    def describe(self) -> str:
        return f"{self.device_id}: relay thermostat ({self.heater.describe()})"

    @property
    def sensor_topic(self) -> str:
        sensor = self.config.sensor
        return sensor.topic if sensor.type == "z2m" else f"tele/{sensor.topic}/SENSOR"

    async def start(self) -> None:
        self._started_at = self.clock.monotonic()
        if self._sub is None:
            self._sub = await self.bus.subscribe(self.sensor_topic, self._on_sensor)
        try:
            await self.heater.start()
        except DeviceError as exc:
            raise DeviceUnreachable(self.device_id, "start", f"heater {exc}") from None
        if self._loop is None:
            self._loop = asyncio.create_task(self._run(), name=f"relay-thermostat:{self.device_id}")

    async def close(self) -> None:
        loop, self._loop = self._loop, None
        if loop is not None:
            loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await loop
        try:
            await self.heater.set_on(False)
        except DeviceError as exc:
            log.warning("Relay thermostat %s: cannot turn the heater off: %s", self.device_id, exc)
        await self.heater.close()
        if self._sub is not None:
            await self._sub.cancel()
            self._sub = None

    async def set_setpoint(self, setpoint_c: float) -> None:
        self.setpoint_c = setpoint_c
        self._wake.set()

    async def set_mode(self, mode: Literal["off", "heat"]) -> None:
        self.mode = mode
        self._wake.set()

    async def read_thermostat(self) -> ThermostatReading:
        age = self.sensor_age_s()
        silent = self.sensor_silent()
        return ThermostatReading(
            setpoint_c=self.setpoint_c,
            current_c=None if silent else self.temperature_c,
            mode=self.mode,
            heating=self._heater_on,
            sensor_silent=silent,
            sensor_age_s=age,
        )

    def sensor_age_s(self) -> float | None:
        """Seconds since the sensor last reported a temperature (None: never)."""
        if self._temperature_at is None:
            return None
        return max(0.0, self.clock.monotonic() - self._temperature_at)

    def sensor_silent(self) -> bool:
        """No temperature for longer than `sensor_timeout_s` (counted from start() when the
        sensor never reported)."""
        since = self._temperature_at if self._temperature_at is not None else self._started_at
        return self.clock.monotonic() - since > self.config.sensor_timeout_s

    def control_input(self) -> ControlInput:
        return ControlInput(
            now_s=self.clock.monotonic(),
            mode=self.mode,
            setpoint_c=self.setpoint_c,
            temperature_c=self.temperature_c,
            temperature_at_s=self._temperature_at,
            heater_on=self._heater_on,
            heater_since_s=self._heater_since,
        )

    async def step(self) -> Decision:
        """One control step: decide, and switch (or refresh) the heater."""
        decision = decide_heater(self.control_input(), self.config)
        now = self.clock.monotonic()
        self._note_sensor()
        due = self._sent_at is None or now - self._sent_at >= self.refresh_s
        if decision.on != self._heater_on or due:
            await self._switch(decision, now)
        self.last_decision = decision
        return decision

    async def _switch(self, decision: Decision, now: float) -> None:
        try:
            await self.heater.set_on(decision.on)
        except DeviceError as exc:
            log.warning("Relay thermostat %s: heater command failed: %s", self.device_id, exc)
            self._sent_at = None  # state unknown: send again on the next tick
            return
        if decision.on != self._heater_on:
            state = "on" if decision.on else "off"
            log.info("Relay thermostat %s: heater %s (%s)", self.device_id, state, decision.reason)
            self._heater_since = now
        self._heater_on = decision.on
        self._sent_at = now

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.step()
            except Exception:  # the loop must outlive any surprise; the heater stays as it was
                log.exception("Relay thermostat %s: control step failed", self.device_id)
            await sleep_or_wake(self.clock, self.tick_s, self._wake)

    def _note_sensor(self) -> None:
        """Log once when the sensor falls silent, and once when it is back."""
        age, silent = self.sensor_age_s(), self.sensor_silent()
        if silent == self._sensor_silent:
            return
        self._sensor_silent = silent
        if silent and age is None:
            log.warning(
                "Relay thermostat %s: no reading from sensor %s yet; the heater stays off",
                self.device_id,
                self.sensor_topic,
            )
        elif silent:
            log.warning(
                "Relay thermostat %s: sensor %s silent for %.0f s; the heater stays off",
                self.device_id,
                self.sensor_topic,
                age,
            )
        else:
            log.info(
                "Relay thermostat %s: sensor %s reports again (%.1f °C)",
                self.device_id,
                self.sensor_topic,
                self.temperature_c,
            )

    def _on_sensor(self, topic: str, payload: bytes) -> None:
        celsius = parse_temperature(self.config.sensor, payload)
        if celsius is None:
            log.debug("Relay thermostat %s: no usable temperature on %s", self.device_id, topic)
            return
        self.temperature_c = celsius
        self._temperature_at = self.clock.monotonic()
        self._wake.set()
