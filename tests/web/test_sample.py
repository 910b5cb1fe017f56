"""The volume sample on the client's page, through the real SoCo driver and the engine against
the emulated Sonos pair of the demo room: the curated music at the chosen volume, never above
the room's maximum, rising only as fast as the rise limit lets it, then faded out and the
speakers put back as they were; refused during a session and for another client's link."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import AsyncIterator

import httpx
import pytest

from roomctl.model.state import PlayerState
from roomctl.sim.sonos import SonosEmulator
from tests.helpers import until
from tests.web.conftest import DARK_ROOM, SPEED, Site

pytestmark = pytest.mark.timeout(120)

STREAM = "x-rincon-mp3radio://radio.example/evening"
RISE_PER_10S = 6  # tests/daemon_support.settings_for
FOLLOW_S = 30.0


def _speakers(site: Site) -> tuple[SonosEmulator, ...]:
    assert site.room.sonos is not None
    return site.room.sonos.speakers


def _landed_volume(site: Site) -> int | None:
    landed = site.daemon.engine.health()["speakers"].landed  # type: ignore[union-attr]
    return landed.volume if isinstance(landed, PlayerState) else None


@contextlib.asynccontextmanager
async def _client_phone(site: Site, client_id: str) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client holding `client_id`'s link (a client token), with its CSRF token."""
    async with site.login() as staff:
        url = (await staff.post(f"/api/clients/{client_id}/link")).json()["url"]
    async with httpx.AsyncClient(base_url=site.url, timeout=30) as phone:
        r = await phone.get(url.removeprefix(site.url))
        assert r.status_code == 303, r.text
        page = await phone.get("/client")
        csrf = page.text.split('<meta name="csrf" content="')[1].split('"')[0]
        phone.headers["X-CSRF-Token"] = csrf
        yield phone


async def test_sample_rises_at_the_limit_to_the_cap_then_puts_the_stream_back(
    site: Site,
) -> None:
    store = site.daemon.store
    assert store is not None
    cid = store.create_client()
    coordinator, *_ = speakers = _speakers(site)
    # the room plays a stream someone started in the Sonos app, at 12
    for s in speakers:
        s.volume = 12
    coordinator.speaker.transport.set_uri(STREAM, "")
    coordinator.speaker.transport.play()
    await until(lambda: _landed_volume(site) == 12, FOLLOW_S, lambda: _landed_volume(site))
    site.web.preview.sample.hold_s = 40.0  # long enough at the level on a loaded machine
    for s in speakers:
        s.clear_log()

    async with _client_phone(site, cid) as phone:
        r = await phone.post(f"/api/clients/{cid}/sample", json={"volume": 100, "music": "Peak"})
    assert r.status_code == 200, r.text
    answer = r.json()
    cap = site.daemon.lib.room.safety.max_volume
    assert answer["music"] == "Peak" and answer["asked"] == 100
    assert answer["volume"] == cap and answer["speakers"] == {"speakers": cap}
    # from 12 to 60, one step each 10/6 s after the first: about 78 s of session time
    assert answer["rise_s"] == pytest.approx((cap - 12 - 1) * 10 / RISE_PER_10S, abs=0.2)
    assert "limits keep the music at 60" in answer["message"]
    assert f"reaches this level in about {int(answer['rise_s']) + 1} s" in answer["message"]

    def album() -> str:
        track = coordinator.current_track
        return "" if track is None else track.album

    await until(lambda: coordinator.transport_state == "PLAYING" and album() == "Peak",
                FOLLOW_S, lambda: f"{coordinator.transport_state} {album()!r}")  # fmt: skip
    await until(lambda: all(s.volume == cap for s in speakers), FOLLOW_S,
                lambda: [s.volume for s in speakers])  # fmt: skip
    for s in speakers:  # one step at a time, never above the cap, at the limit's pace
        sets = s.volume_sets
        levels = [12, *(v for _, v in sets)]
        assert max(levels) == cap, levels
        reached = next(i for i, (_, v) in enumerate(sets) if v == cap)
        rising = levels[: reached + 2]
        assert all(b - a <= 1 for a, b in itertools.pairwise(rising)), rising
        took_s = (sets[reached][0] - sets[0][0]) * SPEED  # the emulator runs in real time
        assert took_s >= 0.9 * (cap - 12 - 1) * 10 / RISE_PER_10S, took_s

    # faded out, then the stream again at 12
    def back() -> bool:
        return (
            coordinator.current_uri == STREAM
            and coordinator.transport_state == "PLAYING"
            and all(s.volume == 12 for s in speakers)
        )

    await until(back, FOLLOW_S, lambda: (coordinator.current_uri, coordinator.transport_state,
                                         [s.volume for s in speakers]))  # fmt: skip
    faded = [v for _, v in coordinator.volume_sets if v < cap]
    assert 0 in faded, coordinator.volume_sets  # it faded out before the stream came back
    sample = site.web.preview.sample
    await until(lambda: not sample.active(site.daemon.clock.now()), FOLLOW_S, "the sample ends")
    audit = store.audit_log(50)
    assert any(a.action == "sample" and a.target == cid and cid in a.who for a in audit)


