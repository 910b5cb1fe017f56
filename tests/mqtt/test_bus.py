"""MqttBus against a real Mosquitto: publish/subscribe, handler isolation, will and birth,
fail-fast publishing while disconnected, and reconnecting after the broker restarts."""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import uuid
from pathlib import Path

import pytest

from roomctl.model.config import MqttConfig
from roomctl.mqtt import BrokerUnavailableError, MqttBus
from roomctl.retry import Backoff
from roomctl.sim.broker import Broker, BrokerError, find_mosquitto
from tests.helpers import until


@pytest.fixture
def prefix() -> str:
    return f"t/{uuid.uuid4().hex[:8]}"


def new_bus(broker: Broker, name: str, **kwargs: object) -> MqttBus:
    config = MqttConfig(host=broker.host, port=broker.port, keepalive_s=5)
    fast = Backoff(initial_s=0.05, max_s=0.3)
    return MqttBus(config, f"{name}-{uuid.uuid4().hex[:6]}", backoff=fast, timeout_s=2, **kwargs)  # type: ignore[arg-type]


def test_backoff_grows_caps_and_jitters() -> None:
    backoff = Backoff(initial_s=1, max_s=8, factor=2, jitter=0.5, rng=random.Random(7))
    delays = [backoff.next_delay() for _ in range(7)]
    for delay, base in zip(delays, [1, 2, 4, 8, 8, 8, 8], strict=True):
        assert base * 0.5 <= delay <= base
    assert len(set(delays)) == len(delays)  # jittered: no two clients retry in lockstep
    backoff.reset()
    assert backoff.next_delay() <= 1


async def test_unreachable_broker_is_one_readable_line() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound but not listening: refused
        bus = MqttBus(MqttConfig(host="127.0.0.1", port=port), "nobody")
        with pytest.raises(BrokerUnavailableError) as caught:
            await bus.start()
    assert str(caught.value) == f"MQTT broker 127.0.0.1:{port}: connection refused"
    assert not bus.connected
    with pytest.raises(BrokerUnavailableError, match="not connected"):
        await bus.publish("x", "y")


