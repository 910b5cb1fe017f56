"""The logs of a whole session never hold a password, a token, a client's label or a note.

A full psilocybin session on the demo room (real drivers, emulators, a real Mosquitto with a
username and password given), 2000 times faster than real time, for a client with a label and
preferences with notes, with every kind of command a facilitator gives (notes included), logged
at DEBUG from every logger; then every log line is searched for the secrets."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from roomctl.clock import ScaledClock
from roomctl.model.events import EventKind
from roomctl.sim.demo import DemoRoom
from roomctl.store.clients import Consent
from tests.daemon_support import DARK_ROOM, start_daemon, stop_daemon
from tests.faults import write_config
from tests.helpers import until

SPEED = 2000.0
LABEL = "Margarethe Quellenfeld"
PREFS_NOTE = "Afraid of the dark since the accident"
SESSION_NOTE = "Spoke about her brother at length"
USER_PASSWORD = "correct-horse-battery-staple-7"
MQTT_PASSWORD = "mqtt-secret-Quokka-42"
SECRETS = (LABEL, "Margarethe", "Quellenfeld", PREFS_NOTE, SESSION_NOTE, "brother",
           USER_PASSWORD, MQTT_PASSWORD)  # fmt: skip


async def test_a_whole_session_logs_no_secret(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, every level
    clock = ScaledClock(SPEED)
    async with DemoRoom.start(clock, tmp_path) as room:
        mqtt = {"host": room.broker.host, "port": room.broker.port,
                "username": "roomctl", "password": MQTT_PASSWORD}  # fmt: skip
        config = write_config(room, tmp_path / "c.yaml", mqtt=mqtt)
        run = await start_daemon(config, clock)
        try:
            store = run.store
            store.add_user("ana", USER_PASSWORD, "facilitator", by="admin")
            assert store.verify_user("ana", USER_PASSWORD) == "facilitator"
            client = store.create_client(LABEL, by="ana")
            prefs = {"colors_liked": ["amber"], "notes": PREFS_NOTE, "volume_max": 40}
            store.save_preferences(client, prefs, "ana", consent=Consent(recorded_by="ana"))
            session = run.session.start("psilocybin", by="ana", client_id=client, room=DARK_ROOM)

            def command(kind: EventKind, data: dict[str, object] | None = None) -> None:
                run.session.command(kind, data, by="ana")

            command(EventKind.DOSE)
            command(EventKind.NOTE, {"text": SESSION_NOTE})
            command(EventKind.CUE_ON, {"cue": "talk"})
            command(EventKind.CUE_OFF)
            command(EventKind.HOLD)
            command(EventKind.RESUME)
            command(EventKind.OVERRIDE, {"device": "lamp", "channel": "brightness_pct",
                                         "value": 12})  # fmt: skip
            run.session.emergency(True, by="ana")
            run.session.emergency(False, by="ana")
            command(EventKind.EXTEND, {"minutes": 10})
            command(EventKind.ADVANCE)

            def last_phase() -> bool:
                status = run.session.snapshot().status
                return status is not None and status.phase == "closing"

            await until(last_phase, 60, lambda: run.session.snapshot().status)
            command(EventKind.NOTE, {"text": f"{SESSION_NOTE} again"})
            command(EventKind.END)
            store.export_client(client, by="ana")
            store.delete_client(client, by="ana")
            assert store.events(session.id)
        finally:
            await stop_daemon(run, 10)

    lines = [f"{r.name} {r.levelname} {r.getMessage()}" for r in caplog.records]
    assert len(lines) > 20 and any("emergency ON by ana" in line for line in lines)
    leaks = [line for line in lines for s in SECRETS if s.lower() in line.lower()]
    assert leaks == [], leaks
