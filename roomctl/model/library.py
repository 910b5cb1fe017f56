"""The room's whole library: its configuration, scenes, arcs and the references between them.

`load_library()` reads everything and checks every reference (zones, scene names, floor lights),
collecting all problems instead of stopping at the first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from roomctl.errors import ConfigError, Problem
from roomctl.model.arc import Arc, format_hmm
from roomctl.model.config import DeviceKind, RoomConfig
from roomctl.model.files import config_candidates
from roomctl.model.loader import Source, did_you_mean, load_model, read_yaml, vocabulary
from roomctl.model.prefs import Preferences
from roomctl.model.scene import Scene

__all__ = ["CUES", "Library", "find_config", "load_library", "load_preferences"]

CUES = ("talk", "break", "check-in")  # one-tap cues a facilitator has; scenes of these names
# The shipped library lives inside the package, so a wheel install has it; a room's own
# `scenes_dir` replaces it.
PACKAGE_DATA = Path(str(resources.files("roomctl").joinpath("data")))
PACKAGE_SCENES = PACKAGE_DATA / "scenes"
EXAMPLE_CONFIG = PACKAGE_DATA / "config.example.yaml"
_CONFIG_WORDS = vocabulary(RoomConfig)
_SCENE_WORDS = vocabulary(Scene)
_ARC_WORDS = vocabulary(Arc)


@dataclass
class Library:
    room: RoomConfig
    config_file: str
    scenes: dict[str, Scene] = field(default_factory=dict)
    arcs: dict[str, Arc] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # worth knowing, not wrong

    @property
    def cues(self) -> list[str]:
        return [c for c in CUES if c in self.scenes]

    def arc(self, name: str) -> Arc:
        if name not in self.arcs:
            raise ConfigError(
                [
                    Problem(
                        "",
                        None,
                        "",
                        f"no arc named {name!r}{did_you_mean(name, self.arcs)}; "
                        f"arcs: {', '.join(sorted(self.arcs)) or 'none'}",
                    )
                ]
            )
        return self.arcs[name]

    def scene(self, name: str) -> Scene:
        if name not in self.scenes:
            raise ConfigError(
                [Problem("", None, "", f"no scene named {name!r}{did_you_mean(name, self.scenes)}")]
            )
        return self.scenes[name]


def find_config(explicit: str | None) -> Path:
    """The config file: --config, $ROOMCTL_CONFIG, ./config.yaml or /etc/roomctl/config.yaml."""
    for candidate in config_candidates(explicit):
        return candidate
    raise ConfigError(
        [
            Problem(
                "config.yaml",
                None,
                "",
                "no configuration found; pass --config FILE "
                "(config.example.yaml is a starting point) or set ROOMCTL_CONFIG",
            )
        ]
    )


def scenes_dir(room: RoomConfig, config_file: Path) -> Path:
    path = Path(room.scenes_dir)
    if not path.is_absolute():
        path = config_file.resolve().parent / path
    if not path.is_dir() and room.scenes_dir == "scenes" and PACKAGE_SCENES.is_dir():
        return PACKAGE_SCENES
    return path


def load_library(config_file: Path) -> Library:
    """Read and check the configuration and its scene library.  Raises ConfigError with every
    problem found."""
    problems: list[Problem] = []
    src = read_yaml(config_file)
    if isinstance(src, Problem):
        raise ConfigError([src])
    room = load_model(RoomConfig, src, _CONFIG_WORDS)
    if isinstance(room, list):
        raise ConfigError(room + _library_problems(src, config_file))
    lib = Library(room=room, config_file=str(config_file))
    problems += _check_room(room, src)
    folder = scenes_dir(room, config_file)
    if not folder.is_dir():
        problems.append(
            Problem(
                str(config_file),
                src.line(("scenes_dir",)),
                "scenes_dir",
                f"scene folder {str(folder)!r} does not exist",
            )
        )
        raise ConfigError(problems)
    scene_srcs = _load_all(folder, Scene, _SCENE_WORDS, lib.scenes, problems)
    arc_srcs = _load_all(folder / "arcs", Arc, _ARC_WORDS, lib.arcs, problems)
    for name, scene in lib.scenes.items():
        problems += _check_scene(room, scene, scene_srcs[name], lib.notes)
    broken = {Path(p.file).stem for p in problems}  # scenes that exist but did not load
    for name, arc in lib.arcs.items():
        problems += _check_arc(room, arc, arc_srcs[name], lib.scenes, broken)
    if problems:
        raise ConfigError(problems)
    return lib


def _library_problems(src: Source, config_file: Path) -> list[Problem]:
    """Problems in the scene files, when the config itself did not load (no cross-checks)."""
    folder_name = src.data.get("scenes_dir", "scenes") if isinstance(src.data, dict) else "scenes"
    if not isinstance(folder_name, str):
        return []
    folder = Path(folder_name)
    if not folder.is_absolute():
        folder = config_file.resolve().parent / folder
    if not folder.is_dir():
        return []
    problems: list[Problem] = []
    _load_all(folder, Scene, _SCENE_WORDS, {}, problems)
    _load_all(folder / "arcs", Arc, _ARC_WORDS, {}, problems)
    return problems


def _load_all(
    folder: Path,
    model: type[Scene] | type[Arc],
    words: set[str],
    into: dict[str, Scene] | dict[str, Arc],
    problems: list[Problem],
) -> dict[str, Source]:
    sources: dict[str, Source] = {}
    if not folder.is_dir():
        return sources
    for path in sorted(folder.glob("*.yaml")):
        src = read_yaml(path)
        if isinstance(src, Problem):
            problems.append(src)
            continue
        loaded = load_model(model, src, words)
        if isinstance(loaded, list):
            problems += loaded
            continue
        if loaded.name != path.stem:
            problems.append(
                Problem(
                    str(path),
                    src.line(("name",)),
                    "name",
                    f"name {loaded.name!r} does not match the file name {path.stem!r}",
                )
            )
            continue
        into[loaded.name] = loaded  # type: ignore[assignment]
        sources[loaded.name] = src
    return sources


def _check_room(room: RoomConfig, src: Source) -> list[Problem]:
    problems: list[Problem] = []
    lights = {d.id for d in room.devices if d.kind in (DeviceKind.LIGHT, DeviceKind.SWITCH)}
    for i, dev_id in enumerate(room.safety.floor_lights):
        if dev_id not in lights:
            problems.append(
                Problem(
                    src.file,
                    src.line(("safety", "floor_lights", i)),
                    f"safety.floor_lights[{i}]",
                    f"{dev_id!r} is not a light of this room{did_you_mean(dev_id, lights)}",
                )
            )
    if not any(d.kind is DeviceKind.LIGHT for d in room.devices) and room.devices:
        problems.append(
            Problem(
                src.file,
                src.line(("devices",)),
                "devices",
                "no light: roomctl cannot keep the room from going dark",
            )
        )
    return problems


_SECTION_KINDS = {
    "lights": (DeviceKind.LIGHT, DeviceKind.SWITCH),
    "music": (DeviceKind.PLAYER,),
    "climate": (DeviceKind.THERMOSTAT,),
}


def _check_scene(room: RoomConfig, scene: Scene, src: Source, notes: list[str]) -> list[Problem]:
    problems: list[Problem] = []
    zones = room.all_zones
    for section, kinds in _SECTION_KINDS.items():
        for zone in getattr(scene, section):
            where = (section, zone)
            members = room.zone_members(zone)
            if zone not in zones:
                hint = did_you_mean(zone, zones)
                if hint:
                    problems.append(
                        Problem(
                            src.file,
                            src.line(where),
                            f"{section}.{zone}",
                            f"no zone {zone!r} in this room{hint}",
                        )
                    )
                else:
                    notes.append(
                        f"{src.file}: zone {zone!r} has no device in this room; "
                        "that part of the scene is not used"
                    )
                continue
            wrong = [d.id for d in members if d.kind not in kinds]
            if wrong:
                problems.append(
                    Problem(
                        src.file,
                        src.line(where),
                        f"{section}.{zone}",
                        f"zone {zone!r} holds {', '.join(wrong)}, which cannot take {section}",
                    )
                )
    return problems


def _check_arc(
    room: RoomConfig, arc: Arc, src: Source, scenes: dict[str, Scene], broken: set[str]
) -> list[Problem]:
    problems: list[Problem] = []
    for i, phase in enumerate(arc.phases):
        if phase.scene not in scenes and phase.scene not in broken:
            problems.append(
                Problem(
                    src.file,
                    src.line(("phases", i, "scene")),
                    f"phases[{i}].scene",
                    f"no scene named {phase.scene!r}{did_you_mean(phase.scene, scenes)}",
                )
            )
    end = arc.nominal_end
    for i, marker in enumerate(arc.markers):
        if marker.cue is not None and marker.cue not in scenes and marker.cue not in broken:
            problems.append(
                Problem(
                    src.file,
                    src.line(("markers", i, "cue")),
                    f"markers[{i}].cue",
                    f"no scene named {marker.cue!r}{did_you_mean(marker.cue, scenes)}",
                )
            )
        if marker.at < arc.starts_at or (end is not None and marker.at > end):
            problems.append(
                Problem(
                    src.file,
                    src.line(("markers", i, "at")),
                    f"markers[{i}].at",
                    f"marker at {format_hmm(marker.at)} is outside the arc "
                    f"({format_hmm(arc.starts_at)}–"
                    f"{format_hmm(end) if end is not None else 'open'})",
                )
            )
    band = arc.temperature_c
    safe = room.safety.temperature_c
    if band is not None and (band.min < safe.min or band.max > safe.max):
        problems.append(
            Problem(
                src.file,
                src.line(("temperature_c",)),
                "temperature_c",
                f"{band.min:g}–{band.max:g} °C is wider than the room's safety "
                f"band {safe.min:g}–{safe.max:g} °C; an arc may only narrow it",
            )
        )
    return problems


def load_preferences(path: Path) -> Preferences:
    src = read_yaml(path)
    if isinstance(src, Problem):
        raise ConfigError([src])
    prefs = load_model(Preferences, src)
    if isinstance(prefs, list):
        raise ConfigError(prefs)
    return prefs
