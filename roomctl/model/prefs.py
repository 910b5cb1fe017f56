"""Client preferences, chosen with the client during preparation, and how they adapt a scene.

`resolve(scene, prefs, safety)` is pure: an avoided colour is never shown (warm whites that read
as it included), a darkness limit raises brightness, a volume comfort caps volume, avoided music
is replaced, a preferred temperature becomes the setpoint — and the safety limits win over both
the scene and the preferences.

Liked colours: `hue: liked` in a scene takes the client's liked colours in turn, one per phase
of the arc (phase 1 the first, phase 2 the second, ... round again; a cue the colour of the
phase it interrupts); `hue: liked-2` always takes the second (counting round).  Liked colours
that are also avoided are skipped.  With eyeshades on, `liked` stays on the first colour.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from roomctl.model.color import (
    HueRange,
    allowed_kelvin,
    hue_in_ranges,
    nearest_allowed_hue,
    widen,
)
from roomctl.model.config import MusicConfig, SafetyConfig, TemperatureBand
from roomctl.model.scene import SILENCE, ClimateTarget, LightTarget, MusicTarget, Scene, Source

__all__ = [
    "COLOR_NAMES",
    "LANGUAGES",
    "QUIET_VOLUME",
    "ROOM_VOLUME_WITH_HEADPHONES",
    "MusicPrefs",
    "Preferences",
    "resolve",
]

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
# Languages the client page has words in (code: name in that language).
LANGUAGES: dict[str, str] = {"en": "English", "de": "Deutsch"}
QUIET_VOLUME = 8  # `music.quiet`: music plays, never louder than this
ROOM_VOLUME_WITH_HEADPHONES = 6  # the room's speakers while the client wears headphones

Tag = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$")]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class HueSpan(Frozen):
    start: float = Field(ge=0, le=360)
    end: float = Field(ge=0, le=360)


class MusicPrefs(Frozen):
    # Sonos favourites or playlists the client chose, first = most liked.
    favorites: tuple[str, ...] = ()
    # Words that rule a source out when its name contains them (e.g. "ocean", "birdsong").
    avoid: tuple[str, ...] = ()
    # Tags (the room config's `music.sources`) that rule a source out: [vocals, nature].
    avoid_tags: tuple[Tag, ...] = ()
    silence: bool = False  # no music at all
    quiet: bool = False  # music, never louder than QUIET_VOLUME


class Preferences(Frozen):
    client: str | None = None
    colors_liked: tuple[ColorName | float, ...] = ()
    colors_avoided: tuple[ColorName | HueSpan, ...] = ()
    brightness_max_pct: float = Field(default=100, ge=5, le=100)
    darkness_limit_pct: float = Field(default=0, ge=0, le=60)
    music: MusicPrefs = MusicPrefs()
    volume_max: int = Field(default=100, ge=0, le=100)
    temperature_c: float | None = Field(default=None, ge=15, le=28)
    # Facts of the session: with eyeshades colour changes are not seen and only the floor
    # light keeps the darkness limit; with headphones the music goes to the headphones zone
    # (the room config's music.headphones_zone) and the room's speakers stay low.
    eyeshades: bool = False
    headphones: bool = False
    language: str = "en"  # the client page's words
    notes: str = ""

    @field_validator("language")
    @classmethod
    def _known_language(cls, value: str) -> str:
        if value not in LANGUAGES:
            raise ValueError(
                f"language {value!r} is not available; choose one of {', '.join(LANGUAGES)}"
            )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Preferences:
        if self.darkness_limit_pct > self.brightness_max_pct:
            raise ValueError(
                f"darkness_limit_pct ({self.darkness_limit_pct}) is above "
                f"brightness_max_pct ({self.brightness_max_pct})"
            )
        return self

    @property
    def avoided_spans(self) -> tuple[HueRange, ...]:
        """The hue ranges the client named."""
        out: list[HueRange] = []
        for c in self.colors_avoided:
            out.append(COLOR_NAMES[c][1] if isinstance(c, str) else (c.start, c.end))
        return tuple(out)

    @property
    def avoided_ranges(self) -> tuple[HueRange, ...]:
        """The hues never shown: the client's ranges widened by AVOID_MARGIN_DEG each side."""
        return tuple(widen(r) for r in self.avoided_spans)

    @property
    def liked_hues(self) -> tuple[float, ...]:
        return tuple(
            COLOR_NAMES[c][0] if isinstance(c, str) else float(c) for c in self.colors_liked
        )

    @property
    def volume_limit(self) -> int:
        """The loudest the client's music may be (volume comfort, `quiet`)."""
        return min(self.volume_max, QUIET_VOLUME) if self.music.quiet else self.volume_max

    def allowed_hue(self, hue: float) -> float:
        return nearest_allowed_hue(hue, self.avoided_ranges)

    def hue_allowed(self, hue: float) -> bool:
        return not hue_in_ranges(hue, self.avoided_ranges)

    def liked_hue(self, slot: int) -> float:
        """Liked colour number `slot` (from 0, counting round) of those not avoided; without
        any, the nearest allowed hue to the first liked colour (or to warm amber)."""
        allowed = [h % 360.0 for h in self.liked_hues if self.hue_allowed(h)]
        if allowed:
            return allowed[slot % len(allowed)]
        first = self.liked_hues[0] if self.liked_hues else DEFAULT_LIKED_HUE
        return self.allowed_hue(first)

    def favourite_hue(self) -> float:
        """The first liked colour that is not also avoided (else the nearest allowed hue)."""
        return self.liked_hue(0)

    def source_allowed(self, source: Source, catalogue: MusicConfig | None = None) -> bool:
        """Neither a word the client avoids in its name nor an avoided tag on it."""
        if source.is_silence:
            return True
        name = source.name.lower()
        if any(w.lower() in name for w in self.music.avoid if w):
            return False
        known = catalogue.source(source.name) if catalogue is not None else None
        return known is None or not (known.carried & set(self.music.avoid_tags))

    def replace_source(self, source: Source, catalogue: MusicConfig | None = None) -> Source:
        """The source itself when allowed; else the allowed source nearest to it, or silence.

        Nearest: sharing the most tags with it (a tag counts when both sources give it the same
        value); on a tie the client's favourites first, in order, then the room's sources."""
        if self.source_allowed(source, catalogue):
            return source
        candidates = [Source(kind="favorite", name=f) for f in self.music.favorites]
        if catalogue is not None:
            candidates += [Source(kind=s.kind, name=s.name) for s in catalogue.sources]
        allowed = [c for c in candidates if self.source_allowed(c, catalogue)]
        if not allowed:
            return SILENCE

        def tags(s: Source) -> dict[str, bool]:
            known = catalogue.source(s.name) if catalogue is not None else None
            return known.tags if known is not None else {}

        mine = tags(source)

        def shared(c: Source) -> int:
            theirs = tags(c)
            return sum(1 for t, v in mine.items() if theirs.get(t) is v)

        best = max(shared(c) for c in allowed)
        return next(c for c in allowed if shared(c) == best)


