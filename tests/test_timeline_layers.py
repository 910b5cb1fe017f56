"""The timeline's layers over the arc: cues, manual overrides and the emergency, each fading from
what the room showed, never jumping.

All times are wall seconds after the START event at T.
"""

from __future__ import annotations

import itertools

import pytest

from roomctl.model.color import lightness
from roomctl.model.library import Library
from roomctl.model.prefs import Preferences
from roomctl.model.scene import Source
from roomctl.model.state import LightState
from tests.timeline_support import (
    LIGHTS,
    Ev,
    K,
    T,
    close_lights,
    lamp_override,
    light,
    lstar,
    make,
    max_rise_per_10s,
    player,
    snap,
)


def test_cue_on_fades_in_over_its_fade(lib: Library) -> None:
    tl = make(lib, "psilocybin", (5000, K.CUE_ON, {"cue": "talk"}))
    before, at_cue = snap(tl, 5000 - 1e-3), snap(tl, 5000)
    close_lights(before, at_cue)
    assert at_cue.status is not None and at_cue.status.cue == "talk"
    mid = light(snap(tl, 5015), "lamp").brightness_pct
    assert mid is not None
    assert light(before, "lamp").brightness_pct < mid < 35  # type: ignore[operator]
    done = snap(tl, 5031)
    assert light(done, "lamp").brightness_pct == pytest.approx(35)
    assert light(done, "lamp").color_temp_k == 2700
    assert light(done, "ceiling").on is True
    assert light(done, "ceiling").brightness_pct == pytest.approx(15)
    assert player(done).volume == 6
    assert player(done).source == Source(kind="favorite", name="Onset")  # talk keeps the music
    # The strip is not part of the talk scene: it keeps following the arc.
    free = make(lib, "psilocybin")
    assert snap(tl, 5031).devices["strip"] == snap(free, 5031).devices["strip"]


def test_the_arc_keeps_running_under_a_cue(lib: Library) -> None:
    tl = make(lib, "psilocybin", (5000, K.CUE_ON, {"cue": "talk"}))
    s = snap(tl, 5401)
    assert s.status is not None
    assert s.status.phase == "building"
    assert s.status.held is False
    assert light(s, "lamp").brightness_pct == pytest.approx(35)  # the cue still shows
    # The arc's music changes under the cue, half way through its cross-fade, which is long
    # enough for the volume to come back up within the safety limit.
    assert player(snap(tl, 5400 + 80)).source == Source(kind="favorite", name="Ascent")


def test_cue_off_returns_to_the_arc(lib: Library) -> None:
    tl = make(lib, "psilocybin", (5000, K.CUE_ON, {"cue": "talk"}), (6000, K.CUE_OFF, {}))
    free = make(lib, "psilocybin")
    close_lights(snap(tl, 6000 - 1e-3), snap(tl, 6000 + 1e-3))
    s = snap(tl, 6000 + 31)
    assert s.status is not None and s.status.cue is None
    assert s.devices == snap(free, 6000 + 31).devices
    # The music comes back up from 6 to the arc's volume, no faster than the safety limit.
    volumes = [player(snap(tl, t)).volume or 0 for t in range(5990, 6100)]
    assert volumes[0] == 6
    assert volumes[-1] == player(snap(free, 6099)).volume
    assert max_rise_per_10s(volumes) <= lib.room.safety.max_volume_rise_per_10s + 1


def test_switching_to_a_cue_with_fewer_zones(lib: Library) -> None:
    # talk sets lamp and ceiling; check-in only the lamp: the ceiling returns to the arc.
    tl = make(
        lib, "psilocybin", (5000, K.CUE_ON, {"cue": "talk"}), (5100, K.CUE_ON, {"cue": "check-in"})
    )
    close_lights(snap(tl, 5100 - 1e-3), snap(tl, 5100 + 1e-3))
    s = snap(tl, 5200)
    assert s.status is not None and s.status.cue == "check-in"
    assert light(s, "lamp").brightness_pct == pytest.approx(25)
    assert s.devices["ceiling"] == snap(make(lib, "psilocybin"), 5200).devices["ceiling"]
    assert player(s).volume == 10


def test_cue_off_for_a_channel_the_arc_never_set(lib: Library) -> None:
    # Dosed at START: ketamine joins at "infusion", whose scene has the ceiling off, so the
    # arc never sets the ceiling's colour; the talk cue does.
    tl = make(
        lib, "ketamine", (100, K.CUE_ON, {"cue": "talk"}), (200, K.CUE_OFF, {}), start={"t0": T}
    )
    s = snap(tl, 300)
    assert s.status is not None and s.status.cue is None
    assert light(s, "ceiling").on is False  # back to the arc: ceiling off


def test_override_clear_for_a_channel_the_arc_never_set(lib: Library) -> None:
    tl = make(
        lib,
        "ketamine",
        (
            100,
            K.OVERRIDE,
            {"device": "ceiling", "channel": "color_temp_k", "value": 3000, "until": "session"},
        ),
        (200, K.OVERRIDE_CLEAR, {}),
        start={"t0": T},
    )
    s = snap(tl, 300)
    assert s.status is not None and s.status.overrides == ()


