"""The clinic overview: every room seen on the broker, read from the rooms' own retained
topics (`<base>/<room>/state`, `<base>/<room>/availability`).

Rooms on other brokers appear too when the brokers are bridged (`roomctl/#` both ways).  The
overview only reads: it never publishes.  `ClinicOverview` follows the topics on a bus the
caller owns (the daemon's: a web page shows `rows()`); `read_overview()` connects once, waits
for the retained messages and returns the rows (`roomctl overview`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict

from roomctl.model.config import MqttConfig
from roomctl.mqtt.bus import MqttBus

__all__ = ["ClinicOverview", "RoomRow", "format_rows", "read_overview"]

log = logging.getLogger(__name__)

READ_WAIT_S = 1.5


class RoomRow(BaseModel):
    """One room as the overview lists it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    room_id: str
    room_name: str | None = None
    online: bool | None = None  # None: no availability seen
    session: str | None = None  # the arc of the running session
    phase: str | None = None
    scene: str | None = None
    emergency: bool = False
    devices: int = 0
    unavailable: list[str] = []  # devices that do not answer
    alerts: list[str] = []
    last_seen: float | None = None  # when the room last published its state (its clock)
    heard: float | None = None  # when this overview last heard from the room (wall time)

    @property
    def health(self) -> str:
        if self.online is False:
            return "offline"
        if self.unavailable:
            return f"{len(self.unavailable)} of {self.devices} devices unavailable"
        return "ok" if self.devices or self.online else "unknown"


class ClinicOverview:
    def __init__(self, base_topic: str = "roomctl", *, now: Callable[[], float] = time.time):
        self.base = base_topic
        self._now = now
        self._rooms: dict[str, dict[str, Any]] = {}

    async def follow(self, bus: MqttBus) -> None:
        """Subscribe on `bus` (kept across reconnects); returns once the broker acknowledged."""
        await bus.subscribe(f"{self.base}/+/state", self.handle)
        await bus.subscribe(f"{self.base}/+/availability", self.handle)

    def handle(self, topic: str, payload: bytes) -> None:
        parts = topic.removeprefix(self.base + "/").split("/")
        if len(parts) != 2:
            return
        room_id, kind = parts
        entry = self._rooms.setdefault(room_id, {})
        entry["heard"] = self._now()
        if kind == "availability":
            word = payload.decode("utf-8", "replace").strip().lower()
            entry["online"] = None if not word else word == "online"
        elif kind == "state":
            if not payload:  # a room's retained state cleared: the room is gone
                self._rooms.pop(room_id, None)
                return
            try:
                data = json.loads(payload)
            except ValueError as exc:
                log.warning("overview: the state of room %s is not JSON: %s", room_id, exc)
                return
            if isinstance(data, dict):
                entry["state"] = data

    def rows(self) -> list[RoomRow]:
        """Every room seen, by room id."""
        return [_row(room_id, e) for room_id, e in sorted(self._rooms.items())]


def _row(room_id: str, entry: dict[str, Any]) -> RoomRow:
    state = entry.get("state") or {}
    session = state.get("session") or None
    devices = [d for d in state.get("devices") or [] if isinstance(d, dict)]
    alerts = [a.get("message", "") for a in state.get("alerts") or [] if isinstance(a, dict)]
    return RoomRow(
        room_id=room_id,
        room_name=state.get("room_name"),
        online=entry.get("online"),
        session=session.get("arc") if isinstance(session, dict) else None,
        phase=session.get("phase") if isinstance(session, dict) else None,
        scene=state.get("scene"),
        emergency=bool(state.get("emergency", False)),
        devices=len(devices),
        unavailable=[str(d.get("id")) for d in devices if not d.get("available", False)],
        alerts=[str(a) for a in alerts],
        last_seen=state.get("at"),
        heard=entry.get("heard"),
    )


async def read_overview(config: MqttConfig, wait_s: float = READ_WAIT_S) -> list[RoomRow]:
    """Connect, collect the rooms' retained topics for `wait_s`, disconnect; the rows."""
    overview = ClinicOverview(config.base_topic)
    bus = MqttBus(config, f"roomctl-overview-{os.getpid()}")
    await bus.start()
    try:
        await overview.follow(bus)
        await asyncio.sleep(wait_s)
    finally:
        await bus.close()
    return overview.rows()


def format_rows(rows: list[RoomRow], now: float | None = None) -> str:
    """The overview as a text table."""
    if not rows:
        return "no rooms seen on the broker"
    now = time.time() if now is None else now
    head = ("ROOM", "ONLINE", "SESSION", "PHASE", "SCENE", "EMERGENCY", "HEALTH", "LAST SEEN")
    table = [head]
    for r in rows:
        seen = "-" if r.last_seen is None else _ago(now - r.last_seen)
        table.append(
            (
                r.room_id,
                {True: "online", False: "OFFLINE", None: "?"}[r.online],
                r.session or "-",
                r.phase or "-",
                r.scene or "-",
                "EMERGENCY" if r.emergency else "-",
                r.health,
                seen,
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in table
    )


def _ago(seconds: float) -> str:
    if seconds < 0:
        return "just now"
    if seconds < 90:
        return f"{seconds:.0f} s ago"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.1f} h ago"
