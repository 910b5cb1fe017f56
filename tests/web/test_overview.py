"""The clinic overview on the tablet: every room seen on the room's broker (here another room's
retained topics, as a room on a bridged broker publishes them), read only, behind the login."""

from __future__ import annotations

import json

import httpx

from roomctl.model.config import MqttConfig
from roomctl.mqtt.bus import MqttBus
from tests.helpers import until
from tests.web.conftest import Site


async def test_the_overview_lists_the_rooms_on_the_broker(site: Site) -> None:
    broker = site.room.broker
    other = MqttBus(MqttConfig(host=broker.host, port=broker.port), "room-2-test")
    await other.start()
    try:
        state = {
            "room_id": "room-2",
            "room_name": "Session Room 2",
            "at": 1_800_000_000.0,
            "session": {"arc": "mdma", "phase": "inner-focus"},
            "scene": "inner-focus-cool",
            "emergency": True,
            "devices": [{"id": "lamp", "available": True}, {"id": "fan", "available": False}],
            "alerts": [{"message": "the room is 24.6 °C, above the 24 °C maximum"}],
        }
        await other.publish("roomctl/room-2/state", json.dumps(state), retain=True)
        await other.publish("roomctl/room-2/availability", "online", retain=True)

        async with httpx.AsyncClient(base_url=site.url, timeout=30) as anonymous:
            assert (await anonymous.get("/api/overview")).status_code == 401
            page = await anonymous.get("/overview", follow_redirects=False)
            assert page.status_code == 303 and page.headers["location"] == "/login"

        async with site.login() as client:
            rows: list[dict[str, object]] = []

            async def seen() -> None:
                nonlocal rows
                rows = (await client.get("/api/overview")).json()

            for _ in range(100):  # the web follows the broker in the background
                await seen()
                if any(r["room_id"] == "room-2" for r in rows):
                    break
                await until(lambda: True, 1)
            (row,) = [r for r in rows if r["room_id"] == "room-2"]
            assert row["session"] == "mdma" and row["phase"] == "inner-focus"
            assert row["emergency"] is True and row["online"] is True
            assert row["unavailable"] == ["fan"]

            page = await client.get("/overview")
            assert page.status_code == 200
            assert page.text.startswith("<!doctype html><html") or "background" in page.text[:200]
            for words in ("Session Room 2", "mdma", "inner focus", "EMERGENCY",
                          "1 of 2 devices unavailable", "24.6 °C"):  # fmt: skip
                assert words in page.text, words
    finally:
        await other.close()
