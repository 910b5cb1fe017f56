"""Every preference honoured at every minute of every shipped arc.

Each test walks a whole arc minute by minute (a Timeline from a start event, with a talk cue
in the middle) and checks what the room shows against the client's preferences.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from roomctl.model.color import AVOID_MARGIN_DEG, COLOUR_SAT_PCT, ct_to_hs, hue_in_ranges
from roomctl.model.config import RoomConfig
from roomctl.model.events import Event, EventKind
from roomctl.model.library import Library, load_library
from roomctl.model.prefs import (
    COLOR_NAMES,
    QUIET_VOLUME,
    ROOM_VOLUME_WITH_HEADPHONES,
    HueSpan,
    MusicPrefs,
    Preferences,
)
from roomctl.model.scene import Source
from roomctl.model.state import LightState, PlayerState
from roomctl.timeline.fold import Snapshot, Timeline

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config.example.yaml"
LIB: Library = load_library(CONFIG)
ARCS = sorted(LIB.arcs)
T = 1_800_000_000.0
K = EventKind
CUE_AT_S, CUE_S = 40 * 60, 10 * 60  # a talk cue 40 minutes into the session, for 10 minutes


def _room_with_more_devices() -> RoomConfig:
    """The example room plus a headphones player, a hue-only light and a white-only light."""
    data: dict[str, Any] = yaml.safe_load(CONFIG.read_text())
    data["devices"] += [
        {"id": "phones", "driver": "sonos", "host": "192.168.1.51", "zone": "headphones"},
        {
            "id": "orb",
            "driver": "z2m_light",
            "topic": "zigbee2mqtt/orb",
            "zone": "ceiling",
            "color_temp": False,
        },
        {"id": "candle", "driver": "kasa", "host": "192.168.1.42", "zone": "lamp"},
    ]
    data["devices"][-1]["model"] = "white_bulb"
    data["music"]["headphones_zone"] = "headphones"
    return RoomConfig.model_validate(data)


ROOM = LIB.room
ROOM_PLUS = _room_with_more_devices()
TAGS = {s.name: s.carried for s in ROOM.music.sources}


def _end(arc: str) -> float:
    a = LIB.arcs[arc]
    end = a.nominal_end
    return (a.nominal_starts()[-1] + 3600.0 if end is None else end) - a.starts_at


def walk(arc: str, prefs: Preferences, room: RoomConfig = ROOM) -> Iterator[Snapshot]:
    """What the room shows at every minute of `arc`, start to end."""
    events = [
        Event.of(T, K.START, {"arc": arc}, seq=1),
        Event.of(T + CUE_AT_S, K.CUE_ON, {"cue": "talk"}, seq=2),
        Event.of(T + CUE_AT_S + CUE_S, K.CUE_OFF, {}, seq=3),
    ]
    tl = Timeline(room, LIB.arcs[arc], LIB.scenes, events, prefs)
    for minute in range(int(_end(arc) // 60) + 1):
        snap = tl.at(T + minute * 60.0)
        assert snap.status is not None
        yield snap


def lights(snap: Snapshot) -> Iterator[tuple[str, LightState]]:
    for dev, state in snap.devices.items():
        if isinstance(state, LightState):
            yield dev, state


def player(snap: Snapshot, dev: str = "speakers") -> PlayerState:
    state = snap.devices[dev]
    assert isinstance(state, PlayerState)
    return state


def settled(snap: Snapshot, arc: str) -> bool:
    """The phase's fade is over and no cue is on."""
    s = snap.status
    assert s is not None
    phase = LIB.arcs[arc].phases[s.phase_index]
    fade = phase.fade_s if phase.fade_s is not None else LIB.scenes[phase.scene].fade_s
    return s.cue is None and snap.t >= s.phase_started_at + fade + 60.0


# ------------------------------------------------------------------- colours


@pytest.mark.parametrize("arc", ARCS)
def test_liked_colours_take_turns_by_phase(arc: str) -> None:
    liked = ("blue", "green", "purple")
    prefs = Preferences(colors_liked=liked)
    seen: set[float] = set()
    for snap in walk(arc, prefs):
        strip = snap.devices["strip"]
        assert isinstance(strip, LightState)
        assert snap.status is not None
        if settled(snap, arc):
            want = COLOR_NAMES[liked[snap.status.phase_index % len(liked)]][0]
            assert strip.hue == pytest.approx(want), (arc, snap.status.phase, strip)
            seen.add(want)
    assert len(seen) >= 2  # not only the first


@pytest.mark.parametrize("arc", ARCS)
def test_with_eyeshades_one_colour_and_lower_light(arc: str) -> None:
    prefs = Preferences(colors_liked=("blue", "green"), darkness_limit_pct=20, eyeshades=True)
    floor = ROOM.floor_light_ids
    lower = 0
    for snap in walk(arc, prefs):
        strip = snap.devices["strip"]
        assert isinstance(strip, LightState)
        if settled(snap, arc) or snap.t > T + 3600:
            assert strip.hue == pytest.approx(COLOR_NAMES["blue"][0])
        for dev, state in lights(snap):
            if dev in floor:  # the floor light keeps the client's darkness limit
                assert state.on and (state.brightness_pct or 0) >= 20 - 0.05
            elif state.on and (state.brightness_pct or 0) < 20:
                lower += 1
    assert lower > 0  # other lights may stay lower than the darkness limit


