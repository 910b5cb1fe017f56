"""load_library() on broken files: every problem names the file, the line, the field and what is
wrong, with a "did you mean" for names that are nearly right.

Each case copies config.example.yaml and scenes/ into a temporary folder, breaks one thing and
checks the one problem it gives: its file, line, field path and whole message.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from roomctl.errors import ConfigError, Problem
from roomctl.model.library import load_library
from roomctl.model.loader import Source, read_yaml

ROOT = Path(__file__).resolve().parent.parent
CONFIG = "config.yaml"
CALM, PEAK = "scenes/calm.yaml", "scenes/peak.yaml"
PSILOCYBIN, LSD, MDMA = (
    "scenes/arcs/psilocybin.yaml",
    "scenes/arcs/lsd.yaml",
    "scenes/arcs/mdma.yaml",
)
ONSET_PHASE = '{name: onset, scene: onset, duration: "0:30"'


@pytest.fixture
def room(tmp_path: Path) -> Path:
    """A copy of the shipped configuration and scene library; returns the config file."""
    shutil.copy(ROOT / "config.example.yaml", tmp_path / "config.yaml")
    shutil.copytree(ROOT / "scenes", tmp_path / "scenes")
    return tmp_path / "config.yaml"


def edit(path: Path, old: str | None, new: str) -> int:
    """Replace the one occurrence of `old` in `path` (the whole file when `old` is None);
    return the (1-based) line where `new` starts."""
    if old is None:
        path.write_text(new, encoding="utf-8")
        return 1
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


# ------------------------------------------------------------- one broken thing each


@dataclass(frozen=True)
class Case:
    """Replace `old` by `new` in `file` (all of it when `old` is None) and expect one problem:
    `line` lines below where the edit starts (None: no line), at `path`, saying `message`."""

    id: str
    file: str
    old: str | None
    new: str
    path: str
    message: str
    line: int | None = 0


# A case takes two or three lines here (the formatter would spread each over eight).
# fmt: off
CASES = [
    # YAML syntax
    Case("yaml syntax in a scene", CALM, "title: Calm", "title: Calm: and quiet", "",
         "not valid YAML: mapping values are not allowed here"),
    Case("yaml syntax in the config (noticed where the next key starts)", CONFIG,
         "  max_volume: 60", "  max_volume: [60", "",
         "not valid YAML: while parsing a flow sequence expected ',' or ']', but got ':'", line=1),
    Case("tab indentation", PEAK, "  lamp: {on: true", "\tlamp: {on: true", "",
         "not valid YAML: while scanning for the next token found character '\\t' that cannot "
         "start any token"),
    Case("duplicate key", CALM, "fade_s: 60", "fade_s: 60\nfade_s: 6", "",
         "key 'fade_s' appears twice (lines 3 and 4)", line=1),
    # unknown keys
    Case("unknown key in a scene suggests the right one", CALM,
         "  lamp: {on: true, brightness_pct: 20", "  lamp: {on: true, brightnes_pct: 20",
         "lights.lamp.brightnes_pct",
         "unknown key 'brightnes_pct' (did you mean 'brightness_pct'?)"),
    Case("unknown key in block style names its own line", CALM, None,
         "name: calm\nfade_s: 60\nlights:\n  lamp:\n    on: true\n    brightness_pct: 20\n    "
         "colour_temp_k: 2700\n",
         "lights.lamp.colour_temp_k", "unknown key 'colour_temp_k' (did you mean 'color_temp_k'?)",
         line=6),
    Case("unknown key in the config", CONFIG, "  max_volume: 60", "  max_volum: 60",
         "safety.max_volum", "unknown key 'max_volum' (did you mean 'max_volume'?)"),
    Case("unknown top-level key in the config", CONFIG, "safety:", "safty:", "safty",
         "unknown key 'safty' (did you mean 'safety'?)"),
    Case("unknown key in an arc phase", PSILOCYBIN, ONSET_PHASE,
         ONSET_PHASE.replace("duration", "duraton"), "phases[2].duraton",
         "unknown key 'duraton' (did you mean 'duration'?)"),
    Case("unknown key without a similar name", CALM, "fade_s: 60", "fade_s: 60\nzzz: 1", "zzz",
         "unknown key 'zzz'", line=1),
    Case("off: is a key, not a boolean", CALM, "  lamp: {on: true", "  lamp: {off: true",
         "lights.lamp.off", "unknown key 'off'"),
    # wrong types
    Case("wrong type in a scene", CALM, "fade_s: 60", "fade_s: slow", "fade_s",
         "Input should be a valid number, unable to parse string as a number (got 'slow')"),
    Case("wrong type for volume", CALM, "volume: 18", "volume: loud", "music.speakers.volume",
         "Input should be a valid integer, unable to parse string as an integer (got 'loud')"),
    Case("wrong type in the config", CONFIG, "  max_volume: 60", "  max_volume: loud",
         "safety.max_volume",
         "Input should be a valid integer, unable to parse string as an integer (got 'loud')"),
    Case("malformed time in an arc", PSILOCYBIN, ONSET_PHASE, ONSET_PHASE.replace("0:30", "0:3x"),
         "phases[2].duration",
         "expected a time like '1:30' (hours:minutes) or minutes, got '0:3x'"),
    Case("on: given as a list", CALM, "  lamp: {on: true", "  lamp: {on: [1]", "lights.lamp.on",
         "Input should be a valid boolean"),
    # out of range
    Case("brightness 150", CALM, "  lamp: {on: true, brightness_pct: 20",
         "  lamp: {on: true, brightness_pct: 150", "lights.lamp.brightness_pct",
         "Input should be less than or equal to 100 (got 150)"),
    Case("hue 400 in flow style", CALM, "hue: 30,", "hue: 400,", "lights.accent.hue",
         "Input should be less than or equal to 360 (got 400)"),
    Case("hue 400 in block style names the hue's line", CALM, None,
         "name: calm\nlights:\n  accent:\n    saturation: 70\n    hue: 400\n", "lights.accent.hue",
         "Input should be less than or equal to 360 (got 400)", line=4),
    Case("volume 120", CALM, "volume: 18", "volume: 120", "music.speakers.volume",
         "Input should be less than or equal to 100 (got 120)"),
    Case("safety volume 120", CONFIG, "  max_volume: 60", "  max_volume: 120", "safety.max_volume",
         "Input should be less than or equal to 100 (got 120)"),
    Case("colour temperature and hue together", CALM, "hue: 30, saturation: 70",
         "hue: 30, color_temp_k: 2700", "lights.accent",
         "give either color_temp_k or hue/saturation, not both"),
    Case("a broken scene is not also reported missing from the arcs that use it", PEAK,
         "volume: 26", "volume: 260", "music.speakers.volume",
         "Input should be less than or equal to 100 (got 260)"),
    # drivers and required fields
    Case("unknown driver suggests the right one", CONFIG, "driver: sonos,", "driver: sonoss,",
         "devices[3]",
         "unknown driver 'sonoss'; one of 'kasa', 'sonos', 'z2m_light', 'z2m_thermostat', "
         "'relay_thermostat' (did you mean 'sonos'?)"),
    Case("unknown driver without a similar name", CONFIG, "driver: sonos,", "driver: hue,",
         "devices[3]",
         "unknown driver 'hue'; one of 'kasa', 'sonos', 'z2m_light', 'z2m_thermostat', "
         "'relay_thermostat'"),
    Case("missing required field", CONFIG, ", host: \"192.168.1.40\"", "", "devices[0].host",
         "'host' is required but missing"),
    # references
    Case("arc phase naming a missing scene", PSILOCYBIN, "{name: peak, scene: peak,",
         "{name: peak, scene: peek,", "phases[4].scene",
         "no scene named 'peek' (did you mean 'peak'?)"),
    Case("scene zone typo", CALM, "  lamp: {on: true", "  lammp: {on: true", "lights.lammp",
         "no zone 'lammp' in this room (did you mean 'lamp'?)"),
    Case("zone of the wrong kind", CALM, "  speakers: {favorite", "  lamp: {favorite",
         "music.lamp", "zone 'lamp' holds lamp, which cannot take music"),
    Case("floor light that is not a light", CONFIG, "floor_lights: [lamp]",
         "floor_lights: [speakers]", "safety.floor_lights[0]",
         "'speakers' is not a light of this room"),
    Case("floor light typo", CONFIG, "floor_lights: [lamp]", "floor_lights: [lamp, lmap]",
         "safety.floor_lights[1]", "'lmap' is not a light of this room (did you mean 'lamp'?)"),
    Case("arc temperature band wider than safety", MDMA, "temperature_c: {min: 20, max: 22}",
         "temperature_c: {min: 16, max: 22}", "temperature_c",
         "16–22 °C is wider than the room's safety band 18–24 °C; an arc may only narrow it"),
    # whole files
    Case("scene name must match the file name", CALM, "name: calm", "name: calmer", "name",
         "name 'calmer' does not match the file name 'calm'"),
    Case("arc name must match the file name", LSD, "name: lsd", "name: acid", "name",
         "name 'acid' does not match the file name 'lsd'"),
    Case("empty scene file", CALM, None, "", "", "expected a mapping of keys, got an empty file",
         line=None),
    Case("config file with only a comment", CONFIG, None, "# nothing yet\n", "",
         "expected a mapping of keys, got an empty file", line=None),
    Case("scene file that is a list", CALM, None, "- lamp\n- ceiling\n", "",
         "expected a mapping of keys, got list"),
    Case("missing scene folder", CONFIG, "scenes_dir: scenes", "scenes_dir: no-such-folder",
         "scenes_dir", "scene folder '{folder}/no-such-folder' does not exist"),
]
# fmt: on


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_one_broken_thing_is_one_problem_with_its_line(room: Path, case: Case) -> None:
    target = room.parent / case.file
    line = edit(target, case.old, case.new)
    p = only(problems_of(room))
    assert Path(p.file).resolve() == target.resolve()
    assert p.line == (None if case.line is None else line + case.line), str(p)
    assert p.path == case.path
    assert p.message == case.message.format(folder=room.parent.resolve())


# ------------------------------------------------------------------ not a problem


def test_zone_with_no_similar_name_is_only_a_note(room: Path) -> None:
    calm = room.parent / CALM
    edit(calm, "  lamp: {on: true", "  garden: {on: true")
    lib = load_library(room)  # no ConfigError
    assert lib.notes == [
        f"{calm}: zone 'garden' has no device in this room; that part of the scene is not used"
    ]
    assert "garden" in lib.scenes["calm"].lights  # kept in the scene, just not used here


def test_arc_temperature_band_inside_safety_is_fine(room: Path) -> None:
    arc = room.parent / MDMA
    edit(arc, "temperature_c: {min: 20, max: 22}", "temperature_c: {min: 18, max: 24}")
    assert load_library(room).arcs["mdma"].temperature_c is not None


def test_missing_config_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    p = only(problems_of(missing))
    assert (p.file, p.line, p.path, p.message) == (str(missing), None, "", "file not found")


# ---------------------------------------------------------------- on:/off: as keys


def test_on_and_off_stay_keys_not_booleans(tmp_path: Path) -> None:
    f = tmp_path / "x.yaml"
    f.write_text("on: 1\noff: 2\nyes: 3\nno: 4\nflag: true\nother: False\n", encoding="utf-8")
    src = read_yaml(f)
    assert isinstance(src, Source)
    assert src.data == {"on": 1, "off": 2, "yes": 3, "no": 4, "flag": True, "other": False}
    assert src.line(("off",)) == 2


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
    calm = room.parent / CALM
    edit(calm, "fade_s: 60", "fade_s: -1")
    edit(calm, "brightness_pct: 20", "brightness_pct: 150")
    edit(calm, "volume: 18", "volume: 120")
    paths = {p.path for p in problems_of(room)}
    assert paths == {"fade_s", "lights.lamp.brightness_pct", "music.speakers.volume"}


def test_config_and_scene_problems_are_reported_together(room: Path) -> None:
    calm = room.parent / CALM
    edit(room, "  max_volume: 60", "  max_volum: 60")
    edit(calm, "brightness_pct: 20", "brightnes_pct: 20")
    files = {Path(p.file).resolve() for p in problems_of(room)}
    assert files == {room.resolve(), calm.resolve()}
