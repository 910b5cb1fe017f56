"""The JSON API through real HTTP on the daemon's loop: commands are stored before they
return, bad bodies are 422 naming the field, the emergency acts and says whether it is
recorded, logins are throttled, tokens and client links are scoped, changes are audited."""

from __future__ import annotations

import json

import httpx

from roomctl.model.events import EventKind
from tests.helpers import until
from tests.web.conftest import DARK_ROOM, Site


async def test_session_commands_are_stored_before_they_return(site: Site) -> None:
    async with site.login() as http:
        r = await http.post("/api/sessions", json={"arc": "psilocybin"})
        assert r.status_code == 201, r.text
        assert r.json()["session"]["arc"] == "psilocybin"
        r = await http.post("/api/session/cue", json={"cue": "talk"})
        assert r.status_code == 200, r.text
        seq = r.json()["event"]["seq"]
        stored = site.daemon.store.events(site.daemon.session.session.id)  # type: ignore[union-attr]
        assert any(e.seq == seq and e.kind is EventKind.CUE_ON for e in stored)
        assert r.json()["state"]["session"]["cue"] == "talk"
        assert stored[-1].by == "ana"
        r = await http.post("/api/session/extend", json={"minutes": "ten"})
        assert r.status_code == 422
        assert "minutes" in r.json()["detail"]
        r = await http.post("/api/session/extend", json={"minutes": 15, "extra": 1})
        assert r.status_code == 422 and "extra" in r.json()["detail"]
        r = await http.post("/api/session/resume")
        assert r.status_code == 409 and "not held" in r.json()["detail"]
        r = await http.post("/api/session/emergency")
        assert r.status_code == 200 and r.json()["recorded"] is True
        assert r.json()["state"]["emergency"] is True
        r = await http.post("/api/session/clear-emergency")
        assert r.json()["state"]["emergency"] is False
        r = await http.post("/api/session/note", json={"text": "client asked for a blanket"})
        assert r.status_code == 200
        r = await http.get("/api/sessions")
        assert r.json()[0]["arc"] == "psilocybin"
        actions = {(a.who, a.action) for a in site.daemon.store.audit_log(500)}  # type: ignore[union-attr]
        assert ("ana", "append") in actions and ("ana", "login") in actions


async def test_csrf_is_needed_for_cookie_writes_not_for_bearer(site: Site) -> None:
    async with site.login() as http:
        del http.headers["X-CSRF-Token"]
        r = await http.post("/api/session/hold")
        assert r.status_code == 403 and "CSRF" in r.json()["detail"]
    _, token = site.daemon.store.create_token("ha", "facilitator")  # type: ignore[union-attr]
    async with httpx.AsyncClient(base_url=site.url) as http:
        auth = {"Authorization": f"Bearer {token}"}
        r = await http.post("/api/sessions", json={"arc": "mdma"}, headers=auth)
        assert r.status_code == 201, r.text
        r = await http.get("/api/users", headers=auth)
        assert r.status_code == 403
        r = await http.get("/api/state", headers={"Authorization": "Bearer rmt_nope"})
        assert r.status_code == 401


async def test_logins_are_throttled_per_user_and_logout_ends_the_cookie(site: Site) -> None:
    async with httpx.AsyncClient(base_url=site.url) as http:
        codes = []
        for _ in range(5):
            page = await http.get("/login")
            csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
            r = await http.post("/login", data={"username": "ana", "password": "wrong password",
                                                "csrf": csrf})  # fmt: skip
            codes.append(r.status_code)
        assert codes[:4] == [401, 401, 401, 401] and codes[4] == 429
        assert site.web.throttle.wait_s(["user:ana"]) > 0
    site.web.throttle.succeeded("user:ana")
    site.web.throttle.succeeded("addr:127.0.0.1")
    for key in list(site.web.throttle._counts):
        site.web.throttle.succeeded(key)
    async with site.login() as http:
        assert (await http.get("/api/state")).status_code == 200
        csrf = http.headers["X-CSRF-Token"]
        cookie = http.cookies.get("roomctl_session")
        assert cookie is not None
        r = await http.post("/logout", data={"csrf": csrf})
        assert r.status_code == 303
    async with httpx.AsyncClient(base_url=site.url, cookies={"roomctl_session": cookie}) as old:
        assert (await old.get("/api/state")).status_code == 401


