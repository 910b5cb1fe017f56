"""The timeline, example by example: phases at their nominal times, hold/resume/extend, advance
mid-fade, step back and jump, the dose, the end, events before the start, and the fold's cache.

All times are wall seconds after the START event at T.
"""

from __future__ import annotations

import random

import pytest

from roomctl.model.events import Event
from roomctl.model.library import Library
from roomctl.model.scene import Source
from roomctl.model.state import ThermostatState
from roomctl.timeline.fold import Timeline
from tests.timeline_support import (
    Ev,
    K,
    T,
    close_lights,
    lamp_override,
    light,
    make,
    player,
    snap,
    wall_of_phase,
)


@pytest.mark.parametrize("arc_name", ["psilocybin", "lsd", "mdma", "ketamine"])
def test_phases_follow_in_order_at_their_nominal_times(lib: Library, arc_name: str) -> None:
    arc = lib.arcs[arc_name]
    tl = make(lib, arc_name)
    seen = []
    for i, phase in enumerate(arc.phases):
        begin = wall_of_phase(arc, i)
        if i > 0:
            before = snap(tl, begin - 1).status
            assert before is not None
            assert before.phase == arc.phases[i - 1].name
            assert before.next_phase == phase.name
            assert before.phase_ends_at == pytest.approx(T + begin)
        s = snap(tl, begin + 1).status
        assert s is not None
        assert s.phase == phase.name
        assert s.phase_index == i
        assert s.arc_clock_s == pytest.approx(arc.nominal_starts()[i] + 1)
        assert s.phase_started_at == pytest.approx(T + begin)
        assert s.held is False
        seen.append(s.phase)
    assert seen == [p.name for p in arc.phases]
    # The last phase stays when its time is up.
    end = snap(tl, wall_of_phase(arc, len(arc.phases) - 1) + 10 * 3600).status
    assert end is not None
    assert end.phase == arc.phases[-1].name
    assert end.next_phase is None


@pytest.mark.parametrize("arc_name", ["psilocybin", "lsd", "mdma", "ketamine"])
def test_each_phase_reaches_its_scene(lib: Library, arc_name: str) -> None:
    """Once a phase's fade is over the room shows the phase's scene (after the safety clamp)."""
    arc = lib.arcs[arc_name]
    tl = make(lib, arc_name)
    starts = [wall_of_phase(arc, i) for i in range(len(arc.phases))]
    for i, phase in enumerate(arc.phases):
        scene = lib.scenes[phase.scene]
        fade = phase.fade_s if phase.fade_s is not None else scene.fade_s
        settled = starts[i] + fade + 30
        if i + 1 < len(arc.phases) and settled >= starts[i + 1]:
            continue
        s = snap(tl, settled)
        lamp = light(s, "lamp")
        target = scene.lights["lamp"]
        assert lamp.on
        assert lamp.brightness_pct == pytest.approx(max(target.brightness_pct or 100, 5), abs=0.1)
        assert lamp.color_temp_k == target.color_temp_k
        ceiling = light(s, "ceiling")
        assert ceiling.on == scene.lights["ceiling"].on
        music = scene.music["speakers"]
        assert player(s).volume == music.volume
        assert player(s).source == music.source
        thermo = s.devices["radiator"]
        assert isinstance(thermo, ThermostatState)
        lo, hi = (20, 22) if arc_name == "mdma" else (18, 24)
        assert thermo.setpoint_c == min(max(scene.climate["climate"].setpoint_c, lo), hi)


def test_status_before_the_dose(lib: Library) -> None:
    s = snap(make(lib, "psilocybin"), 60).status
    assert s is not None
    assert s.arc == "psilocybin"
    assert s.started_at == T
    assert s.t0 == T + 1800  # planned: starts_at is -0:30
    assert s.dosed is False
    assert s.arc_clock_s == pytest.approx(-1740)
    assert s.cue is None
    assert s.emergency is False
    assert s.ended is False


def test_start_with_a_dose_time_in_the_past_joins_the_arc(lib: Library) -> None:
    tl = make(lib, "psilocybin", start={"t0": T - 2 * 3600})  # dosed two hours ago
    s = snap(tl, 10).status
    assert s is not None
    assert s.dosed is True
    assert s.arc_clock_s == pytest.approx(7210)
    assert s.phase == "peak"


def test_start_from_the_room_as_read_fades_from_it(lib: Library) -> None:
    room = {"lamp": {"on": True, "brightness_pct": 90, "color_temp_k": 4000}}
    tl = make(lib, "psilocybin", start={"room": room})
    first = light(snap(tl, 0), "lamp")
    assert first.brightness_pct == pytest.approx(90)
    assert first.color_temp_k == 4000
    mid = light(snap(tl, 60), "lamp")  # arrival fades over 120 s
    assert mid.brightness_pct is not None
    assert 45 < mid.brightness_pct < 90
    assert light(snap(tl, 130), "lamp").brightness_pct == pytest.approx(45)


