"""The tablet and the client page in a real headless Chromium against the daemon on the
emulated demo room: a facilitator logs in, starts a session, uses Talk and Cue off, calls the
emergency and clears it, and the emulated lights follow each step; a client opens their link on
a phone-sized screen, tries a colour on the room and saves with consent.  Every page is
screenshotted (kept under test-artifacts/web/) and must stay dark (mean luminance ≤ 0.2) with
readable text (WCAG AA)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, Page, expect

from tests.daemon_support import mismatches
from tests.helpers import until
from tests.web.browser import ARTIFACTS, MAX_LUMINANCE, browser_session, contrast_failures, shot
from tests.web.conftest import PASSWORD, Site

LIGHTS_FOLLOW_S = 20.0
pytestmark = pytest.mark.timeout(240)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async for b in browser_session():
        yield b
    print(f"\nscreenshots: {ARTIFACTS}")


async def dark_and_readable(page: Page, name: str) -> None:
    lum = await shot(page, name)
    assert lum <= MAX_LUMINANCE, f"{name}: mean luminance {lum:.3f}"
    assert await contrast_failures(page) == [], name


def lights_follow(site: Site) -> tuple[bool, str]:
    session = site.daemon.session
    assert session is not None
    desired = {k: v for k, v in session.desired(site.daemon.clock.now()).items()
               if k in ("lamp", "strip", "ceiling", "reading")}  # fmt: skip
    problems = mismatches(site.room, desired)
    return not problems, "; ".join(problems)


async def test_facilitator_runs_a_session_from_the_tablet(site: Site, browser: Browser) -> None:
    page = await browser.new_page(viewport={"width": 1280, "height": 800})
    await page.goto(site.url)
    await expect(page).to_have_url(f"{site.url}/login")
    await dark_and_readable(page, "login")
    await page.get_by_label("Username").fill("ana")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("button", name="Emergency")).to_be_visible()
    await page.get_by_label("Arc", exact=True).select_option("psilocybin")
    await dark_and_readable(page, "tablet-idle")
    await page.get_by_role("button", name="Start session").click()
    control = site.daemon.session
    assert control is not None
    await until(lambda: control.session is not None, what="the session did not start")
    await expect(page.get_by_role("button", name="Talk", exact=True)).to_be_visible()

    await page.get_by_role("button", name="Talk", exact=True).click()
    await until(lambda: control.snapshot().status.cue == "talk", what="no talk cue")  # type: ignore[union-attr]
    await expect(page.locator("#phase")).to_contain_text("talk")
    await until(lambda: lights_follow(site)[0], LIGHTS_FOLLOW_S, lambda: lights_follow(site)[1])
    await dark_and_readable(page, "tablet-talk")

    await page.get_by_role("button", name="Cue off").click()
    await until(lambda: control.snapshot().status.cue is None, what="the cue stayed on")  # type: ignore[union-attr]
    await until(lambda: lights_follow(site)[0], LIGHTS_FOLLOW_S, lambda: lights_follow(site)[1])

    lamp = site.room.kasa["lamp"]
    await page.get_by_role("button", name="Emergency").click()
    await until(lambda: lamp.state["on"] and lamp.state["brightness"] >= 95,
                what=lambda: f"lamp shows {lamp.state}")  # fmt: skip
    await expect(page.get_by_role("button", name="Clear emergency")).to_be_visible()
    await expect(page.locator("#phase")).to_contain_text("EMERGENCY")
    await dark_and_readable(page, "tablet-emergency")

    await page.get_by_role("button", name="Clear emergency").click()
    assert control.emergency_on, "Clear emergency must ask to confirm first"
    await page.get_by_role("button", name="Yes, clear it").click()
    await until(lambda: not control.emergency_on, what="the emergency stayed on")
    await until(lambda: lamp.state["brightness"] < 90, LIGHTS_FOLLOW_S,
                lambda: f"lamp did not fade back: {lamp.state}")  # fmt: skip

    await page.get_by_label("Note", exact=True).fill("Client resting, asked for a blanket")
    await page.get_by_role("button", name="Add note").click()
    await expect(page.locator("#log")).to_contain_text("blanket")
    await dark_and_readable(page, "tablet-session")
    assert control.session is not None
    await page.goto(f"{site.url}/api/sessions/{control.session.id}/record.html")
    await expect(page.locator("main.record")).to_be_visible()
    lum = await shot(page, "record")
    assert lum <= MAX_LUMINANCE, f"record page: mean luminance {lum:.3f}"
    await page.goto(f"{site.url}/nothing-here", wait_until="load")
    await dark_and_readable(page, "error-404")
    await page.goto(f"{site.url}/overview", wait_until="load")
    await expect(page.get_by_role("heading", name="Rooms of the clinic")).to_be_visible()
    await dark_and_readable(page, "clinic-overview")


async def test_client_previews_a_colour_and_saves_with_consent(
    site: Site, browser: Browser
) -> None:
    store = site.daemon.store
    assert store is not None
    cid = store.create_client()
    async with site.login() as staff:
        link = (await staff.post(f"/api/clients/{cid}/link")).json()["url"]
    phone = await browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                      has_touch=True)  # fmt: skip
    page = await phone.new_page()
    await page.goto(link)
    await expect(page.get_by_role("heading", name="Your room")).to_be_visible()
    await expect(page.locator("#arc-picture img")).to_be_visible(timeout=20000)
    await dark_and_readable(page, "client")

    await page.get_by_label("blue", exact=True).first.check()
    lamp = site.room.kasa["lamp"]
    await page.get_by_role("button", name="Try blue").click()
    await until(lambda: lamp.state["on"] and abs(lamp.state["hue"] - 225) < 5,
                what=lambda: f"lamp shows {lamp.state}")  # fmt: skip
    await expect(page.locator("#status")).to_contain_text("blue is on the lights")

    await page.get_by_role("button", name="Save my preferences").click()
    await expect(page.locator("#status")).to_contain_text("tick it first")
    assert store.preferences(cid) is None
    await page.get_by_label("I agree", exact=False).check()
    await page.get_by_role("button", name="Save my preferences").click()
    await expect(page.locator("#status")).to_contain_text("Saved as version 1")
    found = store.preferences(cid)
    assert found is not None and found[1].colors_liked == ("blue",)
    (version,) = store.preference_history(cid)
    assert version.consent is not None and version.consent.given_by == cid
    await dark_and_readable(page, "client-saved")


async def test_tablet_starts_with_a_dose_time_picks_a_scene_and_jumps(
    site: Site, browser: Browser
) -> None:
    page = await browser.new_page(viewport={"width": 800, "height": 1280})  # portrait
    await page.goto(f"{site.url}/login")
    await page.get_by_label("Username").fill("ana")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await page.get_by_label("Arc", exact=True).select_option("psilocybin")
    await page.get_by_label("Dose (T0)").select_option("ago")
    await page.get_by_label("Minutes ago").fill("45")
    await page.get_by_role("button", name="Start session").click()
    control = site.daemon.session
    assert control is not None
    await until(lambda: control.session is not None, what="the session did not start")
    status = control.snapshot().status
    assert status is not None
    # the dose was 45 minutes before the start (session time; the clock runs 20× here)
    assert abs((status.started_at - status.t0) - 45 * 60) < 120, status.started_at - status.t0
    assert status.phase == "onset"

    calm = page.get_by_role("button", name="Calm", exact=True)
    await calm.click()
    await expect(calm).to_have_attribute("aria-pressed", "true")
    overrides = [e for e in control.events if e.kind.value == "override"]
    assert overrides and all(e.by == "ana" for e in overrides)
    await dark_and_readable(page, "tablet-portrait-scenes")

    await page.get_by_label("Jump to").select_option("peak")
    await page.get_by_role("button", name="Jump", exact=True).click()
    assert control.snapshot().status.phase == "onset", "Jump must ask to confirm first"  # type: ignore[union-attr]
    await page.get_by_role("button", name="Yes, jump to peak").click()
    await until(lambda: control.snapshot().status.phase == "peak", what="no jump")  # type: ignore[union-attr]
    await expect(page.locator("#phase")).to_contain_text("peak")
    await expect(calm).to_have_attribute("aria-pressed", "false")

    phone = await browser.new_page(viewport={"width": 390, "height": 844})
    await phone.goto(f"{site.url}/login")
    await phone.get_by_label("Username").fill("ana")
    await phone.get_by_label("Password").fill(PASSWORD)
    await phone.get_by_role("button", name="Log in").click()
    await expect(phone.get_by_role("button", name="Calm", exact=True)).to_be_visible()
    await dark_and_readable(phone, "tablet-phone")
