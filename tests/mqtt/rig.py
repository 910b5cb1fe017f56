"""Rooms with the MQTT API for the tests in tests/mqtt/: a daemon with its API on a real
Mosquitto, and an observer (a second real MQTT client) that records what the room publishes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from roomctl.clock import Clock, SystemClock
from roomctl.control.daemon import Daemon
from roomctl.model.config import MqttConfig
from roomctl.model.library import PACKAGE_SCENES, load_library
from roomctl.mqtt.bus import MqttBus
from roomctl.mqtt_api.service import MqttApi
from roomctl.retry import Backoff
from roomctl.sim.broker import Broker
from roomctl.sim.z2m import Z2MLightEmulator
from tests.daemon_support import Running, settings_for, stop_daemon
from tests.helpers import until

FAST = Backoff(initial_s=0.05, max_s=0.5)


@dataclass
class Message:
    topic: str
    payload: bytes
    at: float  # time.monotonic() when it arrived

    def json(self) -> Any:
        return json.loads(self.payload)


@dataclass
class Observer:
    """A real MQTT client that keeps every message on its filters."""

    bus: MqttBus
    messages: list[Message] = field(default_factory=list)

    def on(self, topic: str) -> list[Message]:
        return [m for m in self.messages if m.topic == topic]

    def last(self, topic: str) -> Message | None:
        found = self.on(topic)
        return found[-1] if found else None

    def handle(self, topic: str, payload: bytes) -> None:
        self.messages.append(Message(topic, payload, time.monotonic()))

    async def publish(self, topic: str, payload: str | bytes, *, retain: bool = False) -> None:
        await self.bus.publish(topic, payload, retain=retain)

    async def last_json(self, topic: str, what: str = "") -> Any:
        await until(lambda: self.last(topic) is not None, what=what or f"a message on {topic}")
        last = self.last(topic)
        assert last is not None
        return last.json()


@contextlib.asynccontextmanager
async def observer(
    broker: Broker, *filters: str, config: MqttConfig | None = None
) -> AsyncIterator[Observer]:
    cfg = config or MqttConfig(host=broker.host, port=broker.port, keepalive_s=5)
    bus = MqttBus(cfg, f"observer-{uuid.uuid4().hex[:6]}", backoff=FAST, timeout_s=2)
    obs = Observer(bus)
    await bus.start()
    try:
        for f in filters:
            await bus.subscribe(f, obs.handle)
        yield obs
    finally:
        await bus.close()


def small_room(folder: Path, broker: Broker, room_id: str, light_topic: str, **mqtt: Any) -> Path:
    """A room of one Zigbee2MQTT light on `broker`: config file path."""
    cfg = {
        "room": {"id": room_id, "name": f"Room {room_id}"},
        "devices": [{"id": "ceiling", "driver": "z2m_light", "topic": light_topic, "zone": "lamp"}],
        "storage": {"path": str(folder / f"{room_id}.db")},
        "mqtt": {"host": broker.host, "port": broker.port, "keepalive_s": 5, **mqtt},
        "scenes_dir": str(PACKAGE_SCENES),
    }
    path = folder / f"{room_id}.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    return path


@dataclass
class ApiRoom:
    run: Running
    api: MqttApi

    @property
    def daemon(self) -> Daemon:
        return self.run.daemon


@contextlib.asynccontextmanager
async def api_room(
    config: Path, clock: Clock | None = None, *, reconnect: Backoff | None = FAST
) -> AsyncIterator[ApiRoom]:
    """A daemon on `config` with its MQTT API running (state published at most once a second);
    its bus reconnects after `reconnect` (None: as the daemon's own bus does)."""
    apis: list[MqttApi] = []
    ready = asyncio.Event()

    async def service(daemon: Daemon) -> None:
        assert daemon.bus is not None
        if reconnect is not None:
            daemon.bus._backoff = reconnect  # reconnect quickly after a broker restart
        api = MqttApi(daemon)
        apis.append(api)
        ready.set()
        await api.run()

    clock = clock or SystemClock()
    before = asyncio.all_tasks()
    daemon = Daemon(load_library(config), clock, settings=settings_for(clock), poll_s=1.0)
    daemon.services.append(("mqtt-api", service))
    stop = asyncio.Event()
    task = asyncio.create_task(daemon.run(stop), name="daemon-under-test")
    waiting = asyncio.ensure_future(ready.wait())
    await asyncio.wait({waiting, task}, timeout=15, return_when=asyncio.FIRST_COMPLETED)
    waiting.cancel()
    if task.done():
        task.result()
    assert ready.is_set(), "the daemon's MQTT API did not start within 15 s"
    run = Running(daemon, stop, task, before)
    try:
        yield ApiRoom(run, apis[0])
    finally:
        await stop_daemon(run)


@contextlib.asynccontextmanager
async def z2m_light(broker: Broker, topic: str) -> AsyncIterator[Z2MLightEmulator]:
    emu = Z2MLightEmulator(broker.host, broker.port, topic)
    await emu.start()
    try:
        yield emu
    finally:
        await emu.stop()
