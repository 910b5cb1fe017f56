"""`POST /api/session/music/pause|resume` against the daemon on the emulated demo room, through
real HTTP: the speaker fades down and pauses, an emergency and its clear leave it paused, a
resume plays the same music again with Play alone; logins, CSRF and bad bodies are refused;
and the tablet, in a real headless Chromium, pauses and resumes with its buttons."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from playwright.async_api import Browser, expect

from roomctl.model.events import EventKind
from tests.helpers import until
from tests.web.browser import MAX_LUMINANCE, browser_session, shot
from tests.web.conftest import PASSWORD, Site

RESTART = ("SetAVTransportURI", "AddURIToQueue", "RemoveAllTracksFromQueue", "Seek")
pytestmark = pytest.mark.timeout(240)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async for b in browser_session():
        yield b


def kinds(site: Site) -> list[tuple[str, str]]:
    control = site.daemon.session
    assert control is not None
    return [(e.kind.value, e.by) for e in control.events if e.kind.value.startswith("music")]


async def playing(site: Site) -> None:
    """The session's music plays and a track of it was heard (so a resume can tell it)."""
    assert site.room.sonos is not None
    speaker = site.room.sonos.coordinator
    control = site.daemon.session
    assert control is not None
    await until(lambda: speaker.transport_state == "PLAYING", 30, "the music plays")
    await until(lambda: any(e.kind is EventKind.TRACK for e in control.events), 30, "a track")


async def test_pause_and_resume_through_the_api(site: Site) -> None:
    assert site.room.sonos is not None
    speaker = site.room.sonos.coordinator
    async with httpx.AsyncClient(base_url=site.url) as anonymous:
        assert (await anonymous.post("/api/session/music/pause")).status_code == 401
    async with site.login() as http:
        assert (await http.post("/api/sessions", json={"arc": "psilocybin"})).status_code == 201
        await playing(site)
        r = await http.post("/api/session/music/resume")
        assert r.status_code == 409 and "not paused" in r.json()["detail"]
        r = await http.post("/api/session/music/pause", json={"reason": "power cut"})
        assert r.status_code == 422 and "power cut" in r.json()["detail"]
        r = await http.post("/api/session/music/pause", json={"reason": "bored"})
        assert r.status_code == 422 and "reason" in r.json()["detail"]
        csrf = http.headers.pop("X-CSRF-Token")
        assert (await http.post("/api/session/music/pause")).status_code == 403
        http.headers["X-CSRF-Token"] = csrf

        r = await http.post("/api/session/music/pause")
        assert r.status_code == 200, r.text
        paused = r.json()["state"]["music_paused"]
        assert (paused["reason"], paused["by"]) == ("facilitator", "ana")
        await until(lambda: speaker.transport_state == "PAUSED_PLAYBACK", 20,
                    lambda: speaker.transport_state)  # fmt: skip
        assert speaker.volume == 0

        plays = speaker.count("Play")
        assert (await http.post("/api/session/emergency")).status_code == 200
        r = await http.post("/api/session/music/resume")
        assert r.status_code == 409 and "emergency" in r.json()["detail"]
        r = await http.post("/api/session/clear-emergency")
        assert r.json()["state"]["music_paused"] is not None
        await until(lambda: site.room.kasa["lamp"].state["brightness"] < 90, 20, "lights back")
        assert speaker.transport_state == "PAUSED_PLAYBACK" and speaker.count("Play") == plays

        restarts = {a: speaker.count(a) for a in RESTART}
        r = await http.post("/api/session/music/resume")
        assert r.status_code == 200 and r.json()["state"]["music_paused"] is None
        await until(lambda: speaker.transport_state == "PLAYING", 20,
                    lambda: speaker.transport_state)  # fmt: skip
        assert speaker.count("Play") == plays + 1
        assert {a: speaker.count(a) for a in RESTART} == restarts  # Play alone
        await until(lambda: speaker.volume > 0, 20, lambda: speaker.volume)
    assert kinds(site) == [("music_pause", "ana"), ("music_resume", "ana")]


async def test_the_tablet_pauses_and_resumes_the_music(site: Site, browser: Browser) -> None:
    assert site.room.sonos is not None
    speaker = site.room.sonos.coordinator
    page = await browser.new_page(viewport={"width": 1280, "height": 800})
    await page.goto(site.url)
    await page.get_by_label("Username").fill("ana")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await page.get_by_label("Arc", exact=True).select_option("psilocybin")
    await page.get_by_role("button", name="Start session").click()
    await playing(site)
    await expect(page.get_by_role("button", name="Resume music")).to_be_hidden()

    await page.get_by_role("button", name="Pause music").click()
    await expect(page.locator("#music-paused")).to_have_text("Music paused")
    await expect(page.get_by_role("button", name="Pause music")).to_be_hidden()
    await until(lambda: speaker.transport_state == "PAUSED_PLAYBACK", 20,
                lambda: speaker.transport_state)  # fmt: skip
    lum = await shot(page, "tablet-music-paused")
    assert lum <= MAX_LUMINANCE, f"mean luminance {lum:.3f}"

    await page.get_by_role("button", name="Resume music").click()
    await expect(page.locator("#music-paused")).to_be_hidden()
    await expect(page.get_by_role("button", name="Pause music")).to_be_visible()
    await until(lambda: speaker.transport_state == "PLAYING", 20,
                lambda: speaker.transport_state)  # fmt: skip
    assert kinds(site) == [("music_pause", "ana"), ("music_resume", "ana")]


async def test_the_tablet_says_the_music_waits_after_a_restart(
    site: Site, browser: Browser
) -> None:
    control = site.daemon.session
    assert control is not None
    control.start("psilocybin", by="test")
    control.command(EventKind.MUSIC_PAUSE, {"reason": "power cut"}, by="system")
    page = await browser.new_page(viewport={"width": 1280, "height": 800})
    await page.goto(site.url)
    await page.get_by_label("Username").fill("ana")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.locator("#music-paused")).to_have_text("Music paused after a restart")
    await expect(page.get_by_role("button", name="Resume music")).to_be_visible()
