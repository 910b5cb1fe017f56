"""The session record as data: what really happened in one session, in typed, frozen models.

Times are wall times (seconds since the epoch); `from_t0_s` is the same moment as time from the
dose (T0) as it was at the end of the record (negative before the dose).  Everything here is
health data: show it only behind a login; the client's own copy (`client_copy`) leaves out the
notes not marked shareable.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

__all__ = [
    "RECORD_FORMAT",
    "Began",
    "CueRun",
    "EmergencyRun",
    "HoldRun",
    "LogEntry",
    "MarkItem",
    "NoteItem",
    "OverrideItem",
    "PhaseRun",
    "SessionRecord",
    "TrackItem",
]

RECORD_FORMAT: Literal["roomctl-record/1"] = "roomctl-record/1"

# How a phase began: the session's start, the arc clock reaching it, or a facilitator's command.
Began = Literal["start", "on_time", "advanced", "stepped_back", "jumped", "dose"]


class _Item(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PhaseRun(_Item):
    """One phase as it really ran.  A phase that ran twice (after a step back) has two runs."""

    name: str
    index: int  # its place in the arc, from 0
    scene: str
    started_at: float
    ended_at: float | None  # None: still running (or the session never ended)
    from_t0_s: float
    began: Began
    by: str  # who began it ("system" for the start or the arc clock)
    how: str  # in plain words: "on time", "advanced by alice", "on time, after ... extended"
    planned_s: float | None  # the arc's nominal duration (None: open-ended)
    ran_s: float | None  # how long it ran (None while running)
    extended_min: float = 0.0  # minutes added while it ran
    extended_by: tuple[str, ...] = ()
    held_s: float = 0.0  # time the arc stood still in it (a hold or an emergency)


class CueRun(_Item):
    cue: str  # the cue scene (talk, break, check-in, ...)
    started_at: float
    ended_at: float | None  # None: on until the session ended (or still on)
    from_t0_s: float
    phase: str  # the phase it interrupted
    by: str
    ended_by: str | None = None


class EmergencyRun(_Item):
    started_at: float
    cleared_at: float | None
    from_t0_s: float
    phase: str
    by: str
    cleared_by: str | None = None


class HoldRun(_Item):
    started_at: float
    resumed_at: float | None
    from_t0_s: float
    phase: str
    by: str
    resumed_by: str | None = None


class OverrideItem(_Item):
    """A manual change of one channel (`device` as by: made at the device itself), or the
    overrides cleared (`channel` None)."""

    at: float
    from_t0_s: float
    phase: str
    by: str
    device: str | None  # None: every device (a clear)
    channel: str | None  # None: the overrides were cleared
    value: bool | float | None = None
    until: Literal["phase", "session"] | None = None


class NoteItem(_Item):
    at: float
    from_t0_s: float
    phase: str
    by: str
    text: str
    shareable: bool


class MarkItem(_Item):
    at: float
    from_t0_s: float
    phase: str
    by: str
    name: str


class TrackItem(_Item):
    at: float
    from_t0_s: float
    phase: str
    device: str
    title: str
    artist: str
    album: str
    source: str | None  # what the room asked the speaker to play ("favorite:Calm Waters")
    uri: str


class LogEntry(_Item):
    """One stored event in plain words, with who caused it."""

    seq: int
    at: float
    from_t0_s: float
    kind: str
    by: str
    phase: str  # the phase after the event
    what: str


class SessionRecord(_Item):
    """What really happened in one session.  Build it with `build_record()`."""

    format: Literal["roomctl-record/1"] = RECORD_FORMAT
    client_copy: bool  # True: the client's integration copy (only shareable notes)
    session_id: str
    room_id: str
    room_name: str
    arc: str
    arc_title: str
    client_id: str | None  # pseudonymous
    prefs_version: int | None
    without_preferences: bool
    started_at: float
    started_by: str
    ended_at: float | None  # None: still running
    until: float  # the record covers the session up to this time
    t0: float  # the dose (wall time); planned unless `dosed`
    planned_t0: float  # the dose as planned when the session started
    dosed: bool
    phases: tuple[PhaseRun, ...]
    cues: tuple[CueRun, ...]
    emergencies: tuple[EmergencyRun, ...]
    holds: tuple[HoldRun, ...]
    overrides: tuple[OverrideItem, ...]
    notes: tuple[NoteItem, ...]
    marks: tuple[MarkItem, ...]
    tracks: tuple[TrackItem, ...]
    people: dict[str, dict[str, int]]  # who → event kind → how many
    log: tuple[LogEntry, ...]

    @property
    def running(self) -> bool:
        return self.ended_at is None

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data (what `record_json` writes)."""
        return self.model_dump(mode="json")