async def test_sample_refused_for_another_client_during_a_session_and_unknown_music(
    site: Site,
) -> None:
    store = site.daemon.store
    assert store is not None
    mine, other = store.create_client(), store.create_client()
    body = {"volume": 20}
    async with httpx.AsyncClient(base_url=site.url) as nobody:
        assert (await nobody.post(f"/api/clients/{mine}/sample", json=body)).status_code == 401
    async with _client_phone(site, mine) as phone:
        r = await phone.post(f"/api/clients/{other}/sample", json=body)
        assert r.status_code == 403 and "another client" in r.json()["detail"]
        r = await phone.post(f"/api/clients/{mine}/sample", json={"volume": 20, "music": "Disco"})
        assert r.status_code == 422 and "'Disco' is not in the room's list" in r.json()["detail"]
        r = await phone.post(f"/api/clients/{mine}/sample", json={"volume": 101})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "volume"
        silent = {"volume": 20, "preferences": {"music": {"silence": True}}}
        r = await phone.post(f"/api/clients/{mine}/sample", json=silent)
        assert r.status_code == 409 and "plays no music" in r.json()["detail"]
        assert site.daemon.session is not None
        site.daemon.session.start("psilocybin", by="test", room=DARK_ROOM)
        r = await phone.post(f"/api/clients/{mine}/sample", json=body)
        assert r.status_code == 409 and "session is running" in r.json()["detail"]
    assert not site.web.preview.sample.active(site.daemon.clock.now())
    assert not any(a.action == "sample" for a in store.audit_log(50))


async def test_a_second_tap_restarts_the_sample_beside_a_colour_preview(site: Site) -> None:
    store = site.daemon.store
    assert store is not None
    cid = store.create_client()
    coordinator = _speakers(site)[0]
    lamp = site.room.kasa["lamp"]
    await until(lambda: _landed_volume(site) is not None, FOLLOW_S, "the speakers are read")
    async with site.login() as staff:
        r = await staff.post(f"/api/clients/{cid}/preview", json={"hue": 225, "brightness_pct": 30})
        assert r.status_code == 200, r.text
        first = await staff.post(f"/api/clients/{cid}/sample", json={"volume": 10})
        assert first.status_code == 200, first.text
        second = await staff.post(f"/api/clients/{cid}/sample",
                                  json={"volume": 8, "music": "Calm Waters"})  # fmt: skip
        assert second.status_code == 200, second.text
    sample = site.web.preview.sample
    layer = sample._layer  # one layer, started again: what to go back to is the first's
    assert layer is not None and layer.before["speakers"] == PlayerState(
        layer.before["speakers"].source, 0
    )
    await until(lambda: coordinator.current_track is not None
                and coordinator.current_track.album == "Calm Waters"
                and coordinator.transport_state == "PLAYING", FOLLOW_S,
                lambda: coordinator.current_track)  # fmt: skip
    await until(lambda: lamp.state["on"] and abs(lamp.state["hue"] - 225) < 5, FOLLOW_S,
                lambda: f"lamp shows {lamp.state}")  # fmt: skip
    assert max(v for _, v in coordinator.volume_sets) <= 10
    # then paused again, at the volume it had (0)
    await until(lambda: coordinator.transport_state != "PLAYING" and coordinator.volume == 0,
                FOLLOW_S, lambda: (coordinator.transport_state, coordinator.volume))  # fmt: skip