# --------------------------------------------------------------- hold, resume, extend


def test_hold_freezes_the_arc_clock_and_the_room(lib: Library) -> None:
    # At +4000 s the psilocybin onset fade (started +3600 s, 900 s long) is half way.
    tl = make(lib, "psilocybin", (4000, K.HOLD, {}), (5000, K.RESUME, {}))
    held = [snap(tl, t) for t in (4000, 4001, 4300, 4700, 4999)]
    for s in held:
        assert s.status is not None
        assert s.status.held is True
        assert s.status.arc_clock_s == pytest.approx(2200)
        assert s.status.phase_ends_at is None
        assert s.devices == held[0].devices
    # The fade really was in progress: without the hold the room moves.
    free = make(lib, "psilocybin")
    assert snap(free, 4300).devices != snap(free, 4000).devices


def test_resume_continues_where_the_hold_left_off(lib: Library) -> None:
    tl = make(lib, "psilocybin", (4000, K.HOLD, {}), (5000, K.RESUME, {}))
    free = make(lib, "psilocybin")
    for dt in (0, 1, 250, 1000, 3000):
        a, b = snap(tl, 5000 + dt), snap(free, 4000 + dt)
        assert a.status is not None and b.status is not None
        assert a.status.held is False
        assert a.status.arc_clock_s == pytest.approx(b.status.arc_clock_s)
        assert a.status.phase == b.status.phase
        assert a.devices == b.devices
    # Every later phase starts 1000 s later.
    s = snap(tl, 5000 + 10).status
    assert s is not None
    assert s.phase_ends_at == pytest.approx(T + 5400 + 1000)


def test_hold_freezes_the_return_from_an_expiredlamp_override(lib: Library) -> None:
    # The override ends when building starts (+5400 s); the session is held at +5500 s.
    tl = make(
        lib,
        "psilocybin",
        (5000, K.OVERRIDE, lamp_override(60, "phase")),
        (5500, K.HOLD, {}),
    )
    held = [snap(tl, t) for t in (5500, 5800, 6600)]
    assert all(s.status is not None and s.status.held for s in held)
    assert held[1].devices == held[0].devices
    assert held[2].devices == held[0].devices


def test_extend_lengthens_the_current_phase(lib: Library) -> None:
    tl = make(lib, "psilocybin", (4000, K.EXTEND, {"minutes": 10}))
    s = snap(tl, 4001).status
    assert s is not None
    assert s.phase == "onset"
    assert s.phase_ends_at == pytest.approx(T + 5400 + 600)
    before_end = snap(tl, 5999).status
    assert before_end is not None and before_end.phase == "onset"
    after_end = snap(tl, 6001).status
    assert after_end is not None and after_end.phase == "building"
    # The phases after it keep their own length.
    later = snap(tl, 6001 + 3600).status
    assert later is not None and later.phase == "peak"


def test_extend_twice_adds_up(lib: Library) -> None:
    tl = make(
        lib, "psilocybin", (4000, K.EXTEND, {"minutes": 10}), (4100, K.EXTEND, {"minutes": 5})
    )
    s = snap(tl, 4200).status
    assert s is not None
    assert s.phase_ends_at == pytest.approx(T + 5400 + 900)


# ------------------------------------------------------------- advance, back, jump


def test_advance_mid_fade_starts_from_the_shown_state(lib: Library) -> None:
    tl = make(lib, "psilocybin", (4000, K.ADVANCE, {}))
    before, after = snap(tl, 4000 - 1e-3), snap(tl, 4000 + 1e-3)
    assert before.status is not None and after.status is not None
    assert (before.status.phase, after.status.phase) == ("onset", "building")
    close_lights(before, after)
    assert player(after).volume == player(before).volume
    # ... and then fades to the building scene over its fade (1200 s).
    s = snap(tl, 4000 + 1200 + 1)
    assert light(s, "lamp").brightness_pct == pytest.approx(14)
    assert light(s, "lamp").color_temp_k == 2200
    assert light(s, "ceiling").on is False
    assert player(s).source == Source(kind="favorite", name="Ascent")
    mid = light(snap(tl, 4600), "lamp").brightness_pct
    assert mid is not None
    assert 14 < mid < light(before, "lamp").brightness_pct  # type: ignore[operator]


def test_advance_shortly_after_a_phase_change_does_not_jump(lib: Library) -> None:
    tl = make(lib, "psilocybin", (3610, K.ADVANCE, {}), (3620, K.ADVANCE, {}))
    for t in (3610, 3620):
        close_lights(snap(tl, t - 1e-3), snap(tl, t + 1e-3))
    s = snap(tl, 3621).status
    assert s is not None and s.phase == "peak"


