"""The timeline's working state: layers, fades, and the fold's mutable state, and the session
status it reports.  Used only by roomctl.timeline.fold (and re-exported there)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from typing import Any

from roomctl.model.arc import Arc
from roomctl.model.color import ease
from roomctl.model.state import DeviceState
from roomctl.timeline.channels import ChannelKey, Color, Sound, Value
from roomctl.timeline.music import MusicPauseStatus

__all__ = [
    "Fold",
    "Layer",
    "MarkerStatus",
    "OutSeg",
    "Override",
    "Seg",
    "SessionStatus",
    "Snapshot",
    "plain",
    "status_of",
]


class Layer(enum.IntEnum):
    KEEP = -1  # no layer sets the channel any more: it keeps what it showed
    ARC = 0
    OVERRIDE = 1
    CUE = 2
    EMERGENCY = 3
    COOLING = 4  # a heat alert's cooling: above the cue, below the emergency (see _owner)


@dataclass(slots=True)
class Seg:
    """A fade from `frm` to `to` starting at `start` (arc or wall seconds)."""

    start: float
    frm: Value | None
    to: Value
    fade: float
    curve: str

    def progress(self, now: float) -> float:
        return 1.0 if self.fade <= 0 else ease((now - self.start) / self.fade, self.curve)


@dataclass(slots=True)
class OutSeg:
    start: float  # wall time
    frm: Value | None
    owner: Layer
    fade: float
    curve: str
    start_arc: float = 0.0  # arc time at the start, for fades that stop while the arc is held
    arc_time: bool = False  # caused by the arc (a phase change): progresses in arc time
    relaxed: bool = False  # coming down from the emergency: comfort caps apply at the end

    def progress(self, f: Fold) -> float:
        if self.fade <= 0:
            return 1.0
        elapsed = f.arc - self.start_arc if self.arc_time else f.wall - self.start
        return ease(elapsed / self.fade, self.curve)


@dataclass(frozen=True, slots=True)
class Override:
    value: Value
    until: str
    by: str


@dataclass(frozen=True, slots=True)
class MarkerStatus:
    name: str
    at_s: float
    until_s: float | None
    state: str  # "upcoming" | "now" | "past"
    note: str | None


@dataclass(frozen=True, slots=True)
class SessionStatus:
    arc: str
    started_at: float
    t0: float  # wall time of the dose (planned until a dose event says otherwise)
    dosed: bool
    arc_clock_s: float
    phase: str
    phase_index: int
    phase_started_at: float
    phase_ends_at: float | None  # wall estimate; None while held or open-ended
    next_phase: str | None
    held: bool
    cue: str | None
    emergency: bool
    overrides: tuple[tuple[str, str, Any], ...]
    markers: tuple[MarkerStatus, ...]
    ended: bool
    cue_ends_at: float | None = None  # wall time a timed cue (a marker's) ends by itself
    cooling: bool = False  # a heat alert is on: the cooling devices act
    music_paused: MusicPauseStatus | None = None  # until a facilitator resumes the music


@dataclass(frozen=True, slots=True)
class Snapshot:
    t: float
    devices: dict[str, DeviceState]
    status: SessionStatus | None  # None: no session started


@dataclass
class Fold:
    """Mutable state while folding the event log; lives only inside Timeline.at()."""

    wall: float
    arc: float
    started_at: float
    t0: float
    idx: int = 0
    phase_start: float = 0.0
    phase_started_at: float = 0.0
    durations: list[float | None] = field(default_factory=list)
    holding: bool = False
    emergency: bool = False
    cooling: bool = False
    cooled_from: dict[ChannelKey, Value | None] = field(default_factory=dict)
    dosed: bool = False
    ended: bool = False
    cue: str | None = None
    cue_until: float | None = None  # wall time a timed cue ends by itself
    cue_targets: dict[ChannelKey, Value] = field(default_factory=dict)
    arc_segs: dict[ChannelKey, Seg] = field(default_factory=dict)
    overrides: dict[ChannelKey, Override] = field(default_factory=dict)
    out: dict[ChannelKey, OutSeg] = field(default_factory=dict)
    initial: dict[ChannelKey, Value] = field(default_factory=dict)
    frozen: dict[ChannelKey, Value] | None = None

    def copy(self) -> Fold:
        """A copy that can be advanced without changing this one (segments are replaced, never
        changed, once events are folded in)."""
        return replace(
            self,
            durations=list(self.durations),
            cue_targets=dict(self.cue_targets),
            arc_segs=dict(self.arc_segs),
            overrides=dict(self.overrides),
            out=dict(self.out),
            cooled_from=dict(self.cooled_from),
        )

    def branch(self) -> Fold:
        """A copy that more events can be folded into without changing this one (folding an
        event may change the segments in place, e.g. the dose re-anchors them)."""
        f = self.copy()
        f.arc_segs = {k: replace(v) for k, v in self.arc_segs.items()}
        f.out = {k: replace(v) for k, v in self.out.items()}
        f.overrides = {k: replace(v) for k, v in self.overrides.items()}
        return f

    @property
    def paused(self) -> bool:
        return self.holding or self.emergency or self.ended


def status_of(arc: Arc, f: Fold, music: MusicPauseStatus | None = None) -> SessionStatus:
    """Where the session is, for tablets, the CLI and the session record."""
    phases = arc.phases
    phase = phases[f.idx]
    dur = f.durations[f.idx]
    ends: float | None = None
    if dur is not None and not f.paused:
        ends = f.wall + (f.phase_start + dur - f.arc)
    dose_clock = f.wall - f.t0
    markers = tuple(
        MarkerStatus(
            m.name,
            m.at,
            m.until,
            "upcoming"
            if dose_clock < m.at
            else "now"
            if dose_clock <= (m.until if m.until is not None else m.at + 600)
            else "past",
            m.note,
        )
        for m in arc.markers
    )
    return SessionStatus(
        arc=arc.name,
        started_at=f.started_at,
        t0=f.t0,
        dosed=f.dosed,
        arc_clock_s=f.arc,
        phase=phase.name,
        phase_index=f.idx,
        phase_started_at=f.phase_started_at,
        phase_ends_at=ends,
        next_phase=phases[f.idx + 1].name if f.idx + 1 < len(phases) else None,
        held=f.holding or f.emergency,
        cue=f.cue,
        emergency=f.emergency,
        overrides=tuple((k[0], k[1], plain(o.value)) for k, o in sorted(f.overrides.items())),
        markers=markers,
        ended=f.ended,
        cue_ends_at=f.cue_until if f.cue is not None else None,
        cooling=f.cooling,
        music_paused=None if f.ended else music,
    )


def plain(value: Value) -> Any:
    """A channel value as plain JSON-able data."""
    if isinstance(value, Color):
        if value.kelvin is not None:
            return {"color_temp_k": round(value.kelvin)}
        return {"hue": round(value.hue, 1), "saturation": round(value.saturation, 1)}
    if isinstance(value, Sound):
        return str(value.source)
    return value