def test_unknown_cue_is_ignored(lib: Library) -> None:
    tl = make(lib, "psilocybin", (5000, K.CUE_ON, {"cue": "party"}))
    assert snap(tl, 5100) == snap(make(lib, "psilocybin"), 5100)


# ------------------------------------------------------------------ overrides


def test_override_fades_in_and_holds_within_the_phase(lib: Library) -> None:
    tl = make(lib, "psilocybin", (5000, K.OVERRIDE, lamp_override(60, "phase")))
    close_lights(snap(tl, 5000 - 1e-3), snap(tl, 5000))
    assert light(snap(tl, 5031), "lamp").brightness_pct == pytest.approx(60)
    assert light(snap(tl, 5399), "lamp").brightness_pct == pytest.approx(60)
    s = snap(tl, 5399).status
    assert s is not None
    assert s.overrides == (("lamp", "level", 60.0),)
    # Only the lamp's brightness is overridden; its colour follows the arc.
    free = make(lib, "psilocybin")
    assert (
        light(snap(tl, 5100), "lamp").color_temp_k == light(snap(free, 5100), "lamp").color_temp_k
    )


def test_override_with_a_longer_fade(lib: Library) -> None:
    tl = make(lib, "psilocybin", (5000, K.OVERRIDE, lamp_override(60, "session", fade_s=120)))
    mid = light(snap(tl, 5060), "lamp").brightness_pct
    assert mid is not None and 20 < mid < 60
    assert light(snap(tl, 5121), "lamp").brightness_pct == pytest.approx(60)


def test_override_until_phase_ends_at_the_next_phase(lib: Library) -> None:
    tl = make(lib, "psilocybin", (5000, K.OVERRIDE, lamp_override(60, "phase")))
    s = snap(tl, 5401)
    assert s.status is not None
    assert s.status.phase == "building"
    assert s.status.overrides == ()
    close_lights(snap(tl, 5400 - 1e-3), snap(tl, 5400 + 1e-3))
    assert light(snap(tl, 5400 + 1300), "lamp").brightness_pct == pytest.approx(14)


def test_override_until_session_stays_across_phases(lib: Library) -> None:
    tl = make(lib, "psilocybin", (5000, K.OVERRIDE, lamp_override(60, "session")))
    for t in (5401, 9500, 15000):
        s = snap(tl, t)
        assert s.status is not None
        assert light(s, "lamp").brightness_pct == pytest.approx(60)
        assert s.status.overrides == (("lamp", "level", 60.0),)
    assert snap(tl, 9500).status.phase == "peak"  # type: ignore[union-attr]


def test_override_clear_returns_to_the_arc(lib: Library) -> None:
    tl = make(
        lib,
        "psilocybin",
        (5000, K.OVERRIDE, lamp_override(60, "session")),
        (8000, K.OVERRIDE_CLEAR, {"device": "lamp"}),
    )
    close_lights(snap(tl, 8000 - 1e-3), snap(tl, 8000 + 1e-3))
    s = snap(tl, 8031)
    assert s.status is not None and s.status.overrides == ()
    assert s.devices == snap(make(lib, "psilocybin"), 8031).devices


def test_override_of_an_unknown_device_is_ignored(lib: Library) -> None:
    tl = make(
        lib, "psilocybin", (5000, K.OVERRIDE, {"device": "nope", "channel": "on", "value": True})
    )
    assert snap(tl, 5100) == snap(make(lib, "psilocybin"), 5100)


def test_override_respects_the_safety_clamp(lib: Library) -> None:
    prefs = Preferences(brightness_max_pct=50, colors_avoided=("blue",))
    tl = make(
        lib,
        "psilocybin",
        (5000, K.OVERRIDE, lamp_override(90, "session")),
        (5000, K.OVERRIDE, {"device": "strip", "channel": "hue", "value": 225, "until": "session"}),
        (5000, K.OVERRIDE, {"device": "lamp", "channel": "on", "value": False, "until": "session"}),
        prefs=prefs,
    )
    s = snap(tl, 5100)
    lamp = light(s, "lamp")  # the floor light: turning it off is refused
    assert lamp.on is True
    assert lamp.brightness_pct == pytest.approx(5)
    strip = light(s, "strip")
    assert strip.hue is not None
    assert not 200 <= strip.hue <= 255


# ------------------------------------------------------------------ emergency


def test_emergency_is_applied_at_once(lib: Library) -> None:
    tl = make(lib, "psilocybin", (5000, K.EMERGENCY_ON, {}))
    for t in (5000, 5001):
        s = snap(tl, t)
        for dev in LIGHTS:
            assert light(s, dev) == LightState(on=True, brightness_pct=100.0, color_temp_k=4000)
        assert player(s).source == Source(kind="silence")
        assert player(s).volume == 0
        assert s.status is not None
        assert s.status.emergency is True
        assert s.status.held is True


