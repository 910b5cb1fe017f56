"""A Kasa device without `model:` is what it reports, through the real python-kasa against the
Kasa emulator: no warning unless a configured model contradicts the device, a plug works as an
on/off light, a light without colour rests without a stream of commands, and `roomctl check`
accepts the config as it is."""

from __future__ import annotations

import logging
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from roomctl.devices.factory import build_device
from roomctl.devices.kasa import KasaLight, KasaSwitch
from roomctl.model.config import KasaDeviceConfig
from roomctl.model.state import LightState
from roomctl.sim.kasa import KasaEmulator
from roomctl.sim.kasa_profiles import Model
from tests.cli_support import EXAMPLE, ROOT, edit, run
from tests.doubles import ParkedClock
from tests.engine_rig import Room, new_room

HOST = "127.0.0.24"
EVERY_MODEL: list[Model] = ["color_bulb", "white_bulb", "dimmable_bulb", "strip", "dimmer", "plug"]
# What the device itself reports it can do, per emulated model.
CAN: dict[Model, tuple[bool, bool]] = {  # (colour temperature, hue)
    "color_bulb": (True, True),
    "white_bulb": (True, False),
    "dimmable_bulb": (False, False),
    "strip": (True, True),
    "dimmer": (False, False),
    "plug": (False, False),
}


def config(emulator: KasaEmulator, model: str | None = None) -> KasaDeviceConfig:
    fields = {"id": "lamp", "zone": "room", "driver": "kasa", "host": emulator.address}
    if model is not None:
        fields["model"] = model
    return KasaDeviceConfig.model_validate({**fields, "timeout_s": 1.0})


@pytest.fixture
def clock() -> ParkedClock:
    return ParkedClock()


@pytest.fixture
async def rooms() -> AsyncIterator[list[Room]]:
    made: list[Room] = []
    yield made
    for room in made:
        await room.stop()


@pytest.mark.parametrize("model", EVERY_MODEL)
async def test_without_model_the_device_says_what_it_is_and_nothing_is_warned(
    model: Model, caplog: pytest.LogCaptureFixture
) -> None:
    async with KasaEmulator(model, host=HOST) as emulator:
        lamp = config(emulator)
        assert lamp.model is None
        driver = build_device(lamp, None, ParkedClock())
        assert isinstance(driver, KasaLight)  # a plug without model: an on/off light
        with caplog.at_level(logging.DEBUG, logger="roomctl.devices.kasa"):
            await driver.start()
        try:
            assert (driver.supports_color_temp, driver.supports_hue) == CAN[model]
            assert model.split("_")[0] in driver.describe()
        finally:
            await driver.close()
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


@pytest.mark.parametrize(
    ("configured", "real"),
    [("color_bulb", "white_bulb"), ("white_bulb", "plug"), ("plug", "strip")],
)
async def test_a_configured_model_that_contradicts_the_device_is_warned_once(
    configured: str, real: Model, caplog: pytest.LogCaptureFixture
) -> None:
    async with KasaEmulator(real, host=HOST) as emulator:
        driver = build_device(config(emulator, configured), None, ParkedClock())
        assert isinstance(driver, KasaSwitch if configured == "plug" else KasaLight)
        with caplog.at_level(logging.WARNING, logger="roomctl.devices.kasa"):
            await driver.start()
        await driver.close()
    (warning,) = caplog.records
    message = warning.getMessage()
    assert f"configured as {configured}" in message and f"is a {real}" in message


@pytest.mark.parametrize("model", EVERY_MODEL)
async def test_without_model_the_engine_drives_each_device_and_then_rests(
    model: Model, clock: ParkedClock, rooms: list[Room]
) -> None:
    """The timeline plans colour temperature for a model-less Kasa light; the device shows what
    it can, and once it has landed the engine does not keep resending what it cannot show."""
    async with KasaEmulator(model, host=HOST, time_fn=clock.monotonic) as emulator:
        driver = build_device(config(emulator), None, clock)
        room = new_room(rooms, clock, {"lamp": driver}, catch_up_s=2, readback_s=10)
        room.want("lamp", LightState(on=True, brightness_pct=40.0, color_temp_k=2700))
        await room.run(20)
        shown = emulator.state
        assert shown["on"]
        if model != "plug":
            assert shown["brightness"] == 40
        if CAN[model][0]:
            assert shown["color_temp"] == 2700
        settled = len(emulator.commands)
        await room.run(60)  # at rest: health reads only, no new commands
        assert len(emulator.commands) == settled, emulator.commands[settled:]
        assert room.manual == []
        room.want("lamp", LightState(on=False))
        await room.run(10)
        assert not emulator.state["on"]
        await driver.close()


def test_check_accepts_a_kasa_device_without_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "config.yaml"
    shutil.copy(EXAMPLE, path)
    shutil.copytree(ROOT / "scenes", tmp_path / "scenes")
    edit(path, ", model: color_bulb}", "}")
    code, out, err = run(capsys, "check", "--config", str(path))
    assert code == 0, out + err
    assert "model" not in out + err


def test_a_model_less_kasa_fan_is_refused_as_cooling_with_the_fix_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "config.yaml"
    shutil.copy(EXAMPLE, path)
    shutil.copytree(ROOT / "scenes", tmp_path / "scenes")
    line = edit(
        path,
        "  - {id: strip,",
        '  - {id: fan, driver: kasa, host: "192.168.1.49", zone: fan}\n  - {id: strip,',
    )
    edit(path, "heat: {cooling: []", "heat: {cooling: [fan]")
    code, out, err = run(capsys, "check", "--config", str(path))
    assert code == 1
    assert "not a switch" in out + err and "model: plug" in out + err
    assert line > 0
