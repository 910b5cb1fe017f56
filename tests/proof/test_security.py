"""Security of a running daemon: a client's link cannot reach another client's data, nothing
secret or identifying reaches the log (or what the room publishes on MQTT: state, events, Home
Assistant discovery) of a session driven through the web API, MQTT commands and the command
line, and the database with its WAL and SHM files is owner-only whatever the umask."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from roomctl.model.events import EventKind
from roomctl.mqtt_api.service import MqttApi
from tests.daemon_support import DARK_ROOM, run_cli
from tests.helpers import until
from tests.mqtt.rig import Observer, observer
from tests.web.conftest import PASSWORD, Site, site

__all__ = ["site"]  # the web tests' fixture: the demo room's daemon with its web app

LABEL = "Zebulon-Quartermaine"  # a label distinctive enough to grep for
NOTE = "mentions-Kilimanjaro-dream"
CLI_NOTE = "recalls-Tamarisk-garden"
MQTT_NOTE = "Ophelia-Brightwater-remembers"


async def client_phone(site: Site, client_id: str) -> httpx.AsyncClient:
    async with site.login() as staff:
        link = (await staff.post(f"/api/clients/{client_id}/link")).json()
    phone = httpx.AsyncClient(base_url=site.url, timeout=30)
    await phone.get(link["url"].removeprefix(site.url))
    page = await phone.get("/client")
    phone.headers["X-CSRF-Token"] = page.text.split('<meta name="csrf" content="')[1].split('"')[0]
    return phone


async def test_a_client_link_cannot_read_or_change_another_clients_data(site: Site) -> None:
    store = site.daemon.store
    assert store is not None
    mine, other = store.create_client(), store.create_client()
    phone = await client_phone(site, mine)
    try:
        prefs = {"preferences": {"volume_max": 30}, "consent": True}
        attempts = [
            ("GET", f"/api/clients/{other}", None),
            ("POST", f"/api/clients/{other}/preferences", prefs),
            ("POST", f"/api/clients/{other}/preview", {"hue": 225}),
            ("POST", f"/api/clients/{other}/link", None),
            ("GET", "/api/clients", None),
            ("GET", "/api/sessions", None),
        ]
        for method, path, body in attempts:
            r = await phone.request(method, path, json=body)
            assert r.status_code in (403, 404), (method, path, r.status_code)
        assert store.preference_history(other) == []
    finally:
        await phone.aclose()


ROOT = "roomctl/demo"  # the demo room's topics


@contextlib.asynccontextmanager
async def mqtt_face(site: Site) -> AsyncIterator[Observer]:
    """The room's MQTT API on the site's daemon, and an observer of all it publishes."""
    async with observer(site.room.broker, f"{ROOT}/#", "homeassistant/#") as obs:
        api = asyncio.create_task(MqttApi(site.daemon).run(), name="mqtt-api")
        try:
            await obs.last_json(f"{ROOT}/state")
            yield obs
        finally:
            api.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await api


async def by_mqtt(obs: Observer, site: Site, command: str, payload: object) -> None:
    """A command on the room's cmd topic, once the session has recorded it."""
    control = site.daemon.session
    assert control is not None
    count = len(control.events)
    text = payload if isinstance(payload, str) else json.dumps(payload)
    await obs.publish(f"{ROOT}/cmd/{command}", text)
    await until(lambda: len(control.events) > count, 10, f"cmd/{command} {text} recorded")


