"""The Kasa drivers, running the real python-kasa client against the loopback emulator.

Tests are chosen by capability, as python-kasa's own are: every light with colour temperature
runs the colour-temperature tests, every light with hue the HSV tests, and so on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from kasa import AuthenticationError, KasaException
from kasa import DeviceError as KasaDeviceError
from kasa.exceptions import SmartErrorCode
from kasa.exceptions import TimeoutError as KasaTimeoutError

from roomctl.clock import VirtualClock
from roomctl.devices.kasa import KasaLight, KasaSwitch, translate
from roomctl.engine.steps import apply_state, quantize
from roomctl.errors import DeviceRejected, DeviceUnreachable
from roomctl.model.device_config import KasaDeviceConfig, RelayConfig
from roomctl.model.state import LightState
from roomctl.sim.kasa import KasaEmulator
from roomctl.sim.kasa_profiles import Model

HOST = "127.0.0.22"
LIGHTS: list[Model] = ["color_bulb", "white_bulb", "dimmable_bulb", "strip", "dimmer"]
COLOR_TEMP: list[Model] = ["color_bulb", "white_bulb", "strip"]
HSV: list[Model] = ["color_bulb", "strip"]
NO_COLOR_TEMP: list[Model] = ["dimmable_bulb", "dimmer"]
BULBS: list[Model] = ["color_bulb", "white_bulb", "dimmable_bulb", "strip"]
PLUGS: list[Model] = ["plug", "plug_energy"]
CT_RANGE = {"color_bulb": (2500, 9000), "white_bulb": (2700, 6500), "strip": (2500, 9000)}

Rig = tuple[KasaEmulator, KasaLight]
StartLight = Callable[..., Awaitable[Rig]]


def _config(emulator: KasaEmulator, model: str, **more: Any) -> KasaDeviceConfig:
    config_model = "plug" if model == "plug_energy" else model
    fields = {"id": "lamp", "zone": "room", "driver": "kasa", "host": emulator.address}
    return KasaDeviceConfig.model_validate({**fields, "model": config_model, **more})


@pytest.fixture
def clock() -> VirtualClock:
    """The emulator's clock: fades move only when the test advances it."""
    return VirtualClock()


@pytest.fixture
async def emulators() -> AsyncIterator[list[KasaEmulator]]:
    running: list[KasaEmulator] = []
    yield running
    for emulator in running:
        await emulator.stop()


@pytest.fixture
async def start_light(
    emulators: list[KasaEmulator], clock: VirtualClock
) -> AsyncIterator[StartLight]:
    """Start an emulated `model` and a started KasaLight on it; both are closed afterwards."""
    drivers: list[KasaLight] = []

    async def _start(model: Model, *, configured: str | None = None, **more: Any) -> Rig:
        emulator = KasaEmulator(model, host=HOST, time_fn=clock.monotonic)
        await emulator.start()
        emulators.append(emulator)
        light = KasaLight(_config(emulator, configured or model, **more))
        drivers.append(light)
        await light.start()
        return emulator, light

    yield _start
    for light in drivers:
        await light.close()


def _last(emulator: KasaEmulator) -> dict[str, Any]:
    return emulator.commands[-1].params


async def _settle(clock: VirtualClock) -> None:
    """Let an 'instant' change finish: python-kasa sends dimmers 1 ms for no transition."""
    await clock.advance(0.01)


# -- connecting and capabilities --------------------------------------------------------------


@pytest.mark.parametrize("model", LIGHTS)
async def test_capabilities_come_from_the_device(
    start_light: StartLight, model: Model, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="roomctl.devices.kasa"):
        _, light = await start_light(model)
    assert light.supports_color_temp == (model in COLOR_TEMP)
    assert light.supports_hue == (model in HSV)
    assert light.color_temp_range_k == CT_RANGE.get(model)
    assert light.native_transitions
    assert not caplog.records  # the configured model matches the device


async def test_model_mismatch_is_logged_and_the_device_wins(
    start_light: StartLight, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="roomctl.devices.kasa"):
        _, light = await start_light("white_bulb", configured="color_bulb")
    assert not light.supports_hue and light.supports_color_temp
    (record,) = caplog.records
    assert "lamp" in record.getMessage() and "white_bulb" in record.getMessage()


