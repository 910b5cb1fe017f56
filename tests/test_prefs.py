"""resolve(): how a client's preferences adapt a scene, and that safety limits win over both."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from roomctl.model.color import AVOID_MARGIN_DEG, COLOUR_SAT_PCT, ct_to_hs, hue_in_ranges
from roomctl.model.config import MusicConfig, RoomConfig, SafetyConfig, TemperatureBand
from roomctl.model.prefs import (
    COLOR_NAMES,
    DEFAULT_LIKED_HUE,
    QUIET_VOLUME,
    ROOM_VOLUME_WITH_HEADPHONES,
    HueSpan,
    MusicPrefs,
    Preferences,
    band,
    resolve,
)
from roomctl.model.scene import SILENCE, Scene, Source

SAFETY = SafetyConfig()  # max_volume 60, band 18..24 °C


def _scene(**kw: object) -> Scene:
    return Scene.model_validate({"name": "test", **kw})


# ---------------------------------------------------------------- colours


def test_avoided_hue_is_moved_to_the_nearest_allowed_hue() -> None:
    scene = _scene(lights={"accent": {"hue": 30, "saturation": 70, "brightness_pct": 10}})
    prefs = Preferences(colors_avoided=("orange",))
    out = resolve(scene, prefs, SAFETY).lights["accent"]
    assert isinstance(out.hue, float)
    assert not hue_in_ranges(out.hue, prefs.avoided_spans)
    # orange is 15..40: 30 is closer to the upper edge; the substitute keeps a clear margin
    # (20 degrees, and 5 more from the search) from it.
    assert 60.0 <= out.hue <= 67.0
    assert out.saturation == 70  # saturation and brightness are untouched
    assert out.brightness_pct == 10


def test_avoided_hue_span_wrapping_through_zero() -> None:
    scene = _scene(lights={"accent": {"hue": 5, "saturation": 50}})
    prefs = Preferences(colors_avoided=(HueSpan(start=340, end=20),))
    hue = resolve(scene, prefs, SAFETY).lights["accent"].hue
    assert isinstance(hue, float)
    assert not hue_in_ranges(hue, [(340.0, 20.0)])
    assert hue == pytest.approx(46.0)  # 20 + margins 20 and 5 + 1: nearer than 314


def test_allowed_hue_is_kept() -> None:
    scene = _scene(lights={"accent": {"hue": 200, "saturation": 50}})
    out = resolve(scene, Preferences(colors_avoided=("orange", "red")), SAFETY)
    assert out.lights["accent"].hue == pytest.approx(200.0)


@pytest.mark.parametrize("name", sorted(COLOR_NAMES))
def test_each_named_avoided_colour_is_never_shown(name: str) -> None:
    centre = COLOR_NAMES[name][0]
    scene = _scene(lights={"accent": {"hue": centre, "saturation": 80}})
    prefs = Preferences(colors_avoided=(name,))
    hue = resolve(scene, prefs, SAFETY).lights["accent"].hue
    assert isinstance(hue, float)
    assert not hue_in_ranges(hue, prefs.avoided_ranges)


def test_hue_liked_takes_the_first_liked_colour() -> None:
    scene = _scene(lights={"accent": {"hue": "liked", "saturation": 40}})
    out = resolve(scene, Preferences(colors_liked=("blue", "green")), SAFETY)
    assert out.lights["accent"].hue == pytest.approx(COLOR_NAMES["blue"][0])
    out = resolve(scene, Preferences(colors_liked=(300.0, "green")), SAFETY)
    assert out.lights["accent"].hue == pytest.approx(300.0)


def test_hue_liked_without_liked_colours_is_warm_amber() -> None:
    scene = _scene(lights={"accent": {"hue": "liked"}})
    assert resolve(scene, Preferences(), SAFETY).lights["accent"].hue == DEFAULT_LIKED_HUE


def test_hue_liked_never_shows_an_avoided_colour() -> None:
    scene = _scene(lights={"accent": {"hue": "liked", "saturation": 40}})
    prefs = Preferences(colors_avoided=("amber", "orange"))  # the default liked hue is 35
    hue = resolve(scene, prefs, SAFETY).lights["accent"].hue
    assert isinstance(hue, float)
    assert not hue_in_ranges(hue, prefs.avoided_ranges)


def test_everything_avoided_falls_back_to_white() -> None:
    scene = _scene(lights={"accent": {"hue": "liked", "saturation": 60}})
    prefs = Preferences(colors_avoided=tuple(COLOR_NAMES))
    out = resolve(scene, prefs, SAFETY).lights["accent"]
    assert isinstance(out.hue, float)
    shows_colour = out.saturation is None or out.saturation >= 5
    assert not (shows_colour and hue_in_ranges(out.hue, prefs.avoided_ranges))


# ------------------------------------------------------------- brightness


def test_darkness_limit_raises_on_light_brightness() -> None:
    scene = _scene(
        lights={
            "lamp": {"brightness_pct": 8, "color_temp_k": 2200},
            "ceiling": {"on": False},
            "accent": {"brightness_pct": 50},
        }
    )
    out = resolve(scene, Preferences(darkness_limit_pct=20), SAFETY)
    assert out.lights["lamp"].brightness_pct == 20
    assert out.lights["lamp"].color_temp_k == 2200
    assert out.lights["ceiling"].on is False  # an off light stays off
    assert out.lights["ceiling"].brightness_pct is None
    assert out.lights["accent"].brightness_pct == 50  # brighter than the limit: unchanged


def test_brightness_max_caps() -> None:
    scene = _scene(lights={"lamp": {"brightness_pct": 90}, "ceiling": {"brightness_pct": 20}})
    out = resolve(scene, Preferences(brightness_max_pct=40), SAFETY)
    assert out.lights["lamp"].brightness_pct == 40
    assert out.lights["ceiling"].brightness_pct == 20


def test_darkness_limit_and_brightness_max_together() -> None:
    scene = _scene(lights={"a": {"brightness_pct": 5}, "b": {"brightness_pct": 95}})
    out = resolve(scene, Preferences(darkness_limit_pct=25, brightness_max_pct=60), SAFETY)
    assert out.lights["a"].brightness_pct == 25
    assert out.lights["b"].brightness_pct == 60


def test_darkness_limit_above_brightness_max_is_rejected() -> None:
    with pytest.raises(ValidationError, match="darkness_limit_pct"):
        Preferences(darkness_limit_pct=50, brightness_max_pct=40)
    Preferences(darkness_limit_pct=40, brightness_max_pct=40)  # equal is fine


# ------------------------------------------------------------------- music


def test_volume_comfort_caps() -> None:
    scene = _scene(music={"speakers": {"favorite": "Peak", "volume": 26}})
    out = resolve(scene, Preferences(volume_max=15), SAFETY)
    assert out.music["speakers"].volume == 15
    assert out.music["speakers"].favorite == "Peak"


def test_safety_max_volume_wins_over_preferences() -> None:
    scene = _scene(music={"speakers": {"volume": 90}})
    out = resolve(scene, Preferences(volume_max=100), SafetyConfig(max_volume=40))
    assert out.music["speakers"].volume == 40
    out = resolve(scene, Preferences(volume_max=30), SafetyConfig(max_volume=40))
    assert out.music["speakers"].volume == 30


def test_volume_below_the_limits_is_kept() -> None:
    scene = _scene(music={"speakers": {"volume": 12}})
    assert resolve(scene, Preferences(volume_max=50), SAFETY).music["speakers"].volume == 12


def test_avoided_source_replaced_by_the_clients_favourite() -> None:
    scene = _scene(music={"speakers": {"favorite": "Ocean Waves", "volume": 20}})
    prefs = Preferences(music=MusicPrefs(favorites=("Birdsong", "Piano"), avoid=("ocean", "bird")))
    out = resolve(scene, prefs, SAFETY).music["speakers"]
    # The first favourite is also avoided ("bird"), so the second one is used.
    assert out.source == Source(kind="favorite", name="Piano")
    assert out.volume == 20


def test_avoided_playlist_and_uri_are_replaced_too() -> None:
    prefs = Preferences(music=MusicPrefs(favorites=("Piano",), avoid=("vocal",)))
    for key in ("playlist", "uri"):
        scene = _scene(music={"speakers": {key: "Vocal Chants"}})
        out = resolve(scene, prefs, SAFETY).music["speakers"]
        assert out.source == Source(kind="favorite", name="Piano")
        assert getattr(out, key) is None


def test_avoided_source_without_allowed_favourite_becomes_silence() -> None:
    scene = _scene(music={"speakers": {"favorite": "Ocean Waves", "volume": 20}})
    prefs = Preferences(music=MusicPrefs(favorites=("Ocean Dreams",), avoid=("OCEAN",)))
    out = resolve(scene, prefs, SAFETY).music["speakers"]
    assert out.source == SILENCE
    assert out.favorite is None


def test_allowed_source_is_kept() -> None:
    scene = _scene(music={"speakers": {"favorite": "Piano"}})
    prefs = Preferences(music=MusicPrefs(favorites=("Strings",), avoid=("ocean",)))
    out = resolve(scene, prefs, SAFETY).music["speakers"]
    assert out.source == Source(kind="favorite", name="Piano")


def test_volume_only_music_target_is_untouched_by_source_rules() -> None:
    scene = _scene(music={"speakers": {"volume": 6}})
    prefs = Preferences(music=MusicPrefs(avoid=("a", "e", "i", "o", "u")))
    out = resolve(scene, prefs, SAFETY).music["speakers"]
    assert out.source is None
    assert out.volume == 6


# ------------------------------------------------------------------ climate


def test_preferred_temperature_becomes_the_setpoint() -> None:
    scene = _scene(climate={"climate": {"setpoint_c": 21}})
    out = resolve(scene, Preferences(temperature_c=23), SAFETY)
    assert out.climate["climate"].setpoint_c == 23


def test_preferred_temperature_is_clamped_into_the_safety_band() -> None:
    scene = _scene(climate={"climate": {"setpoint_c": 21}})
    assert resolve(scene, Preferences(temperature_c=27), SAFETY).climate["climate"].setpoint_c == 24
    assert resolve(scene, Preferences(temperature_c=16), SAFETY).climate["climate"].setpoint_c == 18


def test_preferred_temperature_is_clamped_into_an_arc_band() -> None:
    scene = _scene(climate={"climate": {"setpoint_c": 21}})
    mdma = TemperatureBand(min=20, max=22)
    out = resolve(scene, Preferences(temperature_c=23.5), SAFETY, mdma)
    assert out.climate["climate"].setpoint_c == 21  # an arc with its own band: never warmer
    out = resolve(scene, Preferences(temperature_c=19), SAFETY, mdma)
    assert out.climate["climate"].setpoint_c == 20  # cooler, within the band


def test_scene_setpoint_outside_the_band_is_clamped() -> None:
    scene = _scene(climate={"climate": {"setpoint_c": 30}})
    assert resolve(scene, Preferences(), SAFETY).climate["climate"].setpoint_c == 24


def test_band_narrows_but_never_widens() -> None:
    assert band(SAFETY, None) == (18, 24)
    assert band(SAFETY, TemperatureBand(min=20, max=22)) == (20, 22)
    assert band(SAFETY, TemperatureBand(min=15, max=22)) == (18, 22)
    assert band(SAFETY, TemperatureBand(min=20, max=28)) == (20, 24)
    # An arc band entirely outside the safety band: the safety band applies.
    assert band(SAFETY, TemperatureBand(min=26, max=28)) == (18, 24)


# ------------------------------------------------------------------- purity


def test_resolve_does_not_change_its_inputs_or_add_zones() -> None:
    scene = _scene(
        lights={"lamp": {"brightness_pct": 90, "hue": 30, "saturation": 50}},
        music={"speakers": {"favorite": "Ocean", "volume": 80}},
        climate={"climate": {"setpoint_c": 30}},
    )
    before = scene.model_dump()
    prefs = Preferences(
        colors_avoided=("orange",),
        brightness_max_pct=50,
        volume_max=20,
        music=MusicPrefs(avoid=("ocean",)),
    )
    out = resolve(scene, prefs, SAFETY)
    assert scene.model_dump() == before
    assert out.zones == scene.zones
    assert out.name == scene.name
    assert out.fade_s == scene.fade_s


# ------------------------------------------------------ liked colours in turn


def _accent_hue(prefs: Preferences, phase: int, spec: str = "liked") -> float:
    scene = _scene(lights={"accent": {"hue": spec, "saturation": 50}})
    hue = resolve(scene, prefs, SAFETY, phase=phase).lights["accent"].hue
    assert isinstance(hue, float)
    return hue


def test_hue_liked_takes_the_liked_colours_in_turn_by_phase() -> None:
    prefs = Preferences(colors_liked=("blue", "green", 300.0))
    hues = [_accent_hue(prefs, phase) for phase in range(5)]
    assert hues == [225.0, 120.0, 300.0, 225.0, 120.0]


def test_hue_liked_n_takes_that_colour_whatever_the_phase() -> None:
    prefs = Preferences(colors_liked=("blue", "green"))
    assert {_accent_hue(prefs, phase, "liked-2") for phase in range(4)} == {120.0}
    assert _accent_hue(prefs, 0, "liked-1") == 225.0
    assert _accent_hue(prefs, 0, "liked-3") == 225.0  # counting round


def test_liked_colours_that_are_also_avoided_are_skipped_in_turn() -> None:
    prefs = Preferences(colors_liked=("blue", "orange", "green"), colors_avoided=("orange",))
    assert [_accent_hue(prefs, p) for p in range(3)] == [225.0, 120.0, 225.0]


def test_with_eyeshades_liked_stays_on_the_first_colour() -> None:
    prefs = Preferences(colors_liked=("blue", "green"), eyeshades=True)
    assert {_accent_hue(prefs, phase) for phase in range(4)} == {225.0}


def test_liked_hue_must_name_a_number() -> None:
    with pytest.raises(ValidationError, match="hue"):
        _scene(lights={"accent": {"hue": "liked-0"}})
    with pytest.raises(ValidationError, match="hue"):
        _scene(lights={"accent": {"hue": "loved"}})


# ---------------------------------------------------- warm whites and margins


def test_warm_white_is_raised_for_a_client_who_avoids_orange() -> None:
    scene = _scene(lights={"lamp": {"brightness_pct": 20, "color_temp_k": 2700}})
    out = resolve(scene, Preferences(colors_avoided=("orange",)), SAFETY).lights["lamp"]
    assert out.color_temp_k is not None
    _, sat = ct_to_hs(out.color_temp_k)
    assert sat < COLOUR_SAT_PCT  # reads as white, not as orange
    assert 3500 < out.color_temp_k < 4200  # the nearest such white, not daylight


def test_warm_white_is_kept_when_no_warm_colour_is_avoided() -> None:
    scene = _scene(lights={"lamp": {"brightness_pct": 20, "color_temp_k": 2200}})
    for avoided in ((), ("blue",), ("green", "purple")):
        out = resolve(scene, Preferences(colors_avoided=avoided), SAFETY).lights["lamp"]
        assert out.color_temp_k == 2200


@pytest.mark.parametrize("name", sorted(COLOR_NAMES))
def test_a_substitute_keeps_a_clear_margin_from_the_avoided_colour(name: str) -> None:
    start, end = COLOR_NAMES[name][1]
    prefs = Preferences(colors_avoided=(name,))
    for hue in range(0, 360, 3):
        scene = _scene(lights={"accent": {"hue": hue, "saturation": 80}})
        got = resolve(scene, prefs, SAFETY).lights["accent"].hue
        assert isinstance(got, float)
        gap = _distance(got, start, end)
        assert gap >= AVOID_MARGIN_DEG - 1e-9, (name, hue, got)


def _distance(hue: float, start: float, end: float) -> float:
    """Degrees from `hue` to the range start..end (0 inside it)."""
    if hue_in_ranges(hue, [(start, end)]):
        return 0.0
    return min((start - hue) % 360.0, (hue - end) % 360.0)


# ---------------------------------------------------------------- music tags

CATALOGUE = MusicConfig.model_validate(
    {
        "sources": [
            {"favorite": "Peak", "tags": {"vocals": True, "intense": True}},
            {"favorite": "Forest", "tags": {"vocals": False, "nature": True, "intense": True}},
            {"favorite": "Drums", "tags": {"vocals": False, "intense": True}},
            {"playlist": "Quiet Piano", "tags": {"vocals": False, "intense": False}},
        ],
        "headphones_zone": "headphones",
    }
)


def _played(prefs: Preferences, source: str = "Peak", catalogue: MusicConfig = CATALOGUE) -> Source:
    scene = _scene(music={"speakers": {"favorite": source, "volume": 20}})
    out = resolve(scene, prefs, SAFETY, music=catalogue).music["speakers"]
    assert out.source is not None
    return out.source


def test_a_source_with_an_avoided_tag_becomes_the_nearest_allowed_source() -> None:
    # Peak (vocals, intense): Forest and Drums share "intense"; Forest is also nature.
    prefs = Preferences(music=MusicPrefs(avoid_tags=("vocals",)))
    assert _played(prefs) == Source(kind="favorite", name="Forest")
    prefs = Preferences(music=MusicPrefs(avoid_tags=("vocals", "nature")))
    assert _played(prefs) == Source(kind="favorite", name="Drums")


def test_on_a_tie_the_clients_favourites_come_first() -> None:
    prefs = Preferences(music=MusicPrefs(favorites=("Quiet Piano",), avoid_tags=("intense",)))
    # Nothing intense is allowed: Quiet Piano (a favourite) over the untagged rest.
    assert _played(prefs) == Source(kind="favorite", name="Quiet Piano")


def test_a_source_without_tags_in_the_room_config_is_not_ruled_out_by_tags() -> None:
    prefs = Preferences(music=MusicPrefs(avoid_tags=("vocals",)))
    assert _played(prefs, "Unknown Choir") == Source(kind="favorite", name="Unknown Choir")


def test_no_allowed_source_means_silence() -> None:
    prefs = Preferences(music=MusicPrefs(avoid_tags=("intense", "vocals"), avoid=("piano",)))
    assert _played(prefs) == SILENCE


def test_avoided_words_still_rule_sources_out_next_to_tags() -> None:
    prefs = Preferences(music=MusicPrefs(avoid_tags=("vocals",), avoid=("forest",)))
    assert _played(prefs) == Source(kind="favorite", name="Drums")


def test_silence_preference_plays_nothing() -> None:
    prefs = Preferences(music=MusicPrefs(silence=True, favorites=("Drums",)))
    assert _played(prefs) == SILENCE
    assert _played(prefs, "Quiet Piano") == SILENCE


def test_quiet_preference_caps_the_volume() -> None:
    scene = _scene(music={"speakers": {"favorite": "Peak", "volume": 26}})
    out = resolve(scene, Preferences(music=MusicPrefs(quiet=True)), SAFETY).music["speakers"]
    assert out.volume == QUIET_VOLUME
    assert out.favorite == "Peak"
    assert Preferences(volume_max=5, music=MusicPrefs(quiet=True)).volume_limit == 5


# ------------------------------------------------------ eyeshades, headphones


def test_with_eyeshades_the_darkness_limit_does_not_lift_the_scene() -> None:
    scene = _scene(lights={"accent": {"hue": 200, "brightness_pct": 6}})
    lifted = resolve(scene, Preferences(darkness_limit_pct=20), SAFETY)
    assert lifted.lights["accent"].brightness_pct == 20
    shaded = resolve(scene, Preferences(darkness_limit_pct=20, eyeshades=True), SAFETY)
    assert shaded.lights["accent"].brightness_pct == 6  # the floor light is the clamp's job


def test_headphones_take_the_music_and_the_room_speakers_stay_low() -> None:
    scene = _scene(music={"speakers": {"favorite": "Drums", "volume": 22}})
    out = resolve(scene, Preferences(headphones=True), SAFETY, music=CATALOGUE).music
    assert out["headphones"].source == Source(kind="favorite", name="Drums")
    assert out["headphones"].volume == 22
    assert out["speakers"].volume == ROOM_VOLUME_WITH_HEADPHONES
    no_zone = MusicConfig()
    out = resolve(scene, Preferences(headphones=True), SAFETY, music=no_zone).music
    assert set(out) == {"speakers"}
    assert out["speakers"].volume == ROOM_VOLUME_WITH_HEADPHONES


def test_headphones_follow_the_other_music_preferences() -> None:
    scene = _scene(music={"speakers": {"favorite": "Peak", "volume": 40}})
    prefs = Preferences(headphones=True, volume_max=30, music=MusicPrefs(avoid_tags=("vocals",)))
    out = resolve(scene, prefs, SAFETY, music=CATALOGUE).music
    assert out["headphones"].source == Source(kind="favorite", name="Forest")
    assert out["headphones"].volume == 30


# ------------------------------------------------------------------ language


def test_language_is_one_the_client_page_has() -> None:
    assert Preferences().language == "en"
    assert Preferences(language="de").language == "de"
    with pytest.raises(ValidationError, match=r"language 'xx' is not available; choose one of"):
        Preferences(language="xx")


# ------------------------------------------------------ room config: music


def test_music_sources_in_the_room_config_are_checked() -> None:
    with pytest.raises(ValidationError, match="give one of favorite, playlist or uri"):
        MusicConfig.model_validate({"sources": [{"tags": {"vocals": True}}]})
    with pytest.raises(ValidationError, match="not favorite and playlist"):
        MusicConfig.model_validate({"sources": [{"favorite": "a", "playlist": "b"}]})
    with pytest.raises(ValidationError, match="'Peak' is listed twice"):
        MusicConfig.model_validate({"sources": [{"favorite": "Peak"}, {"playlist": "Peak"}]})
    with pytest.raises(ValidationError, match="tags"):
        MusicConfig.model_validate({"sources": [{"favorite": "a", "tags": {"Vocals!": True}}]})


def test_headphones_zone_must_hold_a_player() -> None:
    room = {
        "room": {"id": "r", "name": "R"},
        "devices": [
            {"id": "lamp", "driver": "kasa", "host": "10.0.0.1", "zone": "lamp"},
            {"id": "speakers", "driver": "sonos", "host": "10.0.0.2", "zone": "speakers"},
        ],
        "music": {"headphones_zone": "lamp"},
    }
    with pytest.raises(ValidationError, match="'lamp' holds no player; player zones: speakers"):
        RoomConfig.model_validate(room)
