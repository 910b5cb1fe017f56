"""The client's page in a real headless Chromium: "Play a sample" beside the volume plays the
room's curated music on the emulated Sonos pair at the chosen volume, says calmly how long the
rise takes, then the speakers go back to what they did (paused, at their volume).  The page
with the sample's answer is screenshotted and must stay dark and readable."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, expect

from tests.helpers import until
from tests.web.browser import ARTIFACTS, browser_session
from tests.web.conftest import Site
from tests.web.test_browser import dark_and_readable

pytestmark = pytest.mark.timeout(240)
FOLLOW_S = 30.0


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async for b in browser_session():
        yield b
    print(f"\nscreenshots: {ARTIFACTS}")


async def test_client_plays_a_sample_at_their_volume(site: Site, browser: Browser) -> None:
    store = site.daemon.store
    assert store is not None and site.room.sonos is not None
    speakers = site.room.sonos.speakers
    coordinator = site.room.sonos.coordinator
    assert coordinator.transport_state != "PLAYING" and coordinator.volume == 0
    cid = store.create_client()
    async with site.login() as staff:
        link = (await staff.post(f"/api/clients/{cid}/link")).json()["url"]
    phone = await browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                      has_touch=True)  # fmt: skip
    page = await phone.new_page()
    await page.goto(link)
    await expect(page.get_by_role("heading", name="Your room")).to_be_visible()
    await page.get_by_label("Calm Waters", exact=True).check()
    await page.get_by_label("Loudest comfortable volume").fill("20")
    await page.get_by_role("button", name="Play a sample").click()
    status = page.locator("#sample-note")
    await expect(status).to_contain_text("Playing Calm Waters at 20")
    await expect(status).to_contain_text("rises slowly, as in a session")

    def playing() -> bool:
        track = coordinator.current_track
        return coordinator.transport_state == "PLAYING" and track is not None \
            and track.album == "Calm Waters"  # fmt: skip

    await until(playing, FOLLOW_S, lambda: (coordinator.transport_state, coordinator.current_track))
    await until(lambda: all(s.volume == 20 for s in speakers), FOLLOW_S,
                lambda: [s.volume for s in speakers])  # fmt: skip
    await dark_and_readable(page, "client-sample")
    assert max(v for s in speakers for _, v in s.volume_sets) == 20
    # then faded out and paused again, at the volume it had
    await until(lambda: coordinator.transport_state != "PLAYING" and coordinator.volume == 0,
                FOLLOW_S, lambda: (coordinator.transport_state, coordinator.volume))  # fmt: skip
    audit = store.audit_log(50)
    assert any(a.action == "sample" and a.target == cid for a in audit)