async def test_capabilities_before_start_follow_the_config() -> None:
    config = KasaDeviceConfig(id="lamp", zone="room", driver="kasa", host="127.0.0.22:1")
    light = KasaLight(config)
    assert light.supports_hue and light.supports_color_temp
    assert light.color_temp_range_k is None
    assert "127.0.0.22:1" in light.describe()
    await light.close()  # closing a never-started driver is fine


# -- lights -----------------------------------------------------------------------------------


@pytest.mark.parametrize("model", LIGHTS)
async def test_brightness_fades_natively_with_one_command(
    start_light: StartLight, clock: VirtualClock, model: Model
) -> None:
    emulator, light = await start_light(model)
    await light.set_light(LightState(on=True, brightness_pct=20), 0)
    await _settle(clock)
    await light.set_light(LightState(on=True, brightness_pct=80), 10)
    assert len(emulator.commands) == 2
    await clock.advance(5)
    assert (await light.read_light()).brightness_pct == 50  # mid-fade, read from the device
    await clock.advance(5)
    assert (await light.read_light()).brightness_pct == 80
    duration = "duration" if model == "dimmer" else "transition_period"
    assert _last(emulator)[duration] == 10_000


@pytest.mark.parametrize("model", COLOR_TEMP)
async def test_color_temp_and_brightness_in_one_request(
    start_light: StartLight, clock: VirtualClock, model: Model
) -> None:
    emulator, light = await start_light(model)
    await light.set_light(LightState(on=True, brightness_pct=40.4, color_temp_k=3700), 2)
    assert emulator.commands[-1].command in ("transition_light_state", "set_light_state")
    expected = {"color_temp": 3700, "brightness": 40, "transition_period": 2000, "on_off": 1}
    assert expected.items() <= _last(emulator).items()
    await clock.advance(1)
    mid = await light.read_light()
    assert mid.color_temp_k == 3200 and mid.brightness_pct == 45  # from 2700 K / 50 %
    await clock.advance(1)
    assert await light.read_light() == LightState(on=True, brightness_pct=40, color_temp_k=3700)


@pytest.mark.parametrize("model", COLOR_TEMP)
async def test_values_are_quantized_once_before_the_driver(
    start_light: StartLight, clock: VirtualClock, model: Model
) -> None:
    """steps.quantize rounds and clamps; the driver only translates units."""
    emulator, light = await start_light(model)
    wanted = LightState(on=True, brightness_pct=40.4, color_temp_k=1800)
    shown = quantize(light, wanted)
    assert shown == LightState(on=True, brightness_pct=40.0, color_temp_k=CT_RANGE[model][0])
    assert quantize(light, shown) == shown  # idempotent: nothing is rounded twice
    await apply_state(light, wanted, 0, None)
    await _settle(clock)
    assert (_last(emulator)["color_temp"], _last(emulator)["brightness"]) == (
        CT_RANGE[model][0],
        40,
    )
    assert await light.read_light() == shown  # read back as sent: no re-send, no "manual"
    # Out of range at the driver is a bug in the caller, not the device refusing.
    with pytest.raises(ValueError, match=r"[Tt]emperature"):
        await light.set_light(LightState(on=True, brightness_pct=30, color_temp_k=1800), 0)


@pytest.mark.parametrize("model", HSV)
async def test_hue_and_saturation(
    start_light: StartLight, clock: VirtualClock, model: Model
) -> None:
    emulator, light = await start_light(model)
    target = LightState(on=True, brightness_pct=60, hue=200, saturation=80)
    await light.set_light(target, 3)
    assert {"hue": 200, "saturation": 80, "brightness": 60}.items() <= _last(emulator).items()
    await clock.advance(3)
    assert await light.read_light() == target


@pytest.mark.parametrize("model", NO_COLOR_TEMP)
async def test_colour_requests_become_brightness_only(
    start_light: StartLight, clock: VirtualClock, model: Model
) -> None:
    emulator, light = await start_light(model)
    await light.set_light(LightState(on=True, brightness_pct=30, color_temp_k=2700), 0)
    await light.set_light(LightState(on=True, brightness_pct=35, hue=10, saturation=90), 0)
    await _settle(clock)
    assert all("color_temp" not in c.params and "hue" not in c.params for c in emulator.commands)
    assert await light.read_light() == LightState(on=True, brightness_pct=35)


