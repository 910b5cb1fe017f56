"""Colour maths, all of it: perceptual interpolation (brightness on the CIE lightness curve,
colour temperature in mireds, hue the short way round or the other way when the short way
crosses a colour the client avoids), and conversions between colour temperature, hue/saturation
and sRGB (for lights that only take hue, and for drawing).

Pure functions, no I/O.
"""

from __future__ import annotations

import colorsys
import functools
import math
from collections.abc import Sequence

__all__ = [
    "AVOID_MARGIN_DEG",
    "COLOUR_SAT_PCT",
    "RGB",
    "RGB8",
    "SAT_MARGIN_PCT",
    "WHITE_TINT_PCT",
    "HueRange",
    "allowed_kelvin",
    "brightness_from_lightness",
    "ct_to_hs",
    "ease",
    "hs_to_rgb",
    "hue_in_ranges",
    "kelvin_shows_avoided",
    "kelvin_to_rgb",
    "lerp",
    "lerp_brightness",
    "lerp_hue",
    "lerp_mired",
    "lightness",
    "nearest_allowed_hue",
    "rgb8",
    "rgb_to_hs",
    "shows_avoided",
    "white_as_hs",
    "widen",
]

RGB = tuple[float, float, float]  # sRGB, each channel 0..1
RGB8 = tuple[int, int, int]  # sRGB, each channel 0..255
HueRange = tuple[float, float]  # degrees, start..end going clockwise; (345, 15) wraps through 0

# What "reads as a colour" means here: a light at an HSV saturation of COLOUR_SAT_PCT or more
# (of the sRGB colour it shows) reads as that hue; below it, as a tinted white.  Warm whites
# are colours by this rule: 2200-2900 K is hue 28-30 degrees at 84-60 %, i.e. orange; whites
# from about 3800 K up read as white (4000 K: 35 %, 6500 K: 2 %).
COLOUR_SAT_PCT = 40.0
# A white on a light that only takes hue/saturation is shown at most this saturated (its hue
# kept), so it reads as white, never as saturated orange or red.
WHITE_TINT_PCT = 35.0
# An avoided colour is kept at least this far away (degrees) on both sides: a substitute for
# it, a fade round it and a warm white near it all stay this clear of the avoided range.
AVOID_MARGIN_DEG = 20.0
# The clamp treats a colour this close (saturation percent) below COLOUR_SAT_PCT as reading as a
# colour, so rounding on the way to a device cannot tip a colour it let through.
SAT_MARGIN_PCT = 1.0


def lerp(a: float, b: float, p: float) -> float:
    return a + (b - a) * p


def ease(p: float, curve: str) -> float:
    """Map progress 0..1 through a fade curve.  Derivatives stay ≤ 2 (continuity bound)."""
    p = min(1.0, max(0.0, p))
    if curve == "linear":
        return p
    if curve == "ease-in":
        return p * p
    if curve == "ease-out":
        return 1.0 - (1.0 - p) * (1.0 - p)
    return p * p * (3.0 - 2.0 * p)  # "ease": smoothstep, steepest slope 1.5


def lightness(brightness_pct: float) -> float:
    """CIE L* (0..100) of a light at `brightness_pct` of full output."""
    y = max(0.0, brightness_pct) / 100.0
    if y <= 216 / 24389:
        return y * 24389 / 27
    return float(116.0 * y ** (1.0 / 3.0) - 16.0)


def brightness_from_lightness(lstar: float) -> float:
    """Inverse of :func:`lightness`."""
    lstar = max(0.0, lstar)
    if lstar <= 8.0:
        return lstar * 27 / 24389 * 100.0
    return ((lstar + 16.0) / 116.0) ** 3 * 100.0


def lerp_brightness(a_pct: float, b_pct: float, p: float) -> float:
    """Interpolate brightness so equal steps of p look like equal steps of light."""
    return brightness_from_lightness(lerp(lightness(a_pct), lightness(b_pct), p))


def lerp_mired(a_k: float, b_k: float, p: float) -> float:
    """Interpolate colour temperature in mireds (perceptually even), return kelvin."""
    return 1e6 / lerp(1e6 / a_k, 1e6 / b_k, p)


def hue_in_ranges(hue: float, ranges: Sequence[HueRange]) -> bool:
    """Whether `hue` lies in one of `ranges`; (0, 360) is the whole wheel."""
    hue %= 360.0
    for first, last in ranges:
        if last - first >= 360.0:
            return True
        start, end = first % 360.0, last % 360.0
        inside = start <= hue <= end if start <= end else (hue >= start or hue <= end)
        if inside:
            return True
    return False


def _arc_crosses(a: float, delta: float, ranges: Sequence[HueRange]) -> bool:
    steps = max(2, math.ceil(abs(delta)))
    return any(hue_in_ranges(a + delta * i / steps, ranges) for i in range(steps + 1))


def lerp_hue(a: float, b: float, p: float, avoid: Sequence[HueRange] = ()) -> float:
    """Interpolate hue the short way round, or the long way when the short way passes an
    avoided colour (and the long way does not)."""
    short = ((b - a + 180.0) % 360.0) - 180.0
    delta = short
    if avoid and _arc_crosses(a, short, avoid):
        long = short - 360.0 if short > 0 else short + 360.0
        if not _arc_crosses(a, long, avoid):
            delta = long
    return (a + delta * p) % 360.0


