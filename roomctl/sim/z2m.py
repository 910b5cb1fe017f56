"""Emulated MQTT devices: Zigbee2MQTT light, radiator valve and temperature sensor, and
Tasmota and Shelly relays.  Each is its own MQTT client speaking the real topics and payloads,
so the real drivers run against them in tests and in the demo.

Every emulator logs the commands it receives (`commands`, with clock timestamps) and offers
fault injection: `go_offline()`/`go_online()` (availability), and `responsive = False` (commands
are logged but neither applied nor answered, like a device that dropped off the mesh).
Clients reconnect by themselves after a broker restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from roomctl.clock import Clock, SystemClock
from roomctl.model.config import MqttConfig
from roomctl.mqtt.bus import Backoff, BrokerUnavailableError, MqttBus

__all__ = [
    "ReceivedCommand",
    "RoomModel",
    "ShellyRelayEmulator",
    "TasmotaRelayEmulator",
    "TemperatureSensorEmulator",
    "Z2MLightEmulator",
    "Z2MThermostatEmulator",
]

log = logging.getLogger(__name__)


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


def _z2m_availability(topic: str) -> Availability:
    return f"{topic}/availability", '{"state":"online"}', '{"state":"offline"}'


def _tasmota_availability(topic: str) -> Availability:
    return f"tele/{topic}/LWT", "Online", "Offline"


class _Emulator:
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


# -- Zigbee2MQTT --------------------------------------------------------------------------------


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


class Z2MLightEmulator(_Emulator):
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
        super().__init__(broker_host, broker_port, topic, clock, _z2m_availability(topic))
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


class Z2MThermostatEmulator(_Emulator):
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
        super().__init__(broker_host, broker_port, topic, clock, _z2m_availability(topic))
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


class TemperatureSensorEmulator(_Emulator):
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
        avail = _z2m_availability(topic) if kind == "z2m" else _tasmota_availability(topic)
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


# -- relays -------------------------------------------------------------------------------------


class TasmotaRelayEmulator(_Emulator):
    """A Tasmota relay: `cmnd/<topic>/POWER` ON|OFF|TOGGLE|"" → `stat/<topic>/RESULT` and
    `stat/<topic>/POWER`; LWT `tele/<topic>/LWT` Online/Offline (retained)."""

    def __init__(
        self, broker_host: str, broker_port: int, topic: str, *, clock: Clock | None = None
    ) -> None:
        super().__init__(broker_host, broker_port, topic, clock, _tasmota_availability(topic))
        self.on = False
        self.switch_count = 0

    def command_topics(self) -> list[str]:
        return [f"cmnd/{self.topic}/POWER"]

    def handle(self, topic: str, payload: Any) -> list[tuple[str, Any]]:
        text = str(payload).strip().upper()
        wanted = {"ON": True, "1": True, "OFF": False, "0": False, "TOGGLE": not self.on}
        if text in wanted:
            self.switch_count += wanted[text] != self.on
            self.on = wanted[text]
        elif text:
            return [(f"stat/{self.topic}/RESULT", {"Command": "Error"})]
        power = "ON" if self.on else "OFF"
        return [
            (f"stat/{self.topic}/RESULT", {"POWER": power}),
            (f"stat/{self.topic}/POWER", power),
        ]


class ShellyRelayEmulator(_Emulator):
    """A Shelly Gen2 relay: JSON-RPC `Switch.Set`/`Switch.Toggle`/`Switch.GetStatus` on
    `<topic>/rpc`, answers on `<src>/rpc`, status on `<topic>/status/switch:0`, and
    `toggle_after` as an auto-off timer on the emulator's clock."""

    def __init__(
        self, broker_host: str, broker_port: int, topic: str, *, clock: Clock | None = None
    ) -> None:
        super().__init__(
            broker_host, broker_port, topic, clock, (f"{topic}/online", "true", "false")
        )
        self.on = False
        self.auto_off_at: float | None = None
        self._timer: asyncio.Task[None] | None = None

    def command_topics(self) -> list[str]:
        return [f"{self.topic}/rpc"]

    async def stop(self) -> None:
        self._cancel_timer()
        await super().stop()

    def handle(self, topic: str, payload: Any) -> list[tuple[str, Any]]:
        if not isinstance(payload, dict) or not isinstance(payload.get("src"), str):
            return []
        answer: dict[str, Any] = {"id": payload.get("id"), "src": self.topic, "dst": payload["src"]}
        params = payload.get("params")
        params = params if isinstance(params, dict) else {}
        method = payload.get("method")
        out: list[tuple[str, Any]] = []
        if method in ("Switch.Set", "Switch.Toggle"):
            was_on = self.on
            self.on = bool(params.get("on")) if method == "Switch.Set" else not was_on
            self._arm_timer(params.get("toggle_after") if self.on else None)
            answer["result"] = {"was_on": was_on}
            out.append((f"{self.topic}/status/switch:0", self.status()))
        elif method == "Switch.GetStatus":
            answer["result"] = self.status()
        else:
            answer["error"] = {"code": 404, "message": f"No handler for {method}"}
        return [(f"{payload['src']}/rpc", answer), *out]

    def status(self) -> dict[str, Any]:
        return {"id": 0, "source": "MQTT", "output": self.on, "temperature": {"tC": 41.2}}

    def _arm_timer(self, toggle_after: Any) -> None:
        """`toggle_after` on a switched-on relay: off again after that many seconds."""
        self._cancel_timer()
        if isinstance(toggle_after, int | float) and toggle_after > 0:
            self.auto_off_at = self.clock.monotonic() + toggle_after
            self._timer = asyncio.create_task(self._auto_off(toggle_after))

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self.auto_off_at = None

    async def _auto_off(self, delay_s: float) -> None:
        await self.clock.sleep(delay_s)
        self._timer = self.auto_off_at = None
        self.on = False
        log.info("Shelly emulator %s: toggle_after expired, switched off", self.topic)
        try:
            await self.publish(f"{self.topic}/status/switch:0", self.status())
        except BrokerUnavailableError as exc:
            log.warning("Shelly emulator %s: status not published: %s", self.topic, exc)
