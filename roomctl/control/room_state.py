"""The room as every face shows it: the tablet and the JSON API, MQTT state, the CLI status.

`room_state()` reads the session (SessionControl), the engine's device health, the climate
alerts and the store's condition into one typed, JSON-ready model.  It does no I/O and is cheap
(one timeline lookup), so a face may build it on every change it is told of (`StateHub`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from roomctl.control.session import SessionControl
from roomctl.devices.climate import ClimateAlert
from roomctl.engine.health import DeviceHealth
from roomctl.model.config import DeviceConfig
from roomctl.model.state import DeviceState
from roomctl.preview.rows import device_json
from roomctl.timeline.state import SessionStatus

__all__ = [
    "AlertView",
    "DeviceView",
    "MusicPausedView",
    "RoomState",
    "SessionView",
    "StateHub",
    "room_state",
]


class _View(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SessionView(_View):
    id: str
    arc: str
    arc_title: str
    client_id: str | None
    phase: str
    phase_index: int
    phases: list[str]
    next_phase: str | None
    since_t0_s: float  # negative before the dose
    dosed: bool
    phase_started_at: float
    to_next_phase_s: float | None  # None while held, or in an open-ended last phase
    held: bool
    cue: str | None
    cue_ends_at: float | None  # a timed cue (e.g. the supplemental dose's) ends by itself
    cooling: bool  # a heat alert is on: the cooling devices act
    ended: bool
    started_at: float


class DeviceView(_View):
    id: str
    kind: str
    zone: str
    desired: dict[str, Any] | None  # channels as in `preview --json`
    reported: dict[str, Any] | None
    available: bool
    last_error: str | None
    last_ok_at: float | None


class AlertView(_View):
    kind: Literal["too_cold", "too_hot", "sensor_silent", "not_recorded", "read_only", "clock"]
    device_id: str | None
    message: str
    since: float | None


class MusicPausedView(_View):
    """The session's music is paused until a facilitator resumes it."""

    since: float
    reason: Literal["facilitator", "power cut"]
    by: str


class RoomState(_View):
    room_id: str
    room_name: str
    at: float
    session: SessionView | None
    # The scene the room shows: "emergency", a cue, the phase's scene; with no session the
    # scene asked for (MQTT, the tablet), else None.
    scene: str | None
    emergency: bool
    music_paused: MusicPausedView | None = None  # the session's music, until resumed
    temperature_c: float | None  # the room's, from its thermostats' sensors; None: unknown
    alerts: list[AlertView]
    devices: list[DeviceView]


def room_state(
    control: SessionControl,
    health: Mapping[str, DeviceHealth],
    climate: Sequence[ClimateAlert] = (),
    read_only: str | None = None,
    temperature_c: float | None = None,
) -> RoomState:
    now = control.now()
    snap = control.snapshot(now)
    desired = control.desired(now)
    room = control.lib.room
    st = snap.status
    session: SessionView | None = None
    if st is not None and control.session is not None:
        arc = control.lib.arcs.get(st.arc)
        session = SessionView(
            id=control.session.id,
            arc=st.arc,
            arc_title=(arc.title if arc is not None and arc.title else st.arc),
            client_id=control.session.client_id,
            phase=st.phase,
            phase_index=st.phase_index,
            phases=[p.name for p in arc.phases] if arc is not None else [st.phase],
            next_phase=st.next_phase,
            since_t0_s=now - st.t0,
            dosed=st.dosed,
            phase_started_at=st.phase_started_at,
            to_next_phase_s=None if st.phase_ends_at is None else max(0.0, st.phase_ends_at - now),
            held=st.held,
            cue=st.cue,
            cue_ends_at=st.cue_ends_at,
            cooling=st.cooling,
            ended=st.ended,
            started_at=st.started_at,
        )
    devices = []
    for dev in room.devices:
        h = health.get(dev.id)
        devices.append(
            DeviceView(
                id=dev.id,
                kind=dev.kind.value,
                zone=dev.zone,
                desired=_values(desired.get(dev.id), dev),
                reported=_values(h.landed if h is not None else None, dev),
                available=h is not None and h.available,
                last_error=None if h is None else (h.driver_error or h.last_error),
                last_ok_at=None if h is None else h.last_ok_at,
            )
        )
    alerts = [
        AlertView(kind=a.kind, device_id=a.device_id, message=a.message(), since=a.since)
        for a in climate
    ]
    if control.pending:
        alerts.append(
            AlertView(
                kind="not_recorded",
                device_id=None,
                message=f"done in the room but not recorded yet: {control.record_error}",
                since=min(e.at for _, e in control.pending),
            )
        )
    if read_only is not None:
        alerts.append(AlertView(kind="read_only", device_id=None, message=read_only, since=None))
    if control.clock_note:
        note = control.clock_note
        alerts.append(AlertView(kind="clock", device_id=None, message=note, since=None))
    emergency = control.emergency_on
    return RoomState(
        room_id=room.room.id,
        room_name=room.room.name or room.room.id,
        at=now,
        session=session,
        scene=_scene(control, session, emergency),
        emergency=emergency,
        music_paused=_music_paused(st),
        temperature_c=temperature_c,
        alerts=alerts,
        devices=devices,
    )


def _scene(control: SessionControl, session: SessionView | None, emergency: bool) -> str | None:
    if emergency:
        return "emergency"
    if session is not None and not session.ended:
        if session.cue is not None:
            return session.cue
        arc = control.lib.arcs.get(session.arc)
        if arc is not None and 0 <= session.phase_index < len(arc.phases):
            return arc.phases[session.phase_index].scene
        return None
    return control.room_scene.name


def _music_paused(st: SessionStatus | None) -> MusicPausedView | None:
    paused = st.music_paused if st is not None and not st.ended else None
    if paused is None:
        return None
    reason = "power cut" if paused.reason == "power cut" else "facilitator"
    return MusicPausedView(since=paused.since, reason=reason, by=paused.by)


def _values(state: DeviceState | None, dev: DeviceConfig) -> dict[str, Any] | None:
    return None if state is None else device_json(state, dev)


class StateHub:
    """Tells the faces (SSE streams, MQTT state) that the room may have changed; each reads
    the state when woken, so a slow reader skips to the newest and never queues."""

    def __init__(self) -> None:
        self.version = 0
        self._event = asyncio.Event()

    def changed(self) -> None:
        self.version += 1
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, seen: int) -> int:
        """Wait until the version differs from `seen`; return the new version."""
        while self.version == seen:
            await self._event.wait()
        return self.version
