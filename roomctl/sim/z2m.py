"""Emulated Zigbee2MQTT devices: a colour light with native fades and a radiator valve (TRV)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

from roomctl.clock import Clock
from roomctl.sim.mqtt_device import MqttDeviceEmulator, ReceivedCommand, z2m_availability

__all__ = ["ReceivedCommand", "Z2MLightEmulator", "Z2MThermostatEmulator"]

log = logging.getLogger(__name__)


@dataclass
class _Fade:
    start: dict[str, float]
    end: dict[str, float]
    t0: float = 0.0
    duration_s: float = 0.0

    def at(self, now: float) -> dict[str, float]:
        elapsed = (now - self.t0) / self.duration_s if self.duration_s > 0 else 1.0
        frac = min(1.0, max(0.0, elapsed))
        return {k: self.start[k] + (self.end[k] - self.start[k]) * frac for k in self.end}


class Z2MLightEmulator(MqttDeviceEmulator):
    """A colour light behind Zigbee2MQTT.  `/set` reports the target state at once (as Z2M
    does once the bulb acknowledged); the light's output fades linearly over `transition`
    seconds, and `/get` reports the output at that moment."""

    def __init__(
        self,
        broker_host: str,
        broker_port: int,
        topic: str,
        *,
        clock: Clock | None = None,
        mired_range: tuple[int, int] = (153, 500),
    ) -> None:
        super().__init__(broker_host, broker_port, topic, clock, z2m_availability(topic))
        self.mired_range = mired_range
        self.on = False
        self.brightness = 254
        self.color_temp = 370
        self.color_mode: Literal["color_temp", "hs"] = "color_temp"
        self.hue = 0.0
        self.saturation = 0.0
        self.last_transition_s = 0.0
        dark = {"level": 0.0, "color_temp": 370.0}
        self._fade = _Fade(dark, dark)

    def command_topics(self) -> list[str]:
        return [f"{self.topic}/set", f"{self.topic}/get"]

    def output(self) -> dict[str, float]:
        """What the bulb emits now: `level` 0–254 and `color_temp` in mireds."""
        return self._fade.at(self.clock.monotonic())

    def report(self, *, current: bool = False) -> dict[str, Any]:
        out = self.output()
        lit = out["level"] >= 0.5 if current else self.on
        brightness = round(out["level"]) if current and lit else self.brightness
        state: dict[str, Any] = {"state": "ON" if lit else "OFF", "brightness": brightness}
        state["color_mode"] = self.color_mode
        state["color_temp"] = round(out["color_temp"]) if current else self.color_temp
        state["color"] = {"hue": round(self.hue), "saturation": round(self.saturation)}
        state["linkquality"] = 120
        return state

    def handle(self, topic: str, payload: Any) -> list[tuple[str, Any]]:
        if topic.endswith("/get"):
            return [(self.topic, self.report(current=True))]
        if not isinstance(payload, dict) or not self._apply(payload):
            log.warning("Z2M light emulator %s: invalid command %r", self.topic, payload)
            return []
        return [(self.topic, self.report())]

    def _apply(self, cmd: dict[str, Any]) -> bool:
        start = self.output()
        state = str(cmd.get("state", "")).upper()
        brightness = cmd.get("brightness")
        if state not in ("", "ON", "OFF", "TOGGLE"):
            return False
        if brightness is not None and not (
            isinstance(brightness, int | float) and 0 <= brightness <= 254
        ):
            return False
        if state == "TOGGLE":
            state = "OFF" if self.on else "ON"
        if state or brightness is not None:
            self.on = state != "OFF" and brightness != 0
        if brightness:
            self.brightness = round(brightness)
        self._apply_color(cmd)
        self.last_transition_s = float(cmd.get("transition", 0))
        end = {"level": float(self.brightness if self.on else 0), "color_temp": self.color_temp}
        self._fade = _Fade(start, end, self.clock.monotonic(), self.last_transition_s)
        return True

    def _apply_color(self, cmd: dict[str, Any]) -> None:
        if isinstance(cmd.get("color_temp"), int | float):
            low, high = self.mired_range
            self.color_temp = max(low, min(high, round(cmd["color_temp"])))
            self.color_mode = "color_temp"
        color = cmd.get("color")
        if isinstance(color, dict) and "hue" in color and "saturation" in color:
            self.hue, self.saturation = float(color["hue"]) % 360, float(color["saturation"])
            self.color_mode = "hs"


class Z2MThermostatEmulator(MqttDeviceEmulator):
    """A Zigbee2MQTT radiator valve: setpoint (5–30 °C, 0.5 steps), system_mode, and a
    running_state that follows local_temperature against the setpoint."""

    def __init__(
        self,
        broker_host: str,
        broker_port: int,
        topic: str,
        *,
        setpoint_key: str = "occupied_heating_setpoint",
        local_temperature: float = 20.0,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(broker_host, broker_port, topic, clock, z2m_availability(topic))
        self.setpoint_key = setpoint_key
        self.setpoint_c = 20.0
        self.local_temperature = local_temperature
        self.system_mode = "heat"

    def command_topics(self) -> list[str]:
        return [f"{self.topic}/set", f"{self.topic}/get"]

    def report(self) -> dict[str, Any]:
        heating = self.system_mode == "heat" and self.local_temperature < self.setpoint_c
        return {
            self.setpoint_key: self.setpoint_c,
            "local_temperature": self.local_temperature,
            "system_mode": self.system_mode,
            "running_state": "heat" if heating else "idle",
            "battery": 87,
        }

    async def set_local_temperature(self, celsius: float) -> None:
        self.local_temperature = celsius
        await self.publish(self.topic, self.report())

    def handle(self, topic: str, payload: Any) -> list[tuple[str, Any]]:
        if topic.endswith("/set") and isinstance(payload, dict):
            setpoint = payload.get(self.setpoint_key)
            if isinstance(setpoint, int | float):
                self.setpoint_c = max(5.0, min(30.0, round(setpoint * 2) / 2))
            if payload.get("system_mode") in ("off", "heat", "auto"):
                self.system_mode = payload["system_mode"]
        return [(self.topic, self.report())]
