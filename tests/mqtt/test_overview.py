"""The clinic overview: two real Mosquitto brokers bridged to each other (Mosquitto's own
`connection` bridge, `roomctl/#` both ways), a room on each, and the overview on either broker
lists both; `roomctl overview --config FILE [--json]` prints it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import yaml

from roomctl.cli.main import main
from roomctl.model.config import MqttConfig
from roomctl.mqtt.overview import ClinicOverview, format_rows, read_overview
from roomctl.sim.broker import Bridge, Broker
from tests.mqtt.rig import api_room, small_room, z2m_light


def test_rows_from_room_topics() -> None:
    overview = ClinicOverview(now=lambda: 1000.0)
    state = {
        "room_id": "r1",
        "room_name": "Room 1",
        "at": 990.0,
        "session": {"arc": "mdma", "phase": "peak"},
        "scene": "peak",
        "emergency": True,
        "alerts": [{"message": "the room is 25.0 °C"}],
        "devices": [{"id": "lamp", "available": True}, {"id": "speakers", "available": False}],
    }
    overview.handle("roomctl/r1/state", json.dumps(state).encode())
    overview.handle("roomctl/r1/availability", b"online")
    overview.handle("roomctl/r2/availability", b"offline")
    overview.handle("roomctl/r3/state", b"{not json")  # logged, skipped
    overview.handle("roomctl/r1/cmd/scene", b"calm")  # not the overview's
    rows = overview.rows()
    assert [r.room_id for r in rows] == ["r1", "r2", "r3"]
    r1, r2, _ = rows
    assert (r1.session, r1.phase, r1.scene, r1.emergency) == ("mdma", "peak", "peak", True)
    assert r1.unavailable == ["speakers"] and r1.health == "1 of 2 devices unavailable"
    assert r2.online is False and r2.health == "offline"
    text = format_rows(rows, now=1000.0)
    assert "EMERGENCY" in text and "10 s ago" in text and "OFFLINE" in text
    overview.handle("roomctl/r1/state", b"")  # a room's state cleared: gone
    assert "r1" not in [r.room_id for r in overview.rows()]


async def test_two_bridged_brokers_one_overview(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with (
        Broker.start() as east_broker,
        Broker.start(bridges=[Bridge(east_broker.host, east_broker.port)]) as west_broker,
    ):
        east = small_room(tmp_path, east_broker, "east", "zigbee2mqtt/east-ceiling")
        west = small_room(tmp_path, west_broker, "west", "zigbee2mqtt/west-ceiling")
        async with (
            z2m_light(east_broker, "zigbee2mqtt/east-ceiling"),
            api_room(east) as east_room,
            api_room(west) as west_room,
        ):
            assert west_room.daemon.session is not None
            west_room.daemon.session.start("psilocybin", by="test")
            rows_on: dict[str, list[str]] = {}
            for name, broker in (("east", east_broker), ("west", west_broker)):
                config = MqttConfig(host=broker.host, port=broker.port)

                async def both(cfg: MqttConfig = config, name: str = name) -> bool:
                    rows = await read_overview(cfg, wait_s=1.0)
                    rows_on[name] = [r.room_id for r in rows]
                    return rows_on[name] == ["east", "west"]

                for _ in range(8):  # the bridge connects within a second or two
                    if await both():
                        break
                assert rows_on[name] == ["east", "west"], f"overview on {name}: {rows_on}"
            rows = await read_overview(MqttConfig(host=east_broker.host, port=east_broker.port))
            by_id = {r.room_id: r for r in rows}
            assert by_id["west"].session == "psilocybin" and by_id["west"].phase is not None
            assert by_id["east"].session is None and by_id["east"].online is True
            assert by_id["west"].unavailable == ["ceiling"]  # no light answers in the west
            assert east_room.api.commands.ignored == 0

            # the CLI, with a room config pointing at the west broker
            cfg = yaml.safe_load(west.read_text())
            cfg["room"]["id"] = "front-desk"
            desk = tmp_path / "desk.yaml"
            desk.write_text(yaml.safe_dump(cfg), encoding="utf-8")
            assert await asyncio.to_thread(main, ["overview", "--config", str(desk), "--json"]) == 0
            printed = json.loads(capsys.readouterr().out)
            assert [r["room_id"] for r in printed] == ["east", "west"]
            assert await asyncio.to_thread(main, ["overview", "--config", str(desk)]) == 0
            table = capsys.readouterr().out
            assert table.splitlines()[0].split()[:3] == ["ROOM", "ONLINE", "SESSION"]
            assert "psilocybin" in table

        # both rooms stopped: their wills (offline) reach the other broker too
        async def offline() -> bool:
            rows = await read_overview(MqttConfig(host=east_broker.host, port=east_broker.port))
            return [r.online for r in rows] == [False, False]

        for _ in range(5):
            if await offline():
                break
        assert await offline()
