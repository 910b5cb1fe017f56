"""Playwright on Debian's Chromium (Playwright's own browser download is not reachable), and
what a page throws into a dark room: the mean luminance of its screenshot, and the WCAG
contrast of every piece of visible text."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

from PIL import Image
from playwright.async_api import Browser, Page, async_playwright

__all__ = ["ARTIFACTS", "CHROMIUM", "browser_session", "contrast_failures", "luminance", "shot"]

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]  # fmt: skip
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "web"
MAX_LUMINANCE = 0.2


async def browser_session() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            await browser.close()


def luminance(png: bytes) -> float:
    """Mean greyscale of a screenshot, 0 (black) to 1 (white)."""
    image = Image.open(io.BytesIO(png)).convert("L")
    hist = image.histogram()
    total = sum(hist)
    return sum(i * n for i, n in enumerate(hist)) / total / 255


async def shot(page: Page, name: str) -> float:
    """Save a full-page screenshot as a test artifact and return its mean luminance."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    png = await page.screenshot(full_page=True)
    (ARTIFACTS / f"{name}.png").write_bytes(png)
    return luminance(png)


CONTRAST_JS = """
() => {
  const lin = (c) => { c /= 255; return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
  const rgb = (s) => (s.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
  const bg = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length >= 3 && (c.length < 4 || c[3] > 0.5)) return c;
    }
    return rgb(getComputedStyle(document.documentElement).backgroundColor);
  };
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!n.textContent.trim() || !el) continue;
    if (!el.offsetParent && getComputedStyle(el).position !== "fixed") continue;
    const st = getComputedStyle(el);
    if (st.visibility === "hidden") continue;
    const fg = rgb(st.color), back = bg(el);
    const a = lum(fg), b = lum(back);
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const size = parseFloat(st.fontSize), bold = Number(st.fontWeight) >= 700;
    const need = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
    const what = n.textContent.trim().slice(0, 30);
    if (ratio < need) out.push(`${what}: ${ratio.toFixed(2)} < ${need}`);
  }
  return out;
}
"""


async def contrast_failures(page: Page) -> list[str]:
    """Visible text below WCAG AA contrast against its background (empty: all readable)."""
    result = await page.evaluate(CONTRAST_JS)
    return [str(x) for x in result]
