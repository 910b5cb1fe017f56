"""A hot room during a session: a reading above the arc's heat alert threshold (MDMA: 24 °C)
raises an alert the status shows, is recorded in the session by "system", and the cooling acts
through the session's desired state (the fan plug on, every thermostat at the band's minimum);
once the room has been back under the threshold for `heat.clear_after_s` the alert clears, the
end is recorded and the fan goes back off.

A daemon on the demo room with an emulated Kasa plug as the fan, real MQTT, the relay
thermostat's emulated sensor fed by the test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from roomctl.clock import SystemClock
from roomctl.devices.climate import climate_alerts
from roomctl.model.config import TemperatureBand
from roomctl.model.state import ThermostatReading, ThermostatState
from roomctl.sim.demo import DemoRoom
from roomctl.sim.kasa import KasaEmulator
from tests.daemon_support import run_cli, stop_daemon
from tests.faults import start, write_config
from tests.helpers import until

BAND = TemperatureBand(min=18, max=24)


def reading(celsius: float | None, silent: bool = False) -> ThermostatReading:
    return ThermostatReading(setpoint_c=21.0, current_c=celsius, sensor_silent=silent)


def test_the_threshold_is_the_arcs_or_the_rooms_maximum_and_clears_after_a_while() -> None:
    hot = climate_alerts({"s": reading(23.6)}, BAND, 0.0, heat_alert_c=23.5, clear_after_s=300)
    assert [(a.kind, a.limit_c) for a in hot] == [("too_hot", 23.5)]
    assert "above the 23.5 °C heat alert threshold" in hot[0].message()
    # an arc's threshold above the room's maximum does not raise it
    hot = climate_alerts({"s": reading(24.2)}, BAND, 0.0, heat_alert_c=26, clear_after_s=300)
    assert [(a.kind, a.limit_c) for a in hot] == [("too_hot", 24.0)]
    assert "24 °C maximum" in hot[0].message()
    assert climate_alerts({"s": reading(23.9)}, BAND, 0.0) == []
    # back under the limit: it stays for clear_after_s, then clears
    cool = climate_alerts({"s": reading(23.0)}, BAND, 10.0, hot, clear_after_s=300)
    assert cool == hot and cool[0].cool_since == 10.0
    cool = climate_alerts({"s": reading(23.0)}, BAND, 309.0, cool, clear_after_s=300)
    assert cool == hot
    assert climate_alerts({"s": reading(23.0)}, BAND, 310.0, cool, clear_after_s=300) == []
    # warm again before then: the wait starts over
    warm = climate_alerts({"s": reading(24.5)}, BAND, 200.0, cool, clear_after_s=300)
    assert warm[0].cool_since is None
    # a sensor that goes silent during the alert does not end it
    silent = climate_alerts({"s": reading(None, silent=True)}, BAND, 400.0, hot)
    assert sorted(a.kind for a in silent) == ["sensor_silent", "too_hot"]


@pytest.fixture
async def fan() -> AsyncIterator[KasaEmulator]:
    emu = KasaEmulator("plug", "127.0.0.15", 0, alias="Demo fan")
    await emu.start()
    emu.device._relay_on = False  # a plug emulator starts on; this fan is off until needed
    try:
        yield emu
    finally:
        await emu.stop()


def thermostats(daemon: Any) -> dict[str, float]:
    desired = daemon.session.desired(daemon.session.now())
    return {
        k: v.setpoint_c for k, v in desired.items() if isinstance(v, ThermostatState)
    }


async def test_a_hot_room_in_an_mdma_session_turns_the_cooling_on_and_off(
    tmp_path: Path, fan: KasaEmulator
) -> None:
    async with DemoRoom.start(SystemClock(), tmp_path) as room:
        config = write_config(room, tmp_path / "c.yaml", heat={"cooling": ["fan"],
                                                               "clear_after_s": 3})  # fmt: skip
        cfg = yaml.safe_load(config.read_text(encoding="utf-8"))
        cfg["devices"].append(
            {"id": "fan", "driver": "kasa", "host": fan.address, "zone": "fan", "model": "plug",
             "timeout_s": 1.0}
        )  # fmt: skip
        config.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
        assert room.sensor is not None and room.radiator is not None
        sensor = room.sensor
        room.room_model.temperature_c = 21.5

        async def report() -> None:
            while True:
                sensor.temperature_c = room.room_model.temperature_c
                await sensor.publish_now()
                await asyncio.sleep(0.3)

        feeder = asyncio.create_task(report())
        run = await start(config, SystemClock(), climate_check_s=0.5)
        try:
            daemon = run.daemon
            radiator = room.radiator
            assert radiator is not None
            code, _, err = await run_cli(config, "session", "start", "mdma")
            assert code == 0, err
            await until(lambda: daemon.session.session is not None, 10)
            await until(lambda: radiator.setpoint_c == 22.0, 20, lambda: thermostats(daemon))
            assert fan.state["on"] is False

            room.room_model.temperature_c = 23.5  # warm, under MDMA's 24 °C: nothing
            await asyncio.sleep(2)
            assert daemon.state().alerts == [] and fan.state["on"] is False

            room.room_model.temperature_c = 24.6
            await until(lambda: bool(fan.state["on"]), 30, lambda: daemon.state().alerts)
            (alert,) = [a for a in daemon.state().alerts if a.kind == "too_hot"]
            assert alert.device_id == "room-heat"
            assert "24.6 °C, above the 24 °C heat alert threshold" in alert.message
            # the thermostats to the band's minimum, through the session (within the clamp)
            assert thermostats(daemon) == {"radiator": 20.0, "room-heat": 20.0}
            await until(lambda: radiator.setpoint_c == 20.0, 20)
            code, out, _ = await run_cli(config, "session", "status")
            assert "COOLING" in out and "heat alert threshold" in out, out

            room.room_model.temperature_c = 22.0  # cooled down: clears after 3 s under 24 °C
            cleared = await until(lambda: not fan.state["on"], 30, lambda: daemon.state().alerts)
            assert cleared >= 2.5
            assert daemon.state().alerts == []
            await until(lambda: radiator.setpoint_c == 22.0, 20, lambda: thermostats(daemon))

            code, out, _ = await run_cli(config, "session", "status", "--json")
            assert code == 0
            sid = daemon.session.session.id
            code, out, _ = await run_cli(config, "session", "export", sid)
            events = yaml.safe_load(out)["events"]
            heat = [(e["kind"], e["by"], e["data"]) for e in events if "heat" in e["kind"]]
            assert heat == [
                ("heat_alert", "system",
                 {"device": "room-heat", "temperature_c": 24.6, "limit_c": 24.0}),
                ("heat_clear", "system", {}),
            ]  # fmt: skip
        finally:
            feeder.cancel()
            await stop_daemon(run)


@pytest.mark.parametrize(
    ("cooling", "problem"),
    [(["fan"], "heat.cooling: no device 'fan'"), (["lamp"], "'lamp' is a light, not a switch")],
)
def test_cooling_devices_must_be_switches_of_the_room(
    tmp_path: Path, cooling: list[str], problem: str
) -> None:
    from roomctl.errors import ConfigError
    from roomctl.model.library import load_library

    root = Path(__file__).resolve().parent.parent
    cfg = yaml.safe_load((root / "config.example.yaml").read_text(encoding="utf-8"))
    cfg["heat"] = {"cooling": cooling}
    cfg["scenes_dir"] = str(root / "scenes")
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg), encoding="utf-8")
    with pytest.raises(ConfigError, match=problem):
        load_library(tmp_path / "c.yaml")
