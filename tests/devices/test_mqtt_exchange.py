"""Waiting for an MQTT device's answer (devices/mqtt_exchange.py), and drivers on a bus whose
broker is not there: every failure is DeviceUnreachable naming the device and operation."""

from __future__ import annotations

import asyncio
import re

import pytest

from roomctl.clock import VirtualClock
from roomctl.devices.mqtt_exchange import Waiters, device_call
from roomctl.devices.relay import ShellyRelay, TasmotaRelay
from roomctl.devices.relay_thermostat import RelayThermostat
from roomctl.devices.z2m import Z2MLight
from roomctl.errors import DeviceUnreachable
from roomctl.model.config import MqttConfig, RelayThermostatConfig, Z2MLightConfig
from roomctl.model.state import LightState
from roomctl.mqtt import BrokerUnavailableError, MqttBus


async def test_a_waiter_gets_the_first_value_it_accepts_and_is_always_removed() -> None:
    waiters: Waiters[int] = Waiters()
    with waiters.expect(lambda v: v > 1) as answer:
        waiters.feed(1)
        assert not answer.done()
        waiters.feed(2)
        waiters.feed(3)
        assert await answer == 2
    assert waiters._waiting == []
    with waiters.expect() as failing:
        waiters.fail(ConnectionError("offline"))
        with pytest.raises(ConnectionError):
            await failing
    assert waiters._waiting == []


async def test_device_call_names_the_device_and_operation() -> None:
    no_answer = re.escape("lamp: set_light failed: no answer within 2 s")
    with (
        pytest.raises(DeviceUnreachable, match=f"^{no_answer}$"),
        device_call("lamp", "set_light", 2),
    ):
        raise TimeoutError
    gone = "MQTT broker 127.0.0.1:1: not connected"
    expected = re.escape(f"heater: read_on failed: {gone}")
    with (
        pytest.raises(DeviceUnreachable, match=f"^{expected}$"),
        device_call("heater", "read_on", 2),
    ):
        raise BrokerUnavailableError(gone)


@pytest.fixture
def no_broker() -> MqttBus:
    """A bus that was never connected (the daemon started while the broker was away)."""
    return MqttBus(MqttConfig(host="127.0.0.1", port=1), "roomctl-test")


async def test_drivers_without_a_broker_are_unreachable_not_crashing(no_broker: MqttBus) -> None:
    light = Z2MLight(
        Z2MLightConfig(id="ceiling", zone="z", driver="z2m_light", topic="z/ceiling"), no_broker
    )
    with pytest.raises(DeviceUnreachable, match=r"^ceiling: start failed: MQTT broker"):
        await light.start()
    with pytest.raises(DeviceUnreachable, match=r"^ceiling: set_light failed: MQTT broker"):
        await light.set_light(LightState(True, 50), 1.0)
    for relay in (TasmotaRelay("t", "t", no_broker), ShellyRelay("s", "s", no_broker)):
        with pytest.raises(DeviceUnreachable, match=f"^{relay.device_id}: read_on failed"):
            await relay.start()
        await relay.close()
    await light.close()


async def test_a_relay_thermostat_without_a_broker_is_unreachable(no_broker: MqttBus) -> None:
    cfg = RelayThermostatConfig.model_validate(
        {
            "id": "radiator",
            "zone": "z",
            "driver": "relay_thermostat",
            "sensor": {"type": "z2m", "topic": "s"},
            "heater": {"type": "tasmota", "topic": "h"},
        }
    )
    thermostat = RelayThermostat(cfg, no_broker, TasmotaRelay("h", "h", no_broker), VirtualClock())
    with pytest.raises(DeviceUnreachable, match=r"^radiator: start failed: heater h: read_on"):
        await thermostat.start()
    await asyncio.wait_for(thermostat.close(), 5)  # never raises, even without a broker
