"""Heat and cold reach the people in the room: a thermostat whose sensor goes silent, and a room
that falls out of its band, are reported by the running daemon (log, session status, the room
state the tablet and MQTT show) and cleared when the room is back.  Real MQTT, the demo room's
relay thermostat and its emulated sensor."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml

from roomctl.clock import SystemClock
from roomctl.sim.demo import DemoRoom
from tests.daemon_support import run_cli, stop_daemon
from tests.faults import start, write_config
from tests.helpers import until


async def test_a_silent_sensor_and_a_cold_room_are_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with DemoRoom.start(SystemClock(), tmp_path) as room:
        config = write_config(room, tmp_path / "c.yaml")
        cfg = yaml.safe_load(config.read_text(encoding="utf-8"))
        for dev in cfg["devices"]:
            if dev["id"] == "room-heat":
                dev["sensor_timeout_s"] = 3
        config.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
        assert room.sensor is not None
        sensor = room.sensor

        async def report() -> None:  # a sensor that reports every half second (unless silent)
            while True:
                sensor.temperature_c = room.room_model.temperature_c
                await sensor.publish_now()
                await asyncio.sleep(0.5)

        feeder = asyncio.create_task(report())
        run = await start(config, SystemClock(), climate_check_s=0.5)
        try:
            daemon = run.daemon
            assert daemon.climate is not None  # the room has thermostats: the watch runs
            await until(lambda: daemon.state().alerts == [], 10, lambda: daemon.state().alerts)

            room.sensor.silent = True
            await until(
                lambda: any(a.kind == "sensor_silent" for a in daemon.state().alerts),
                15,
                lambda: daemon.state().alerts,
            )
            code, out, err = await run_cli(config, "session", "status")
            assert code == 0, err
            assert "alert: room-heat: " in out and "sensor" in out

            room.room_model.temperature_c = 15.0  # the heater was off: the room went cold
            room.sensor.silent = False
            await until(
                lambda: [a.kind for a in daemon.state().alerts] == ["too_cold"],
                15,
                lambda: daemon.state().alerts,
            )
            cold = daemon.state().alerts[0]
            assert cold.device_id == "room-heat" and "15.0 °C" in cold.message

            room.room_model.temperature_c = 21.0
            await until(lambda: daemon.state().alerts == [], 15, lambda: daemon.state().alerts)
            code, out, err = await run_cli(config, "session", "status")
            assert "alert:" not in out
        finally:
            feeder.cancel()
            await stop_daemon(run)
    logged = [r.getMessage() for r in caplog.records if "room-heat" in r.getMessage()]
    assert any("too_cold" in m or "below" in m for m in logged), logged