NO_PREFERENCES = Preferences()


def _liked_slot(spec: str, prefs: Preferences, phase: int) -> int:
    if spec == "liked":
        return 0 if prefs.eyeshades else phase
    return int(spec.removeprefix("liked-")) - 1


def _light(t: LightTarget, prefs: Preferences, phase: int) -> LightTarget:
    if not t.on:
        return t
    hue = t.hue
    if isinstance(hue, str):
        hue = prefs.liked_hue(_liked_slot(hue, prefs, phase))
    elif isinstance(hue, float | int):
        hue = prefs.allowed_hue(float(hue))
    saturation = t.saturation
    if isinstance(hue, float) and not prefs.hue_allowed(hue):  # every colour avoided
        saturation = 0.0
    kelvin = t.color_temp_k
    if kelvin is not None:  # a warm white that reads as an avoided colour: a cooler white
        kelvin = round(allowed_kelvin(kelvin, prefs.avoided_ranges))
    bri = t.brightness_pct
    if bri is not None:
        bri = min(bri, prefs.brightness_max_pct)
        if not prefs.eyeshades:  # with eyeshades only the floor light keeps the limit
            bri = max(bri, prefs.darkness_limit_pct)
    return t.model_copy(
        update={"hue": hue, "saturation": saturation, "brightness_pct": bri, "color_temp_k": kelvin}
    )