async def test_client_link_reaches_only_that_client(site: Site) -> None:
    store = site.daemon.store
    assert store is not None
    mine, other = store.create_client(), store.create_client()
    async with site.login() as staff:
        link = (await staff.post(f"/api/clients/{mine}/link")).json()
        assert link["url"].startswith(site.url + "/c/rmt_") and "<svg" in link["qr_svg"]
    async with httpx.AsyncClient(base_url=site.url) as phone:
        r = await phone.get(link["url"].removeprefix(site.url))
        assert r.status_code == 303 and r.headers["location"] == "/client"
        page = await phone.get("/client")
        assert page.status_code == 200 and mine in page.text
        csrf = page.text.split('<meta name="csrf" content="')[1].split('"')[0]
        phone.headers["X-CSRF-Token"] = csrf
        assert (await phone.get(f"/api/clients/{mine}")).status_code == 200
        assert (await phone.get(f"/api/clients/{other}")).status_code == 403
        assert (await phone.get("/api/state")).status_code == 403
        assert (await phone.post("/api/session/emergency")).status_code == 403
        body = {"preferences": {"colors_liked": ["blue"], "volume_max": 30}}
        r = await phone.post(f"/api/clients/{mine}/preferences", json=body)
        assert r.status_code == 422 and "consent" in r.json()["detail"]
        r = await phone.post(f"/api/clients/{mine}/preferences", json=body | {"consent": True})
        assert r.status_code == 201, r.text
        assert r.json()["version"] == 1
        (v1,) = store.preference_history(mine)
        assert v1.consent is not None and v1.consent.given_by == mine
        r = await phone.post(
            f"/api/clients/{mine}/preview", json={"hue": 225, "brightness_pct": 30}
        )
        assert r.status_code == 200, r.text
    assert site.daemon.session is not None
    site.daemon.session.start("psilocybin", by="test", room=DARK_ROOM)
    async with site.login() as staff:
        r = await staff.post(f"/api/clients/{mine}/preview", json={"hue": 225})
        assert r.status_code == 409 and "session is running" in r.json()["detail"]


async def test_preview_shows_the_colour_on_the_lamp_then_fades_back(site: Site) -> None:
    cid = site.daemon.store.create_client()  # type: ignore[union-attr]
    lamp = site.room.kasa["lamp"]
    async with site.login() as http:
        r = await http.post(f"/api/clients/{cid}/preview",
                            json={"hue": 225, "saturation": 80, "brightness_pct": 30})  # fmt: skip
        assert r.status_code == 200, r.text
    await until(lambda: lamp.state["on"] and abs(lamp.state["hue"] - 225) < 5,
                what=lambda: f"lamp shows {lamp.state}")  # fmt: skip


async def test_session_record_is_served_and_audited(site: Site) -> None:
    async with site.login() as http:
        assert (await http.post("/api/sessions", json={"arc": "psilocybin"})).status_code == 201
        await http.post("/api/session/cue", json={"cue": "talk"})
        await http.post("/api/session/note", json={"text": "staff only: tired"})
        sid = site.daemon.session.session.id  # type: ignore[union-attr]
        r = await http.get(f"/api/sessions/{sid}/record")
        assert r.status_code == 200, r.text
        assert r.json()["session_id"] == sid
        page = await http.get(f"/api/sessions/{sid}/record.html", params={"download": True})
        assert page.status_code == 200 and "attachment" in page.headers["content-disposition"]
        head = page.text[:300]
        assert 'style="background:#' in head and 'content="dark"' in head and "<svg" in page.text
        assert "staff only" in page.text
        copy = await http.get(f"/api/sessions/{sid}/record.html", params={"client_copy": True})
        assert "staff only" not in copy.text
        assert (await http.get("/api/sessions/s-nope/record")).status_code == 404
    audit = site.daemon.store.audit_log(200)  # type: ignore[union-attr]
    assert any(a.action == "read_record" and a.target == sid for a in audit)


async def test_stream_sends_the_whole_state_first_then_changes(site: Site) -> None:
    async with site.login() as http:
        for _ in range(2):  # a reconnecting tablet gets the whole state at once, every time
            async with http.stream("GET", "/api/stream") as r:
                assert r.headers["content-type"].startswith("text/event-stream")
                lines = r.aiter_lines()
                first = None
                async for line in lines:
                    if line.startswith("data: "):
                        first = json.loads(line[6:])
                        break
                assert first is not None and first["session"] is None
                assert {d["id"] for d in first["devices"]} >= {"lamp", "speakers"}
                await http.post("/api/sessions", json={"arc": "psilocybin"})
                async for line in lines:
                    if line.startswith("data: ") and json.loads(line[6:])["session"]:
                        break
            await http.post("/api/session/end")
