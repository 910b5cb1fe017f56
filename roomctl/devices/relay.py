"""Heater and fan relays over MQTT: Tasmota and Shelly Gen2+.

Both are `Switch` drivers on the shared bus; a command counts as landed when the device
answers (Tasmota's `stat/<topic>/POWER`, Shelly's JSON-RPC reply).  Kasa plugs: devices/kasa.py.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

from roomctl.devices.base import Switch
from roomctl.devices.mqtt_exchange import Waiters, device_call
from roomctl.errors import DeviceRejected, DeviceUnreachable
from roomctl.model.device_config import RelayConfig
from roomctl.mqtt.bus import MessageHandler, MqttBus, Subscription

__all__ = ["ShellyRelay", "TasmotaRelay", "json_dict", "mqtt_relay"]

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
            self.bus.add_connect_listener(self._reconnected)

    async def _reconnected(self) -> None:
        """The bus is back (a restarted broker forgets the retained LWT, and the relay may
        have said "Online" before we subscribed again): a failed relay is read now."""
        self.back_online()

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
        if online:  # also the retained LWT again after the bus reconnected
            self.back_online()


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
        status = json_dict(payload)
        if isinstance(status.get("output"), bool):
            self.on = status["output"]

    def _on_answer(self, topic: str, payload: bytes) -> None:
        self._answers.feed(json_dict(payload))


def mqtt_relay(device_id: str, config: RelayConfig, bus: MqttBus) -> Switch:
    """The MQTT relay driver for a Tasmota or Shelly heater relay (Kasa plugs: kasa driver)."""
    if config.type == "tasmota" and config.topic:
        return TasmotaRelay(device_id, config.topic, bus)
    if config.type == "shelly" and config.topic:
        return ShellyRelay(device_id, config.topic, bus)
    raise ValueError(f"{device_id}: a {config.type} relay is not an MQTT relay")


def json_dict(payload: bytes) -> dict[str, Any]:
    """The JSON object in `payload`, or {} when it is not one."""
    try:
        value = json.loads(payload)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