async def test_publish_subscribe_and_handler_isolation(
    broker: Broker, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    bus = new_bus(broker, "bus")
    got: list[tuple[str, str, bytes]] = []

    def broken(topic: str, payload: bytes) -> None:
        raise RuntimeError("listener bug")

    async def slow(topic: str, payload: bytes) -> None:
        await asyncio.sleep(0.01)
        got.append(("async", topic, payload))

    await bus.subscribe(f"{prefix}/#", lambda t, p: got.append(("all", t, p)))
    await bus.start()  # subscriptions made before start are active after it
    await bus.subscribe(f"{prefix}/+/temp", lambda t, p: got.append(("temp", t, p)))
    await bus.subscribe(f"{prefix}/#", broken)
    pending = bus.subscribe(f"{prefix}/room/temp", slow)  # registered at once, without await
    assert await pending is pending  # awaiting it waits for the broker's acknowledgement
    try:
        with caplog.at_level(logging.ERROR, logger="roomctl.mqtt.bus"):
            await bus.publish(f"{prefix}/room/temp", "21.5")
            await until(lambda: len(got) == 3)
        topic = f"{prefix}/room/temp"
        assert sorted(got) == [
            ("all", topic, b"21.5"),
            ("async", topic, b"21.5"),
            ("temp", topic, b"21.5"),
        ]
        assert "listener bug" in caplog.text  # logged, and the other handlers still ran
    finally:
        await bus.close()


async def test_a_handler_that_meets_a_lost_broker_is_a_warning_not_a_fault(
    broker: Broker, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A handler that answers a message just as the broker goes away (an emulator's reply, a
    relay's control law) is told the broker is unavailable: one warning line, no traceback."""
    bus = new_bus(broker, "bus")
    answered: list[bytes] = []

    async def answer(topic: str, payload: bytes) -> None:
        answered.append(payload)
        raise BrokerUnavailableError("MQTT broker test: publish to x failed: not connected")

    await bus.start()
    await bus.subscribe(f"{prefix}/set", answer)
    try:
        with caplog.at_level(logging.WARNING, logger="roomctl.mqtt.bus"):
            await bus.publish(f"{prefix}/set", "on")
            await until(lambda: answered == [b"on"])
            await until(lambda: "not connected" in caplog.text)
        records = [r for r in caplog.records if r.name == "roomctl.mqtt.bus"]
        assert [(r.levelno, r.exc_info) for r in records] == [(logging.WARNING, None)]
    finally:
        await bus.close()


async def test_retained_message_reaches_a_late_subscriber(broker: Broker, prefix: str) -> None:
    bus = new_bus(broker, "bus")
    await bus.start()
    try:
        await bus.publish(f"{prefix}/state", b'{"on":true}', retain=True)
        seen: list[bytes] = []
        sub = await bus.subscribe(f"{prefix}/state", lambda _t, p: seen.append(p))
        await until(lambda: seen == [b'{"on":true}'])
        await sub.cancel()
        await bus.publish(f"{prefix}/state", b"", retain=True)  # clears the retained message
        await asyncio.sleep(0.05)
        assert seen == [b'{"on":true}']  # no longer subscribed
    finally:
        await bus.close()


async def test_birth_and_will(broker: Broker, prefix: str) -> None:
    watcher = new_bus(broker, "watcher")
    await watcher.start()
    seen: list[bytes] = []
    await watcher.subscribe(f"{prefix}/availability", lambda _t, p: seen.append(p))
    room = new_bus(
        broker,
        "room",
        will=(f"{prefix}/availability", "offline"),
        birth=(f"{prefix}/availability", "online"),
    )
    try:
        await room.start()
        await until(lambda: seen == [b"online"])
        await room.close()  # a clean close still says goodbye with the will's payload
        await until(lambda: seen == [b"online", b"offline"])
    finally:
        await watcher.close()


async def test_reconnects_after_broker_restart(private_broker: Broker, prefix: str) -> None:
    bus = new_bus(private_broker, "daemon")
    other = new_bus(private_broker, "device")
    seen: list[bytes] = []
    connects: list[int] = []

    async def on_connect() -> None:
        connects.append(1)

    bus.add_connect_listener(on_connect)
    await bus.subscribe(f"{prefix}/state", lambda _t, p: seen.append(p))
    await bus.start()
    await other.start()
    try:
        await until(lambda: len(connects) == 1)
        await private_broker.stop(kill=True)
        await until(lambda: not bus.connected)
        with pytest.raises(BrokerUnavailableError, match="not connected"):
            await bus.publish(f"{prefix}/cmd", "on")  # fails at once, no hanging

        await asyncio.sleep(0.2)  # a few refused reconnect attempts
        await private_broker.launch()
        await bus.wait_connected(timeout_s=3)
        await other.wait_connected(timeout_s=3)
        await other.publish(f"{prefix}/state", "after")  # the subscription was made again
        await until(lambda: seen == [b"after"])
        assert len(connects) == 2
    finally:
        await other.close()
        await bus.close()


async def test_wait_connected_times_out_readably(private_broker: Broker) -> None:
    bus = new_bus(private_broker, "daemon")
    await bus.start()
    try:
        await private_broker.stop()
        await until(lambda: not bus.connected)
        with pytest.raises(
            BrokerUnavailableError, match=r"MQTT broker 127\.0\.0\.1:\d+: not connected"
        ):
            await bus.wait_connected(timeout_s=0.1)
    finally:
        await bus.close()


# -- the test broker itself ---------------------------------------------------------------------


def test_missing_mosquitto_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BrokerError, match=r"sudo apt-get install mosquitto"):
        find_mosquitto(extra_dirs=())


async def test_broker_on_a_busy_port_reports_why(broker: Broker) -> None:
    with pytest.raises(
        BrokerError, match=rf"mosquitto on 127\.0\.0\.1:{broker.port}: the port is already in use"
    ):
        async with Broker.start(port=broker.port):
            pass
