"""Session control: the one place commands become session events.

Every command (from the web tablet, MQTT, the CLI or a wall switch noticed by read-back) is
checked against the session's state, appended to the store — durable before this returns — and
the timeline is rebuilt from the log.  Other processes (the CLI) append to the same database; the
daemon picks their events up with `refresh()`.

The emergency is the exception: it acts on the room first, in memory (an event the timeline
folds at once, or without a session the room's own emergency layer), and is recorded as soon as
the store lets it (`flush()`, retried by the daemon until it is stored).  A full or read-only
disk, a broken clock or no session never stop it; whoever gave it is told when it could not be
recorded (`Outcome`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from roomctl.clock import Clock, SessionClock
from roomctl.control.emergency import RoomEmergency, emergency_states
from roomctl.control.marks import complete_mark
from roomctl.control.refusals import refuse
from roomctl.control.room_scene import RoomScene
from roomctl.errors import PreferencesError, SessionError, StoreError
from roomctl.model.events import (
    Channel,
    Command,
    EmergencyClear,
    EmergencyOn,
    Event,
    EventKind,
    Mark,
    Override,
    Start,
    parse_payload,
)
from roomctl.model.library import Library
from roomctl.model.prefs import NO_PREFERENCES, Preferences
from roomctl.model.prefs_report import limits_note
from roomctl.model.state import DeviceState, LightState, PlayerState
from roomctl.store.store import SessionRow, Store
from roomctl.timeline.fold import Snapshot, Timeline

__all__ = ["Outcome", "SessionControl"]

log = logging.getLogger(__name__)
Shown = Callable[[], Mapping[str, DeviceState | None]]


@dataclass(frozen=True)
class Outcome:
    """What became of an emergency command: acted on at once; `error` says why it is not
    recorded yet (the daemon keeps trying)."""

    event: Event
    recorded: bool
    error: str | None = None
    in_session: bool = True


class SessionControl:
    def __init__(self, lib: Library, store: Store, clock: Clock) -> None:
        self.lib = lib
        self.store = store
        self.clock = clock
        self.session: SessionRow | None = None
        self.events: list[Event] = []
        self.prefs: Preferences = NO_PREFERENCES
        self.timeline: Timeline | None = None
        # Called after every event this process appends (the daemon wakes its engine).
        self.listeners: list[Callable[[], None]] = []
        # Acted on but not on disk yet, oldest first: (session id or None for the room, event).
        self.pending: list[tuple[str | None, Event]] = []
        self.record_error: str | None = None
        room = lib.room
        self.room_emergency = RoomEmergency(
            emergency_states(room, lib.scenes), room.safety.emergency.clear_fade_s
        )
        # A scene asked for with no session running (MQTT, the tablet); a session or an
        # emergency ends it.
        self.room_scene = RoomScene()
        # The room's own alerts (too hot, too cold, a silent sensor), set by the daemon.
        self.alerts: list[str] = []
        # What the devices show now (the daemon's engine); the room emergency returns to it.
        self.shown: Shown = dict
        # The room with no session (the daemon's safe light at start and stop; else nothing).
        self.at_rest: Callable[[float], Mapping[str, DeviceState]] = lambda t: {}

    @property
    def room_id(self) -> str:
        return self.lib.room.room.id

    # ------------------------------------------------------------ reading

    def refresh(self) -> bool:
        """Pick up sessions and events written by any process.  True when something changed."""
        row = self.store.active_session(self.room_id)
        if row is None:
            if self.session is not None and self.timeline is not None:
                # the session ended (possibly from another process): keep showing its end
                self.session = self.store.get_session(self.session.id)
                new = self.store.events(self.session.id, self._last_seq()) if self.session else []
                self.events += new
                self._rebuild()
                self.session = None
                return bool(new)
            return False
        if self.session is None or row.id != self.session.id:
            self.session = row
            self.events = self.store.events(row.id)
            self.prefs = self._load_prefs(row)
            self._rebuild()
            log.info("session %s: following (arc %s)", row.id, row.arc)
            return True
        new = self.store.events(row.id, self._last_seq())
        if new:
            self.events += new
            self._rebuild()
        return bool(new)

    def now(self) -> float:
        """Session time: the clock, never behind the newest event (a clock that stepped back
        must not put the session before its own past)."""
        last = max((e.at for e in self._all_events()), default=float("-inf"))
        return max(self.clock.now(), last)

    @property
    def clock_note(self) -> str | None:
        """What is wrong with the clock (for the status), or None."""
        return self.clock.note if isinstance(self.clock, SessionClock) else None

    def snapshot(self, t: float | None = None) -> Snapshot:
        now = self.now() if t is None else t
        if self.timeline is None:
            return Snapshot(t=now, devices={}, status=None)
        return self.timeline.at(now)

    def desired(self, t: float) -> Mapping[str, DeviceState]:
        if self.room_emergency.active(t):
            self.room_scene.clear()
            return self.room_emergency.desired(t)
        if self.session is not None:
            self.room_scene.clear()
        elif self.room_scene.name is not None:
            return self.room_scene.desired(t)
        if self.timeline is None:
            return self.at_rest(t)
        snap = self.timeline.at(t)
        if snap.status is not None and snap.status.ended:
            return self.at_rest(t)  # after the end roomctl leaves the room as it is
        return snap.devices

    def urgent(self, t: float) -> bool:
        """True while an emergency is on: changes go to the devices at once, unfaded."""
        if self.room_emergency.on_now:
            return True
        if self.timeline is None:
            return False
        status = self.timeline.at(t).status
        return status is not None and status.emergency and not status.ended

    @property
    def emergency_on(self) -> bool:
        """An emergency is on (the session's or the room's)."""
        if self.room_emergency.on_now:
            return True
        st = self.snapshot().status
        return st is not None and st.emergency and not st.ended

    # ----------------------------------------------------------- commands

    def start(
        self,
        arc: str,
        *,
        by: str,
        client_id: str | None = None,
        prefs_version: int | None = None,
        t0: float | None = None,
        room: Mapping[str, Mapping[str, Any]] | None = None,
        without_preferences: bool = False,
    ) -> SessionRow:
        """Start a session of `arc`, for `client_id` with their preferences (the given version,
        or the latest).  Stored preferences that do not validate refuse the start
        (PreferencesError naming client and field) unless `without_preferences`, which runs
        the session without them and records that in the start event."""
        self.refresh()
        if self.session is not None:
            raise SessionError(
                f"a session is already running in {self.room_id} ({self.session.id}); end it first"
            )
        if self.room_emergency.on_now:
            raise SessionError("an emergency is on in the room; clear it first")
        self.lib.arc(arc)
        if without_preferences:
            prefs_version = None
        elif client_id is not None:
            prefs_version = self._check_prefs(client_id, prefs_version)
        data: dict[str, Any] = {"arc": arc, "without_preferences": without_preferences}
        if t0 is not None:
            data["t0"] = t0
        if room:
            data["room"] = {k: dict(v) for k, v in room.items()}
        payload = parse_payload(EventKind.START, data)  # SessionError naming a bad field
        session_id = self.store.create_session(
            self.room_id, arc, client_id=client_id, prefs_version=prefs_version, by=by
        )
        self.store.append(session_id, payload, by=by)  # stamped under the store's write lock
        if client_id is not None and prefs_version is not None:  # the limits' overrides, once
            found = self.store.preferences(client_id, prefs_version)
            note = limits_note(found[1], self.lib.room.safety, self.lib.arc(arc)) if found else None
            if note is not None:
                self.store.append(session_id, note, by="system")
        self.refresh()
        self._notify()
        assert self.session is not None
        return self.session

    def _check_prefs(self, client_id: str, version: int | None) -> int | None:
        """The preferences version a new session uses; refuses stored ones that are invalid."""
        try:
            found = self.store.preferences(client_id, version)
        except PreferencesError as exc:
            raise PreferencesError(
                exc.client_id,
                exc.field,
                f"{exc}; fix them, or start without preferences (--without-preferences)",
            ) from None
        if found is None and version is not None:
            raise SessionError(f"client {client_id} has no preferences v{version}")
        return found[0] if found else None

    def command(
        self,
        command: Command | EventKind,
        data: Mapping[str, Any] | None = None,
        *,
        by: str,
    ) -> Event:
        """Check a command against the session, store it (durably) and apply it.

        `command` is a typed payload (``Extend(minutes=10)``), or a kind with its `data` as
        plain values, validated through the same model (SessionError naming the field).
        The emergency (on, clear) acts even when it cannot be stored: see `emergency()`."""
        if command in (EventKind.EMERGENCY_ON, EventKind.EMERGENCY_CLEAR):
            return self.emergency(command is EventKind.EMERGENCY_ON, by=by).event
        if isinstance(command, EmergencyOn | EmergencyClear):
            return self.emergency(isinstance(command, EmergencyOn), by=by).event
        self.refresh()
        if self.session is None:
            raise SessionError("no session is running; start one first")
        if command is EventKind.START or isinstance(command, Start):
            raise SessionError("use start() to begin a session")
        if isinstance(command, str):
            payload = parse_payload(command, data)
            assert not isinstance(payload, Start)
        else:
            payload = command
        refuse(payload, self.snapshot().status, self.lib)
        if isinstance(payload, Mark):  # an arc marker's mark runs its cue (MDMA's supplemental)
            arc = self.lib.arc(self.session.arc)
            payload = complete_mark(payload, arc, self.lib.scenes, self.events)
        event = self.store.append(self.session.id, payload, by=by)  # stamped under its lock
        self.refresh()
        self._notify()
        return event

    # ---------------------------------------------------------- emergency

    def emergency(self, on: bool, *, by: str) -> Outcome:
        """Turn the emergency on (or clear it): act on the room first, then record.

        Works with no session (the room's emergency layer), a full or read-only disk and a
        clock behind the session; raises SessionError only for a clear with nothing to clear."""
        try:
            self.refresh()
        except StoreError as exc:  # cannot read: act on what is known
            log.warning("emergency: the session database cannot be read: %s", exc)
        kind = EventKind.EMERGENCY_ON if on else EventKind.EMERGENCY_CLEAR
        now = self.now()
        room_layer = self.session is None or self.room_emergency.on_now
        if room_layer:
            if on:
                self.room_emergency.on(now, self.shown())
            elif self.room_emergency.on_now:
                self.room_emergency.clear(now)
            else:
                raise SessionError("there is no emergency to clear")
            target: str | None = None
            active = not on
        else:
            assert self.session is not None
            st = self.snapshot(now).status
            active = st is not None and st.emergency and not st.ended
            if not on and not active:
                raise SessionError("there is no emergency to clear")
            target = self.session.id
        event = Event.of(now, kind, {}, by=by)
        if room_layer or on != active:
            self.pending.append((target, event))
            self._rebuild()
        log.warning("emergency %s by %s", "ON" if on else "cleared", by)
        self._notify()  # the engine acts now; recording comes second
        error = self.flush()
        return Outcome(event, error is None, error, in_session=not room_layer)

    def flush(self) -> str | None:
        """Store what was acted on but not recorded yet, oldest first.  None when everything is
        stored; else why not (the caller tries again later)."""
        while self.pending:
            session_id, event = self.pending[0]
            try:
                if session_id is None:  # the room's emergency: the audit log records it
                    self.store.audit(event.by, event.kind.value, self.room_id, {"at": event.at})
                else:
                    self.store.append(session_id, event.payload, by=event.by, at=event.at)
            except StoreError as exc:
                if self.record_error != str(exc):
                    log.error("%s by %s not recorded yet: %s", event.kind.value, event.by, exc)
                self.record_error = str(exc)
                return self.record_error
            except SessionError as exc:  # the session ended meanwhile: nothing to add it to
                log.warning("%s by %s not recorded: %s", event.kind.value, event.by, exc)
            self.pending.pop(0)
            if self.record_error is not None:
                log.warning("%s by %s recorded", event.kind.value, event.by)
        self.record_error = None
        try:
            self.refresh()
        except StoreError as exc:
            log.warning("reading the session database failed: %s", exc)
        self._rebuild()
        return None

    def _notify(self) -> None:
        for listener in self.listeners:
            try:
                listener()
            except Exception:  # a listener that raises is logged and skipped
                log.exception("session listener failed")

    def adopt_manual_change(self, device_id: str, before: DeviceState, shown: DeviceState) -> None:
        """A change made at the device (wall switch, Sonos app) becomes a manual override."""
        del before
        if self.session is None:
            return
        changes: list[tuple[Channel, bool | float]] = []
        if isinstance(shown, LightState):
            changes.append(("on", shown.on))
            if shown.on and shown.brightness_pct is not None:
                changes.append(("brightness_pct", shown.brightness_pct))
        elif isinstance(shown, PlayerState) and shown.volume is not None:
            changes.append(("volume", shown.volume))
        for channel, value in changes:
            try:
                self.command(Override(device=device_id, channel=channel, value=value), by="device")
            except SessionError as exc:
                log.warning("%s: manual change not recorded: %s", device_id, exc)

    # ------------------------------------------------------------ helpers

    def _last_seq(self) -> int:
        return self.events[-1].seq if self.events else 0

    def _all_events(self) -> list[Event]:
        """The stored events and those of this session acted on but not stored yet."""
        sid = self.session.id if self.session is not None else None
        return self.events + [e for s, e in self.pending if s is not None and s == sid]

    def _load_prefs(self, row: SessionRow) -> Preferences:
        start = self.events[0].payload if self.events else None
        if row.client_id is None or row.prefs_version is None:
            return NO_PREFERENCES
        if isinstance(start, Start) and start.without_preferences:
            return NO_PREFERENCES
        try:
            found = self.store.preferences(row.client_id, row.prefs_version)
        except PreferencesError as exc:
            # checked when the session started; only a record changed behind roomctl's back
            # gets here, and a running session goes on (the safety limits still hold)
            log.error("session %s: %s; going on without them", row.id, exc)
            return NO_PREFERENCES
        return NO_PREFERENCES if found is None else found[1]

    def _rebuild(self) -> None:
        if self.session is None:
            return
        arc = self.lib.arcs.get(self.session.arc)
        if arc is None:
            log.error(
                "session %s: arc %r is no longer in the library", self.session.id, self.session.arc
            )
            self.timeline = None
            return
        events = self._all_events()
        old = self.timeline
        if old is not None and old.arc is arc and old.prefs is self.prefs:
            self.timeline = old.extended(events)  # keeps the folds of the events before
        else:
            self.timeline = Timeline(self.lib.room, arc, self.lib.scenes, events, self.prefs)