def test_advance_in_the_last_phase_does_nothing(lib: Library) -> None:
    arc = lib.arcs["ketamine"]
    last = wall_of_phase(arc, len(arc.phases) - 1)
    tl = make(lib, "ketamine", (last + 100, K.ADVANCE, {}))
    s = snap(tl, last + 200).status
    assert s is not None
    assert s.phase == "integration"
    assert snap(tl, last + 200).devices == snap(make(lib, "ketamine"), last + 200).devices


def test_step_back_restarts_the_previous_phase(lib: Library) -> None:
    tl = make(lib, "psilocybin", (6000, K.STEP_BACK, {}))
    close_lights(snap(tl, 6000 - 1e-3), snap(tl, 6000 + 1e-3))
    s = snap(tl, 6001).status
    assert s is not None
    assert s.phase == "onset"
    assert s.phase_started_at == pytest.approx(T + 6000)
    assert s.phase_ends_at == pytest.approx(T + 6000 + 1800)  # its whole duration again
    settled = snap(tl, 6000 + 900 + 1)  # onset's fade is 900 s
    assert light(settled, "lamp").brightness_pct == pytest.approx(20)
    assert light(settled, "lamp").color_temp_k == 2300
    after = snap(tl, 6000 + 1800 + 1).status
    assert after is not None and after.phase == "building"


def test_step_back_in_the_first_phase_does_nothing(lib: Library) -> None:
    tl = make(lib, "psilocybin", (100, K.STEP_BACK, {}))
    assert snap(tl, 500) == snap(make(lib, "psilocybin"), 500)


def test_jump_to_a_named_phase(lib: Library) -> None:
    tl = make(lib, "psilocybin", (4000, K.JUMP, {"phase": "peak"}))
    close_lights(snap(tl, 4000 - 1e-3), snap(tl, 4000 + 1e-3))
    s = snap(tl, 4001).status
    assert s is not None
    assert s.phase == "peak"
    assert s.phase_ends_at == pytest.approx(T + 4000 + 5400)
    settled = snap(tl, 4000 + 1201)
    assert light(settled, "lamp").brightness_pct == pytest.approx(8)
    assert player(settled).source == Source(kind="favorite", name="Peak")


def test_jump_backwards_and_to_an_unknown_phase(lib: Library) -> None:
    tl = make(
        lib, "psilocybin", (8000, K.JUMP, {"phase": "settle"}), (8100, K.JUMP, {"phase": "nowhere"})
    )
    s = snap(tl, 8200).status
    assert s is not None
    assert s.phase == "settle"  # the unknown phase was ignored


# ---------------------------------------------------------------------- the dose


def test_dose_reanchors_the_arc_clock(lib: Library) -> None:
    tl = make(lib, "psilocybin", (600, K.DOSE, {}))  # dose 20 minutes early
    before = snap(tl, 599).status
    assert before is not None
    assert before.dosed is False
    assert before.arc_clock_s == pytest.approx(-1201)
    assert before.phase == "settle"
    s = snap(tl, 600).status
    assert s is not None
    assert s.arc_clock_s == pytest.approx(0.0)
    assert s.dosed is True
    assert s.t0 == pytest.approx(T + 600)
    assert s.phase == "pre-onset"
    later = snap(tl, 600 + 1800 + 1).status
    assert later is not None
    assert later.arc_clock_s == pytest.approx(1801)
    assert later.phase == "onset"
    close_lights(snap(tl, 600 - 1e-3), snap(tl, 600 + 1e-3))


def test_late_dose_restarts_the_phase_around_zero(lib: Library) -> None:
    tl = make(lib, "psilocybin", (2400, K.DOSE, {}))  # arc clock was 0:10
    s = snap(tl, 2400).status
    assert s is not None
    assert s.arc_clock_s == pytest.approx(0.0)
    assert s.phase == "pre-onset"
    assert s.phase_ends_at == pytest.approx(T + 2400 + 1800)
    close_lights(snap(tl, 2400 - 1e-3), snap(tl, 2400 + 1e-3))


def test_markers_follow_the_dose(lib: Library) -> None:
    tl = make(lib, "psilocybin", (600, K.DOSE, {}))
    s = snap(tl, 600 + 1200 + 10).status  # 0:20 after the dose
    assert s is not None
    states = {m.name: m.state for m in s.markers}
    assert states == {"expected onset": "now", "blood peak": "upcoming"}


# ----------------------------------------------------------------------- end


