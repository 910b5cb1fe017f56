"""Zigbee2MQTT lights and radiator valves (TRVs) over the shared MQTT bus.

A device publishes its state as JSON on `<topic>` and takes commands as JSON on `<topic>/set`;
`<topic>/get` asks it to read its attributes and report them.  Availability is the retained
`<topic>/availability` ("online"/"offline" or {"state": ...}).

A command counts as landed when the device's next state report reflects it (Zigbee2MQTT reports
the new state once the device acknowledged the command); no such report within the timeout is
DeviceUnreachable, and so is a device whose availability is offline.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any, Literal

from roomctl.devices.base import Device, Light, Thermostat
from roomctl.devices.mqtt_exchange import Waiters, device_call
from roomctl.errors import DeviceUnreachable
from roomctl.model.config import Z2MLightConfig, Z2MThermostatConfig
from roomctl.model.state import LightState, ThermostatReading
from roomctl.mqtt.bus import MqttBus, Subscription

__all__ = [
    "Z2MLight",
    "Z2MThermostat",
    "kelvin_to_mired",
    "light_command",
    "light_state",
    "mired_to_kelvin",
    "parse_availability",
    "reflects",
]

log = logging.getLogger(__name__)

Report = dict[str, Any]
_MODES: tuple[Literal["off", "heat", "cool", "auto"], ...] = ("off", "heat", "cool", "auto")


class _OfflineError(Exception):
    """Raised into waiting commands when the availability topic says offline."""


def parse_availability(payload: bytes) -> bool | None:
    """True/False for online/offline (plain or {"state": ...}); None when empty or unknown."""
    text = payload.decode("utf-8", errors="replace").strip()
    if text.startswith("{"):
        try:
            text = str(json.loads(text).get("state", ""))
        except (ValueError, AttributeError):
            return None
    return {"online": True, "offline": False}.get(text.lower())


def kelvin_to_mired(kelvin: float) -> int:
    return round(1_000_000 / kelvin)


def mired_to_kelvin(mired: float) -> int:
    return round(1_000_000 / mired)


def light_command(state: LightState, transition_s: float, config: Z2MLightConfig) -> dict[str, Any]:
    """The `<topic>/set` payload for `state`: brightness 0–254, colour temperature in mireds."""
    cmd: dict[str, Any] = {"state": "ON" if state.on else "OFF"}
    if state.on:
        if state.brightness_pct is not None:
            cmd["brightness"] = max(1, min(254, round(state.brightness_pct * 254 / 100)))
        if config.color and state.hue is not None and state.saturation is not None:
            cmd["color"] = {"hue": round(state.hue) % 360, "saturation": round(state.saturation)}
        elif config.color_temp and state.color_temp_k is not None:
            low_k, high_k = config.color_temp_range_k
            kelvin = max(low_k, min(high_k, state.color_temp_k))
            cmd["color_temp"] = kelvin_to_mired(kelvin)
    if transition_s > 0:
        cmd["transition"] = round(transition_s, 1)
    return cmd


def light_state(report: Report, config: Z2MLightConfig) -> LightState:
    """What a Zigbee2MQTT light state report says the light shows."""
    if str(report.get("state", "")).upper() != "ON":
        return LightState(on=False)
    brightness = report.get("brightness")
    pct = None if brightness is None else max(1.0, round(float(brightness) * 100 / 254, 1))
    mode = report.get("color_mode")
    color = report.get("color")
    color = color if isinstance(color, dict) else {}
    if config.color and mode in ("hs", "xy") and "hue" in color and "saturation" in color:
        hue, sat = float(color["hue"]), float(color["saturation"])
        return LightState(on=True, brightness_pct=pct, hue=hue, saturation=sat)
    mired = report.get("color_temp")
    if config.color_temp and mode in ("color_temp", None) and mired:
        return LightState(on=True, brightness_pct=pct, color_temp_k=mired_to_kelvin(mired))
    return LightState(on=True, brightness_pct=pct)


def reflects(report: Report, command: dict[str, Any]) -> bool:
    """True when a state report shows what `command` asked (within rounding)."""
    for key, wanted in command.items():
        if key == "transition":
            continue
        got = report.get(key)
        if key == "state":
            if str(got).upper() != wanted:
                return False
        elif key == "color":
            if isinstance(got, dict) and not _same_color(got, wanted):
                return False
        elif isinstance(wanted, int | float) and isinstance(got, int | float):
            if abs(got - wanted) > _TOLERANCE.get(key, 0.01):
                return False
        elif got is not None and got != wanted:
            return False
    return True


_TOLERANCE = {"brightness": 1, "color_temp": 2}


def _same_color(got: dict[str, Any], wanted: dict[str, Any]) -> bool:
    if "hue" not in got or "saturation" not in got:
        return True  # reported as x/y only: nothing to compare
    hue_delta = abs((float(got["hue"]) - float(wanted["hue"]) + 180) % 360 - 180)
    return hue_delta <= 2 and abs(float(got["saturation"]) - float(wanted["saturation"])) <= 2


class _Endpoint:
    """One Zigbee2MQTT device on the bus: its last state, availability and waiting commands."""

    def __init__(
        self,
        device_id: str,
        topic: str,
        bus: MqttBus,
        timeout_s: float,
        owner: Device,
    ) -> None:
        self.device_id = device_id
        self.topic = topic
        self.bus = bus
        self.timeout_s = timeout_s
        self._owner = owner  # told when the device is back online
        self.state: Report = {}
        self.available: bool | None = None
        self._waiters: Waiters[Report] = Waiters()
        self._subs: list[Subscription] = []

    async def start(self, read_keys: dict[str, str]) -> Report:
        if not self._subs:  # availability first: its retained value arrives before the state
            self._subs.append(await self.bus.subscribe(f"{self.topic}/availability", self._avail))
            self._subs.append(await self.bus.subscribe(self.topic, self._report))
            self.bus.add_connect_listener(self._reconnected)
        return await self.read("start", read_keys)

    async def _reconnected(self) -> None:
        """The bus is back.  A restarted broker has forgotten the retained availability, and
        the device may have said "online" before we subscribed again: a failed device is
        read now rather than when its backoff comes round."""
        self._owner.back_online()

    async def close(self) -> None:
        subs, self._subs = self._subs, []
        for sub in subs:
            await sub.cancel()

    async def read(self, operation: str, keys: dict[str, str]) -> Report:
        """Ask the device for `keys` (`<topic>/get`) and return its next state report."""
        return await self._exchange(operation, f"{self.topic}/get", keys, lambda _: True)

    async def command(self, operation: str, payload: dict[str, Any]) -> Report:
        """Send `payload` to `<topic>/set`; return the first report that reflects it."""
        return await self._exchange(
            operation, f"{self.topic}/set", payload, lambda r: reflects(r, payload)
        )

    async def _exchange(
        self,
        operation: str,
        topic: str,
        payload: dict[str, Any],
        accepts: Callable[[Report], bool],
    ) -> Report:
        if self.available is False:
            raise DeviceUnreachable(self.device_id, operation, "offline (Zigbee2MQTT)")
        try:
            with (
                device_call(self.device_id, operation, self.timeout_s),
                self._waiters.expect(accepts) as answer,
            ):
                await self.bus.publish(topic, json.dumps(payload))
                async with asyncio.timeout(self.timeout_s):
                    return await answer
        except _OfflineError:
            raise DeviceUnreachable(self.device_id, operation, "went offline") from None

    def _avail(self, topic: str, payload: bytes) -> None:
        available = parse_availability(payload)
        if available != self.available:
            log.info("Zigbee2MQTT %s (%s): %s", self.device_id, self.topic, _word(available))
        self.available = available
        if available is False:
            self._waiters.fail(_OfflineError())
        elif available:  # also the retained one again after the bus reconnected
            self._owner.back_online()

    def _report(self, topic: str, payload: bytes) -> None:
        try:
            report = json.loads(payload)
        except ValueError:
            log.warning(
                "Zigbee2MQTT %s: state on %s is not JSON: %.80r", self.device_id, topic, payload
            )
            return
        if isinstance(report, dict):
            self.state.update(report)
            self._waiters.feed(report)


def _word(available: bool | None) -> str:
    return {True: "online", False: "offline", None: "availability unknown"}[available]


class Z2MLight(Light):
    """A Zigbee2MQTT light with native transitions."""

    def __init__(self, config: Z2MLightConfig, bus: MqttBus, *, timeout_s: float = 5.0) -> None:
        super().__init__(config.id)
        self.config = config
        self._ep = _Endpoint(config.id, config.topic, bus, timeout_s, self)
        keys = ["state", "brightness"]  # ask only for what the light has: Z2M logs the rest
        keys += ["color_temp"] if config.color_temp else []
        keys += ["color"] if config.color else []
        self._keys = dict.fromkeys(keys, "")

    @property
    def supports_color_temp(self) -> bool:
        return self.config.color_temp

    @property
    def supports_hue(self) -> bool:
        return self.config.color

    @property
    def color_temp_range_k(self) -> tuple[int, int] | None:
        return self.config.color_temp_range_k if self.config.color_temp else None

    @property
    def brightness_levels(self) -> int:
        return 254

    @property
    def available(self) -> bool | None:
        """The device's last availability report (None: none seen)."""
        return self._ep.available

    def describe(self) -> str:
        return f"{self.device_id}: Zigbee2MQTT light on {self.config.topic}"

    async def start(self) -> None:
        await self._ep.start(self._keys)

    async def close(self) -> None:
        await self._ep.close()

    async def set_light(self, state: LightState, transition_s: float) -> None:
        command = light_command(state, transition_s, self.config)
        log.debug("Zigbee2MQTT %s: set %s", self.device_id, command)
        await self._ep.command("set_light", command)

    async def read_light(self) -> LightState:
        report = await self._ep.read("read_light", self._keys)
        return light_state({**self._ep.state, **report}, self.config)


