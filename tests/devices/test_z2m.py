"""Zigbee2MQTT drivers against the emulators, through a real Mosquitto and real aiomqtt."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from roomctl.clock import VirtualClock
from roomctl.devices.z2m import (
    Z2MLight,
    Z2MThermostat,
    light_command,
    light_state,
    parse_availability,
    reflects,
)
from roomctl.errors import DeviceUnreachable
from roomctl.model.config import Z2MLightConfig, Z2MThermostatConfig
from roomctl.model.state import LightState
from roomctl.mqtt import MqttBus
from roomctl.sim.broker import Broker
from roomctl.sim.z2m import Z2MLightEmulator, Z2MThermostatEmulator

Until = Callable[[Callable[[], bool]], Awaitable[None]]


def light_config(topic: str, **extra: object) -> Z2MLightConfig:
    return Z2MLightConfig.model_validate(
        {"id": "lamp", "zone": "main", "driver": "z2m_light", "topic": topic, **extra}
    )


# -- pure conversions ---------------------------------------------------------------------------


def test_command_converts_percent_and_kelvin() -> None:
    cfg = light_config("z/lamp")
    cmd = light_command(LightState(True, 50, color_temp_k=2700), 30, cfg)
    assert cmd == {"state": "ON", "brightness": 127, "color_temp": 370, "transition": 30}
    assert light_command(LightState(True, 0.1), 0, cfg) == {"state": "ON", "brightness": 1}
    assert light_command(LightState(False), 2.25, cfg) == {"state": "OFF", "transition": 2.2}


def test_command_clamps_colour_temperature_to_the_lights_range() -> None:
    cfg = light_config("z/lamp", color_temp_range_k=(2200, 5000))
    assert light_command(LightState(True, 100, color_temp_k=1800), 0, cfg)["color_temp"] == 455
    assert light_command(LightState(True, 100, color_temp_k=6500), 0, cfg)["color_temp"] == 200


def test_command_uses_hue_when_given_and_supported() -> None:
    state = LightState(True, 80, hue=365.4, saturation=70)
    assert light_command(state, 0, light_config("z"))["color"] == {"hue": 5, "saturation": 70}
    assert "color" not in light_command(state, 0, light_config("z", color=False))


def test_state_report_parsing() -> None:
    cfg = light_config("z/lamp")
    ct = {"state": "ON", "brightness": 254, "color_mode": "color_temp", "color_temp": 250}
    assert light_state(ct, cfg) == LightState(True, 100.0, color_temp_k=4000)
    hs = {
        "state": "ON",
        "brightness": 1,
        "color_mode": "hs",
        "color": {"hue": 30, "saturation": 90},
    }
    assert light_state(hs, cfg) == LightState(True, 1.0, hue=30, saturation=90)
    assert light_state({"state": "OFF", "brightness": 200}, cfg) == LightState(False)


def test_a_report_reflects_a_command_within_rounding() -> None:
    cmd = {"state": "ON", "brightness": 127, "color_temp": 370, "transition": 5}
    assert reflects({"state": "ON", "brightness": 128, "color_temp": 369}, cmd)
    assert not reflects({"state": "ON", "brightness": 120, "color_temp": 370}, cmd)
    assert not reflects({"state": "OFF", "brightness": 127, "color_temp": 370}, cmd)
    hs = {"state": "ON", "color": {"hue": 359, "saturation": 50}}
    assert reflects({"state": "ON", "color": {"hue": 1, "saturation": 51, "x": 0.6}}, hs)
    assert not reflects({"state": "ON", "color": {"hue": 20, "saturation": 50}}, hs)


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b"online", True),
        (b"offline", False),
        (b'{"state":"online"}', True),
        (b'{"state":"offline"}', False),
        (b"", None),
        (b"{broken", None),
    ],
)
def test_availability_payloads(payload: bytes, expected: bool | None) -> None:
    assert parse_availability(payload) is expected


# -- light through the broker -------------------------------------------------------------------


@pytest.fixture
async def lamp(broker: Broker, topic: str) -> AsyncIterator[Z2MLightEmulator]:
    emulator = Z2MLightEmulator(
        broker.host, broker.port, f"zigbee2mqtt/{topic}", clock=VirtualClock()
    )
    await emulator.start()
    yield emulator
    await emulator.stop()


@pytest.fixture
async def light(lamp: Z2MLightEmulator, bus: MqttBus) -> AsyncIterator[Z2MLight]:
    driver = Z2MLight(light_config(lamp.topic), bus, timeout_s=0.5)
    await driver.start()
    yield driver
    await driver.close()


async def test_light_fades_natively_and_reads_back(light: Z2MLight, lamp: Z2MLightEmulator) -> None:
    assert isinstance(lamp.clock, VirtualClock)
    await light.set_light(LightState(True, 50, color_temp_k=2700), transition_s=10)

    sent = lamp.commands[-1]
    assert sent.topic == f"{lamp.topic}/set"
    assert sent.payload == {"state": "ON", "brightness": 127, "color_temp": 370, "transition": 10}
    assert lamp.on and lamp.brightness == 127 and lamp.last_transition_s == 10

    await lamp.clock.advance(5)  # half way: the bulb shows half the target level
    halfway = await light.read_light()
    assert halfway.on and halfway.brightness_pct == pytest.approx(25, abs=0.5)

    await lamp.clock.advance(5)
    done = await light.read_light()
    assert done.brightness_pct == pytest.approx(50, abs=0.5)
    assert done.color_temp_k == pytest.approx(2700, abs=10)


async def test_light_colour_and_off(light: Z2MLight, lamp: Z2MLightEmulator) -> None:
    await light.set_light(LightState(True, 100, hue=200, saturation=60), transition_s=0)
    assert (lamp.color_mode, lamp.hue, lamp.saturation) == ("hs", 200, 60)
    assert await light.read_light() == LightState(True, 100.0, hue=200, saturation=60)

    await light.set_light(LightState(False), transition_s=0)
    assert not lamp.on
    assert await light.read_light() == LightState(False)


async def test_offline_light_fails_fast_and_recovers(
    light: Z2MLight, lamp: Z2MLightEmulator, until: Until
) -> None:
    await lamp.go_offline()
    await until(lambda: light.available is False)
    started = time.monotonic()
    with pytest.raises(DeviceUnreachable, match="lamp: set_light failed: offline"):
        await light.set_light(LightState(True, 40), transition_s=0)
    assert time.monotonic() - started < 0.2  # no waiting for a timeout

    await lamp.go_online()
    await until(lambda: light.available is True)
    await light.set_light(LightState(True, 40), transition_s=0)
    assert lamp.brightness == round(40 * 254 / 100)


async def test_silent_light_times_out(light: Z2MLight, lamp: Z2MLightEmulator) -> None:
    lamp.responsive = False  # on the mesh as far as Z2M knows, but does not answer
    with pytest.raises(DeviceUnreachable, match=r"lamp: set_light failed: no answer within 0.5 s"):
        await light.set_light(LightState(True, 70), transition_s=1)
    assert lamp.commands[-1].payload["brightness"] == 178  # the command was sent


async def test_start_without_a_device_is_unreachable(bus: MqttBus, topic: str) -> None:
    driver = Z2MLight(light_config(f"zigbee2mqtt/{topic}"), bus, timeout_s=0.2)
    with pytest.raises(DeviceUnreachable, match="lamp: start failed: no answer"):
        await driver.start()
    await driver.close()


# -- thermostat ---------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["occupied_heating_setpoint", "current_heating_setpoint"])
async def test_thermostat_setpoint_mode_and_reading(
    broker: Broker, bus: MqttBus, topic: str, key: str
) -> None:
    trv = Z2MThermostatEmulator(
        broker.host, broker.port, f"zigbee2mqtt/{topic}", setpoint_key=key, local_temperature=19
    )
    await trv.start()
    cfg = Z2MThermostatConfig.model_validate(
        {
            "id": "trv",
            "zone": "main",
            "driver": "z2m_thermostat",
            "topic": trv.topic,
            "setpoint_key": key,
        }
    )
    driver = Z2MThermostat(cfg, bus, timeout_s=0.5)
    try:
        await driver.start()
        await driver.set_setpoint(21.3)  # TRVs take 0.5 °C steps
        assert trv.setpoint_c == 21.5
        assert trv.commands[-1].payload == {key: 21.5}
        reading = await driver.read_thermostat()
        assert (reading.setpoint_c, reading.current_c, reading.heating) == (21.5, 19, True)

        await driver.set_mode("off")
        reading = await driver.read_thermostat()
        assert (reading.mode, reading.heating) == ("off", False)
    finally:
        await driver.close()
        await trv.stop()


# -- faults -------------------------------------------------------------------------------------


async def test_light_works_again_after_broker_restart(
    private_broker: Broker,
    make_bus: Callable[[Broker, str], MqttBus],
    topic: str,
    until: Until,
) -> None:
    lamp = Z2MLightEmulator(private_broker.host, private_broker.port, f"zigbee2mqtt/{topic}")
    bus = make_bus(private_broker, "roomctl-restart")
    await lamp.start()
    await bus.start()
    light = Z2MLight(light_config(lamp.topic), bus, timeout_s=1.0)
    try:
        await light.start()
        await light.set_light(LightState(True, 20), transition_s=0)

        await private_broker.stop(kill=True)  # a crash: no wills, no goodbyes
        await until(lambda: not bus.connected)
        started = time.monotonic()
        with pytest.raises(DeviceUnreachable, match="not connected"):
            await light.set_light(LightState(True, 60), transition_s=0)
        assert time.monotonic() - started < 0.2

        await private_broker.launch()
        await until(lambda: bus.connected and lamp.bus.connected and light.available is True)
        await light.set_light(LightState(True, 60), transition_s=0)
        assert lamp.brightness == round(60 * 254 / 100)
        assert (await light.read_light()).brightness_pct == pytest.approx(60, abs=0.5)
    finally:
        await light.close()
        await bus.close()
        await lamp.stop()