def test_end_freezes_the_room(lib: Library) -> None:
    tl = make(
        lib,
        "psilocybin",
        (4000, K.END, {}),
        (4100, K.ADVANCE, {}),
        (4200, K.EMERGENCY_ON, {}),
        (4300, K.CUE_ON, {"cue": "talk"}),
    )
    at_end = snap(tl, 4000)
    assert at_end.status is not None and at_end.status.ended is True
    free = make(lib, "psilocybin")
    assert at_end.devices == snap(free, 4000).devices
    for t in (4001, 4150, 4250, 4400, 30000):
        s = snap(tl, t)
        assert s.devices == at_end.devices
        assert s.status is not None
        assert s.status.ended is True
        assert s.status.phase == "onset"
        assert s.status.emergency is False


# -------------------------------------------------------- before START / no START


def test_events_before_start_are_ignored(lib: Library) -> None:
    tl = make(
        lib,
        "psilocybin",
        (-300, K.HOLD, {}),
        (-200, K.ADVANCE, {}),
        (-100, K.EMERGENCY_ON, {}),
        (-50, K.DOSE, {}),
        (-10, K.END, {}),
    )
    free = make(lib, "psilocybin")
    for t in (0, 100, 4000):
        assert snap(tl, t) == snap(free, t)


def test_without_start_there_is_no_session(lib: Library) -> None:
    arc = lib.arcs["psilocybin"]
    events = [Event.of(T + 10, K.HOLD, {}, seq=1), Event.of(T + 20, K.EMERGENCY_ON, {}, seq=2)]
    tl = Timeline(lib.room, arc, lib.scenes, events)
    for t in (T, T + 30, T + 10_000):
        s = tl.at(t)
        assert s.status is None
        assert s.devices == {}
        assert s.t == t


def test_before_start_there_is_no_session(lib: Library) -> None:
    tl = make(lib, "psilocybin", at=1000)
    assert snap(tl, 999).status is None
    assert snap(tl, 999).devices == {}
    assert snap(tl, 1000).status is not None


# ------------------------------------------------------------ the fold's cache


def test_cached_folds_give_the_same_room_in_any_order_of_asking(lib: Library) -> None:
    events: tuple[Ev, ...] = (
        (900, K.CUE_ON, {"cue": "talk"}),
        (1500, K.CUE_OFF, {}),
        (2000, K.DOSE, {}),
        (4000, K.HOLD, {}),
        (4600, K.RESUME, {}),
        (6000, K.EXTEND, {"minutes": 20}),
        (7000, K.EMERGENCY_ON, {}),
        (7100, K.EMERGENCY_CLEAR, {}),
        (9000, K.ADVANCE, {}),
    )
    times = [float(t) for t in range(0, 12 * 3600, 397)]
    shared = make(lib, "psilocybin", *events)
    rng = random.Random(7)
    order = times[:]
    rng.shuffle(order)
    asked = {t: snap(shared, t) for t in order}  # one timeline, asked out of order
    for t in times:
        fresh = snap(make(lib, "psilocybin", *events), t)
        assert asked[t] == fresh, t


def test_an_extended_timeline_shows_what_a_fresh_one_does(lib: Library) -> None:
    """SessionControl extends its timeline with each new event (keeping the folds made so far):
    every moment must look as it does on a timeline folded from scratch."""
    events: tuple[Ev, ...] = (
        (900, K.CUE_ON, {"cue": "talk"}),
        (1500, K.CUE_OFF, {}),
        (2000, K.HOLD, {}),
        (2600, K.RESUME, {}),
        (3000, K.EMERGENCY_ON, {}),
        (3100, K.EMERGENCY_CLEAR, {}),
        (5000, K.ADVANCE, {}),
    )
    times = [0, 450, 950, 1600, 2300, 2700, 3050, 3150, 3300, 5100, 9000]
    grown = make(lib, "psilocybin")
    for i in range(1, len(events) + 1):
        fresh = make(lib, "psilocybin", *events[:i])
        for t in times:  # fold some moments on the old one first, as the engine does
            grown.at(T + t)
        grown = grown.extended(fresh.events)
        for t in times:
            assert snap(grown, t) == snap(fresh, t), (i, t)


def test_folds_go_on_from_earlier_ones_without_changing_them(lib: Library) -> None:
    """A moment after more events folds on from the fold of fewer (not from the start); the dose
    re-anchors segments in place, which must not reach back into the earlier fold (found by the
    property tests: the lamp at +4.5 s read 44.97 % instead of 44.99 %)."""
    events: tuple[Ev, ...] = ((0, K.ADVANCE, {}), (5, K.DOSE, {}))
    order = [0.5, 5.5, 4.5, 30.0, 2.0, 6.0]
    cached = make(lib, "ketamine", *events, start={"t0": T + 1})
    for t in order:
        assert snap(cached, t) == snap(make(lib, "ketamine", *events, start={"t0": T + 1}), t), t