class Z2MThermostat(Thermostat):
    """A Zigbee2MQTT radiator valve: setpoint, local temperature, system mode, running state."""

    def __init__(
        self, config: Z2MThermostatConfig, bus: MqttBus, *, timeout_s: float = 5.0
    ) -> None:
        super().__init__(config.id)
        self.config = config
        self._ep = _Endpoint(config.id, config.topic, bus, timeout_s, self)
        self._keys = dict.fromkeys(
            (config.setpoint_key, "local_temperature", "system_mode", "running_state"), ""
        )

    @property
    def available(self) -> bool | None:
        return self._ep.available

    def describe(self) -> str:
        return f"{self.device_id}: Zigbee2MQTT thermostat on {self.config.topic}"

    @property
    def setpoint_step_c(self) -> float:
        return 0.5

    async def start(self) -> None:
        await self._ep.start(self._keys)

    async def close(self) -> None:
        await self._ep.close()

    async def set_setpoint(self, setpoint_c: float) -> None:
        setpoint = round(setpoint_c * 2) / 2  # TRVs take steps of 0.5 °C
        log.debug("Zigbee2MQTT %s: setpoint %.1f °C", self.device_id, setpoint)
        await self._ep.command("set_setpoint", {self.config.setpoint_key: setpoint})

    async def set_mode(self, mode: Literal["off", "heat"]) -> None:
        await self._ep.command("set_mode", {"system_mode": mode})

    async def read_thermostat(self) -> ThermostatReading:
        report = {**self._ep.state, **await self._ep.read("read_thermostat", self._keys)}
        mode = report.get("system_mode")
        running = report.get("running_state")
        return ThermostatReading(
            setpoint_c=_number(report.get(self.config.setpoint_key)),
            current_c=_number(report.get("local_temperature")),
            mode=mode if mode in _MODES else None,
            heating=None if running is None else running == "heat",
        )


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None
