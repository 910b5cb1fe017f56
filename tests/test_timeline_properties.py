"""Properties of the timeline over random sessions: random event logs (hold, resume, extend,
advance, step back, jump, cues, overrides, the emergency, the dose) at random times over a
12-hour session, with random client preferences.

(a) continuity: no light changes faster than the shortest allowed fade, except when an
    emergency starts;
(b) safety: the floor light is never dark, volume, setpoint, avoided colours (with their margin,
    warm whites included) and the client's brightness limit always hold;
(c) a hold freezes the arc clock and the room;
(d) the state is a function of the event log: list order does not matter, the future does not
    change the past.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from roomctl.model.color import COLOUR_SAT_PCT, ct_to_hs, hue_in_ranges, lightness
from roomctl.model.config import DeviceKind
from roomctl.model.events import Event, EventKind
from roomctl.model.library import Library, load_library
from roomctl.model.prefs import COLOR_NAMES, HueSpan, MusicPrefs, Preferences, band
from roomctl.model.state import DeviceState, LightState, PlayerState, ThermostatState
from roomctl.timeline.fold import Snapshot, Timeline

ROOT = Path(__file__).resolve().parent.parent
LIB: Library = load_library(ROOT / "config.example.yaml")
ROOM = LIB.room
T = 1_800_000_000.0
SESSION_S = 12 * 3600
K = EventKind

# The timeline's own continuity bound: lightness (CIE L*, 0..100) changes at most by the whole
# range over the shortest light fade, times the steepest slope of the "ease" curve.
EASE_MAX_SLOPE = 1.5
MAX_L_PER_S = 100.0 / ROOM.safety.min_fade.light_s * EASE_MAX_SLOPE
# Shown brightness is rounded, and a light that comes on shows at least 1 % (L* ≈ 9).
L_TOLERANCE = lightness(1.0) + 1.0

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

KINDS = (
    K.HOLD,
    K.RESUME,
    K.EXTEND,
    K.ADVANCE,
    K.STEP_BACK,
    K.JUMP,
    K.CUE_ON,
    K.CUE_OFF,
    K.OVERRIDE,
    K.OVERRIDE_CLEAR,
    K.EMERGENCY_ON,
    K.EMERGENCY_CLEAR,
    K.DOSE,
)
LIGHT_IDS = tuple(d.id for d in ROOM.devices if d.kind is DeviceKind.LIGHT)


# ------------------------------------------------------------------ strategies


def _override_payload(draw: st.DrawFn) -> dict[str, Any]:
    dev = draw(st.sampled_from(ROOM.devices))
    data: dict[str, Any] = {"device": dev.id, "until": draw(st.sampled_from(["phase", "session"]))}
    if dev.kind is DeviceKind.LIGHT:
        channel = draw(
            st.sampled_from(["on", "brightness_pct", "color_temp_k", "hue", "saturation"])
        )
        value: Any = {
            "on": st.booleans(),
            "brightness_pct": st.integers(0, 100),
            "color_temp_k": st.integers(1500, 9000),
            "hue": st.integers(0, 360),
            "saturation": st.integers(0, 100),
        }[channel]
    elif dev.kind is DeviceKind.PLAYER:
        channel, value = "volume", st.integers(0, 100)
    else:
        channel, value = "setpoint_c", st.floats(5, 35)
    data["channel"] = channel
    data["value"] = draw(value)
    if draw(st.booleans()):
        data["fade_s"] = draw(st.integers(0, 120))
    return data


@st.composite
def payloads(draw: st.DrawFn, kind: EventKind, arc: str) -> dict[str, Any]:
    if kind is K.EXTEND:
        return {"minutes": draw(st.integers(1, 60))}
    if kind is K.JUMP:
        names = [p.name for p in LIB.arcs[arc].phases]
        return {"phase": draw(st.sampled_from([*names, "no-such-phase"]))}
    if kind is K.CUE_ON:
        return {"cue": draw(st.sampled_from(["talk", "break", "check-in"]))}
    if kind is K.OVERRIDE:
        return _override_payload(draw)
    if kind is K.OVERRIDE_CLEAR:
        return draw(
            st.sampled_from(
                [{}, {"device": "lamp"}, {"device": "speakers"}, {"device": "strip", "fade_s": 45}]
            )
        )
    return {}


_COLOR = st.sampled_from(sorted(COLOR_NAMES))


@st.composite
def preferences(draw: st.DrawFn) -> Preferences:
    avoided: list[Any] = draw(st.lists(_COLOR, max_size=2, unique=True))
    if draw(st.booleans()):
        start = draw(st.integers(0, 359))
        avoided.append(HueSpan(start=start, end=(start + draw(st.integers(0, 60))) % 360))
    bmax = draw(st.integers(5, 100))
    return Preferences(
        colors_liked=tuple(draw(st.lists(st.one_of(_COLOR, st.floats(0, 359)), max_size=2))),
        colors_avoided=tuple(avoided),
        brightness_max_pct=bmax,
        darkness_limit_pct=draw(st.integers(0, min(60, bmax))),
        volume_max=draw(st.integers(0, 100)),
        temperature_c=draw(st.none() | st.floats(15, 28)),
        music=MusicPrefs(
            favorites=tuple(
                draw(st.lists(st.sampled_from(["Piano", "Ocean", "Peak"]), max_size=2))
            ),
            avoid=tuple(
                draw(st.lists(st.sampled_from(["ocean", "onset", "peak", "in"]), max_size=2))
            ),
            avoid_tags=tuple(draw(st.lists(st.sampled_from(["vocals", "nature"]), max_size=2))),
            quiet=draw(st.booleans()),
            silence=draw(st.integers(0, 5)) == 0,
        ),
        eyeshades=draw(st.booleans()),
        headphones=draw(st.booleans()),
    )


@st.composite
def room_as_read(draw: st.DrawFn) -> dict[str, Any]:
    """What the devices reported when the session started (any of them may be missing)."""
    room: dict[str, Any] = {}
    for dev in LIGHT_IDS:
        if draw(st.booleans()):
            entry: dict[str, Any] = {
                "on": draw(st.booleans()),
                "brightness_pct": draw(st.integers(1, 100)),
            }
            if draw(st.booleans()):
                entry["color_temp_k"] = draw(st.integers(2000, 6500))
            else:
                entry["hue"] = draw(st.integers(0, 359))
                entry["saturation"] = draw(st.integers(0, 100))
            room[dev] = entry
    if draw(st.booleans()):
        room["speakers"] = {
            "volume": draw(st.integers(0, 100)),
            "playing": draw(st.booleans()),
            "source": draw(st.sampled_from(["favorite:Radio", "uri:x-rincon:1"])),
        }
    if draw(st.booleans()):
        room["radiator"] = {"setpoint_c": draw(st.floats(5, 35))}
    return room


@dataclass
class Session:
    arc: str
    events: list[Event]
    prefs: Preferences
    rng: random.Random

    def timeline(self, events: list[Event] | None = None) -> Timeline:
        return Timeline(
            ROOM,
            LIB.arcs[self.arc],
            LIB.scenes,
            self.events if events is None else events,
            self.prefs,
        )

    @property
    def later(self) -> list[Event]:
        """The events after START (in log order)."""
        return sorted(
            (e for e in self.events if e.kind is not K.START), key=lambda e: (e.at, e.seq)
        )

    def samples(self, after: float = 90.0, coarse: float = 900.0) -> list[float]:
        """Wall times to look at: every 1-5 s around each event, and a coarse grid."""
        out = {T + t for t in range(0, SESSION_S, int(coarse))}
        for ev in self.later:
            t = ev.at - self.rng.uniform(0.0, 5.0)
            while t < ev.at + after:
                out.add(t)
                t += self.rng.uniform(1.0, 5.0)
            out.add(ev.at)
        return sorted(t for t in out if t >= T)


@st.composite
def sessions(draw: st.DrawFn, max_events: int = 10) -> Session:
    arc = draw(st.sampled_from(sorted(LIB.arcs)))
    start: dict[str, Any] = {"arc": arc}
    if draw(st.booleans()):
        # A dose time in the past joins the arc in a later phase.
        start["t0"] = T + draw(st.integers(-5 * 3600, 3600))
    if draw(st.booleans()):
        start["room"] = draw(room_as_read())
    events = [Event.of(T, K.START, start, seq=1)]
    t = T + draw(st.integers(-600, 600))  # some events may come before START
    for i in range(draw(st.integers(1, max_events))):
        # Events come in bursts (a few seconds apart) and with long quiet stretches.
        t += draw(st.one_of(st.integers(0, 40), st.integers(40, 5400)))
        if t > T + SESSION_S:
            break
        kind = draw(st.sampled_from(KINDS))
        events.append(Event.of(t, kind, draw(payloads(kind, arc)), seq=i + 2))
    return Session(arc, events, draw(preferences()), random.Random(draw(st.integers(0, 2**32))))


# --------------------------------------------------------------------- helpers


def lstar(state: DeviceState | None) -> float:
    if not isinstance(state, LightState) or not state.on or state.brightness_pct is None:
        return 0.0
    return lightness(state.brightness_pct)


def _shown_colour(state: LightState) -> tuple[float, float]:
    """Hue and saturation a light shows, whites included (0, 0 without colour)."""
    if state.color_temp_k is not None:
        return ct_to_hs(state.color_temp_k)
    if state.hue is not None:
        return state.hue, state.saturation or 0.0
    return 0.0, 0.0


def in_emergency(snap: Snapshot) -> bool:
    return snap.status is not None and snap.status.emergency


# ------------------------------------------------------------------ (a) continuity


@given(sessions())
@SETTINGS
def test_lights_never_change_faster_than_the_shortest_fade(s: Session) -> None:
    tl = s.timeline()
    jumps_allowed = [e.at for e in s.later if e.kind is K.EMERGENCY_ON]
    times = s.samples()
    snaps = [tl.at(t) for t in times]
    for (t1, a), (t2, b) in itertools.pairwise(zip(times, snaps, strict=True)):
        if a.status is None or any(t1 < j <= t2 for j in jumps_allowed):
            continue
        bound = MAX_L_PER_S * (t2 - t1) + L_TOLERANCE
        for dev in LIGHT_IDS:
            change = abs(lstar(b.devices.get(dev)) - lstar(a.devices.get(dev)))
            assert change <= bound, (
                f"{dev}: L* {lstar(a.devices.get(dev)):.1f} at +{t1 - T:.1f}s -> "
                f"{lstar(b.devices.get(dev)):.1f} at +{t2 - T:.1f}s "
                f"({a.devices.get(dev)} -> {b.devices.get(dev)})"
            )


# ------------------------------------------------------------------ (b) safety


@given(sessions())
@SETTINGS
def test_safety_limits_always_hold(s: Session) -> None:
    tl = s.timeline()
    safety = ROOM.safety
    floor = max(safety.min_brightness_pct, s.prefs.darkness_limit_pct)
    volume_max = min(safety.max_volume, s.prefs.volume_limit)
    lo, hi = band(safety, LIB.arcs[s.arc].temperature_c)
    avoided = s.prefs.avoided_ranges
    clears = [e.at for e in s.later if e.kind is K.EMERGENCY_CLEAR]
    clear_fade = safety.emergency.clear_fade_s
    for t in s.samples(after=60.0, coarse=600.0):
        snap = tl.at(t)
        # Coming down from an emergency, the light fades to the client's comfort limit.
        recovering = any(c <= t <= c + clear_fade for c in clears)
        if snap.status is None:
            assert snap.devices == {}
            continue
        where = f"+{t - T:.1f}s"
        for dev in ROOM.floor_light_ids:  # the floor light: always on, never below the floor
            state = snap.devices[dev]
            assert isinstance(state, LightState)
            assert state.on, (where, dev)
            assert state.brightness_pct is not None
            assert state.brightness_pct >= floor - 0.05, (where, dev, state)
        for dev, state in snap.devices.items():
            if isinstance(state, LightState) and state.on:
                assert state.brightness_pct is not None
                if not in_emergency(snap) and not recovering:
                    assert state.brightness_pct <= s.prefs.brightness_max_pct + 0.05, (
                        where,
                        dev,
                        state,
                    )
                hue, sat = _shown_colour(state)
                if not in_emergency(snap) and sat >= COLOUR_SAT_PCT - 0.05:
                    # Avoided ranges include their margin.  The shown hue is rounded to 0.1
                    # degree: a hue just outside a range may be shown on its edge.
                    inside = all(hue_in_ranges(hue + d, avoided) for d in (-0.06, 0.06))
                    assert not inside, (where, dev, state, avoided)
            elif isinstance(state, PlayerState) and state.volume is not None:
                assert 0 <= state.volume <= volume_max, (where, dev, state)
            elif isinstance(state, ThermostatState):
                assert lo <= state.setpoint_c <= hi, (where, dev, state)


# ------------------------------------------------------------------ (c) hold


# The longest output fade a layer change can start: a requested override fade (≤ 120 s here),
# or a volume rise limited to max_volume_rise_per_10s (100 volume steps at 6 per 10 s).
SETTLE_S = 200.0


@st.composite
def held_sessions(draw: st.DrawFn) -> tuple[Session, int]:
    s = draw(sessions(max_events=8))
    later = s.later
    # A hold somewhere, and its resume as the very next event.
    at = draw(st.integers(1, SESSION_S - 100))
    length = draw(st.integers(1, 4 * 3600))
    seq = max(e.seq for e in s.events) + 1
    hold, resume = (
        Event.of(T + at, K.HOLD, {}, seq=seq),
        Event.of(T + at + length, K.RESUME, {}, seq=seq + 1),
    )
    kept = [e for e in later if not hold.at <= e.at <= resume.at]
    s.events = [s.events[0], *kept, hold, resume]
    return s, seq


@given(held_sessions())
@SETTINGS
def test_hold_freezes_the_arc_clock_and_the_room(case: tuple[Session, int]) -> None:
    s, seq = case
    tl = s.timeline()
    hold = next(e for e in s.events if e.seq == seq)
    resume = next(e for e in s.events if e.seq == seq + 1)
    inside = sorted(
        {
            hold.at,
            hold.at + 0.5,
            resume.at - 1e-3,
            *(s.rng.uniform(hold.at, resume.at - 1e-3) for _ in range(6)),
        }
    )
    snaps = [tl.at(t) for t in inside]
    first = snaps[0]
    assert first.status is not None
    if first.status.ended:
        return
    assert all(x.status is not None and x.status.held for x in snaps)
    clocks = {x.status.arc_clock_s for x in snaps if x.status is not None}
    assert len(clocks) == 1, clocks
    phases = {x.status.phase for x in snaps if x.status is not None}
    assert len(phases) == 1, phases
    # Fades in wall time that a layer change started before the hold (a cue, an override, the
    # end of an emergency) may finish during it; after that nothing moves.
    settled_from = max([hold.at, *(e.at + SETTLE_S for e in s.later if e.at < hold.at)])
    still = [x for t, x in zip(inside, snaps, strict=True) if t >= settled_from]
    for x in still[1:]:
        assert x.devices == still[0].devices


# ------------------------------------------------------------------ (d) rebuilding


@given(sessions(), st.randoms(use_true_random=False))
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
def test_state_is_a_function_of_the_event_log(s: Session, shuffle: random.Random) -> None:
    shuffled = list(s.events)
    shuffle.shuffle(shuffled)
    tl, tl_shuffled = s.timeline(), s.timeline(shuffled)
    times = s.samples(after=30.0, coarse=1800.0)
    picked = sorted(s.rng.sample(times, min(len(times), 40)))
    for t in picked:
        assert tl_shuffled.at(t) == tl.at(t), f"+{t - T:.1f}s"
    # The future does not change the past: only events up to t matter at t.
    for t in picked[:: max(1, len(picked) // 12)]:
        past = [e for e in s.events if e.at <= t]
        assert s.timeline(past).at(t) == tl.at(t), f"+{t - T:.1f}s"
