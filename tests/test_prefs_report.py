"""What the room's limits override in a client's preferences, in plain sentences, and that the
sentences say what the timeline really does."""

from __future__ import annotations

from pathlib import Path

from roomctl.model.arc import Arc, Phase
from roomctl.model.config import SafetyConfig, TemperatureBand
from roomctl.model.events import Event, Note, Start
from roomctl.model.library import Library
from roomctl.model.prefs import HueSpan, MusicPrefs, Preferences, resolve
from roomctl.model.prefs_report import limits_note, overrides, overrides_for_arcs, summary
from roomctl.model.state import PlayerState, ThermostatState
from roomctl.timeline.fold import Timeline

ROOT = Path(__file__).resolve().parent.parent
T0 = 1_800_000_000.0
SAFETY = SafetyConfig()  # 18–24 °C, volume cap 60, floor 5 %


def test_nothing_to_say_without_preferences_or_within_the_limits(lib: Library) -> None:
    assert overrides(Preferences(), SAFETY, lib.arc("mdma")) == []
    within = Preferences(temperature_c=21, volume_max=40, colors_liked=("blue",),
                         colors_avoided=("red",), brightness_max_pct=50)  # fmt: skip
    assert overrides(within, SAFETY, lib.arc("psilocybin")) == []
    assert overrides(within.model_copy(update={"temperature_c": 20}), SAFETY, lib.arc("mdma")) == []


def test_a_wish_for_warmth_under_mdma_never_warms_a_phase(lib: Library) -> None:
    """MDMA runs cool (its own 20–22 °C band): a client's 21 °C does not lift the 20 °C peak."""
    prefs = Preferences(temperature_c=21)
    assert overrides(prefs, SAFETY, lib.arc("mdma")) == [
        "Temperature 21 °C: no phase is made warmer than its own temperature (MDMA runs cool: "
        "offer a blanket rather than heat)."
    ]
    arc = lib.arc("mdma")
    peak = lib.scenes["inner-focus-cool"]
    cooler = resolve(peak, Preferences(temperature_c=20.5), SAFETY, arc.temperature_c)
    warmer = resolve(peak, prefs, SAFETY, arc.temperature_c)
    assert warmer.climate["climate"].setpoint_c == 20.0  # the scene's, not the wish
    assert cooler.climate["climate"].setpoint_c == 20.0  # a cooler wish is kept (within band)
    arrival = resolve(
        lib.scenes["arrival"], Preferences(temperature_c=20.5), SAFETY, arc.temperature_c
    )
    assert arrival.climate["climate"].setpoint_c == 20.5
    # 100 means "no limit of my own": not a wish above the cap
    assert overrides(Preferences(volume_max=100), SAFETY) == []


def test_a_temperature_outside_the_arcs_band(lib: Library) -> None:
    prefs = Preferences(temperature_c=23.5)
    assert overrides(prefs, SAFETY, lib.arc("mdma")) == [
        "Temperature 23.5 °C is outside MDMA's 20–22 °C band: the room will keep to 22 °C at "
        "most, no phase warmer than its own temperature (MDMA runs cool: offer a blanket rather "
        "than heat)."
    ]
    assert overrides(prefs, SAFETY, lib.arc("psilocybin")) == []  # inside 18–24
    assert overrides(Preferences(temperature_c=19), SAFETY, lib.arc("mdma")) == [
        "Temperature 19 °C is outside MDMA's 20–22 °C band: the room will keep to 20 °C."
    ]


def test_a_temperature_outside_the_rooms_safety_band(lib: Library) -> None:
    prefs = Preferences(temperature_c=26)
    expected = (
        "Temperature 26 °C is outside the room's safety band of 18–24 °C: the room will keep "
        "to 24 °C."
    )
    assert overrides(prefs, SAFETY) == [expected]
    assert overrides(prefs, SAFETY, lib.arc("psilocybin")) == [expected]


def test_before_an_arc_is_chosen_every_arcs_band_is_checked(lib: Library) -> None:
    found = overrides_for_arcs(Preferences(temperature_c=23.5), SAFETY, lib.arcs.values())
    assert found == [
        "Temperature 23.5 °C is outside MDMA's 20–22 °C band: the room will keep to 22 °C at "
        "most, no phase warmer than its own temperature (MDMA runs cool: offer a blanket rather "
        "than heat)."
    ]


def test_a_volume_wish_above_the_cap() -> None:
    assert overrides(Preferences(volume_max=80), SAFETY) == [
        "Volume up to 80 is above the room's cap of 60: music will stay at or below 60."
    ]
    assert overrides(Preferences(volume_max=60), SAFETY) == []