def test_emergency_ignores_the_clients_brightness_limit(lib: Library) -> None:
    tl = make(
        lib,
        "psilocybin",
        (5000, K.EMERGENCY_ON, {}),
        prefs=Preferences(brightness_max_pct=30, colors_avoided=("orange",)),
    )
    assert light(snap(tl, 5001), "lamp").brightness_pct == 100


def test_emergency_holds_the_arc(lib: Library) -> None:
    tl = make(lib, "psilocybin", (5000, K.EMERGENCY_ON, {}), (5600, K.EMERGENCY_CLEAR, {}))
    clocks = [snap(tl, t).status.arc_clock_s for t in (5000, 5300, 5599)]  # type: ignore[union-attr]
    assert clocks == [pytest.approx(3200)] * 3
    s = snap(tl, 5700).status
    assert s is not None
    assert s.emergency is False
    assert s.held is False
    assert s.arc_clock_s == pytest.approx(3300)
    assert s.phase == "onset"  # it would have been building by now without the emergency


def test_emergency_clear_fades_back_over_clear_fade_s(lib: Library) -> None:
    tl = make(lib, "psilocybin", (5000, K.EMERGENCY_ON, {}), (5600, K.EMERGENCY_CLEAR, {}))
    at_clear = snap(tl, 5600)
    assert light(at_clear, "lamp").brightness_pct == pytest.approx(100)
    assert player(at_clear).volume == 0
    mid = light(snap(tl, 5630), "lamp").brightness_pct
    assert mid is not None and 20 < mid < 100
    done = snap(tl, 5661)
    assert light(done, "lamp").brightness_pct == pytest.approx(20)
    assert light(done, "lamp").color_temp_k == 2300
    assert player(done).source == Source(kind="favorite", name="Onset")
    # The lights fade: no step bigger than a 60 s ease allows.
    samples = [lstar(snap(tl, t).devices["lamp"]) for t in range(5600, 5662)]
    assert max(abs(b - a) for a, b in itertools.pairwise(samples)) < 4


def test_emergency_clear_fades_even_with_a_brightness_limit(lib: Library) -> None:
    tl = make(
        lib,
        "psilocybin",
        (5000, K.EMERGENCY_ON, {}),
        (5600, K.EMERGENCY_CLEAR, {}),
        prefs=Preferences(brightness_max_pct=40),
    )
    before, after = snap(tl, 5600 - 1e-3), snap(tl, 5601)
    assert light(before, "lamp").brightness_pct == pytest.approx(100)
    assert abs(lstar(after.devices["lamp"]) - lstar(before.devices["lamp"])) < 5


def test_emergency_clear_without_emergency_does_nothing(lib: Library) -> None:
    tl = make(lib, "psilocybin", (5000, K.EMERGENCY_CLEAR, {}))
    assert snap(tl, 5100) == snap(make(lib, "psilocybin"), 5100)


def test_a_cue_while_the_emergency_clears_takes_over_from_where_the_light_is(lib: Library) -> None:
    """Found by the property tests: emergency on and cleared at once, a cue a second later, a
    client whose comfort cap is 5 %: the lamp jumped from 100 % to 5 % when the cue came (the
    cue's fade began from the capped value).  It must keep coming down gradually."""
    prefs = Preferences(brightness_max_pct=5.0, darkness_limit_pct=0.0)
    tl = make(
        lib,
        "ketamine",
        (0, K.EMERGENCY_ON, {}),
        (0, K.EMERGENCY_CLEAR, {}),
        (1, K.CUE_ON, {"cue": "talk"}),
        prefs=prefs,
    )
    levels = [light(snap(tl, t / 10), "lamp").brightness_pct or 0.0 for t in range(600)]
    steps = [abs(lightness(b) - lightness(a)) for a, b in itertools.pairwise(levels)]
    assert max(steps) < 2.0, max(steps)  # L* per 0.1 s: a fade, never a jump
    assert light(snap(tl, 120), "lamp").brightness_pct == pytest.approx(5.0)


@pytest.mark.parametrize(
    "event",
    [
        (5000, K.CUE_ON, {"cue": "talk"}),
        (5000, K.OVERRIDE, {"device": "speakers", "channel": "volume", "value": 0}),
    ],
    ids=["talk cue", "volume override to 0"],
)
def test_music_comes_down_one_step_at_a_time(lib: Library, event: Ev) -> None:
    """A fall is paced for the engine's two commands a second: the speaker never skips a
    step of volume on the way down, however short the fade asked for."""
    tl = make(lib, "psilocybin", event)
    volumes = [player(snap(tl, 5000 + t / 2)).volume or 0 for t in range(-2, 120)]
    assert volumes[0] > volumes[-1] + 4  # it really comes down
    assert max(a - b for a, b in itertools.pairwise(volumes)) <= 1
