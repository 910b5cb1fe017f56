"""Fixtures for the MQTT device tests: a real Mosquitto on a free loopback port."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from roomctl.model.config import MqttConfig
from roomctl.mqtt import MqttBus
from roomctl.retry import Backoff
from roomctl.sim.broker import Broker
from tests import helpers

Until = Callable[[Callable[[], bool]], Awaitable[float]]


@pytest.fixture
def topic(request: pytest.FixtureRequest) -> str:
    """A topic name no other test uses."""
    name = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")
    return f"{name[:40]}-{uuid.uuid4().hex[:6]}"


def new_bus(broker: Broker, client_id: str) -> MqttBus:
    """A daemon bus for `broker` that reconnects quickly (not started)."""
    config = MqttConfig(host=broker.host, port=broker.port, keepalive_s=5)
    return MqttBus(config, client_id, timeout_s=2.0, backoff=Backoff(initial_s=0.05, max_s=0.5))


@pytest.fixture
def make_bus() -> Callable[[Broker, str], MqttBus]:
    return new_bus


@pytest.fixture
async def bus(broker: Broker, topic: str) -> AsyncIterator[MqttBus]:
    """The daemon's bus, connected to the session broker."""
    instance = new_bus(broker, f"roomctl-{topic}")
    await instance.start()
    try:
        yield instance
    finally:
        await instance.close()


@pytest.fixture
def until() -> Until:
    """`await until(lambda: condition)`: the shared poll-until helper (tests/helpers.py)."""
    return helpers.until
