"""Heat and cold alerts (devices/climate.py): the pure rule, and the whole path from an MQTT
sensor that falls silent, through the thermostat's reading, to the alert."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from roomctl.clock import VirtualClock
from roomctl.devices.base import Thermostat
from roomctl.devices.climate import ClimateAlert, ClimateWatch, alert_changes, climate_alerts
from roomctl.devices.relay import TasmotaRelay
from roomctl.devices.relay_thermostat import RelayThermostat
from roomctl.devices.z2m import Z2MThermostat
from roomctl.model.config import RelayThermostatConfig, TemperatureBand, Z2MThermostatConfig
from roomctl.model.state import ThermostatReading
from roomctl.mqtt import MqttBus
from roomctl.sim.broker import Broker
from roomctl.sim.relays import TasmotaRelayEmulator
from roomctl.sim.thermal import TemperatureSensorEmulator
from roomctl.sim.z2m import Z2MThermostatEmulator

Until = Callable[[Callable[[], bool]], Awaitable[None]]

BAND = TemperatureBand(min=18, max=24)
NOW = 1_800_000_000.0


def room(celsius: float | None) -> ThermostatReading:
    return ThermostatReading(setpoint_c=21.0, current_c=celsius, mode="heat")


# -- the rule ----------------------------------------------------------------------------------


def test_a_room_inside_its_band_raises_nothing() -> None:
    assert climate_alerts({"radiator": room(18.0), "trv": room(24.0)}, BAND, NOW) == []


def test_a_room_outside_its_band_is_reported_with_device_and_reading() -> None:
    [cold] = climate_alerts({"radiator": room(14.7)}, BAND, NOW)
    assert (cold.kind, cold.device_id, cold.temperature_c, cold.limit_c, cold.since) == (
        "too_cold",
        "radiator",
        14.7,
        18,
        NOW,
    )
    assert cold.message() == "the room is 14.7 °C, below the 18 °C minimum"
    [hot] = climate_alerts({"trv": room(25.5)}, BAND, NOW)
    assert (hot.kind, hot.limit_c) == ("too_hot", 24)
    assert hot.message() == "the room is 25.5 °C, above the 24 °C maximum"


def test_a_silent_sensor_or_an_unreadable_thermostat_is_reported() -> None:
    silent = ThermostatReading(21.0, None, "heat", False, sensor_silent=True, sensor_age_s=900)
    alerts = climate_alerts({"radiator": silent, "trv": None}, BAND, NOW)
    assert [(a.kind, a.device_id, a.sensor_age_s) for a in alerts] == [
        ("sensor_silent", "radiator", 900),
        ("sensor_silent", "trv", None),
    ]
    assert alerts[0].message() == "the temperature sensor has been silent for 900 s"
    assert "unknown" in alerts[1].message()


def test_no_temperature_yet_is_not_an_alert() -> None:
    assert climate_alerts({"radiator": room(None)}, BAND, NOW) == []


def test_an_alert_clears_only_with_a_margin_and_keeps_its_start() -> None:
    first = climate_alerts({"radiator": room(17.9)}, BAND, NOW)
    hovering = climate_alerts({"radiator": room(18.1)}, BAND, NOW + 60, first)
    assert hovering == first and hovering[0].since == NOW  # no flapping at the edge
    assert hovering[0].temperature_c == 18.1  # with the newest reading
    assert climate_alerts({"radiator": room(18.3)}, BAND, NOW + 120, hovering) == []
    hot = climate_alerts({"radiator": room(24.2)}, BAND, NOW)
    assert climate_alerts({"radiator": room(23.8)}, BAND, NOW, hot) == hot
    assert climate_alerts({"radiator": room(23.7)}, BAND, NOW, hot) == []


def test_changes_are_by_kind_and_device() -> None:
    cold = ClimateAlert("too_cold", "radiator", 17.0, 18)
    colder = ClimateAlert("too_cold", "radiator", 15.0, 18)
    silent = ClimateAlert("sensor_silent", "trv")
    assert alert_changes([cold], [colder]) == ([], [])
    assert alert_changes([cold], [colder, silent]) == ([silent], [])
    assert alert_changes([cold, silent], []) == ([], [cold, silent])


@given(st.floats(-20, 50), st.floats(10, 20), st.floats(0, 10))
def test_without_history_an_alert_is_exactly_outside_the_band(
    celsius: float, low: float, width: float
) -> None:
    band = TemperatureBand(min=low, max=low + width)
    kinds = [a.kind for a in climate_alerts({"t": room(celsius)}, band, NOW)]
    expected = ["too_cold"] if celsius < low else ["too_hot"] if celsius > low + width else []
    assert kinds == expected


class RoomThermometer(Thermostat):
    """A small working thermostat double: reports `celsius`; `broken` makes reads fail."""

    def __init__(self, celsius: float) -> None:
        super().__init__("thermometer")
        self.celsius = celsius
        self.broken = False
        self.reads = 0

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def set_setpoint(self, setpoint_c: float) -> None: ...

    async def read_thermostat(self) -> ThermostatReading:
        self.reads += 1
        if self.broken:
            raise RuntimeError("driver bug")
        return room(self.celsius)


async def test_the_watch_checks_on_its_clock_and_outlives_a_failing_driver() -> None:
    clock = VirtualClock()
    thermometer = RoomThermometer(20.0)
    watch = ClimateWatch([thermometer], BAND, clock, interval_s=60)
    task = asyncio.create_task(watch.run())
    try:
        await clock.advance(0)
        assert thermometer.reads == 1 and watch.alerts == []
        thermometer.celsius = 26.0
        await clock.advance(60)
        assert thermometer.reads == 2 and [a.kind for a in watch.alerts] == ["too_hot"]
        assert watch.alerts[0].since == clock.now()
        thermometer.broken = True
        await clock.advance(60)
        # silent: nobody knows the room cooled, so the heat alert stays (and the cooling on)
        assert [a.kind for a in watch.alerts] == ["sensor_silent", "too_hot"]
        assert not task.done()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


# -- through MQTT ------------------------------------------------------------------------------


async def test_a_z2m_sensor_that_falls_silent_raises_an_alert_once(
    broker: Broker, bus: MqttBus, topic: str, until: Until, caplog: pytest.LogCaptureFixture
) -> None:
    """The reported incident: the sensor went quiet, the thermostat rightly switched the
    heater off, and nobody was told.  Now the reading says so and the alert appears."""
    caplog.set_level(logging.INFO, logger="roomctl")
    clock = VirtualClock()
    sensor = TemperatureSensorEmulator(
        broker.host, broker.port, f"zigbee2mqtt/{topic}", interval_s=1e9
    )
    heater = TasmotaRelayEmulator(broker.host, broker.port, topic)
    await sensor.start()
    await heater.start()
    cfg = RelayThermostatConfig.model_validate(
        {
            "id": "radiator",
            "zone": "climate",
            "driver": "relay_thermostat",
            "sensor": {"type": "z2m", "topic": sensor.topic},
            "heater": {"type": "tasmota", "topic": topic},
            "sensor_timeout_s": 300,
            "min_off_s": 0,
        }
    )
    thermostat = RelayThermostat(cfg, bus, TasmotaRelay("radiator-heater", topic, bus), clock)
    watch = ClimateWatch([thermostat], BAND, clock)

    async def reading(celsius: float) -> None:
        sensor.temperature_c = celsius
        await sensor.publish_now()
        await until(lambda: thermostat.temperature_c == celsius)

    def warnings(text: str) -> int:
        return sum(text in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)

    try:
        await thermostat.start()
        await thermostat.set_setpoint(21)
        await reading(19.0)
        await until(lambda: heater.on)
        assert await watch.check() == ([], [])

        sensor.silent = True  # the sensor's battery dies
        for _ in range(31):  # 310 s, tick by tick
            await clock.advance(10)
            await asyncio.sleep(0.01)
        await until(lambda: not heater.on)  # safe: off without a reading
        silent = await thermostat.read_thermostat()
        assert silent.sensor_silent and silent.current_c is None
        assert silent.sensor_age_s is not None and silent.sensor_age_s >= 300
        assert warnings("sensor zigbee2mqtt/") == 1  # the thermostat says so itself

        raised, cleared = await watch.check()
        assert [(a.kind, a.device_id) for a in raised] == [("sensor_silent", "radiator")]
        assert watch.alerts == raised and cleared == []
        await clock.advance(60)
        assert await watch.check() == ([], [])  # logged once per change, not per check
        assert warnings("Climate radiator: the temperature sensor has been silent") == 1

        sensor.silent = False  # back, in a room that cooled meanwhile
        await reading(16.5)
        raised, cleared = await watch.check()
        assert [a.kind for a in raised] == ["too_cold"] and raised[0].temperature_c == 16.5
        assert [a.kind for a in cleared] == ["sensor_silent"]
        assert warnings("Climate radiator: the room is 16.5 °C, below the 18 °C minimum") == 1
    finally:
        await thermostat.close()
        await heater.stop()
        await sensor.stop()


async def test_a_trv_that_stops_answering_counts_as_a_silent_sensor(
    broker: Broker, bus: MqttBus, topic: str
) -> None:
    trv = Z2MThermostatEmulator(
        broker.host, broker.port, f"zigbee2mqtt/{topic}", local_temperature=25.0
    )
    await trv.start()
    cfg = Z2MThermostatConfig(id="trv", zone="climate", driver="z2m_thermostat", topic=trv.topic)
    driver = Z2MThermostat(cfg, bus, timeout_s=0.3)
    heard: list[tuple[list[ClimateAlert], list[ClimateAlert]]] = []
    watch = ClimateWatch([driver], BAND, VirtualClock())
    watch.listeners.append(lambda raised, cleared: heard.append((raised, cleared)))
    try:
        await driver.start()
        await watch.check()
        assert [(a.kind, a.temperature_c) for a in watch.alerts] == [("too_hot", 25.0)]
        trv.responsive = False  # dropped off the Zigbee mesh
        await watch.check()
        assert [a.kind for a in watch.alerts] == ["sensor_silent", "too_hot"]  # still hot
        assert [([a.kind for a in r], [a.kind for a in c]) for r, c in heard] == [
            (["too_hot"], []),
            (["sensor_silent"], []),
        ]
    finally:
        await driver.close()
        await trv.stop()
