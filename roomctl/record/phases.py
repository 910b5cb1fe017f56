"""Phases as they really ran, read from the timeline's fold over the stored events.

The timeline knows where the session was at any moment (`Timeline.at(t).status`).  Between two
events nothing but the arc clock moves, so a phase that began between them began on time, at
the end the status right after the earlier event announced (`phase_ends_at`); a phase that
began at an event began because of it (advance, step back, jump, dose).  Only the events that
move the arc are folded (cues, overrides, notes and tracks never do), which keeps a long
session's record quick to build.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import groupby

from roomctl.model.arc import Arc, format_hmm
from roomctl.model.config import RoomConfig
from roomctl.model.events import (
    Advance,
    Dose,
    EmergencyClear,
    EmergencyOn,
    Event,
    EventKind,
    Extend,
    Hold,
    Jump,
    Resume,
    StepBack,
)
from roomctl.model.scene import Scene
from roomctl.record.model import Began, PhaseRun
from roomctl.timeline.fold import SessionStatus, Timeline

__all__ = ["ArcRun", "run_phases"]

# Events that move the arc clock or the phase; nothing else changes where the arc is.
ARC_KINDS = frozenset(
    {
        EventKind.START,
        EventKind.DOSE,
        EventKind.HOLD,
        EventKind.RESUME,
        EventKind.EXTEND,
        EventKind.ADVANCE,
        EventKind.STEP_BACK,
        EventKind.JUMP,
        EventKind.EMERGENCY_ON,
        EventKind.EMERGENCY_CLEAR,
        EventKind.END,
    }
)
_PAST = 1e-3  # a moment after a boundary (wall times near 1.8e9 s resolve to ~0.2 µs)
_CAUSES: dict[EventKind, Began] = {
    EventKind.ADVANCE: "advanced",
    EventKind.STEP_BACK: "stepped_back",
    EventKind.JUMP: "jumped",
    EventKind.DOSE: "dose",
}


@dataclass
class _Open:
    index: int
    started_at: float
    began: Began
    by: str
    extended_min: float = 0.0
    extended_by: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ArcRun:
    """The phases as they ran, and the session's dose time at the end of the record."""

    phases: tuple[PhaseRun, ...]
    t0: float
    dosed: bool

    def phase_at(self, t: float) -> str:
        """The name of the phase running at wall time `t` (the first one before it began)."""
        name = self.phases[0].name if self.phases else ""
        for run in self.phases:
            if run.started_at <= t:
                name = run.name
        return name


def run_phases(
    room: RoomConfig,
    arc: Arc,
    scenes: Mapping[str, Scene],
    events: Sequence[Event],
    until: float,
) -> ArcRun:
    """The phases of a session with `events` (its whole log, any order), up to wall time
    `until` (the end event's time for an ended session)."""
    moving = sorted((e for e in events if e.kind in ARC_KINDS), key=lambda e: (e.at, e.seq))
    start = next((e for e in moving if e.kind is EventKind.START), None)
    if start is None:
        return ArcRun((), until, dosed=False)
    timeline = Timeline(room, arc, scenes, moving)
    builder = _Builder(arc, timeline, _paused_spans(moving, until))
    first = _status(timeline, start.at)
    builder.open(first.phase_index, start.at, "start", start.by)
    t = start.at
    later = (e for e in moving if e.at >= start.at and e is not start)
    for at, group in groupby(later, key=lambda e: e.at):
        if at > until:
            break
        builder.walk(t, at)
        builder.apply(list(group), _status(timeline, at))
        t = at
    builder.walk(t, until)
    last = _status(timeline, until)
    return ArcRun(builder.close(None if not last.ended else until, until), last.t0, last.dosed)


def _status(timeline: Timeline, t: float) -> SessionStatus:
    status = timeline.at(t).status
    assert status is not None, "the session's start is folded before any other moment"
    return status


