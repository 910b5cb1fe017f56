"""The clamp's colour rule: nothing that reads as an avoided colour leaves the timeline."""

from __future__ import annotations

from roomctl.model.color import COLOUR_SAT_PCT, ct_to_hs, hue_in_ranges, widen
from roomctl.timeline.channels import Color, Limits, clamp

AMBER = (widen((32.0, 48.0)),)


def _limits(avoid: tuple[tuple[float, float], ...]) -> Limits:
    return Limits(
        floor_lights=frozenset(),
        floor_pct=5.0,
        brightness_max_pct=100.0,
        volume_max=60.0,
        setpoint_c=(18.0, 24.0),
        avoid=avoid,
    )


def _clamped(value: Color, avoid: tuple[tuple[float, float], ...] = AMBER) -> Color:
    out = clamp(("strip", "color"), value, _limits(avoid))
    assert isinstance(out, Color)
    return out


def test_a_warm_white_that_reads_as_an_avoided_colour_becomes_a_cooler_white() -> None:
    out = _clamped(Color(kelvin=2700.0))
    assert out.kelvin is not None
    assert ct_to_hs(out.kelvin)[1] < COLOUR_SAT_PCT
    assert _clamped(Color(kelvin=5000.0)) == Color(kelvin=5000.0)


def test_a_hue_that_reads_as_an_avoided_colour_is_moved() -> None:
    out = _clamped(Color(hue=40.0, saturation=70.0))
    assert not hue_in_ranges(out.hue, AMBER)
    assert out.saturation == 70.0


def test_a_colour_just_below_the_threshold_is_moved_too() -> None:
    # Rounded to 0.1 on its way out, 39.96 % would be shown as 40 %: a colour.
    out = _clamped(Color(hue=26.9, saturation=39.96))
    assert not hue_in_ranges(out.hue, AMBER)


def test_a_tinted_white_is_left_alone() -> None:
    assert _clamped(Color(hue=30.0, saturation=20.0)) == Color(hue=30.0, saturation=20.0)


def test_every_colour_avoided_gives_white_light() -> None:
    out = _clamped(Color(hue=200.0, saturation=80.0), ((0.0, 360.0),))
    assert out.saturation == 0.0
