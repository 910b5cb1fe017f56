"""Relays and the relay thermostat: the pure heater decision, and the drivers against the
Tasmota/Shelly emulators through a real Mosquitto."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace

import pytest

from roomctl.clock import SystemClock, VirtualClock
from roomctl.devices.heater_control import ControlInput, decide_heater
from roomctl.devices.relay import ShellyRelay, TasmotaRelay
from roomctl.devices.relay_thermostat import RelayThermostat, parse_temperature
from roomctl.errors import DeviceRejected, DeviceUnreachable
from roomctl.model.config import RelayThermostatConfig, SensorConfig
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


CFG = thermostat_config(
    hysteresis_c=0.5, min_on_s=120, min_off_s=60, max_temp_c=26, sensor_timeout_s=600
)
BASE = ControlInput(
    now_s=1000.0,
    mode="heat",
    setpoint_c=21.0,
    temperature_c=21.0,
    temperature_at_s=990.0,
    heater_on=False,
    heater_since_s=0.0,
)


# -- the pure decision --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("temperature", "heater_on", "expected"),
    [
        (20.75, False, True),  # at the lower edge of the band: on
        (20.8, False, False),  # inside the band: stays off
        (20.8, True, True),  # inside the band: stays on
        (21.25, True, False),  # at the upper edge: off
        (19.0, None, True),  # unknown relay state: straight to what is wanted
    ],
)
def test_hysteresis(temperature: float, heater_on: bool | None, expected: bool) -> None:
    x = replace(BASE, temperature_c=temperature, heater_on=heater_on)
    assert decide_heater(x, CFG).on is expected


def test_minimum_on_time_holds_the_heater_on() -> None:
    warm = replace(BASE, temperature_c=22.0, heater_on=True, heater_since_s=950.0)
    held = decide_heater(warm, CFG)
    assert held.on and "minimum on time" in held.reason
    assert not decide_heater(replace(warm, now_s=1070.0), CFG).on  # 120 s reached


def test_minimum_off_time_holds_the_heater_off() -> None:
    cold = replace(BASE, temperature_c=18.0, heater_on=False, heater_since_s=970.0)
    held = decide_heater(cold, CFG)
    assert not held.on and "minimum off time" in held.reason
    assert decide_heater(replace(cold, now_s=1030.0), CFG).on  # 60 s reached


def test_maximum_temperature_overrides_everything() -> None:
    hot = replace(BASE, setpoint_c=30.0, temperature_c=26.0, heater_on=True, heater_since_s=999.0)
    decision = decide_heater(hot, CFG)
    assert not decision.on and "maximum" in decision.reason


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"temperature_at_s": 399.0}, "sensor silent for 601 s"),
        ({"temperature_c": None, "temperature_at_s": None}, "no temperature reading"),
        ({"mode": "off"}, "heating off"),
        ({"setpoint_c": None}, "no setpoint"),
    ],
)
def test_safety_turns_off_at_once(change: dict[str, object], reason: str) -> None:
    cold_and_just_on = replace(BASE, temperature_c=15.0, heater_on=True, heater_since_s=999.0)
    decision = decide_heater(replace(cold_and_just_on, **change), CFG)  # type: ignore[arg-type]
    assert not decision.on and reason in decision.reason


def test_sensor_silence_boundary() -> None:
    cold = replace(BASE, temperature_c=15.0, heater_on=None, temperature_at_s=400.0)
    assert decide_heater(cold, CFG).on  # exactly 600 s old: still trusted


def test_temperature_payloads() -> None:
    z2m, tasmota = SensorConfig(type="z2m", topic="s"), SensorConfig(type="tasmota", topic="s")
    assert parse_temperature(z2m, b'{"temperature": 21.4, "humidity": 40}') == 21.4
    assert parse_temperature(z2m, b'{"humidity": 40}') is None
    sensor = b'{"Time":"x","AM2301":{"Temperature":22.5,"Humidity":40},"TempUnit":"C"}'
    assert parse_temperature(tasmota, sensor) == 22.5
    fahrenheit = b'{"DS18B20":{"Id":"01","Temperature":71.6},"TempUnit":"F"}'
    assert parse_temperature(tasmota, fahrenheit) == 22.0
    assert parse_temperature(tasmota, b"not json") is None


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