def _music(
    t: MusicTarget, prefs: Preferences, safety: SafetyConfig, catalogue: MusicConfig | None
) -> MusicTarget:
    update: dict[str, object] = {}
    src = t.source
    if src is not None and not src.is_silence:
        new = SILENCE if prefs.music.silence else prefs.replace_source(src, catalogue)
        if new != src:
            update = {"favorite": None, "playlist": None, "uri": None, "silence": new.is_silence}
            if not new.is_silence:
                update[new.kind] = new.name
    if t.volume is not None:
        update["volume"] = min(t.volume, prefs.volume_limit, safety.max_volume)
    return t.model_copy(update=update)


def _with_headphones(
    music: dict[str, MusicTarget], headphones_zone: str | None
) -> dict[str, MusicTarget]:
    """The client's headphones play what the room's speakers would; the speakers stay low."""
    out = {
        z: t
        if z == headphones_zone or t.volume is None
        else t.model_copy(update={"volume": min(t.volume, ROOM_VOLUME_WITH_HEADPHONES)})
        for z, t in music.items()
    }
    if headphones_zone is not None and headphones_zone not in music and music:
        out[headphones_zone] = music[min(music)]
    return out


def band(safety: SafetyConfig, narrower: TemperatureBand | None) -> tuple[float, float]:
    """The temperature band in force: safety's, narrowed by an arc's band (never widened)."""
    lo, hi = safety.temperature_c.min, safety.temperature_c.max
    if narrower is not None:
        lo, hi = max(lo, narrower.min), min(hi, narrower.max)
        if lo > hi:  # an arc band outside the safety band: safety wins
            lo, hi = safety.temperature_c.min, safety.temperature_c.max
    return lo, hi


def _climate(
    t: ClimateTarget, prefs: Preferences, limits: tuple[float, float], arc_band: bool
) -> ClimateTarget:
    """A preferred temperature replaces the scene's setpoint.  Under an arc's own band (a
    substance that raises body temperature: MDMA) a wish for warmth never makes the room warmer
    than the scene: the client gets a blanket, not heat; a wish for cooler is kept."""
    setpoint = t.setpoint_c
    if prefs.temperature_c is not None:
        wish = prefs.temperature_c
        setpoint = min(wish, t.setpoint_c) if arc_band else wish
    return ClimateTarget(setpoint_c=min(max(setpoint, limits[0]), limits[1]))


def resolve(
    scene: Scene,
    prefs: Preferences,
    safety: SafetyConfig,
    temperature_band: TemperatureBand | None = None,
    *,
    phase: int = 0,
    music: MusicConfig | None = None,
) -> Scene:
    """Adapt `scene` to the client's preferences; safety limits win over both.

    `phase`: the arc phase's index (for `hue: liked`); `music`: the room's music sources with
    their tags and its headphones zone."""
    limits = band(safety, temperature_band)
    arc_band = limits != band(safety, None)  # an arc's own, narrower band is in force
    sounds = {z: _music(t, prefs, safety, music) for z, t in scene.music.items()}
    if prefs.headphones:
        sounds = _with_headphones(sounds, music.headphones_zone if music is not None else None)
    return scene.model_copy(
        update={
            "lights": {z: _light(t, prefs, phase) for z, t in scene.lights.items()},
            "music": sounds,
            "climate": {
                z: _climate(t, prefs, limits, arc_band)
                for z, t in scene.climate.items()
            },
        }
    )
