"""Perceptual colour helpers: CIE lightness, mired interpolation, hue paths and fade curves."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roomctl.model.color import (
    AVOID_MARGIN_DEG,
    COLOUR_SAT_PCT,
    WHITE_TINT_PCT,
    allowed_kelvin,
    brightness_from_lightness,
    ct_to_hs,
    ease,
    hs_to_rgb,
    hue_in_ranges,
    kelvin_to_rgb,
    lerp_brightness,
    lerp_hue,
    lerp_mired,
    lightness,
    nearest_allowed_hue,
    rgb8,
    rgb_to_hs,
    shows_avoided,
    white_as_hs,
    widen,
)

CURVES = ("linear", "ease", "ease-in", "ease-out")


# ------------------------------------------------------------------ lightness


def test_lightness_endpoints() -> None:
    assert lightness(0.0) == 0.0
    assert lightness(100.0) == pytest.approx(100.0)
    assert lightness(-5.0) == 0.0  # below zero is dark, not negative lightness
    # 18 % grey reflects about half the lightness: the curve is perceptual, not linear.
    assert lightness(18.42) == pytest.approx(50.0, abs=0.1)


@given(st.floats(min_value=0.0, max_value=100.0, allow_nan=False))
@settings(max_examples=200, deadline=None)
def test_brightness_from_lightness_inverts_lightness(pct: float) -> None:
    assert brightness_from_lightness(lightness(pct)) == pytest.approx(pct, abs=1e-9)


@given(st.floats(min_value=0.0, max_value=100.0, allow_nan=False))
@settings(max_examples=200, deadline=None)
def test_lightness_inverts_brightness_from_lightness(lstar: float) -> None:
    assert lightness(brightness_from_lightness(lstar)) == pytest.approx(lstar, abs=1e-9)


def test_lightness_is_continuous_at_the_linear_segment() -> None:
    knee = 216 / 24389 * 100.0  # the brightness where the CIE curve changes formula
    assert lightness(knee - 1e-9) == pytest.approx(lightness(knee + 1e-9), abs=1e-6)
    assert brightness_from_lightness(8.0 - 1e-9) == pytest.approx(
        brightness_from_lightness(8.0 + 1e-9), abs=1e-6
    )


def test_lightness_is_monotonic() -> None:
    values = [lightness(p / 10.0) for p in range(1001)]
    assert all(b > a for a, b in itertools.pairwise(values))


def test_lerp_brightness_is_even_in_lightness() -> None:
    assert lerp_brightness(10.0, 80.0, 0.0) == pytest.approx(10.0)
    assert lerp_brightness(10.0, 80.0, 1.0) == pytest.approx(80.0)
    mid = lerp_brightness(10.0, 80.0, 0.5)
    assert lightness(mid) == pytest.approx((lightness(10.0) + lightness(80.0)) / 2)
    assert mid < 45.0  # the perceptual midpoint is below the arithmetic one


# ---------------------------------------------------------------------- mireds


def test_lerp_mired_endpoints() -> None:
    assert lerp_mired(2200.0, 6500.0, 0.0) == pytest.approx(2200.0)
    assert lerp_mired(2200.0, 6500.0, 1.0) == pytest.approx(6500.0)
    assert lerp_mired(2700.0, 2700.0, 0.37) == pytest.approx(2700.0)


def test_lerp_mired_midpoint_is_the_mired_midpoint() -> None:
    mid = lerp_mired(2000.0, 4000.0, 0.5)
    assert 1e6 / mid == pytest.approx((500.0 + 250.0) / 2)  # 375 mired
    assert mid == pytest.approx(2666.67, abs=0.01)
    assert mid < 3000.0  # not the kelvin midpoint
    # Symmetric: the midpoint does not depend on direction.
    assert lerp_mired(4000.0, 2000.0, 0.5) == pytest.approx(mid)


@given(
    st.floats(min_value=1500, max_value=9000),
    st.floats(min_value=1500, max_value=9000),
    st.floats(min_value=0.0, max_value=1.0),
)
@settings(max_examples=100, deadline=None)
def test_lerp_mired_stays_between_endpoints(a: float, b: float, p: float) -> None:
    k = lerp_mired(a, b, p)
    assert min(a, b) - 1e-6 <= k <= max(a, b) + 1e-6


# ------------------------------------------------------------------------- hue


def test_hue_in_ranges_plain_and_wrapping() -> None:
    assert hue_in_ranges(30.0, [(15.0, 40.0)])
    assert not hue_in_ranges(50.0, [(15.0, 40.0)])
    assert hue_in_ranges(0.0, [(345.0, 15.0)])
    assert hue_in_ranges(350.0, [(345.0, 15.0)])
    assert hue_in_ranges(370.0, [(345.0, 15.0)])  # 10 degrees
    assert not hue_in_ranges(180.0, [(345.0, 15.0)])
    assert not hue_in_ranges(30.0, [])


def test_lerp_hue_endpoints_and_short_way() -> None:
    assert lerp_hue(10.0, 100.0, 0.0) == pytest.approx(10.0)
    assert lerp_hue(10.0, 100.0, 1.0) == pytest.approx(100.0)
    assert lerp_hue(10.0, 100.0, 0.5) == pytest.approx(55.0)
    # 350 -> 10 goes through 0 (20 degrees), not through 180 (340 degrees).
    assert lerp_hue(350.0, 10.0, 0.5) == pytest.approx(0.0, abs=1e-9)
    assert lerp_hue(350.0, 10.0, 0.25) == pytest.approx(355.0)
    assert lerp_hue(10.0, 350.0, 0.25) == pytest.approx(5.0)


def test_lerp_hue_goes_the_long_way_around_an_avoided_colour() -> None:
    red = [(350.0, 10.0)]
    # The short way from 330 to 30 crosses red; the long way (through 180) does not.
    assert lerp_hue(330.0, 30.0, 0.5, red) == pytest.approx(180.0)
    path = [lerp_hue(330.0, 30.0, i / 100, red) for i in range(101)]
    assert not any(hue_in_ranges(h, red) for h in path)
    # An avoided colour that is not on the short way changes nothing.
    assert lerp_hue(330.0, 30.0, 0.5, [(150.0, 200.0)]) == pytest.approx(0.0, abs=1e-9)


def test_lerp_hue_keeps_the_short_way_when_both_ways_are_blocked() -> None:
    avoid = [(355.0, 5.0), (175.0, 185.0)]
    assert lerp_hue(330.0, 30.0, 0.5, avoid) == pytest.approx(0.0, abs=1e-9)


def test_nearest_allowed_hue() -> None:
    orange = [(15.0, 40.0)]
    assert nearest_allowed_hue(100.0, orange) == 100.0  # allowed hues are kept
    moved = nearest_allowed_hue(30.0, orange)
    assert not hue_in_ranges(moved, orange)
    assert moved == pytest.approx(46.0)  # 40 + the 5 degree margin, + 1 step
    moved = nearest_allowed_hue(20.0, orange)
    assert moved == pytest.approx(9.0)  # closer below the range than above
    assert nearest_allowed_hue(0.0, [(345.0, 15.0)]) in (339.0, 21.0)


# ---------------------------------------------------------------------- curves


@pytest.mark.parametrize("curve", CURVES)
def test_ease_endpoints(curve: str) -> None:
    assert ease(0.0, curve) == 0.0
    assert ease(1.0, curve) == 1.0
    assert ease(-0.5, curve) == 0.0  # clamped before the fade
    assert ease(1.5, curve) == 1.0  # and after it


@pytest.mark.parametrize("curve", CURVES)
def test_ease_is_monotonic(curve: str) -> None:
    values = [ease(i / 1000, curve) for i in range(1001)]
    assert all(b >= a for a, b in itertools.pairwise(values))


@pytest.mark.parametrize(
    ("curve", "max_slope"),
    [
        ("linear", 1.0),
        ("ease", 1.5),
        ("ease-in", 2.0),
        ("ease-out", 2.0),
    ],
)
def test_ease_slope_bound(curve: str, max_slope: float) -> None:
    n = 2000
    slopes = [(ease((i + 1) / n, curve) - ease(i / n, curve)) * n for i in range(n)]
    assert max(slopes) <= max_slope + 1e-6
    assert max(slopes) >= max_slope - 0.01


def test_ease_curve_shapes() -> None:
    assert ease(0.5, "ease") == pytest.approx(0.5)
    assert ease(0.25, "ease-in") < 0.25 < ease(0.25, "ease-out")


# --------------------------------------------------------------------- ct_to_hs


@pytest.mark.parametrize("kelvin", [1800, 2200, 2700, 3000])
def test_warm_white_is_orange_ish(kelvin: int) -> None:
    hue, sat = ct_to_hs(kelvin)
    assert 15.0 <= hue <= 45.0
    assert sat > 40.0


def test_cooler_white_is_less_saturated() -> None:
    sats = [ct_to_hs(k)[1] for k in (2000, 2700, 4000, 5500, 6500)]
    assert all(b < a for a, b in itertools.pairwise(sats))
    assert ct_to_hs(6500)[1] < 5.0  # daylight is nearly white


def test_very_cool_white_is_blue_ish() -> None:
    hue, sat = ct_to_hs(9000)
    assert 200.0 <= hue <= 240.0
    assert 0.0 < sat < 40.0


def test_ct_to_hs_ranges() -> None:
    for k in range(1500, 9001, 100):
        hue, sat = ct_to_hs(k)
        assert 0.0 <= hue < 360.0
        assert 0.0 <= sat <= 100.0


# ------------------------------------------------------------ sRGB conversions


def test_kelvin_to_rgb_is_warm_to_cool_and_clamped() -> None:
    warm, cool = kelvin_to_rgb(2000), kelvin_to_rgb(9000)
    assert warm[0] == 1.0 and warm[2] < 0.2
    assert cool[2] == 1.0 and cool[0] < 1.0
    assert kelvin_to_rgb(0) == kelvin_to_rgb(1000)  # outside the fit: its nearest end, no error
    assert kelvin_to_rgb(1e9) == kelvin_to_rgb(40000)


@pytest.mark.parametrize("kelvin", [1500, 2700, 4000, 6500, 9000])
def test_ct_to_hs_is_the_hue_and_saturation_of_kelvin_to_rgb(kelvin: int) -> None:
    back = hs_to_rgb(*ct_to_hs(kelvin))
    assert back == pytest.approx(kelvin_to_rgb(kelvin), abs=1e-9)


def test_hue_saturation_round_trip_and_8_bit() -> None:
    assert rgb8(hs_to_rgb(120, 100)) == (0, 255, 0)
    assert rgb8(hs_to_rgb(480, 100)) == (0, 255, 0)  # hue wraps
    assert rgb8(hs_to_rgb(0, 0)) == (255, 255, 255)
    assert rgb8(hs_to_rgb(30, 250)) == rgb8(hs_to_rgb(30, 100))  # saturation clamped
    hue, sat = rgb_to_hs(hs_to_rgb(200, 40))
    assert hue == pytest.approx(200)
    assert sat == pytest.approx(40)
    assert rgb8((1.2, -0.1, 0.5)) == (255, 0, 128)


# ------------------------------------------------- avoided colours, told truthfully

_RANGE = st.tuples(st.floats(0, 359.9), st.floats(0, 120)).map(
    lambda r: (r[0], (r[0] + r[1]) % 360.0)
)


def test_widen_adds_the_margin_on_both_sides_and_wraps() -> None:
    assert widen((15.0, 40.0)) == (360.0 - 5.0, 60.0)
    assert widen((100.0, 120.0), 10.0) == (90.0, 130.0)
    assert widen((350.0, 10.0)) == (330.0, 30.0)
    assert widen((0.0, 330.0)) == (0.0, 360.0)  # covers the wheel: everything avoided
    assert hue_in_ranges(123.0, [widen((0.0, 330.0))])
    assert widen((0.0, 360.0)) == (0.0, 360.0)
    assert hue_in_ranges(0.0, [(0.0, 360.0)])  # the whole wheel, not the single hue 0
    assert not hue_in_ranges(61.0, [widen((15.0, 40.0))])
    assert AVOID_MARGIN_DEG >= 20.0


def test_reads_as_a_colour_needs_saturation() -> None:
    orange = [(15.0, 40.0)]
    assert shows_avoided(30.0, COLOUR_SAT_PCT, orange)
    assert not shows_avoided(30.0, COLOUR_SAT_PCT - 0.1, orange)  # a tinted white
    assert not shows_avoided(100.0, 100.0, orange)


@pytest.mark.parametrize("kelvin", [2200, 2500, 2700, 2900])
def test_warm_whites_read_as_orange(kelvin: int) -> None:
    hue, sat = ct_to_hs(kelvin)
    assert shows_avoided(hue, sat, [(15.0, 40.0)])


@given(st.floats(1000, 12000), st.lists(_RANGE, max_size=3))
@settings(max_examples=300, deadline=None)
def test_allowed_kelvin_never_reads_as_an_avoided_colour(kelvin: float, avoid: list[Any]) -> None:
    got = allowed_kelvin(kelvin, avoid)
    hue, sat = ct_to_hs(round(got))  # as a device is sent it
    assert not shows_avoided(hue, sat, avoid), (kelvin, got)
    h0, s0 = ct_to_hs(kelvin)
    if s0 < COLOUR_SAT_PCT - 1 or not hue_in_ranges(h0, avoid):
        assert got == kelvin  # an allowed white is kept as it is


@given(st.floats(1500, 9000), st.floats(1500, 9000), st.lists(_RANGE, max_size=3))
@settings(max_examples=200, deadline=None)
def test_allowed_kelvin_is_the_nearest_in_mireds(a: float, b: float, avoid: list[Any]) -> None:
    got = allowed_kelvin(a, avoid)
    if allowed_kelvin(b, avoid) == b:  # b is allowed: the answer is no further than b
        assert abs(1e6 / got - 1e6 / a) <= abs(1e6 / b - 1e6 / a) + 1.0


def test_warm_white_for_an_orange_avoider_is_a_neutral_white() -> None:
    orange = [widen((15.0, 40.0))]
    for kelvin in (1500, 2200, 2700, 3000):
        got = allowed_kelvin(kelvin, orange)
        assert 3700 <= got <= 3900, (kelvin, got)
    assert allowed_kelvin(5000, orange) == 5000
    assert allowed_kelvin(2700, [widen((200.0, 255.0))]) == 2700  # blue: warm whites are fine


@pytest.mark.parametrize("kelvin", [1500, 2200, 2700, 4000, 6500, 9000])
def test_white_on_a_hue_only_light_reads_as_white(kelvin: int) -> None:
    hue, sat = white_as_hs(kelvin)
    assert sat <= WHITE_TINT_PCT < COLOUR_SAT_PCT
    assert hue == pytest.approx(ct_to_hs(kelvin)[0])  # warm stays warm, only less saturated