async def test_nothing_secret_or_identifying_in_the_log_of_a_session(
    site: Site, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    control = site.daemon.session
    assert control is not None
    async with mqtt_face(site) as obs:
        secrets, cli_output = await drive_a_session(site, obs)
        # the note reached MQTT as an event (who and when, not what)
        await until(lambda: any(m.json().get("type") == "note" for m in obs.on(f"{ROOT}/event")))
        published = [  # what the room published (not the commands it was given)
            f"{m.topic} {m.payload.decode()}"
            for m in obs.messages
            if not m.topic.startswith(f"{ROOT}/cmd/")
        ]
    lines = [r.getMessage() for r in caplog.records] + cli_output
    assert len(lines) > 10  # the session was logged
    assert any(f"{ROOT}/state" in p and '"session": {' in p for p in published)
    for what in (*secrets, LABEL, NOTE, CLI_NOTE, MQTT_NOTE):
        leaked = [line for line in lines if what in line]
        assert not leaked, (what, leaked)
        on_mqtt = [p[:300] for p in published if what in p]
        assert not on_mqtt, (what, on_mqtt)


async def drive_a_session(site: Site, obs: Observer) -> tuple[list[str], list[str]]:
    """A client with a label, a session for them through the API (by a bearer token), notes
    and cues through the API, MQTT and the CLI, a failed login, an emergency by MQTT.  Returns
    the secrets used and what the command line printed."""
    control = site.daemon.session
    assert control is not None
    async with site.login("root") as admin:
        client = (await admin.post("/api/clients", json={"label": LABEL})).json()["id"]
        token = (await admin.post("/api/tokens", json={"name": "ha", "role": "facilitator"})).json()
    secret = token["token"]
    bearer = {"Authorization": f"Bearer {secret}"}
    async with httpx.AsyncClient(base_url=site.url, headers=bearer, timeout=30) as api:
        r = await api.post("/api/sessions", json={"arc": "psilocybin", "client_id": client})
        assert r.status_code in (200, 201), r.text
        for path, body in [
            ("/api/session/note", {"text": NOTE}),
            ("/api/session/cue", {"cue": "talk"}),
        ]:
            r = await api.post(path, json=body)
            assert r.status_code == 200, r.text
        config = next(site.room.folder.glob("*.yaml"))
        code, out, err = await run_cli(config, "session", "note", CLI_NOTE)
        assert code == 0, out + err
        bad = await api.get("/api/state", headers={"Authorization": "Bearer not-a-real-token"})
        assert bad.status_code == 401
    async with httpx.AsyncClient(base_url=site.url) as wrong:  # a failed login is logged
        page = await wrong.get("/login")
        csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
        await wrong.post(
            "/login", data={"username": "ana", "password": "w" + PASSWORD, "csrf": csrf}
        )
    await by_mqtt(obs, site, "cue", {"cue": "off", "by": "node-red"})
    # an MQTT command carrying words it should not: refused, and logged without them
    await obs.publish(f"{ROOT}/cmd/session", json.dumps({"action": "hold", "note": MQTT_NOTE}))
    await by_mqtt(obs, site, "session", "hold")
    await by_mqtt(obs, site, "session", {"action": "resume", "by": "node-red"})
    await by_mqtt(obs, site, "emergency", "ON")
    await by_mqtt(obs, site, "emergency", "CLEAR")
    control.command(EventKind.EMERGENCY_ON, by="test")
    control.command(EventKind.EMERGENCY_CLEAR, by="test")
    return [secret, PASSWORD, "not-a-real-token"], (out + err).splitlines()


def test_the_database_wal_and_shm_are_owner_only_under_a_permissive_umask(tmp_path: Path) -> None:
    from roomctl.clock import VirtualClock
    from roomctl.model.events import Note
    from roomctl.store.store import Store

    db = tmp_path / "roomctl.db"
    old = os.umask(0)
    try:
        with Store.open(db, VirtualClock(1_800_000_000.0)) as store:
            sid = store.create_session("room-1", "psilocybin")
            for i in range(50):
                store.append(sid, Note(text=f"private {i}"), by="ana")
            files = [db, Path(f"{db}-wal"), Path(f"{db}-shm")]
            assert all(f.exists() for f in files)
            for f in files:
                st = f.stat()
                assert stat.S_IMODE(st.st_mode) == 0o600, (f.name, oct(st.st_mode))
                assert st.st_uid == os.getuid()
    finally:
        os.umask(old)
    assert DARK_ROOM  # the web tests' dark room, imported with the fixture
