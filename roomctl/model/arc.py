"""Session arcs: ordered phases timed from T0 (the dose), with named markers.

Times are written as "H:MM" (or "-H:MM" before the dose) or as whole minutes.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from roomctl.model.config import TemperatureBand

__all__ = ["DEFAULT_CUE_S", "Arc", "Curve", "Marker", "Phase", "format_hmm", "parse_hmm"]

Curve = Literal["linear", "ease", "ease-in", "ease-out"]

DEFAULT_CUE_S = 600.0  # a marker's cue runs this long unless it says

_HMM = re.compile(r"^(-)?(\d{1,2}):([0-5]\d)$")


def parse_hmm(value: object) -> float:
    """ "1:30" → 5400.0 seconds; "-0:30" → -1800.0; 90 (minutes) → 5400.0."""
    if isinstance(value, bool):
        raise ValueError(f"expected a time like '1:30' or minutes, got {value!r}")
    if isinstance(value, int | float):
        return float(value) * 60.0
    if isinstance(value, str):
        m = _HMM.match(value.strip())
        if m:
            sign = -1.0 if m.group(1) else 1.0
            return sign * (int(m.group(2)) * 3600.0 + int(m.group(3)) * 60.0)
    raise ValueError(f"expected a time like '1:30' (hours:minutes) or minutes, got {value!r}")


def format_hmm(seconds: float) -> str:
    """5400 → "1:30"; -1800 → "-0:30" (rounded to the minute)."""
    minutes = round(seconds / 60.0)
    sign = "-" if minutes < 0 else ""
    minutes = abs(minutes)
    return f"{sign}{minutes // 60}:{minutes % 60:02d}"


Seconds = Annotated[float, BeforeValidator(parse_hmm)]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Phase(Frozen):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    scene: str
    # None: open-ended, the phase lasts until a facilitator advances.
    duration: Seconds | None = None
    fade_s: float | None = Field(default=None, ge=0, le=4 * 3600)
    curve: Curve = "ease"
    note: str | None = None

    @model_validator(mode="after")
    def _positive(self) -> Phase:
        if self.duration is not None and self.duration <= 0:
            raise ValueError("duration must be longer than 0:00")
        return self


class Marker(Frozen):
    """A named moment or window of the arc (from the dose).  With `cue`, a facilitator's
    `mark NAME` runs that cue scene over the arc for `cue_for` (default 10 minutes), which then
    ends by itself: MDMA's supplemental dose is a facilitator's action, not a phase."""

    name: str = Field(min_length=1)
    at: Seconds
    until: Seconds | None = None
    note: str | None = None
    cue: str | None = None
    cue_for: Seconds | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Marker:
        if self.until is not None and self.until < self.at:
            raise ValueError("until is before at")
        if self.cue_for is not None and self.cue is None:
            raise ValueError("cue_for needs a cue")
        if self.cue_for is not None and not 0 < self.cue_for <= 3600:
            raise ValueError("cue_for must be longer than 0:00 and at most 1:00")
        return self

    @property
    def cue_s(self) -> float:
        """How long the marker's cue runs."""
        return DEFAULT_CUE_S if self.cue_for is None else self.cue_for


class Arc(Frozen):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    title: str | None = None
    substance: str | None = None
    description: str | None = None
    # Arc time of the first phase's start: "-0:30" means settling in starts 30 minutes before T0.
    starts_at: Seconds = 0.0
    phases: tuple[Phase, ...] = Field(min_length=1)
    markers: tuple[Marker, ...] = ()
    # A narrower temperature band for this substance (MDMA runs cooler); never wider than safety.
    temperature_c: TemperatureBand | None = None
    # Above this room temperature a session of this arc raises a heat alert and the cooling
    # devices act (MDMA: 24 °C).  None: only the room's safety band maximum does.
    heat_alert_c: float | None = Field(default=None, ge=15, le=35)

    @model_validator(mode="after")
    def _phases(self) -> Arc:
        names = [p.name for p in self.phases]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"phase names must be unique: {', '.join(dupes)} used twice")
        for p in self.phases[:-1]:
            if p.duration is None:
                raise ValueError(
                    f"phase {p.name!r} has no duration; only the last phase may be open-ended"
                )
        return self

    def marker(self, name: str) -> Marker | None:
        """The marker of this name (case and spaces or hyphens do not matter), if any."""
        key = _marker_key(name)
        return next((m for m in self.markers if _marker_key(m.name) == key), None)

    def phase_index(self, name: str) -> int:
        for i, p in enumerate(self.phases):
            if p.name == name:
                return i
        raise KeyError(name)

    def nominal_starts(self) -> list[float]:
        """Arc time at which each phase starts when nothing is held, extended or advanced."""
        starts: list[float] = []
        t = self.starts_at
        for p in self.phases:
            starts.append(t)
            t += p.duration or 0.0
        return starts

    @property
    def nominal_end(self) -> float | None:
        last = self.phases[-1]
        if last.duration is None:
            return None
        return self.nominal_starts()[-1] + last.duration


def _marker_key(name: str) -> str:
    return " ".join(name.replace("-", " ").replace("_", " ").lower().split())