def test_a_brightness_limit_below_the_floor() -> None:
    safety = SafetyConfig(min_brightness_pct=10)
    assert overrides(Preferences(brightness_max_pct=6), safety) == [
        "Brightness up to 6 % is below the room's floor of 10 %: the room is never fully dark, "
        "so lights may reach 10 % and the floor light stays at least that bright."
    ]


def test_a_liked_colour_that_is_also_avoided() -> None:
    both = Preferences(colors_liked=("blue", "orange"), colors_avoided=("orange",))
    assert overrides(both, SAFETY) == [
        "The colour orange is both liked and avoided: avoiding wins, it will not be shown."
    ]
    # a liked hue (or name) inside an avoided range of another name or a span
    prefs = Preferences(colors_liked=(30.0, "amber"), colors_avoided=(HueSpan(start=25, end=45),))
    assert overrides(prefs, SAFETY) == [
        "The liked colour hue 30° falls within the avoided hues 25–45°: avoiding wins, it "
        "will not be shown.",
        "The liked colour amber falls within the avoided hues 25–45°: avoiding wins, it will "
        "not be shown.",
    ]


def test_a_favourite_ruled_out_by_an_avoided_word() -> None:
    prefs = Preferences(music=MusicPrefs(favorites=("Calm Waters", "Ocean Dreams"),
                                         avoid=("OCEAN",)))  # fmt: skip
    assert overrides(prefs, SAFETY) == [
        "The favourite 'Ocean Dreams' contains the avoided word 'OCEAN': avoiding wins, it "
        "will not be played."
    ]


def test_the_sentences_say_what_the_timeline_does(lib: Library) -> None:
    """The wish the sentence says is overridden is overridden in the room, to the value said."""
    arc = lib.arc("mdma")
    prefs = Preferences(temperature_c=23.5, volume_max=80)
    (temp, vol) = overrides(prefs, lib.room.safety, arc)
    assert "keep to 22 °C" in temp and "at or below 60" in vol
    events = [Event(T0 + arc.starts_at, Start(arc=arc.name, t0=T0))]
    timeline = Timeline(lib.room, arc, lib.scenes, events, prefs)
    setpoints, volumes = set(), []
    for minutes in range(-15, 8 * 60, 10):
        for state in timeline.at(T0 + minutes * 60).devices.values():
            if isinstance(state, ThermostatState):
                setpoints.add(state.setpoint_c)
            if isinstance(state, PlayerState) and state.volume is not None:
                volumes.append(state.volume)
    assert max(setpoints) <= 22.0 and min(setpoints) >= 20.0  # within MDMA's band, never above
    assert 20.0 in setpoints  # the cool peak stays cool whatever the wish
    assert max(volumes) <= 60


def test_the_session_note_says_it_once(lib: Library) -> None:
    arc = lib.arc("mdma")
    assert limits_note(Preferences(temperature_c=20), SAFETY, arc) is None
    note = limits_note(Preferences(temperature_c=23.5, volume_max=80), SAFETY, arc)
    assert note == Note(
        text="The room's limits override some of the client's preferences: Temperature "
        "23.5 °C is outside MDMA's 20–22 °C band: the room will keep to 22 °C at most, no phase "
        "warmer than its own temperature (MDMA runs cool: offer a blanket rather than heat). "
        "Volume up to 80 "
        "is above the room's cap of 60: music will stay at or below 60."
    )


def test_an_arc_band_outside_the_safety_band_leaves_the_safety_band() -> None:
    arc = Arc(name="hot", phases=(Phase(name="p", scene="calm"),),
              temperature_c=TemperatureBand(min=25, max=28))  # fmt: skip
    assert overrides(Preferences(temperature_c=26), SAFETY, arc) == [
        "Temperature 26 °C is outside the room's safety band of 18–24 °C: the room will keep "
        "to 24 °C."
    ]


def test_summary_names_each_choice() -> None:
    assert summary(Preferences()) == []
    prefs = Preferences(colors_liked=("amber", 200.0), colors_avoided=("red",),
                        brightness_max_pct=60, darkness_limit_pct=10, volume_max=40,
                        temperature_c=22.5, music=MusicPrefs(favorites=("Calm",),
                                                             avoid=("vocal",)))  # fmt: skip
    assert summary(prefs) == [
        "likes amber, hue 200°", "avoids red", "brightness up to 60 %",
        "never dimmer than 10 %", "music: Calm", "no music with 'vocal'", "volume up to 40",
        "temperature 22.5 °C",
    ]  # fmt: skip
