"""Relays over MQTT (Tasmota, Shelly Gen2) and a room thermostat made of a sensor and a relay.

`RelayThermostat` reads a temperature sensor from MQTT and drives any `Switch` (a Kasa plug, or
one of the relays here) with hysteresis, minimum on/off times, a hard maximum temperature and a
sensor-silence cut-off.  The decision is the pure function `decide_heater`; the control loop only
gathers its inputs on the injected clock and applies the answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from roomctl.clock import Clock, sleep_or_wake
from roomctl.devices.base import Switch, Thermostat
from roomctl.errors import DeviceError, DeviceRejected, DeviceUnreachable
from roomctl.model.config import RelayConfig, RelayThermostatConfig, SensorConfig
from roomctl.model.state import ThermostatReading
from roomctl.mqtt.bus import MessageHandler, MqttBus, Subscription, Waiters, device_call

__all__ = [
    "ControlInput",
    "Decision",
    "RelayThermostat",
    "ShellyRelay",
    "TasmotaRelay",
    "decide_heater",
    "mqtt_relay",
    "parse_temperature",
]

log = logging.getLogger(__name__)


class _MqttSwitch(Switch):
    """Shared plumbing: subscriptions, online flag, and waiters for answers."""

    brand = "relay"

    def __init__(self, device_id: str, topic: str, bus: MqttBus, timeout_s: float) -> None:
        super().__init__(device_id)
        self.topic = topic
        self.bus = bus
        self.timeout_s = timeout_s
        self.online: bool | None = None
        self.on: bool | None = None
        self._subs: list[Subscription] = []

    def describe(self) -> str:
        return f"{self.device_id}: {self.brand} relay {self.topic}"

    async def _subscribe(self, *pairs: tuple[str, MessageHandler]) -> None:
        if not self._subs:
            for topic_filter, handler in pairs:
                self._subs.append(await self.bus.subscribe(topic_filter, handler))

    async def close(self) -> None:
        subs, self._subs = self._subs, []
        for sub in subs:
            await sub.cancel()

    def _check_online(self, operation: str) -> None:
        if self.online is False:
            raise DeviceUnreachable(self.device_id, operation, f"{self.brand} reports offline")

    def _set_online(self, online: bool | None) -> None:
        if online != self.online:
            word = {True: "online", False: "offline", None: "availability unknown"}[online]
            log.info("%s relay %s (%s): %s", self.brand, self.device_id, self.topic, word)
        self.online = online


class TasmotaRelay(_MqttSwitch):
    """Tasmota: `cmnd/<topic>/POWER` ON|OFF (never retained), `stat/<topic>/POWER`, LWT."""

    brand = "Tasmota"

    def __init__(self, device_id: str, topic: str, bus: MqttBus, *, timeout_s: float = 5.0) -> None:
        super().__init__(device_id, topic, bus, timeout_s)
        self._power: Waiters[bool] = Waiters()

    async def start(self) -> None:
        await self._subscribe(
            (f"tele/{self.topic}/LWT", self._on_lwt), (f"stat/{self.topic}/POWER", self._on_power)
        )
        await self.read_on()

    async def set_on(self, on: bool) -> None:
        await self._power_cmd("set_on", "ON" if on else "OFF", lambda state: state == on)

    async def read_on(self) -> bool:
        return await self._power_cmd("read_on", "", lambda _: True)  # empty payload: a query

    async def _power_cmd(
        self, operation: str, payload: str, accepts: Callable[[bool], bool]
    ) -> bool:
        self._check_online(operation)
        with (
            device_call(self.device_id, operation, self.timeout_s),
            self._power.expect(accepts) as answer,
        ):
            await self.bus.publish(f"cmnd/{self.topic}/POWER", payload, retain=False)
            async with asyncio.timeout(self.timeout_s):
                return await answer

    def _on_lwt(self, topic: str, payload: bytes) -> None:
        text = payload.decode(errors="replace").strip().lower()
        self._set_online({"online": True, "offline": False}.get(text))

    def _on_power(self, topic: str, payload: bytes) -> None:
        text = payload.decode(errors="replace").strip().upper()
        if text in ("ON", "OFF", "1", "0"):
            self.on = text in ("ON", "1")
            self._power.feed(self.on)


class ShellyRelay(_MqttSwitch):
    """Shelly Gen2+: JSON-RPC on `<topic>/rpc`; answers on `<src>/rpc`; status `<topic>/...`.

    Switching on sends `toggle_after` (seconds) so the device turns itself off if roomctl stops
    re-sending "on" (an on-device safety net for heaters).  None disables it.
    """

    brand = "Shelly"

    def __init__(
        self,
        device_id: str,
        topic: str,
        bus: MqttBus,
        *,
        toggle_after_s: float | None = 600.0,
        timeout_s: float = 5.0,
    ) -> None:
        super().__init__(device_id, topic, bus, timeout_s)
        self.toggle_after_s = toggle_after_s
        self.src = f"{bus.client_id}/{device_id}"
        self._answers: Waiters[dict[str, Any]] = Waiters()
        self._next_id = 1

    async def start(self) -> None:
        await self._subscribe(
            (f"{self.topic}/online", self._on_online),
            (f"{self.topic}/status/switch:0", self._on_status),
            (f"{self.src}/rpc", self._on_answer),
        )
        await self.read_on()

    async def set_on(self, on: bool) -> None:
        params: dict[str, Any] = {"id": 0, "on": on}
        if on and self.toggle_after_s:
            params["toggle_after"] = self.toggle_after_s
        await self._call("set_on", "Switch.Set", params)
        self.on = on

    async def read_on(self) -> bool:
        result = await self._call("read_on", "Switch.GetStatus", {"id": 0})
        self.on = bool(result.get("output"))
        return self.on

    async def _call(self, operation: str, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self._check_online(operation)
        request_id, self._next_id = self._next_id, self._next_id + 1
        request = {"id": request_id, "src": self.src, "method": method, "params": params}
        with (
            device_call(self.device_id, operation, self.timeout_s),
            self._answers.expect(lambda a: a.get("id") == request_id) as answer,
        ):
            await self.bus.publish(f"{self.topic}/rpc", json.dumps(request))
            async with asyncio.timeout(self.timeout_s):
                reply = await answer
        if "error" in reply:
            error = reply["error"] if isinstance(reply["error"], dict) else {}
            reason = f"{method}: {error.get('message', 'error')} (code {error.get('code')})"
            raise DeviceRejected(self.device_id, operation, reason)
        result = reply.get("result")
        return result if isinstance(result, dict) else {}

    def _on_online(self, topic: str, payload: bytes) -> None:
        text = payload.decode(errors="replace").strip().lower()
        self._set_online({"true": True, "false": False}.get(text))

    def _on_status(self, topic: str, payload: bytes) -> None:
        status = _json_dict(payload)
        if isinstance(status.get("output"), bool):
            self.on = status["output"]

    def _on_answer(self, topic: str, payload: bytes) -> None:
        self._answers.feed(_json_dict(payload))


def mqtt_relay(device_id: str, config: RelayConfig, bus: MqttBus) -> Switch:
    """The MQTT relay driver for a Tasmota or Shelly heater relay (Kasa plugs: kasa driver)."""
    if config.type == "tasmota" and config.topic:
        return TasmotaRelay(device_id, config.topic, bus)
    if config.type == "shelly" and config.topic:
        return ShellyRelay(device_id, config.topic, bus)
    raise ValueError(f"{device_id}: a {config.type} relay is not an MQTT relay")


def _json_dict(payload: bytes) -> dict[str, Any]:
    try:
        value = json.loads(payload)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def parse_temperature(sensor: SensorConfig, payload: bytes) -> float | None:
    """°C from a Zigbee2MQTT report (`temperature`) or Tasmota SENSOR (any `*.Temperature`)."""
    data = _json_dict(payload)
    if sensor.type == "z2m":
        value = data.get("temperature")
        return float(value) if isinstance(value, int | float) else None
    for reading in data.values():
        if isinstance(reading, dict) and isinstance(reading.get("Temperature"), int | float):
            celsius = float(reading["Temperature"])
            if data.get("TempUnit") == "F":
                celsius = (celsius - 32) * 5 / 9
            return round(celsius, 2)
    return None


# -- the thermostat's decision ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ControlInput:
    """Everything the heater decision depends on, at one instant (monotonic seconds)."""

    now_s: float
    mode: Literal["off", "heat"]
    setpoint_c: float | None
    temperature_c: float | None
    temperature_at_s: float | None
    heater_on: bool | None  # last state the relay acknowledged; None: unknown
    heater_since_s: float | None  # when it took that state


@dataclass(frozen=True, slots=True)
class Decision:
    on: bool
    reason: str


def decide_heater(x: ControlInput, cfg: RelayThermostatConfig) -> Decision:
    """Heater on or off.  Safety first (mode, sensor silence, maximum temperature, always
    immediate), then hysteresis: on at or below setpoint - h/2, off at or above setpoint + h/2,
    unchanged in between; a switch that would cut a minimum on/off time short waits."""
    if x.mode == "off" or x.setpoint_c is None:
        return Decision(False, "heating off" if x.mode == "off" else "no setpoint")
    if x.temperature_c is None or x.temperature_at_s is None:
        return Decision(False, "no temperature reading yet")
    if x.now_s - x.temperature_at_s > cfg.sensor_timeout_s:
        return Decision(False, f"sensor silent for {x.now_s - x.temperature_at_s:.0f} s")
    if x.temperature_c >= cfg.max_temp_c:
        return Decision(False, f"{x.temperature_c:.1f} °C at or above maximum {cfg.max_temp_c:g}")
    half = cfg.hysteresis_c / 2
    if x.temperature_c <= x.setpoint_c - half:
        want, why = True, f"{x.temperature_c:.1f} °C below {x.setpoint_c:g} °C"
    elif x.temperature_c >= x.setpoint_c + half:
        want, why = False, f"{x.temperature_c:.1f} °C above {x.setpoint_c:g} °C"
    else:
        want, why = bool(x.heater_on), "within hysteresis band"
    if x.heater_on is None or x.heater_since_s is None or want == x.heater_on:
        return Decision(want, why)
    held = x.now_s - x.heater_since_s
    minimum = cfg.min_on_s if x.heater_on else cfg.min_off_s
    if held < minimum:
        state = "on" if x.heater_on else "off"
        return Decision(x.heater_on, f"minimum {state} time ({held:.0f}/{minimum:g} s)")
    return Decision(want, why)


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
        fresh = self._temperature_at is not None and (
            self.clock.monotonic() - self._temperature_at <= self.config.sensor_timeout_s
        )
        return ThermostatReading(
            setpoint_c=self.setpoint_c,
            current_c=self.temperature_c if fresh else None,
            mode=self.mode,
            heating=self._heater_on,
        )

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


    def _on_sensor(self, topic: str, payload: bytes) -> None:
        celsius = parse_temperature(self.config.sensor, payload)
        if celsius is None:
            return
        self.temperature_c = celsius
        self._temperature_at = self.clock.monotonic()
        self._wake.set()
