"""Build the session record from the store: the session row, its events and the arc.

`build_record(store, lib, session_id)` reads only; it never changes the store.  The record says
what the events say, folded by the same timeline that ran the room (`phases.run_phases`).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence

from roomctl.errors import SessionError
from roomctl.model.events import (
    CueOff,
    CueOn,
    EmergencyClear,
    EmergencyOn,
    End,
    Event,
    Hold,
    Mark,
    Note,
    Override,
    OverrideClear,
    Resume,
    Start,
    Track,
)
from roomctl.model.library import Library
from roomctl.record.describe import describe
from roomctl.record.model import (
    CueRun,
    EmergencyRun,
    HoldRun,
    LogEntry,
    MarkItem,
    NoteItem,
    OverrideItem,
    SessionRecord,
    TrackItem,
)
from roomctl.record.phases import ArcRun, run_phases
from roomctl.store.store import Store

__all__ = ["build_record"]


def build_record(
    store: Store,
    lib: Library,
    session_id: str,
    *,
    client_copy: bool = False,
    now: float | None = None,
) -> SessionRecord:
    """The record of session `session_id`.

    `client_copy`: the client's integration copy, which leaves out every note not marked
    shareable (and its line in the log).  `now`: for a session still running, the time the
    record runs to (default: its newest event).  Raises SessionError for an unknown session or
    one whose arc is no longer in the library."""
    row = store.get_session(session_id)
    if row is None:
        raise SessionError(f"no session {session_id!r}")
    arc = lib.arcs.get(row.arc)
    if arc is None:
        raise SessionError(
            f"session {session_id}: its arc {row.arc!r} is no longer in the library; "
            "put the arc file back to see its record"
        )
    events = sorted(store.events(session_id), key=lambda e: (e.at, e.seq))
    if not events or not isinstance(events[0].payload, Start):
        raise SessionError(f"session {session_id} has no start event")
    start = events[0]
    assert isinstance(start.payload, Start)
    last = events[-1].at
    until = row.ended_at if row.ended_at is not None else max(last, now if now else last)
    run = run_phases(lib.room, arc, lib.scenes, events, until)
    runs = tuple(r.model_copy(update={"from_t0_s": r.started_at - run.t0}) for r in run.phases)
    run = ArcRun(runs, run.t0, run.dosed)
    shown = [e for e in events if not (client_copy and _private(e))]
    items = _Items(run)
    for e in shown:
        items.add(e)
    people: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for e in shown:
        people[e.by][e.kind.value] += 1
    return SessionRecord(
        client_copy=client_copy,
        session_id=row.id,
        room_id=row.room_id,
        room_name=lib.room.room.name,
        arc=arc.name,
        arc_title=arc.title or arc.name,
        client_id=row.client_id,
        prefs_version=row.prefs_version,
        without_preferences=start.payload.without_preferences,
        started_at=start.at,
        started_by=start.by,
        ended_at=row.ended_at,
        until=until,
        t0=run.t0,
        planned_t0=start.at - arc.starts_at if start.payload.t0 is None else start.payload.t0,
        dosed=run.dosed,
        phases=run.phases,
        cues=tuple(items.cues),
        emergencies=tuple(items.emergencies),
        holds=tuple(items.holds),
        overrides=tuple(items.overrides),
        notes=tuple(items.notes),
        marks=tuple(items.marks),
        tracks=tuple(items.tracks),
        people={by: dict(sorted(kinds.items())) for by, kinds in sorted(people.items())},
        log=tuple(_log(shown, run)),
    )


def _private(e: Event) -> bool:
    """Left out of the client's copy: a note not marked shareable."""
    return isinstance(e.payload, Note) and not e.payload.shareable


class _Items:
    """The record's lists, from the events in order."""

    def __init__(self, run: ArcRun) -> None:
        self.run = run
        self.cues: list[CueRun] = []
        self.emergencies: list[EmergencyRun] = []
        self.holds: list[HoldRun] = []
        self.overrides: list[OverrideItem] = []
        self.notes: list[NoteItem] = []
        self.marks: list[MarkItem] = []
        self.tracks: list[TrackItem] = []

    def add(self, e: Event) -> None:  # noqa: PLR0912 - one branch per kind
        p, at, by = e.payload, e.at, e.by
        when = {"from_t0_s": at - self.run.t0, "phase": self.run.phase_at(at)}
        open_cue = self.cues[-1] if self.cues and self.cues[-1].ended_at is None else None
        if isinstance(p, CueOn):
            if open_cue is not None:  # a cue replaced by another
                self.cues[-1] = open_cue.model_copy(update={"ended_at": at, "ended_by": by})
            self.cues.append(CueRun(cue=p.cue, started_at=at, ended_at=None, by=by, **when))
        elif isinstance(p, CueOff) and open_cue is not None:
            self.cues[-1] = open_cue.model_copy(update={"ended_at": at, "ended_by": by})
        elif isinstance(p, EmergencyOn):
            if not self.emergencies or self.emergencies[-1].cleared_at is not None:
                self.emergencies.append(EmergencyRun(started_at=at, cleared_at=None, by=by, **when))
        elif isinstance(p, EmergencyClear):
            if self.emergencies and self.emergencies[-1].cleared_at is None:
                update = {"cleared_at": at, "cleared_by": by}
                self.emergencies[-1] = self.emergencies[-1].model_copy(update=update)
        elif isinstance(p, Hold):
            if not self.holds or self.holds[-1].resumed_at is not None:
                self.holds.append(HoldRun(started_at=at, resumed_at=None, by=by, **when))
        elif isinstance(p, Resume):
            if self.holds and self.holds[-1].resumed_at is None:
                update = {"resumed_at": at, "resumed_by": by}
                self.holds[-1] = self.holds[-1].model_copy(update=update)
        elif isinstance(p, Override):
            self.overrides.append(
                OverrideItem(
                    at=at,
                    by=by,
                    device=p.device,
                    channel=p.channel,
                    value=p.value,
                    until=p.until,
                    **when,
                )
            )
        elif isinstance(p, OverrideClear):
            self.overrides.append(OverrideItem(at=at, by=by, device=p.device, channel=None, **when))
        elif isinstance(p, Note):
            self.notes.append(NoteItem(at=at, by=by, text=p.text, shareable=p.shareable, **when))
        elif isinstance(p, Mark):
            self.marks.append(MarkItem(at=at, by=by, name=p.name, **when))
        elif isinstance(p, Track):
            self.tracks.append(
                TrackItem(
                    at=at,
                    device=p.device,
                    title=p.title,
                    artist=p.artist,
                    album=p.album,
                    source=p.source,
                    uri=p.uri,
                    **when,
                )
            )


def _log(events: Sequence[Event], run: ArcRun) -> list[LogEntry]:
    out: list[LogEntry] = []
    for e in events:
        phase = run.phase_at(e.at)
        out.append(
            LogEntry(
                seq=e.seq,
                at=e.at,
                from_t0_s=e.at - run.t0,
                kind=e.kind.value,
                by=e.by,
                phase=phase,
                what=describe(e.payload, phase),
            )
        )
        if isinstance(e.payload, End):
            break
    return out
