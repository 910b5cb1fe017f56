"""The room's MQTT API on a real Mosquitto: every command topic drives the session through
SessionControl (recorded with the MQTT sender as author), the retained state and the events
follow, and malformed or impossible commands are logged and ignored."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from roomctl.model.events import EventKind
from roomctl.sim.broker import Broker
from tests.helpers import until
from tests.mqtt.rig import ApiRoom, Observer, api_room, observer, small_room, z2m_light

ROOM = "cmd-room"
ROOT = f"roomctl/{ROOM}"


@pytest.fixture
async def room(tmp_path: Path, private_broker: Broker) -> AsyncIterator[ApiRoom]:
    config = small_room(tmp_path, private_broker, ROOM, "zigbee2mqtt/cmd-ceiling")
    async with z2m_light(private_broker, "zigbee2mqtt/cmd-ceiling"), api_room(config) as r:
        yield r


@pytest.fixture
async def obs(private_broker: Broker, room: ApiRoom) -> AsyncIterator[Observer]:
    del room
    async with observer(private_broker, f"{ROOT}/#") as o:
        yield o


def kinds(room: ApiRoom) -> list[tuple[str, str]]:
    assert room.daemon.session is not None
    return [(e.kind.value, e.by) for e in room.daemon.session.events]


async def test_retained_state_reaches_a_late_subscriber(
    room: ApiRoom, private_broker: Broker
) -> None:
    async with observer(private_broker, f"{ROOT}/state", f"{ROOT}/availability") as late:
        state = await late.last_json(f"{ROOT}/state")
        avail = await until(lambda: late.last(f"{ROOT}/availability") is not None)
    del avail
    assert state["room_id"] == ROOM
    assert state["session"] is None and state["emergency"] is False
    assert state["scene"] is None
    assert [d["id"] for d in state["devices"]] == ["ceiling"]
    assert late.last(f"{ROOT}/availability").payload == b"online"  # type: ignore[union-attr]


async def test_session_commands_through_mqtt(room: ApiRoom, obs: Observer) -> None:
    session = room.daemon.session
    assert session is not None
    session.start("psilocybin", by="test")
    await until(lambda: (obs.last(f"{ROOT}/state") or obs.messages[0]).json().get("session"))

    await obs.publish(f"{ROOT}/cmd/session", json.dumps({"action": "hold", "by": "node-red"}))
    await until(lambda: ("hold", "mqtt:node-red") in kinds(room), what=lambda: kinds(room))
    await obs.publish(f"{ROOT}/cmd/session", "resume")
    await until(lambda: ("resume", f"mqtt:{ROOT}/cmd/session") in kinds(room))
    await obs.publish(f"{ROOT}/cmd/session", json.dumps({"action": "extend", "minutes": 20}))
    await until(lambda: ("extend", f"mqtt:{ROOT}/cmd/session") in kinds(room))
    assert session.events[-1].data == {"minutes": 20}

    first = session.snapshot().status.phase  # type: ignore[union-attr]
    await obs.publish(f"{ROOT}/cmd/session", json.dumps({"action": "advance"}))
    await until(lambda: ("advance", f"mqtt:{ROOT}/cmd/session") in kinds(room))

    def phase_event() -> list[dict[str, object]]:
        return [m.json() for m in obs.on(f"{ROOT}/event") if m.json()["type"] == "phase"]

    await until(lambda: bool(phase_event()), what="a phase event")
    assert phase_event()[0]["previous"] == first
    state = await obs.last_json(f"{ROOT}/state")
    await until(
        lambda: obs.last(f"{ROOT}/state").json()["session"]["phase"] == phase_event()[0]["phase"]  # type: ignore[union-attr]
    )
    await obs.publish(f"{ROOT}/cmd/session", "step-back")
    await until(lambda: ("step_back", f"mqtt:{ROOT}/cmd/session") in kinds(room))
    del state


async def test_cue_and_emergency_through_mqtt(room: ApiRoom, obs: Observer) -> None:
    session = room.daemon.session
    assert session is not None
    session.start("psilocybin", by="test")
    await obs.publish(f"{ROOT}/cmd/cue", "talk")
    await until(lambda: ("cue_on", f"mqtt:{ROOT}/cmd/cue") in kinds(room))
    await until(lambda: obs.last(f"{ROOT}/state").json()["scene"] == "talk")  # type: ignore[union-attr]
    await obs.publish(f"{ROOT}/cmd/cue", "off")
    await until(lambda: ("cue_off", f"mqtt:{ROOT}/cmd/cue") in kinds(room))

    await obs.publish(f"{ROOT}/cmd/emergency", "ON")
    await until(lambda: session.emergency_on)
    await until(lambda: obs.last(f"{ROOT}/state").json()["emergency"] is True)  # type: ignore[union-attr]
    await obs.publish(f"{ROOT}/cmd/emergency", "CLEAR")
    await until(lambda: not session.emergency_on)
    events = [m.json() for m in obs.on(f"{ROOT}/event")]
    assert {"type": "cue", "cue": "talk"}.items() <= next(
        e for e in events if e["type"] == "cue"
    ).items()
    await until(
        lambda: (
            [
                e["on"]
                for e in (m.json() for m in obs.on(f"{ROOT}/event"))
                if e["type"] == "emergency"
            ]
            == [True, False]
        )
    )
    assert ("emergency_on", f"mqtt:{ROOT}/cmd/emergency") in kinds(room)


async def test_note_event_carries_no_text(room: ApiRoom, obs: Observer) -> None:
    session = room.daemon.session
    assert session is not None
    session.start("psilocybin", by="test")
    await until(lambda: obs.last(f"{ROOT}/state") is not None)
    session.command(EventKind.NOTE, {"text": "client said something private"}, by="facilitator")
    await until(lambda: any(m.json()["type"] == "note" for m in obs.on(f"{ROOT}/event")))
    note = next(m for m in obs.on(f"{ROOT}/event") if m.json()["type"] == "note")
    assert b"private" not in note.payload
    assert note.json()["by"] == "facilitator"


async def test_scene_outside_a_session_goes_through_the_room_layer(
    room: ApiRoom, obs: Observer
) -> None:
    await obs.publish(f"{ROOT}/cmd/scene", "calm")
    await until(lambda: room.api.room_scene.name == "calm")
    await until(lambda: obs.last(f"{ROOT}/state").json()["scene"] == "calm")  # type: ignore[union-attr]
    desired = room.daemon.engine.desired_at(room.daemon.clock.now() + 3600)  # type: ignore[union-attr]
    assert desired["ceiling"].on  # type: ignore[union-attr]
    # a session started afterwards takes over from the room's scene
    room.daemon.session.start("psilocybin", by="test")  # type: ignore[union-attr]
    await until(lambda: room.api.room_scene.name is None, what="the room scene to end")
    await until(lambda: obs.last(f"{ROOT}/state").json()["session"] is not None)  # type: ignore[union-attr]
    assert obs.last(f"{ROOT}/state").json()["scene"] != "calm"  # type: ignore[union-attr]


async def test_malformed_commands_are_logged_and_ignored(
    room: ApiRoom, obs: Observer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "roomctl.mqtt_api")
    session = room.daemon.session
    assert session is not None
    session.start("psilocybin", by="test")
    bad = [
        ("session", b'{"action": "hold"'),  # broken JSON
        ("session", b'{"action": "fly"}'),
        ("session", b'{"action": "extend", "minutes": "ten"}'),
        ("session", b'{"action": "extend", "minutes": 9999}'),
        ("session", b"[1, 2]"),
        ("session", b"\xff\xfe"),
        ("session", b"x" * 5000),
        ("cue", b"disco"),
        ("cue", b"off"),  # no cue is on
        ("emergency", b"MAYBE"),
        ("emergency", b"CLEAR"),  # nothing to clear
        ("scene", b"no-such-scene"),
        ("scene", b"emergency"),
        ("volume", b"loud"),
        ("volume", b"50"),  # this room has no players
        ("launch", b"now"),
        ("session", json.dumps({"action": "hold", "by": "bad name!"}).encode()),
    ]
    before = len(session.events)
    for name, payload in bad:
        await obs.publish(f"{ROOT}/cmd/{name}", payload)
    await until(lambda: room.api.commands.ignored == len(bad), what=lambda: caplog.text)
    assert len(session.events) == before
    assert room.api.commands.handled == 0
    text = caplog.text
    for reason in (
        "not valid JSON",
        "unknown action 'fly'",
        "'minutes' must be a number",
        "between 1 and 240",
        "must be an object",
        "not UTF-8",
        "5000 bytes",
        "unknown cue 'disco'",
        "no cue is on",
        "neither ON nor CLEAR",
        "no emergency to clear",
        "unknown scene 'no-such-scene'",
        "'loud' is not a number",
        "no music players",
        "unknown command 'launch'",
        "'by' must be",
    ):
        assert reason in text, reason
    assert "Traceback" not in text
    # and the room still answers
    await obs.publish(f"{ROOT}/cmd/session", "hold")
    await until(lambda: room.api.commands.handled == 1)
