"""Client preferences, chosen with the client during preparation, and how they adapt a scene.

`resolve(scene, prefs, safety)` is pure: an avoided colour is never shown, a darkness limit raises
brightness, a volume comfort caps volume, a preferred temperature becomes the setpoint — and the
safety limits win over both the scene and the preferences.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from roomctl.model.color import HueRange, hue_in_ranges, nearest_allowed_hue
from roomctl.model.config import SafetyConfig, TemperatureBand
from roomctl.model.scene import SILENCE, ClimateTarget, LightTarget, MusicTarget, Scene, Source

__all__ = ["COLOR_NAMES", "MusicPrefs", "Preferences", "resolve"]

# Named colours a client can choose from: centre hue and the range the name covers (degrees).
COLOR_NAMES: dict[str, tuple[float, HueRange]] = {
    "red": (0.0, (345.0, 15.0)),
    "orange": (30.0, (15.0, 40.0)),
    "amber": (40.0, (32.0, 48.0)),
    "yellow": (55.0, (40.0, 70.0)),
    "green": (120.0, (70.0, 160.0)),
    "cyan": (180.0, (160.0, 200.0)),
    "blue": (225.0, (200.0, 255.0)),
    "purple": (275.0, (255.0, 295.0)),
    "magenta": (310.0, (295.0, 330.0)),
    "pink": (335.0, (320.0, 350.0)),
}

ColorName = Literal[
    "red", "orange", "amber", "yellow", "green", "cyan", "blue", "purple", "magenta", "pink"
]
DEFAULT_LIKED_HUE = 35.0  # warm amber when a scene asks for the client's colour and none is given


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class HueSpan(Frozen):
    start: float = Field(ge=0, le=360)
    end: float = Field(ge=0, le=360)


class MusicPrefs(Frozen):
    # Sonos favourites or playlists the client chose, first = most liked.
    favorites: tuple[str, ...] = ()
    # Words that rule a source out when its name contains them (e.g. "ocean", "birdsong", "vocal").
    avoid: tuple[str, ...] = ()


class Preferences(Frozen):
    client: str | None = None
    colors_liked: tuple[ColorName | float, ...] = ()
    colors_avoided: tuple[ColorName | HueSpan, ...] = ()
    brightness_max_pct: float = Field(default=100, ge=5, le=100)
    darkness_limit_pct: float = Field(default=0, ge=0, le=60)
    music: MusicPrefs = MusicPrefs()
    volume_max: int = Field(default=100, ge=0, le=100)
    temperature_c: float | None = Field(default=None, ge=15, le=28)
    notes: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> Preferences:
        if self.darkness_limit_pct > self.brightness_max_pct:
            raise ValueError(
                f"darkness_limit_pct ({self.darkness_limit_pct}) is above "
                f"brightness_max_pct ({self.brightness_max_pct})"
            )
        return self

    @property
    def avoided_ranges(self) -> tuple[HueRange, ...]:
        out: list[HueRange] = []
        for c in self.colors_avoided:
            out.append(COLOR_NAMES[c][1] if isinstance(c, str) else (c.start, c.end))
        return tuple(out)

    @property
    def liked_hues(self) -> tuple[float, ...]:
        return tuple(
            COLOR_NAMES[c][0] if isinstance(c, str) else float(c) for c in self.colors_liked
        )

    def allowed_hue(self, hue: float) -> float:
        return nearest_allowed_hue(hue, self.avoided_ranges)

    def hue_allowed(self, hue: float) -> bool:
        return not hue_in_ranges(hue, self.avoided_ranges)

    def favourite_hue(self) -> float:
        """The first liked colour that is not also avoided (else the nearest allowed hue)."""
        for hue in self.liked_hues:
            if self.hue_allowed(hue):
                return hue % 360.0
        first = self.liked_hues[0] if self.liked_hues else DEFAULT_LIKED_HUE
        return self.allowed_hue(first)

    def source_allowed(self, source: Source) -> bool:
        name = source.name.lower()
        return source.is_silence or not any(w.lower() in name for w in self.music.avoid if w)

    def replace_source(self, source: Source) -> Source:
        """The source itself when allowed; else the client's first allowed favourite, or silence."""
        if self.source_allowed(source):
            return source
        for fav in self.music.favorites:
            candidate = Source(kind="favorite", name=fav)
            if self.source_allowed(candidate):
                return candidate
        return SILENCE


NO_PREFERENCES = Preferences()


def _light(t: LightTarget, prefs: Preferences) -> LightTarget:
    if not t.on:
        return t
    hue = t.hue
    if hue == "liked":
        hue = prefs.favourite_hue()
    elif isinstance(hue, float | int):
        hue = prefs.allowed_hue(float(hue))
    saturation = t.saturation
    if isinstance(hue, float) and not prefs.hue_allowed(hue):  # every colour avoided
        saturation = 0.0
    bri = t.brightness_pct
    if bri is not None:
        bri = max(min(bri, prefs.brightness_max_pct), prefs.darkness_limit_pct)
    return t.model_copy(update={"hue": hue, "saturation": saturation, "brightness_pct": bri})


def _music(t: MusicTarget, prefs: Preferences, safety: SafetyConfig) -> MusicTarget:
    update: dict[str, object] = {}
    src = t.source
    if src is not None and not src.is_silence:
        new = prefs.replace_source(src)
        if new != src:
            update = {"favorite": None, "playlist": None, "uri": None, "silence": new.is_silence}
            if not new.is_silence:
                update[new.kind] = new.name
    if t.volume is not None:
        update["volume"] = min(t.volume, prefs.volume_max, safety.max_volume)
    return t.model_copy(update=update)


def band(safety: SafetyConfig, narrower: TemperatureBand | None) -> tuple[float, float]:
    """The temperature band in force: safety's, narrowed by an arc's band (never widened)."""
    lo, hi = safety.temperature_c.min, safety.temperature_c.max
    if narrower is not None:
        lo, hi = max(lo, narrower.min), min(hi, narrower.max)
        if lo > hi:  # an arc band outside the safety band: safety wins
            lo, hi = safety.temperature_c.min, safety.temperature_c.max
    return lo, hi


def _climate(t: ClimateTarget, prefs: Preferences, limits: tuple[float, float]) -> ClimateTarget:
    setpoint = prefs.temperature_c if prefs.temperature_c is not None else t.setpoint_c
    return ClimateTarget(setpoint_c=min(max(setpoint, limits[0]), limits[1]))


def resolve(
    scene: Scene,
    prefs: Preferences,
    safety: SafetyConfig,
    temperature_band: TemperatureBand | None = None,
) -> Scene:
    """Adapt `scene` to the client's preferences; safety limits win over both."""
    limits = band(safety, temperature_band)
    return scene.model_copy(
        update={
            "lights": {z: _light(t, prefs) for z, t in scene.lights.items()},
            "music": {z: _music(t, prefs, safety) for z, t in scene.music.items()},
            "climate": {z: _climate(t, prefs, limits) for z, t in scene.climate.items()},
        }
    )
