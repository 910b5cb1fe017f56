"""load_library() on broken files: every problem names the file, the line, the field and what is
wrong, with a "did you mean" for names that are nearly right.

Each test copies config.example.yaml and scenes/ into a temporary folder and breaks one thing.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from roomctl.errors import ConfigError, Problem
from roomctl.model.library import load_library
from roomctl.model.loader import Source, read_yaml

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def room(tmp_path: Path) -> Path:
    """A copy of the shipped configuration and scene library; returns the config file."""
    shutil.copy(ROOT / "config.example.yaml", tmp_path / "config.yaml")
    shutil.copytree(ROOT / "scenes", tmp_path / "scenes")
    return tmp_path / "config.yaml"


def edit(path: Path, old: str, new: str) -> int:
    """Replace the one occurrence of `old` in `path`; return the (1-based) line where `new`
    starts."""
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} should occur once in {path}"
    pos = text.index(old)
    path.write_text(text.replace(old, new), encoding="utf-8")
    return text.count("\n", 0, pos) + 1


def line_of(path: Path, needle: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    found = [i + 1 for i, line in enumerate(lines) if needle in line]
    assert len(found) == 1, f"{needle!r} should be on one line of {path}"
    return found[0]


def problems_of(config: Path) -> list[Problem]:
    with pytest.raises(ConfigError) as info:
        load_library(config)
    problems = info.value.problems
    assert problems, "a ConfigError carries at least one problem"
    assert str(info.value) == "\n".join(str(p) for p in problems)
    return problems


def same_file(problem: Problem, path: Path) -> bool:
    return Path(problem.file).resolve() == path.resolve()


def only(problems: list[Problem]) -> Problem:
    assert len(problems) == 1, "\n".join(str(p) for p in problems)
    return problems[0]


# ------------------------------------------------------------- the shipped files


def test_every_shipped_scene_and_arc_loads_without_problems() -> None:
    lib = load_library(ROOT / "config.example.yaml")
    scene_files = {p.stem for p in (ROOT / "scenes").glob("*.yaml")}
    arc_files = {p.stem for p in (ROOT / "scenes" / "arcs").glob("*.yaml")}
    assert set(lib.scenes) == scene_files
    assert set(lib.arcs) == arc_files
    assert {"psilocybin", "lsd", "mdma", "ketamine"} <= set(lib.arcs)
    assert lib.notes == []
    assert lib.cues == ["talk", "break", "check-in"]
    for arc in lib.arcs.values():
        for phase in arc.phases:
            assert phase.scene in lib.scenes


def test_the_copied_library_loads(room: Path) -> None:
    lib = load_library(room)
    assert lib.notes == []
    assert len(lib.scenes) == len(list((room.parent / "scenes").glob("*.yaml")))


# --------------------------------------------------------------------- YAML syntax


def test_bad_yaml_syntax_in_a_scene_names_the_line(room: Path) -> None:
    calm = room.parent / "scenes" / "calm.yaml"
    line = edit(calm, "title: Calm", "title: Calm: and quiet")
    p = only(problems_of(room))
    assert same_file(p, calm)
    assert p.line == line
    assert p.path == ""
    assert p.message.startswith("not valid YAML")
    assert "mapping values are not allowed" in p.message


def test_bad_yaml_syntax_in_the_config_names_the_line(room: Path) -> None:
    line = edit(room, "  max_volume: 60", "  max_volume: [60")
    p = only(problems_of(room))
    assert same_file(p, room)
    # The parser notices the unclosed list where the next key starts.
    assert p.line in (line, line + 1)
    assert p.message.startswith("not valid YAML")


def test_tab_indentation_names_the_line(room: Path) -> None:
    peak = room.parent / "scenes" / "peak.yaml"
    line = edit(peak, "  lamp: {on: true", "\tlamp: {on: true")
    p = only(problems_of(room))
    assert same_file(p, peak)
    assert p.line == line
    assert "'\\t'" in p.message


# ------------------------------------------------------------------- unknown keys


def test_unknown_key_in_a_scene_suggests_the_right_one(room: Path) -> None:
    calm = room.parent / "scenes" / "calm.yaml"
    line = edit(
        calm, "  lamp: {on: true, brightness_pct: 20", "  lamp: {on: true, brightnes_pct: 20"
    )
    p = only(problems_of(room))
    assert same_file(p, calm)
    assert p.line == line
    assert p.path == "lights.lamp.brightnes_pct"
    assert p.message == "unknown key 'brightnes_pct' (did you mean 'brightness_pct'?)"


def test_unknown_key_in_block_style_names_its_own_line(room: Path) -> None:
    calm = room.parent / "scenes" / "calm.yaml"
    calm.write_text(
        "name: calm\n"
        "fade_s: 60\n"
        "lights:\n"
        "  lamp:\n"
        "    on: true\n"
        "    brightness_pct: 20\n"
        "    colour_temp_k: 2700\n",
        encoding="utf-8",
    )
    p = only(problems_of(room))
    assert (p.line, p.path) == (7, "lights.lamp.colour_temp_k")
    assert p.message == "unknown key 'colour_temp_k' (did you mean 'color_temp_k'?)"


def test_unknown_key_in_the_config(room: Path) -> None:
    line = edit(room, "  max_volume: 60", "  max_volum: 60")
    p = only(problems_of(room))
    assert same_file(p, room)
    assert (p.line, p.path) == (line, "safety.max_volum")
    assert p.message == "unknown key 'max_volum' (did you mean 'max_volume'?)"


def test_unknown_top_level_key_in_the_config(room: Path) -> None:
    line = edit(room, "safety:", "safty:")
    p = only(problems_of(room))
    assert (p.line, p.path) == (line, "safty")
    assert "did you mean 'safety'?" in p.message


def test_unknown_key_in_an_arc_phase(room: Path) -> None:
    arc = room.parent / "scenes" / "arcs" / "psilocybin.yaml"
    line = edit(
        arc,
        '{name: onset, scene: onset, duration: "0:30"',
        '{name: onset, scene: onset, duraton: "0:30"',
    )
    p = only(problems_of(room))
    assert same_file(p, arc)
    assert (p.line, p.path) == (line, "phases[2].duraton")
    assert p.message == "unknown key 'duraton' (did you mean 'duration'?)"


def test_unknown_key_without_a_similar_name_has_no_suggestion(room: Path) -> None:
    calm = room.parent / "scenes" / "calm.yaml"
    edit(calm, "fade_s: 60", "fade_s: 60\nzzz: 1")
    p = only(problems_of(room))
    assert p.path == "zzz"
    assert p.message == "unknown key 'zzz'"


# ---------------------------------------------------------------------- wrong types


def test_wrong_type_in_a_scene(room: Path) -> None:
    calm = room.parent / "scenes" / "calm.yaml"
    line = edit(calm, "fade_s: 60", "fade_s: slow")
    p = only(problems_of(room))
    assert same_file(p, calm)
    assert (p.line, p.path) == (line, "fade_s")
    assert "valid number" in p.message
    assert "'slow'" in p.message


def test_wrong_type_for_volume(room: Path) -> None:
    calm = room.parent / "scenes" / "calm.yaml"
    line = edit(calm, "volume: 18", "volume: loud")
    p = only(problems_of(room))
    assert (p.line, p.path) == (line, "music.speakers.volume")
    assert "valid integer" in p.message
    assert "'loud'" in p.message


def test_wrong_type_in_the_config(room: Path) -> None:
    line = edit(room, "  max_volume: 60", "  max_volume: loud")
    p = only(problems_of(room))
    assert (p.line, p.path) == (line, "safety.max_volume")
    assert "valid integer" in p.message


def test_malformed_time_in_an_arc(room: Path) -> None:
    arc = room.parent / "scenes" / "arcs" / "psilocybin.yaml"
    line = edit(
        arc,
        '{name: onset, scene: onset, duration: "0:30"',
        '{name: onset, scene: onset, duration: "0:3x"',
    )
    p = only(problems_of(room))
    assert (p.line, p.path) == (line, "phases[2].duration")
    assert "expected a time like '1:30'" in p.message
    assert "'0:3x'" in p.message


def test_on_given_as_a_list_is_a_wrong_type(room: Path) -> None:
    calm = room.parent / "scenes" / "calm.yaml"
    line = edit(calm, "  lamp: {on: true", "  lamp: {on: [1]")
    p = only(problems_of(room))
    assert (p.line, p.path) == (line, "lights.lamp.on")
    assert "valid boolean" in p.message


# ------------------------------------------------------------------ out of range


def test_brightness_150_is_out_of_range(room: Path) -> None:
    calm = room.parent / "scenes" / "calm.yaml"
    line = edit(
        calm, "  lamp: {on: true, brightness_pct: 20", "  lamp: {on: true, brightness_pct: 150"
    )
    p = only(problems_of(room))
    assert same_file(p, calm)
    assert (p.line, p.path) == (line, "lights.lamp.brightness_pct")
    assert "less than or equal to 100" in p.message
    assert "150" in p.message


def test_hue_400_is_out_of_range(room: Path) -> None:
    calm = room.parent / "scenes" / "calm.yaml"
    line = edit(calm, "hue: 30,", "hue: 400,")
    p = only(problems_of(room))
    assert same_file(p, calm)
    assert p.line == line
    assert p.path.startswith("lights.accent")
    assert p.message == "Input should be less than or equal to 360 (got 400)"


def test_hue_400_names_the_hue_field_and_line(room: Path) -> None:
    calm = room.parent / "scenes" / "calm.yaml"
    calm.write_text(
        "name: calm\nlights:\n  accent:\n    saturation: 70\n    hue: 400\n",
        encoding="utf-8",
    )
    p = only(problems_of(room))
    assert (p.line, p.path) == (5, "lights.accent.hue")


def test_volume_120_is_out_of_range(room: Path) -> None:
    calm = room.parent / "scenes" / "calm.yaml"
    line = edit(calm, "volume: 18", "volume: 120")
    p = only(problems_of(room))
    assert (p.line, p.path) == (line, "music.speakers.volume")
    assert "less than or equal to 100" in p.message
    assert "120" in p.message


def test_safety_volume_out_of_range(room: Path) -> None:
    line = edit(room, "  max_volume: 60", "  max_volume: 120")
    p = only(problems_of(room))
    assert (p.line, p.path) == (line, "safety.max_volume")
    assert "less than or equal to 100" in p.message


def test_colour_temperature_and_hue_together_are_rejected(room: Path) -> None:
    calm = room.parent / "scenes" / "calm.yaml"
    line = edit(calm, "hue: 30, saturation: 70", "hue: 30, color_temp_k: 2700")
    p = only(problems_of(room))
    assert (p.line, p.path) == (line, "lights.accent")
    assert p.message == "give either color_temp_k or hue/saturation, not both"


# -------------------------------------------------------------------- unknown driver


def test_unknown_driver_suggests_the_right_one(room: Path) -> None:
    line = edit(room, "driver: sonos,", "driver: sonoss,")
    p = only(problems_of(room))
    assert same_file(p, room)
    assert (p.line, p.path) == (line, "devices[3]")
    assert p.message.startswith("unknown driver 'sonoss'; one of 'kasa', 'sonos'")
    assert p.message.endswith("(did you mean 'sonos'?)")


def test_unknown_driver_without_a_similar_name(room: Path) -> None:
    line = edit(room, "driver: sonos,", "driver: hue,")
    p = only(problems_of(room))
    assert (p.line, p.path) == (line, "devices[3]")
    assert "unknown driver 'hue'" in p.message
    assert "relay_thermostat" in p.message
    assert "did you mean" not in p.message


def test_missing_required_field_is_named(room: Path) -> None:
    edit(room, ', host: "192.168.1.40"', "")
    p = only(problems_of(room))
    assert "host" in p.path or "host" in p.message


# ---------------------------------------------------------------- dangling references


def test_arc_phase_naming_a_missing_scene(room: Path) -> None:
    arc = room.parent / "scenes" / "arcs" / "psilocybin.yaml"
    line = edit(arc, "{name: peak, scene: peak,", "{name: peak, scene: peek,")
    p = only(problems_of(room))
    assert same_file(p, arc)
    assert (p.line, p.path) == (line, "phases[4].scene")
    assert p.message == "no scene named 'peek' (did you mean 'peak'?)"


def test_scene_zone_typo_suggests_the_zone(room: Path) -> None:
    calm = room.parent / "scenes" / "calm.yaml"
    line = edit(calm, "  lamp: {on: true", "  lammp: {on: true")
    p = only(problems_of(room))
    assert same_file(p, calm)
    assert (p.line, p.path) == (line, "lights.lammp")
    assert p.message == "no zone 'lammp' in this room (did you mean 'lamp'?)"


def test_zone_with_no_similar_name_is_only_a_note(room: Path) -> None:
    calm = room.parent / "scenes" / "calm.yaml"
    edit(calm, "  lamp: {on: true", "  garden: {on: true")
    lib = load_library(room)  # no ConfigError
    assert len(lib.notes) == 1
    assert "calm.yaml" in lib.notes[0]
    assert "'garden'" in lib.notes[0]
    assert "garden" in lib.scenes["calm"].lights  # kept in the scene, just not used here


def test_zone_of_the_wrong_kind(room: Path) -> None:
    calm = room.parent / "scenes" / "calm.yaml"
    line = edit(calm, "  speakers: {favorite", "  lamp: {favorite")
    p = only(problems_of(room))
    assert (p.line, p.path) == (line, "music.lamp")
    assert "cannot take music" in p.message


def test_floor_lights_naming_a_non_light(room: Path) -> None:
    line = edit(room, "floor_lights: [lamp]", "floor_lights: [speakers]")
    p = only(problems_of(room))
    assert same_file(p, room)
    assert (p.line, p.path) == (line, "safety.floor_lights[0]")
    assert p.message == "'speakers' is not a light of this room"


def test_floor_lights_typo_suggests_the_light(room: Path) -> None:
    line = edit(room, "floor_lights: [lamp]", "floor_lights: [lamp, lmap]")
    p = only(problems_of(room))
    assert (p.line, p.path) == (line, "safety.floor_lights[1]")
    assert p.message == "'lmap' is not a light of this room (did you mean 'lamp'?)"


def test_a_broken_scene_does_not_also_count_as_missing(room: Path) -> None:
    """The arc that uses a scene that failed to load is not reported a second time."""
    peak = room.parent / "scenes" / "peak.yaml"
    edit(peak, "volume: 26", "volume: 260")
    p = only(problems_of(room))
    assert same_file(p, peak)
    assert p.path == "music.speakers.volume"


# ---------------------------------------------------------------- file-level problems


def test_scene_name_must_match_the_file_name(room: Path) -> None:
    calm = room.parent / "scenes" / "calm.yaml"
    line = edit(calm, "name: calm", "name: calmer")
    p = only(problems_of(room))
    assert same_file(p, calm)
    assert (p.line, p.path) == (line, "name")
    assert p.message == "name 'calmer' does not match the file name 'calm'"


def test_arc_name_must_match_the_file_name(room: Path) -> None:
    arc = room.parent / "scenes" / "arcs" / "lsd.yaml"
    line = edit(arc, "name: lsd", "name: acid")
    p = only(problems_of(room))
    assert same_file(p, arc)
    assert (p.line, p.path) == (line, "name")
    assert "'acid'" in p.message
    assert "'lsd'" in p.message


def test_empty_scene_file(room: Path) -> None:
    calm = room.parent / "scenes" / "calm.yaml"
    calm.write_text("", encoding="utf-8")
    p = only(problems_of(room))
    assert same_file(p, calm)
    assert p.message == "expected a mapping of keys, got an empty file"


def test_empty_config_file(room: Path) -> None:
    room.write_text("# nothing yet\n", encoding="utf-8")
    p = only(problems_of(room))
    assert same_file(p, room)
    assert p.message == "expected a mapping of keys, got an empty file"


def test_scene_file_that_is_a_list(room: Path) -> None:
    calm = room.parent / "scenes" / "calm.yaml"
    calm.write_text("- lamp\n- ceiling\n", encoding="utf-8")
    p = only(problems_of(room))
    assert (p.line, p.message) == (1, "expected a mapping of keys, got list")


def test_missing_config_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    p = only(problems_of(missing))
    assert same_file(p, missing)
    assert (p.line, p.path, p.message) == (None, "", "file not found")


def test_missing_scene_folder(room: Path) -> None:
    line = edit(room, "scenes_dir: scenes", "scenes_dir: no-such-folder")
    p = only(problems_of(room))
    assert (p.line, p.path) == (line, "scenes_dir")
    assert "no-such-folder" in p.message
    assert "does not exist" in p.message


# ---------------------------------------------------------------- temperature band


def test_arc_temperature_band_wider_than_safety(room: Path) -> None:
    arc = room.parent / "scenes" / "arcs" / "mdma.yaml"
    line = edit(arc, "temperature_c: {min: 20, max: 22}", "temperature_c: {min: 16, max: 22}")
    p = only(problems_of(room))
    assert same_file(p, arc)
    assert (p.line, p.path) == (line, "temperature_c")
    assert "16–22 °C is wider than the room's safety band 18–24 °C" in p.message


def test_arc_temperature_band_inside_safety_is_fine(room: Path) -> None:
    arc = room.parent / "scenes" / "arcs" / "mdma.yaml"
    edit(arc, "temperature_c: {min: 20, max: 22}", "temperature_c: {min: 18, max: 24}")
    assert load_library(room).arcs["mdma"].temperature_c is not None


# ---------------------------------------------------------------- on:/off: as keys


def test_on_and_off_stay_keys_not_booleans(tmp_path: Path) -> None:
    f = tmp_path / "x.yaml"
    f.write_text("on: 1\noff: 2\nyes: 3\nno: 4\nflag: true\nother: False\n", encoding="utf-8")
    src = read_yaml(f)
    assert isinstance(src, Source)
    assert src.data == {"on": 1, "off": 2, "yes": 3, "no": 4, "flag": True, "other": False}
    assert src.line(("off",)) == 2


def test_off_key_in_a_scene_is_reported_by_name(room: Path) -> None:
    calm = room.parent / "scenes" / "calm.yaml"
    line = edit(calm, "  lamp: {on: true", "  lamp: {off: true")
    p = only(problems_of(room))
    assert (p.line, p.path) == (line, "lights.lamp.off")  # not 'lights.lamp.False'
    assert p.message.startswith("unknown key 'off'")


def test_on_false_in_a_scene_turns_the_light_off(room: Path) -> None:
    lib = load_library(room)
    assert lib.scenes["peak"].lights["ceiling"].on is False
    assert lib.scenes["peak"].lights["lamp"].on is True


# ---------------------------------------------------------------- all at once


def test_several_problems_in_several_files_are_all_reported(room: Path) -> None:
    scenes = room.parent / "scenes"
    calm, peak, lsd = scenes / "calm.yaml", scenes / "peak.yaml", scenes / "arcs" / "lsd.yaml"
    edit(calm, "brightness_pct: 20", "brightnes_pct: 20")
    edit(peak, "volume: 26", "volume: 120")
    edit(lsd, "{name: onset, scene: onset,", "{name: onset, scene: onsett,")
    edit(room, "floor_lights: [lamp]", "floor_lights: [speakers]")
    problems = problems_of(room)
    found = {(Path(p.file).resolve(), p.line, p.path) for p in problems}
    assert found == {
        (room.resolve(), line_of(room, "floor_lights"), "safety.floor_lights[0]"),
        (calm.resolve(), line_of(calm, "brightnes_pct"), "lights.lamp.brightnes_pct"),
        (peak.resolve(), line_of(peak, "volume: 120"), "music.speakers.volume"),
        (lsd.resolve(), line_of(lsd, "scene: onsett"), "phases[2].scene"),
    }
    by_path = {p.path: p.message for p in problems}
    assert "did you mean 'brightness_pct'" in by_path["lights.lamp.brightnes_pct"]
    assert "did you mean 'onset'" in by_path["phases[2].scene"]


def test_several_problems_in_one_file_are_all_reported(room: Path) -> None:
    calm = room.parent / "scenes" / "calm.yaml"
    edit(calm, "fade_s: 60", "fade_s: -1")
    edit(calm, "brightness_pct: 20", "brightness_pct: 150")
    edit(calm, "volume: 18", "volume: 120")
    paths = {p.path for p in problems_of(room)}
    assert paths == {"fade_s", "lights.lamp.brightness_pct", "music.speakers.volume"}


def test_config_and_scene_problems_are_reported_together(room: Path) -> None:
    calm = room.parent / "scenes" / "calm.yaml"
    edit(room, "  max_volume: 60", "  max_volum: 60")
    edit(calm, "brightness_pct: 20", "brightnes_pct: 20")
    files = {Path(p.file).resolve() for p in problems_of(room)}
    assert files == {room.resolve(), calm.resolve()}


def test_duplicate_key_is_reported(room: Path) -> None:
    calm = room.parent / "scenes" / "calm.yaml"
    edit(calm, "fade_s: 60", "fade_s: 60\nfade_s: 6")
    problems_of(room)
