"""The session preview SVG: well-formed, names every phase, marker and device, and draws the
lights in their own colours (a dim warm phase warmer than the emergency's neutral light)."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from roomctl.model.color import ct_to_hs, hs_to_rgb, kelvin_to_rgb, rgb8
from roomctl.model.events import Event, EventKind
from roomctl.model.library import Library, load_library
from roomctl.model.state import LightState
from roomctl.preview.svg import light_rgb, render_svg
from roomctl.timeline.fold import Timeline

SVG = "{http://www.w3.org/2000/svg}"
T = 1_800_000_000.0  # START: the arc clock reads -0:30 here, so the dose (T0) is at T + 1800
T0 = T + 1800.0
EM_ON, EM_OFF = T0 + 3 * 3600 + 1200, T0 + 3 * 3600 + 2400  # inside "peak"


@pytest.fixture
def lib(repo_root: Path) -> Library:
    return load_library(repo_root / "config.example.yaml")


def _timeline(lib: Library, *extra: Event) -> Timeline:
    start = Event.of(T, EventKind.START, {"arc": "psilocybin"})
    return Timeline(lib.room, lib.arcs["psilocybin"], lib.scenes, [start, *extra])


def _texts(root: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


def _colour_at(
    root: ET.Element, light: str, start: float, end: float, t: float
) -> tuple[float, float, float]:
    """The fill colour a viewer sees at wall time t: the light's gradient, interpolated between
    its stops (their offsets span the plot's time axis)."""
    grad = next(g for g in root.iter(f"{SVG}linearGradient") if g.get("id") == f"light-{light}")
    stops = [
        (start + float(s.get("offset", "0")) * (end - start), s.get("stop-color", "#000000"))
        for s in grad.iter(f"{SVG}stop")
    ]
    for (ta, ca), (tb, cb) in itertools.pairwise(stops):
        if ta <= t <= tb:
            p = 0.0 if tb == ta else (t - ta) / (tb - ta)
            a, b = _rgb(ca), _rgb(cb)
            return a[0] + (b[0] - a[0]) * p, a[1] + (b[1] - a[1]) * p, a[2] + (b[2] - a[2]) * p
    raise AssertionError(f"{t} is outside the gradient")


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return int(hex_colour[1:3], 16), int(hex_colour[3:5], 16), int(hex_colour[5:7], 16)


def _emergency(lib: Library) -> Timeline:
    return _timeline(
        lib, Event.of(EM_ON, EventKind.EMERGENCY_ON), Event.of(EM_OFF, EventKind.EMERGENCY_CLEAR)
    )


def test_whole_arc_parses_and_names_every_phase_and_marker(lib: Library) -> None:
    svg = render_svg(_timeline(lib), T, T0 + 9 * 3600, step_s=120)
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    assert 1100 <= float(root.get("width", "0")) <= 1300
    assert 600 <= float(root.get("height", "0")) <= 800
    texts = _texts(root)
    arc = lib.arcs["psilocybin"]
    for phase in arc.phases:
        assert phase.name in texts, phase.name
    assert arc.markers
    for marker in arc.markers:
        assert marker.name in texts, marker.name
    for label in ("T0", "1:00", "8:00"):  # the axis: hours from the dose
        assert label in texts
    assert "Settling In" in texts and "Integration" in texts  # music sources where they change
    # Self-contained: nothing fetched from elsewhere.
    assert "href" not in svg and "<script" not in svg and "@import" not in svg


def test_one_lane_per_device_named_with_its_zone(lib: Library) -> None:
    root = ET.fromstring(render_svg(_timeline(lib), T, T0 + 4 * 3600, step_s=120))
    lanes = [g for g in root.iter(f"{SVG}g") if g.get("class") == "lane"]
    assert [g.get("id") for g in lanes] == [f"lane-{d.id}" for d in lib.room.devices]
    for dev, lane in zip(lib.room.devices, lanes, strict=True):
        texts = _texts(lane)
        assert dev.id in texts
        assert any(dev.zone in t for t in texts)
    gradients = {g.get("id") for g in root.iter(f"{SVG}linearGradient")}
    lights = [d.id for d in lib.room.devices if d.kind.value == "light"]
    assert {f"light-{d}" for d in lights} <= gradients


def test_dim_warm_peak_is_warmer_than_the_emergency(lib: Library) -> None:
    start, end = T0 + 2 * 3600, T0 + 5 * 3600
    root = ET.fromstring(render_svg(_emergency(lib), start, end))
    minutes = range(0, int(end - start), 300)
    peak = [t for m in minutes if T0 + 2.5 * 3600 <= (t := start + m) < EM_ON]  # settled, dim
    emergency = [t for m in minutes if EM_ON + 60 <= (t := start + m) < EM_OFF]
    assert peak and emergency
    for light in ("lamp", "strip", "ceiling"):
        for t in emergency:  # 4000 K: near-neutral white on every light
            r, _g, b = _colour_at(root, light, start, end, t)
            assert b > 140 and r - b < 110, (light, t, r, b)

    # The lamp in peak (2200 K, the dimmest of the arc) is deep amber: far more red than blue.
    def red_minus_blue(t: float) -> float:
        r, _g, b = _colour_at(root, "lamp", start, end, t)
        return r - b

    assert min(map(red_minus_blue, peak)) > max(map(red_minus_blue, emergency)) + 60
    texts = _texts(root)
    assert "emergency" in texts and "silence" in texts


def test_silence_leaves_a_gap_in_the_volume_line(lib: Library) -> None:
    start, end = T0 + 2 * 3600, T0 + 5 * 3600
    calm = ET.fromstring(render_svg(_timeline(lib), start, end))
    interrupted = ET.fromstring(render_svg(_emergency(lib), start, end))

    def volume_lines(root: ET.Element) -> int:
        lane = next(g for g in root.iter(f"{SVG}g") if g.get("id") == "lane-speakers")
        return len(list(lane.iter(f"{SVG}polyline")))

    assert volume_lines(calm) == 1
    assert volume_lines(interrupted) == 2


def test_hold_is_shaded_with_the_arc_clock(lib: Library) -> None:
    tl = _timeline(lib, Event.of(T0 + 3600, EventKind.HOLD), Event.of(T0 + 5400, EventKind.RESUME))
    texts = _texts(ET.fromstring(render_svg(tl, T, T0 + 3 * 3600, step_s=120)))
    assert "held at 1:00" in texts  # the arc clock stood still at 1:00 for half an hour


def test_text_is_escaped(lib: Library) -> None:
    title = 'Client <A> & "B"'
    root = ET.fromstring(render_svg(_timeline(lib), T, T + 3600, title=title, step_s=300))
    assert title in _texts(root)
    assert root.findtext(f"{SVG}title") == title


def test_window_before_the_session_still_draws(lib: Library) -> None:
    root = ET.fromstring(render_svg(_timeline(lib), T - 7200, T - 3600, step_s=300))
    assert any("no session in this window" in t for t in _texts(root))
    assert len([g for g in root.iter(f"{SVG}g") if g.get("class") == "lane"]) == 5


def _kelvin_rgb(kelvin: int) -> tuple[int, int, int]:
    return light_rgb(LightState(on=True, brightness_pct=50, color_temp_k=kelvin))


def test_colours() -> None:
    warm, neutral, cool = _kelvin_rgb(2200), _kelvin_rgb(4000), _kelvin_rgb(6500)
    assert warm[0] == 255 and warm[2] < 60
    assert warm[2] < neutral[2] < cool[2]
    assert min(cool) > 240  # 6500 K is close to white
    assert light_rgb(LightState(on=True, brightness_pct=50, hue=240, saturation=100)) == (0, 0, 255)
    assert light_rgb(LightState(on=True, brightness_pct=50, hue=0, saturation=0)) == (255, 255, 255)
    assert min(light_rgb(LightState(on=True, brightness_pct=50))) > 200  # white-only light


@pytest.mark.parametrize("kelvin", range(1500, 9001, 250))
def test_the_preview_draws_a_white_in_the_colour_color_py_gives_it(kelvin: int) -> None:
    """One colour-temperature fit: the drawn colour is color.py's, and its hue and saturation
    are what the timeline sends a light that only takes hue/saturation (within 8-bit
    rounding)."""
    drawn = _kelvin_rgb(kelvin)
    assert drawn == rgb8(kelvin_to_rgb(kelvin))
    as_hue = rgb8(hs_to_rgb(*ct_to_hs(kelvin)))  # a blackbody's brightest channel is full
    assert all(abs(a - b) <= 1 for a, b in zip(drawn, as_hue, strict=True)), (drawn, as_hue)


def test_the_chart_uses_the_lights_own_colour(lib: Library) -> None:
    """The lamp's gradient at a moment of the session is the colour of the lamp's state then."""
    tl = _timeline(lib)
    start, end = T, T0 + 3 * 3600
    root = ET.fromstring(render_svg(tl, start, end, step_s=60))
    at = T0 + 3600.0  # a whole minute: a sample, so the gradient has a stop here
    state = tl.at(at).devices["lamp"]
    assert isinstance(state, LightState)
    assert state.color_temp_k is not None
    assert _colour_at(root, "lamp", start, end, at) == pytest.approx(
        rgb8(kelvin_to_rgb(state.color_temp_k)), abs=0.5
    )
