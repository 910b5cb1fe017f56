"""Emulated MQTT relays: Tasmota (`cmnd`/`stat`/`tele` topics) and Shelly Gen2 (JSON-RPC)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from roomctl.clock import Clock
from roomctl.mqtt.bus import BrokerUnavailableError
from roomctl.sim.mqtt_device import MqttDeviceEmulator, tasmota_availability

__all__ = ["ShellyRelayEmulator", "TasmotaRelayEmulator"]

log = logging.getLogger(__name__)


class TasmotaRelayEmulator(MqttDeviceEmulator):
    """A Tasmota relay: `cmnd/<topic>/POWER` ON|OFF|TOGGLE|"" → `stat/<topic>/RESULT` and
    `stat/<topic>/POWER`; LWT `tele/<topic>/LWT` Online/Offline (retained)."""

    def __init__(
        self, broker_host: str, broker_port: int, topic: str, *, clock: Clock | None = None
    ) -> None:
        super().__init__(broker_host, broker_port, topic, clock, tasmota_availability(topic))
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


class ShellyRelayEmulator(MqttDeviceEmulator):
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