def _paused_spans(events: Sequence[Event], until: float) -> list[tuple[float, float]]:
    """When the arc clock stood still: holds and emergencies, merged."""
    spans: list[tuple[float, float]] = []
    held_since: float | None = None
    emergency_since: float | None = None
    for e in events:
        p = e.payload
        if isinstance(p, Hold) and held_since is None:
            held_since = e.at
        elif isinstance(p, Resume) and held_since is not None:
            spans.append((held_since, e.at))
            held_since = None
        elif isinstance(p, EmergencyOn) and emergency_since is None:
            emergency_since = e.at
        elif isinstance(p, EmergencyClear) and emergency_since is not None:
            spans.append((emergency_since, e.at))
            emergency_since = None
        elif e.kind is EventKind.END:
            break
    spans += [(s, until) for s in (held_since, emergency_since) if s is not None]
    merged: list[tuple[float, float]] = []
    for a, b in sorted(spans):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


class _Builder:
    def __init__(self, arc: Arc, timeline: Timeline, paused: list[tuple[float, float]]) -> None:
        self.arc = arc
        self.timeline = timeline
        self.paused = paused
        self.runs: list[PhaseRun] = []
        self.current: _Open | None = None

    def open(self, index: int, at: float, began: Began, by: str) -> None:
        self.current = _Open(index, at, began, by)

    def walk(self, a: float, b: float) -> None:
        """Phases the arc clock reached on time after `a` and before `b`."""
        while self.current is not None:
            ends = _status(self.timeline, a).phase_ends_at
            if ends is None or ends >= b:
                return
            after = _status(self.timeline, ends + _PAST)
            if after.phase_index == self.current.index:
                return  # the boundary is not where the status said: nothing to split
            self._finish(after.phase_started_at)
            self.open(after.phase_index, after.phase_started_at, "on_time", "system")
            a = ends + _PAST

    def apply(self, group: list[Event], after: SessionStatus) -> None:
        """Events at one moment: extensions count for the phase they extend; a new phase (or
        the same one begun again) is put down to the last event that moves phases."""
        assert self.current is not None
        for e in group:
            if isinstance(e.payload, Extend):
                self.current.extended_min += e.payload.minutes
                self.current.extended_by.append(e.by)
        movers = [e for e in group if isinstance(e.payload, Advance | StepBack | Jump | Dose)]
        restarted = after.phase_started_at != self.current.started_at
        if after.phase_index == self.current.index and not (movers and restarted):
            return
        cause: Began = _CAUSES[movers[-1].kind] if movers else "on_time"
        by = movers[-1].by if movers else "system"
        at = group[0].at
        self._finish(at)
        self.open(after.phase_index, at, cause, by)

    def close(self, ended_at: float | None, until: float) -> tuple[PhaseRun, ...]:
        self._finish(ended_at, until=until)
        return tuple(self.runs)

    def _finish(self, ended_at: float | None, *, until: float | None = None) -> None:
        cur = self.current
        if cur is None:
            return
        phase = self.arc.phases[cur.index]
        upto = ended_at if ended_at is not None else until
        assert upto is not None
        held = sum(max(0.0, min(b, upto) - max(a, cur.started_at)) for a, b in self.paused)
        previous = self.runs[-1] if self.runs else None
        self.runs.append(
            PhaseRun(
                name=phase.name,
                index=cur.index,
                scene=phase.scene,
                started_at=cur.started_at,
                ended_at=ended_at,
                from_t0_s=0.0,  # set once the final T0 is known (build_record)
                began=cur.began,
                by=cur.by,
                how=_how(cur, previous),
                planned_s=phase.duration,
                ran_s=None if ended_at is None else ended_at - cur.started_at,
                extended_min=cur.extended_min,
                extended_by=tuple(cur.extended_by),
                held_s=held,
            )
        )
        self.current = None


def _how(cur: _Open, previous: PhaseRun | None) -> str:
    """How a phase began, in plain words."""
    words = {
        "start": "the session started",
        "on_time": "on time",
        "advanced": f"advanced by {cur.by}",
        "stepped_back": f"stepped back by {cur.by}",
        "jumped": f"jumped to by {cur.by}",
        "dose": f"the dose recorded by {cur.by}",
    }[cur.began]
    if cur.began == "on_time" and previous is not None:
        after = []
        if previous.extended_min:
            after.append(f"{previous.name} extended by {previous.extended_min:g} min")
        if previous.held_s >= 60:
            after.append(f"held {format_hmm(previous.held_s)}")
        if after:
            words += ", after " + " and ".join(after)
    return words