def widen(r: HueRange, margin: float = AVOID_MARGIN_DEG) -> HueRange:
    """`r` widened by `margin` degrees on both sides; (0, 360) once it covers the whole wheel."""
    start, end = r[0] % 360.0, r[1] % 360.0
    span = (end - start) % 360.0
    if r[1] - r[0] >= 360.0 or span + 2.0 * margin >= 360.0:
        return (0.0, 360.0)
    return ((start - margin) % 360.0, (end + margin) % 360.0)


def shows_avoided(
    hue: float, saturation_pct: float, avoid: Sequence[HueRange], margin_pct: float = 0.0
) -> bool:
    """Whether hue/saturation reads as a colour (see COLOUR_SAT_PCT, less `margin_pct`) inside
    an avoided range."""
    return saturation_pct >= COLOUR_SAT_PCT - margin_pct and hue_in_ranges(hue, avoid)


def kelvin_shows_avoided(kelvin: float, avoid: Sequence[HueRange]) -> bool:
    """Whether a white at `kelvin` reads as an avoided colour (a warm white as orange, say).
    Whites within a small margin of reading as a colour count as reading as it."""
    return shows_avoided(*ct_to_hs(kelvin), avoid, SAT_MARGIN_PCT)


def allowed_kelvin(kelvin: float, avoid: Sequence[HueRange]) -> float:
    """`kelvin` itself when it does not read as an avoided colour; else the nearest colour
    temperature (in mireds) that does not, as a whole kelvin.

    Whites read as a colour only at the warm end (and never beyond 9000 K at the cool end), so
    the whites that are replaced form a warm band: a fade between two allowed whites never
    passes through it."""
    if not avoid or not kelvin_shows_avoided(kelvin, avoid):
        return kelvin
    return float(_nearest_allowed_kelvin(round(kelvin), tuple(avoid)))


@functools.lru_cache(maxsize=1024)
def _nearest_allowed_kelvin(kelvin: int, avoid: tuple[HueRange, ...]) -> int:
    mired = 1e6 / max(kelvin, 1)
    for step in range(1, 1000):
        for m in (mired - step, mired + step):
            if 1e6 / 40000 <= m <= 1e6 / 1000:
                candidate = round(1e6 / m)
                if not kelvin_shows_avoided(candidate, avoid):
                    return candidate
    return 6500  # daylight reads as white whatever is avoided


def white_as_hs(kelvin: float) -> tuple[float, float]:
    """Hue and saturation that show a white at `kelvin` on a light without colour temperature:
    the white's own hue, no more saturated than WHITE_TINT_PCT (it reads as white)."""
    hue, sat = ct_to_hs(kelvin)
    return hue, min(sat, WHITE_TINT_PCT)


def nearest_allowed_hue(hue: float, avoid: Sequence[HueRange], margin: float = 5.0) -> float:
    """The hue itself when allowed, else the closest hue outside every avoided range."""
    if not hue_in_ranges(hue, avoid):
        return hue % 360.0
    for step in range(1, 361):
        for candidate in (hue - step, hue + step):
            if not hue_in_ranges(candidate, avoid) and not any(
                hue_in_ranges(candidate + d, avoid) for d in (-margin, margin)
            ):
                return candidate % 360.0
    return hue % 360.0  # every hue avoided: the clamp falls back to white light


def kelvin_to_rgb(kelvin: float) -> RGB:
    """Approximate colour (sRGB, each 0..1) of a blackbody at `kelvin`: Tanner Helland's fit of
    the blackbody locus, valid from 1000 to 40000 K (clamped to that range).  The one fit roomctl
    uses, for hue/saturation of a white and for drawing a white."""
    t = min(max(kelvin, 1000.0), 40000.0) / 100.0
    if t <= 66:
        r = 255.0
        g = 99.4708025861 * math.log(t) - 161.1195681661
        b = 0.0 if t <= 19 else 138.5177312231 * math.log(t - 10) - 305.0447927307
    else:
        r = 329.698727446 * (t - 60) ** -0.1332047592
        g = 288.1221695283 * (t - 60) ** -0.0755148492
        b = 255.0
    r, g, b = (min(255.0, max(0.0, c)) / 255.0 for c in (r, g, b))
    return r, g, b


def hs_to_rgb(hue: float, saturation_pct: float) -> RGB:
    """sRGB (each 0..1) of a hue (degrees) at a saturation (percent), full value."""
    sat = min(max(saturation_pct, 0.0), 100.0) / 100.0
    return colorsys.hsv_to_rgb((hue % 360.0) / 360.0, sat, 1.0)


def rgb_to_hs(rgb: RGB) -> tuple[float, float]:
    """Hue (degrees, 0..360) and saturation (percent) of an sRGB colour (each 0..1)."""
    h, s, _ = colorsys.rgb_to_hsv(*rgb)
    return (h * 360.0) % 360.0, s * 100.0


def ct_to_hs(kelvin: float) -> tuple[float, float]:
    """Approximate hue (degrees) and saturation (percent) of white light at `kelvin`."""
    return rgb_to_hs(kelvin_to_rgb(kelvin))


def rgb8(rgb: RGB) -> RGB8:
    """An sRGB colour (each 0..1) as 8-bit channels."""
    r, g, b = (round(min(max(c, 0.0), 1.0) * 255) for c in rgb)
    return r, g, b