@pytest.mark.parametrize("model", LIGHTS)
async def test_off_fades_out_and_on_restores(
    start_light: StartLight, clock: VirtualClock, model: Model
) -> None:
    emulator, light = await start_light(model)
    await light.set_light(LightState(on=False), 4)
    await clock.advance(2)
    fading = await light.read_light()
    assert fading.on and fading.brightness_pct == 25  # still glowing, half way down from 50
    await clock.advance(2)
    assert await light.read_light() == LightState(on=False)
    assert emulator.state["on"] is False
    await light.set_light(LightState(on=True), 0)
    await _settle(clock)
    assert (await light.read_light()).brightness_pct == 50


async def test_dimmer_uses_its_duration(start_light: StartLight) -> None:
    emulator, light = await start_light("dimmer")
    await light.set_light(LightState(on=True, brightness_pct=70), 3)
    await light.set_light(LightState(on=False), 2)
    await light.set_light(LightState(on=True, brightness_pct=10), 0)
    sent = [(c.command, c.params) for c in emulator.commands]
    assert sent == [
        ("set_dimmer_transition", {"brightness": 70, "duration": 3000}),
        ("set_dimmer_transition", {"brightness": 0, "duration": 2000}),
        ("set_dimmer_transition", {"brightness": 10, "duration": 1}),  # 0 ms is not allowed
    ]


async def test_a_fade_on_a_lazily_connected_light(
    emulators: list[KasaEmulator], clock: VirtualClock
) -> None:
    bulb = KasaEmulator("color_bulb", host=HOST, time_fn=clock.monotonic)
    await bulb.start()
    emulators.append(bulb)
    light = KasaLight(_config(bulb, "color_bulb"))
    try:
        await light.set_light(LightState(on=True, brightness_pct=90), 0.6)  # connects lazily
        await clock.advance(0.3)
        assert (await light.read_light()).brightness_pct == 70  # half way from 50
        await clock.advance(0.3)
        assert (await light.read_light()).brightness_pct == 90
    finally:
        await light.close()


# -- plugs --------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", PLUGS)
async def test_plug_on_off(emulators: list[KasaEmulator], model: Model) -> None:
    plug = KasaEmulator(model, host=HOST)
    await plug.start()
    emulators.append(plug)
    switch = KasaSwitch(_config(plug, model))
    await switch.start()
    try:
        await switch.set_on(False)
        assert await switch.read_on() is False
        assert plug.state["on"] is False
        await switch.set_on(True)
        assert await switch.read_on() is True
        assert [c.params for c in plug.commands] == [{"state": 0}, {"state": 1}]
    finally:
        await switch.close()


async def test_heater_relay_and_a_lamp_on_a_plug(emulators: list[KasaEmulator]) -> None:
    plug = KasaEmulator("plug_energy", host=HOST)
    await plug.start()
    emulators.append(plug)
    relay = RelayConfig(type="kasa", host=plug.address)
    heater = KasaSwitch.for_relay("heater", "room", relay, timeout_s=1)
    lamp = KasaLight(_config(plug, "plug"))
    try:
        await heater.set_on(False)
        assert await lamp.read_light() == LightState(on=False)
        await lamp.set_light(LightState(on=True, brightness_pct=40), 5)
        assert await heater.read_on() is True
        assert not lamp.supports_color_temp and not lamp.supports_hue
    finally:
        await heater.close()
        await lamp.close()
    with pytest.raises(ValueError, match="not a Kasa plug"):
        KasaSwitch.for_relay("fan", "room", RelayConfig(type="tasmota", topic="fan"))


async def test_credentials_connect_through_discovery(start_light: StartLight) -> None:
    credentials = {"username": "user@example.com", "password": "secret"}
    emulator, light = await start_light("color_bulb", credentials=credentials)
    await light.set_light(LightState(on=True, brightness_pct=12), 0)
    assert emulator.state["brightness"] == 12


# -- faults -------------------------------------------------------------------------------------


async def test_latency_is_tolerated(start_light: StartLight) -> None:
    emulator, light = await start_light("color_bulb", timeout_s=2)
    emulator.faults.latency_s = 0.15
    began = time.monotonic()
    await light.set_light(LightState(on=True, brightness_pct=33), 0)
    assert (await light.read_light()).brightness_pct == 33
    assert time.monotonic() - began >= 0.3


async def test_one_dropped_connection_is_retried_by_python_kasa(start_light: StartLight) -> None:
    emulator, light = await start_light("color_bulb")
    emulator.faults.drop_next = 1
    await light.set_light(LightState(on=True, brightness_pct=70), 0)
    assert emulator.state["brightness"] == 70
    assert emulator.connections_accepted == 2


