"""The timeline tests' shared pieces: the library, a timeline from a list of events, and
what the room shows (all times are wall seconds after the START event at T)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from roomctl.model.arc import Arc
from roomctl.model.color import lightness
from roomctl.model.events import Event, EventKind
from roomctl.model.library import Library
from roomctl.model.prefs import NO_PREFERENCES, Preferences
from roomctl.model.scene import Scene
from roomctl.model.state import DeviceState, LightState, PlayerState
from roomctl.timeline.fold import Snapshot, Timeline

ROOT = Path(__file__).resolve().parent.parent
T = 1_800_000_000.0
K = EventKind
LIGHTS = ("lamp", "strip", "ceiling")


Ev = tuple[float, EventKind, dict[str, Any]]


def make(
    lib: Library,
    arc: str | Arc,
    *events: Ev,
    prefs: Preferences = NO_PREFERENCES,
    start: Mapping[str, Any] | None = None,
    scenes: Mapping[str, Scene] | None = None,
    at: float = 0.0,
) -> Timeline:
    """A timeline whose START is at T + `at`; `events` are (seconds after T, kind, data)."""
    the_arc = lib.arcs[arc] if isinstance(arc, str) else arc
    log = [Event.of(T + at, K.START, {"arc": the_arc.name, **(start or {})}, seq=1)]
    log += [Event.of(T + dt, kind, data, seq=i + 2) for i, (dt, kind, data) in enumerate(events)]
    all_scenes = {**lib.scenes, **(scenes or {})}
    return Timeline(lib.room, the_arc, all_scenes, log, prefs)


def snap(tl: Timeline, dt: float) -> Snapshot:
    return tl.at(T + dt)


def light(s: Snapshot, device: str) -> LightState:
    state = s.devices[device]
    assert isinstance(state, LightState)
    return state


def player(s: Snapshot) -> PlayerState:
    state = s.devices["speakers"]
    assert isinstance(state, PlayerState)
    return state


def lstar(state: DeviceState | None) -> float:
    assert isinstance(state, LightState)
    if not state.on or state.brightness_pct is None:
        return 0.0
    return lightness(state.brightness_pct)


def close_lights(a: Snapshot, b: Snapshot, tol_l: float = 0.5, tol_k: float = 15.0) -> None:
    """The two snapshots show (nearly) the same light: no visible jump."""
    for dev in LIGHTS:
        la, lb = light(a, dev), light(b, dev)
        assert la.on == lb.on, dev
        assert abs(lstar(la) - lstar(lb)) <= tol_l, (dev, la, lb)
        if la.color_temp_k is not None and lb.color_temp_k is not None:
            assert abs(la.color_temp_k - lb.color_temp_k) <= tol_k, (dev, la, lb)
        if la.hue is not None and lb.hue is not None:
            d = abs(la.hue - lb.hue) % 360
            assert min(d, 360 - d) <= 2.0, (dev, la, lb)


def wall_of_phase(arc: Arc, index: int) -> float:
    """Seconds after START at which phase `index` begins when nothing intervenes."""
    return arc.nominal_starts()[index] - arc.starts_at


def lamp_override(value: object, until: str, **extra: object) -> dict[str, object]:
    """An override event's data for the lamp's brightness."""
    return {"device": "lamp", "channel": "brightness_pct", "value": value, "until": until, **extra}


def max_rise_per_10s(volumes: list[int]) -> int:
    """The largest rise over any 10 consecutive samples (one a second)."""
    return max(volumes[i + 10] - volumes[i] for i in range(len(volumes) - 10))