@st.composite
def clients(draw: st.DrawFn) -> Preferences:
    names = st.sampled_from(sorted(COLOR_NAMES))
    avoided: list[Any] = draw(st.lists(names, max_size=3, unique=True))
    if draw(st.booleans()):
        start = draw(st.integers(0, 359))
        avoided.append(HueSpan(start=start, end=(start + draw(st.integers(0, 90))) % 360))
    return Preferences(
        colors_liked=tuple(draw(st.lists(names | st.floats(0, 359), max_size=3))),
        colors_avoided=tuple(avoided),
        eyeshades=draw(st.booleans()),
    )


def _reads_as_avoided(hue: float, sat: float, prefs: Preferences) -> bool:
    """Whether a colour reads as one the client avoids, or comes within the margin of it."""
    if sat < COLOUR_SAT_PCT - 0.05:  # shown saturation is rounded to 0.1
        return False
    margin = AVOID_MARGIN_DEG - 0.06  # shown hue is rounded to 0.1 degree
    for start, end in prefs.avoided_spans:
        if end - start >= 360.0 or (end - start) % 360.0 + 2 * margin >= 360.0:
            return True  # the whole wheel is avoided: only white may be shown
        if hue_in_ranges(hue, [(start - margin, end + margin)]):
            return True
    return False


@given(st.sampled_from(ARCS), clients())
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_no_avoided_colour_reaches_any_light_warm_whites_included(
    arc: str, prefs: Preferences
) -> None:
    for snap in walk(arc, prefs, ROOM_PLUS):
        for dev, state in lights(snap):
            if not state.on:
                continue
            if state.color_temp_k is not None:
                hue, sat = ct_to_hs(state.color_temp_k)
            elif state.hue is not None:
                hue, sat = state.hue, state.saturation or 0.0
            else:
                continue
            assert not _reads_as_avoided(hue, sat, prefs), (arc, dev, state, prefs.avoided_spans)


@pytest.mark.parametrize("arc", ARCS)
def test_whites_on_a_hue_only_light_read_as_white(arc: str) -> None:
    shown = 0
    for snap in walk(arc, Preferences(), ROOM_PLUS):
        orb = snap.devices.get("orb")
        if isinstance(orb, LightState) and orb.on and orb.hue is not None:
            shown += 1
            assert (orb.saturation or 0) < COLOUR_SAT_PCT, (arc, orb)
            assert 20 <= orb.hue <= 40  # warm whites stay warm
    assert shown > 0


# --------------------------------------------------------------------- music


def _sources(arc: str, prefs: Preferences, room: RoomConfig = ROOM) -> list[Source | None]:
    return [player(s).source for s in walk(arc, prefs, room)]


@pytest.mark.parametrize("arc", ARCS)
@pytest.mark.parametrize("tags", [("vocals",), ("nature",), ("vocals", "nature")])
def test_sources_with_avoided_tags_are_never_played(arc: str, tags: tuple[str, ...]) -> None:
    plain = {s.name for s in _sources(arc, Preferences()) if s is not None}
    assert any(TAGS[name] & set(tags) for name in plain)  # the arc plays such music otherwise
    prefs = Preferences(music=MusicPrefs(avoid_tags=tags))
    played = [s for s in _sources(arc, prefs) if s is not None]
    assert played
    for source in played:
        assert source.is_silence or not TAGS[source.name] & set(tags), (arc, source)


@pytest.mark.parametrize("arc", ARCS)
def test_avoided_words_still_rule_sources_out(arc: str) -> None:
    prefs = Preferences(music=MusicPrefs(avoid=("settling", "return", "integration")))
    for source in _sources(arc, prefs):
        assert source is not None
        name = source.name.lower()
        assert not any(w in name for w in ("settling", "return", "integration")), source


@pytest.mark.parametrize("arc", ARCS)
def test_silence_plays_nothing(arc: str) -> None:
    for source in _sources(arc, Preferences(music=MusicPrefs(silence=True))):
        assert source is None or source.is_silence


@pytest.mark.parametrize("arc", ARCS)
def test_quiet_keeps_the_volume_low(arc: str) -> None:
    snaps = list(walk(arc, Preferences(music=MusicPrefs(quiet=True))))
    for snap in snaps:
        assert (player(snap).volume or 0) <= QUIET_VOLUME
    assert sum(1 for s in snaps if (player(s).volume or 0) > 0) > len(snaps) // 2


@pytest.mark.parametrize("arc", ARCS)
def test_headphones_take_the_music_and_the_room_speakers_stay_low(arc: str) -> None:
    without = list(walk(arc, Preferences(), ROOM_PLUS))
    with_phones = list(walk(arc, Preferences(headphones=True), ROOM_PLUS))
    for a, b in zip(without, with_phones, strict=True):
        assert player(b, "phones") == player(a, "speakers"), b.t - T
        assert (player(b, "speakers").volume or 0) <= ROOM_VOLUME_WITH_HEADPHONES
        assert player(b, "speakers").source == player(a, "speakers").source


@pytest.mark.parametrize("arc", ARCS)
def test_headphones_without_a_headphones_zone_keep_the_speakers_low(arc: str) -> None:
    for snap in walk(arc, Preferences(headphones=True)):
        assert (player(snap).volume or 0) <= ROOM_VOLUME_WITH_HEADPHONES


# ------------------------------------------------------------------ language


@pytest.mark.parametrize("arc", ARCS)
def test_language_changes_nothing_in_the_room(arc: str) -> None:
    english = list(walk(arc, Preferences(language="en")))
    german = list(walk(arc, Preferences(language="de")))
    assert [s.devices for s in german] == [s.devices for s in english]