async def test_a_lost_reply_makes_python_kasa_send_the_setter_twice(
    start_light: StartLight,
) -> None:
    emulator, light = await start_light("color_bulb")
    emulator.faults.drop_next = 1
    emulator.faults.drop_after_apply = True
    await light.set_light(LightState(on=True, brightness_pct=70), 0)
    assert [c.params["brightness"] for c in emulator.commands] == [70, 70]


async def test_dropped_connections_then_recovery(start_light: StartLight) -> None:
    emulator, light = await start_light("strip")
    emulator.faults.drop_next = 4  # the first try and python-kasa's three retries
    with pytest.raises(DeviceUnreachable) as caught:
        await light.set_light(LightState(on=True, brightness_pct=70), 0)
    assert (caught.value.device_id, caught.value.operation) == ("lamp", "set_light")
    await light.set_light(LightState(on=True, brightness_pct=71), 0)
    assert (await light.read_light()).brightness_pct == 71


async def test_error_code_is_rejected(start_light: StartLight) -> None:
    emulator, light = await start_light("color_bulb")
    emulator.faults.error_code = -3
    with pytest.raises(DeviceRejected, match="lamp: set_light failed"):
        await light.set_light(LightState(on=True, brightness_pct=10), 1)
    assert (await light.read_light()).brightness_pct == 50  # queries still answered
    emulator.faults.clear()
    await light.set_light(LightState(on=True, brightness_pct=10), 0)
    assert emulator.state["brightness"] == 10


async def test_silence_is_unreachable_within_the_timeout(start_light: StartLight) -> None:
    emulator, light = await start_light("color_bulb", timeout_s=0.5)
    emulator.faults.silent = True
    calls: list[Callable[[], Awaitable[object]]] = [
        light.read_light,
        lambda: light.set_light(LightState(on=False), 0),
    ]
    for call in calls:
        began = time.monotonic()
        with pytest.raises(DeviceUnreachable, match=r"within 0\.5 s"):
            await call()
        assert time.monotonic() - began < 2.0  # bounded by the timeout, with room for a slow CI
    emulator.faults.clear()
    assert (await light.read_light()).on


async def test_refused_then_back(start_light: StartLight, clock: VirtualClock) -> None:
    emulator, light = await start_light("dimmer", timeout_s=0.5)
    await emulator.refuse_connections()
    with pytest.raises(DeviceUnreachable, match="read_light"):
        await light.read_light()
    await emulator.accept_connections()
    await light.set_light(LightState(on=True, brightness_pct=64), 0)
    await _settle(clock)
    assert (await light.read_light()).brightness_pct == 64


async def test_start_fails_cleanly_and_a_later_call_connects(
    emulators: list[KasaEmulator],
) -> None:
    bulb = KasaEmulator("white_bulb", host=HOST)
    await bulb.start()
    emulators.append(bulb)
    bulb.faults.silent = True
    light = KasaLight(_config(bulb, "white_bulb", timeout_s=0.5))
    with pytest.raises(DeviceUnreachable, match="lamp: connect failed"):
        await light.start()
    bulb.faults.clear()
    try:
        await light.set_light(LightState(on=True, color_temp_k=4000), 0)
        assert bulb.state["color_temp"] == 4000
    finally:
        await light.close()


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (KasaTimeoutError("timeout"), DeviceUnreachable),
        (
            KasaDeviceError("session", error_code=SmartErrorCode.SESSION_TIMEOUT_ERROR),
            DeviceUnreachable,
        ),
        (ConnectionResetError(104, "reset by peer"), DeviceUnreachable),
        (AuthenticationError("bad password"), DeviceRejected),
        (KasaException("Error on system.set_relay_state: {'err_code': -3}"), DeviceRejected),
    ],
)
def test_library_errors_are_translated(exc: Exception, kind: type[Exception]) -> None:
    error = translate("lamp", "set_light", exc)
    assert type(error) is kind and str(error).startswith("lamp: set_light failed: ")


def test_wrapped_connection_errors_are_unreachable() -> None:
    try:
        try:
            raise ConnectionRefusedError(111, "Connect call failed")
        except OSError as refused:
            raise KasaException("Communication error on system:get_sysinfo") from refused
    except KasaException as wrapped:
        error = translate("lamp", "read_light", wrapped)
    assert isinstance(error, DeviceUnreachable)
    assert "Connect call failed" in error.reason
