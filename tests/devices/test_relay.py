"""Relays and the relay thermostat against the Tasmota/Shelly/sensor emulators through a real
Mosquitto (the control law itself: test_heater_control.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from roomctl.clock import SystemClock, VirtualClock
from roomctl.devices.relay import ShellyRelay, TasmotaRelay
from roomctl.devices.relay_thermostat import RelayThermostat, parse_temperature
from roomctl.errors import DeviceRejected, DeviceUnreachable
from roomctl.model.device_config import RelayThermostatConfig, SensorConfig
from roomctl.mqtt import MqttBus
from roomctl.sim.broker import Broker
from roomctl.sim.relays import ShellyRelayEmulator, TasmotaRelayEmulator
from roomctl.sim.thermal import RoomModel, TemperatureSensorEmulator

Until = Callable[[Callable[[], bool]], Awaitable[None]]


def thermostat_config(
    sensor: str = "z2m", topic: str = "sensor", **extra: object
) -> RelayThermostatConfig:
    return RelayThermostatConfig.model_validate(
        {
            "id": "radiator",
            "zone": "main",
            "driver": "relay_thermostat",
            "sensor": {"type": sensor, "topic": topic},
            "heater": {"type": "tasmota", "topic": "heater"},
            **extra,
        }
    )


# -- the sensor's payloads ----------------------------------------------------------------------


def test_temperature_payloads() -> None:
    z2m, tasmota = SensorConfig(type="z2m", topic="s"), SensorConfig(type="tasmota", topic="s")
    assert parse_temperature(z2m, b'{"temperature": 21.4, "humidity": 40}') == 21.4
    assert parse_temperature(z2m, b'{"humidity": 40}') is None
    sensor = b'{"Time":"x","AM2301":{"Temperature":22.5,"Humidity":40},"TempUnit":"C"}'
    assert parse_temperature(tasmota, sensor) == 22.5
    fahrenheit = b'{"DS18B20":{"Id":"01","Temperature":71.6},"TempUnit":"F"}'
    assert parse_temperature(tasmota, fahrenheit) == 22.0
    assert parse_temperature(tasmota, b"not json") is None


@pytest.mark.parametrize(
    "payload",
    [
        b'{"temperature": NaN}',  # Python's json reads these; a heater must not
        b'{"temperature": Infinity}',
        b'{"temperature": -Infinity}',
        b'{"temperature": -273.15}',  # a disconnected probe
        b'{"temperature": 850}',  # a unit or scaling error
        b'{"temperature": true}',
    ],
)
def test_implausible_temperatures_are_ignored(payload: bytes) -> None:
    assert parse_temperature(SensorConfig(type="z2m", topic="s"), payload) is None
    tasmota = payload.replace(b'"temperature"', b'"DS18B20": {"Temperature"') + b"}"
    assert parse_temperature(SensorConfig(type="tasmota", topic="s"), tasmota) is None


# -- relays through the broker ------------------------------------------------------------------


@pytest.fixture
async def tasmota(broker: Broker, topic: str) -> AsyncIterator[TasmotaRelayEmulator]:
    emulator = TasmotaRelayEmulator(broker.host, broker.port, topic)
    await emulator.start()
    yield emulator
    await emulator.stop()


async def test_tasmota_relay(
    tasmota: TasmotaRelayEmulator, bus: MqttBus, broker: Broker, until: Until
) -> None:
    relay = TasmotaRelay("heater", tasmota.topic, bus, timeout_s=0.5)
    await relay.start()
    await relay.set_on(True)
    assert tasmota.on and await relay.read_on()
    await relay.set_on(False)
    assert not tasmota.on and not await relay.read_on()
    assert [c.payload for c in tasmota.commands] == ["", "ON", "", "OFF", ""]

    retained: list[bytes] = []  # commands are never retained ("ghost switching")
    await bus.subscribe(f"cmnd/{tasmota.topic}/#", lambda _t, p: retained.append(p))
    await asyncio.sleep(0.05)
    assert retained == []

    await tasmota.go_offline()
    await until(lambda: relay.online is False)
    with pytest.raises(DeviceUnreachable, match="heater: set_on failed: Tasmota reports offline"):
        await relay.set_on(True)
    await relay.close()


async def test_shelly_relay_with_auto_off(broker: Broker, bus: MqttBus, topic: str) -> None:
    clock = VirtualClock()
    shelly = ShellyRelayEmulator(broker.host, broker.port, topic, clock=clock)
    await shelly.start()
    relay = ShellyRelay("fan", topic, bus, toggle_after_s=300, timeout_s=0.5)
    try:
        await relay.start()
        await relay.set_on(True)
        assert shelly.on and shelly.auto_off_at == 300
        sent = shelly.commands[-1].payload
        assert sent["method"] == "Switch.Set"
        assert sent["params"] == {"id": 0, "on": True, "toggle_after": 300}

        await clock.advance(301)  # roomctl went quiet: the device switches itself off
        assert not shelly.on
        assert await relay.read_on() is False

        with pytest.raises(DeviceRejected, match=r"No handler for Switch\.Explode"):
            await relay._call("set_on", "Switch.Explode", {})
    finally:
        await relay.close()
        await shelly.stop()


# -- the relay thermostat -----------------------------------------------------------------------


async def test_thermostat_controls_a_relay_on_a_virtual_clock(
    broker: Broker, bus: MqttBus, topic: str, until: Until
) -> None:
    clock = VirtualClock()
    sensor = TemperatureSensorEmulator(
        broker.host, broker.port, f"zigbee2mqtt/{topic}", interval_s=1e9
    )
    heater = TasmotaRelayEmulator(broker.host, broker.port, topic)
    await sensor.start()
    await heater.start()
    cfg = thermostat_config(topic=sensor.topic, min_on_s=60, min_off_s=60, sensor_timeout_s=300)
    thermostat = RelayThermostat(
        cfg, bus, TasmotaRelay("radiator.heater", topic, bus), clock, tick_s=10
    )

    async def run_for(seconds: float) -> None:
        """Move virtual time tick by tick, giving each tick's MQTT exchange real time to finish."""
        for _ in range(round(seconds / 10)):
            await clock.advance(10)
            await asyncio.sleep(0.01)

    async def reading(celsius: float) -> None:
        sensor.temperature_c = celsius
        await sensor.publish_now()
        await until(lambda: thermostat.temperature_c == celsius)

    try:
        await thermostat.start()
        await thermostat.set_setpoint(21)
        await reading(19.0)  # cold, but the relay was switched off at start a moment ago
        await until(lambda: "minimum off time" in str(thermostat.last_decision))
        await run_for(60)
        await until(lambda: heater.on)

        await reading(21.5)  # warm enough, but the minimum on time is not over
        await until(lambda: "minimum on time" in str(thermostat.last_decision))
        assert heater.on
        await run_for(60)
        await until(lambda: not heater.on)

        await run_for(60)
        await reading(19.0)
        await until(lambda: heater.on)
        await run_for(310)  # the sensor goes quiet: heater off, whatever the setpoint
        await until(lambda: not heater.on)
        assert "sensor silent" in str(thermostat.last_decision)
        assert (await thermostat.read_thermostat()).current_c is None

        await reading(19.0)
        await run_for(60)
        await until(lambda: heater.on)
    finally:
        await thermostat.close()  # turns the heater off
        assert not heater.on
        await heater.stop()
        await sensor.stop()


