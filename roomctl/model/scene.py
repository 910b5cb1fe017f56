"""Scenes: what lights, music and climate should be, addressed by zone.

A scene names only the zones it cares about; a zone it leaves out keeps what it had.  One scene
library serves rooms with different devices because scenes address zones, not devices.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["ClimateTarget", "LightTarget", "MusicTarget", "Scene", "Source"]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# `liked`: the client's liked colours in turn, one per phase of the arc; `liked-2`: the second.
LikedHue = Annotated[str, Field(pattern=r"^liked(-[1-9][0-9]?)?$")]


class LightTarget(Frozen):
    """One zone's light.  `hue: liked` takes a colour the client likes (see prefs.resolve)."""

    on: bool = True
    brightness_pct: float | None = Field(default=None, ge=0, le=100)
    color_temp_k: int | None = Field(default=None, ge=1500, le=9000)
    hue: Annotated[float, Field(ge=0, le=360)] | LikedHue | None = None
    saturation: float | None = Field(default=None, ge=0, le=100)

    @model_validator(mode="after")
    def _one_colour(self) -> LightTarget:
        if self.color_temp_k is not None and (self.hue is not None or self.saturation is not None):
            raise ValueError("give either color_temp_k or hue/saturation, not both")
        if not self.on and self.brightness_pct:
            raise ValueError("a light that is off has no brightness_pct")
        return self


class Source(Frozen):
    """Where music comes from: a Sonos favourite, a Sonos playlist, a URI, or silence."""

    kind: Literal["favorite", "playlist", "uri", "silence"]
    name: str = ""

    def __str__(self) -> str:
        return "silence" if self.kind == "silence" else f"{self.kind}:{self.name}"

    @property
    def is_silence(self) -> bool:
        return self.kind == "silence"


SILENCE = Source(kind="silence")


class MusicTarget(Frozen):
    favorite: str | None = None
    playlist: str | None = None
    uri: str | None = None
    silence: bool = False
    volume: int | None = Field(default=None, ge=0, le=100)

    @model_validator(mode="after")
    def _one_source(self) -> MusicTarget:
        given = [k for k in ("favorite", "playlist", "uri") if getattr(self, k)]
        if self.silence:
            given.append("silence")
        if len(given) > 1:
            raise ValueError(f"give one music source, not {' and '.join(given)}")
        return self

    @property
    def source(self) -> Source | None:
        """The source this target asks for, or None when it only sets the volume."""
        if self.silence:
            return SILENCE
        for kind in ("favorite", "playlist", "uri"):
            value = getattr(self, kind)
            if value:
                return Source(kind=kind, name=value)
        return None


class ClimateTarget(Frozen):
    setpoint_c: float = Field(ge=5, le=35)


class Scene(Frozen):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    title: str | None = None
    description: str | None = None
    fade_s: float = Field(default=60, ge=0, le=4 * 3600)
    audio_fade_s: float | None = Field(default=None, ge=0, le=3600)
    lights: dict[str, LightTarget] = Field(default_factory=dict)
    music: dict[str, MusicTarget] = Field(default_factory=dict)
    climate: dict[str, ClimateTarget] = Field(default_factory=dict)

    @property
    def zones(self) -> set[str]:
        return set(self.lights) | set(self.music) | set(self.climate)