async def test_thermostat_holds_a_modelled_room_in_band(
    broker: Broker, bus: MqttBus, topic: str, until: Until
) -> None:
    shelly = ShellyRelayEmulator(broker.host, broker.port, f"shelly-{topic}")
    room = RoomModel(temperature_c=19.0, outside_c=10.0, heater_c_per_s=4.0, loss_per_s=0.1)
    room.heater = lambda: shelly.on
    sensor = TemperatureSensorEmulator(
        broker.host, broker.port, topic, kind="tasmota", interval_s=0.05, room=room
    )
    await shelly.start()
    await sensor.start()
    cfg = thermostat_config("tasmota", topic, hysteresis_c=1.0, min_on_s=0, min_off_s=0)
    relay = ShellyRelay("radiator.heater", shelly.topic, bus, timeout_s=0.5)
    thermostat = RelayThermostat(cfg, bus, relay, SystemClock(), tick_s=0.05, refresh_s=0.5)
    try:
        await thermostat.start()
        await thermostat.set_setpoint(21.0)
        await until(lambda: room.temperature_c > 21.0)
        readings: list[float] = []
        for _ in range(30):
            await asyncio.sleep(0.05)
            readings.append(room.temperature_c)
        assert all(19.5 < t < 22.5 for t in readings), readings
        switches = [c for c in shelly.commands if c.payload.get("method") == "Switch.Set"]
        assert len({c.payload["params"]["on"] for c in switches}) == 2  # it cycles
    finally:
        await thermostat.close()
        assert not shelly.on
        await sensor.stop()
        await shelly.stop()
