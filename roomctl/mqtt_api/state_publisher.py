"""The room's state and events on MQTT.

`<base>/<room>/state` is the room as every face shows it (`RoomState`, plus the scene showing
and the room temperature), retained, republished on every change the daemon's `StateHub`
signals but at most once per `min_interval_s` (fades and the session clock change it every
second), at once when the emergency changes, and again after every reconnect (a restarted
broker has forgotten it).

`<base>/<room>/event` (not retained) says what happened, derived by comparing successive
states: a session started or ended, a phase change, a cue on or off, the emergency on or
cleared, the music paused (and why) or resumed; and a note was written (its text is health
data and stays on the device: only who wrote it and when).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from roomctl.control.room_state import RoomState, StateHub
from roomctl.model.events import Event, EventKind
from roomctl.mqtt.bus import BrokerUnavailableError, MqttBus
from roomctl.mqtt_api.topics import RoomTopics

__all__ = ["StatePublisher", "state_events"]

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


def state_events(before: dict[str, Any] | None, after: dict[str, Any]) -> list[dict[str, Any]]:
    """What changed from one published state (JSON) to the next, as event payloads."""
    out: list[dict[str, Any]] = []
    at = after["at"]
    old_s = (before or {}).get("session")
    new_s = after.get("session")
    old_id = old_s["id"] if old_s else None
    new_id = new_s["id"] if new_s else None
    if before is not None and old_id != new_id and old_s is not None and not old_s["ended"]:
        out.append({"type": "session", "action": "end", "session": old_id, "at": at})
    if new_s is not None:
        if new_id != old_id:
            if before is not None:
                out.append({"type": "session", "action": "start", "session": new_id, "at": at})
            old_s = None
        if old_s is not None and old_s["phase"] != new_s["phase"]:
            out.append(
                {
                    "type": "phase",
                    "session": new_id,
                    "phase": new_s["phase"],
                    "previous": old_s["phase"],
                    "at": at,
                }
            )
        if old_s is not None and old_s["cue"] != new_s["cue"]:
            out.append({"type": "cue", "session": new_id, "cue": new_s["cue"], "at": at})
        if old_s is not None and new_s["ended"] and not old_s["ended"]:
            out.append({"type": "session", "action": "end", "session": new_id, "at": at})
    if before is not None and before["emergency"] != after["emergency"]:
        out.append({"type": "emergency", "on": after["emergency"], "at": at})
    paused = after.get("music_paused")
    if before is not None and bool(before.get("music_paused")) != bool(paused):
        reason = paused["reason"] if paused else None
        out.append({"type": "music", "paused": bool(paused), "reason": reason, "at": at})
    return out


class StatePublisher:
    """Publishes the room's state and events; `run()` until cancelled."""

    def __init__(
        self,
        bus: MqttBus,
        topics: RoomTopics,
        hub: StateHub,
        state: Callable[[], RoomState],
        *,
        events: Callable[[], Sequence[Event]] = list,
        min_interval_s: float = 1.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.bus = bus
        self.topics = topics
        self.hub = hub
        self._state = state
        self._events = events
        self.min_interval_s = min_interval_s
        self._sleep = sleep
        self.last: dict[str, Any] | None = None  # the newest state built
        self.published: dict[str, Any] | None = None  # the newest state the broker has
        self._published_at = float("-inf")
        self._note_seq: tuple[str | None, int] | None = None
        self._lock = asyncio.Lock()

    def build(self) -> dict[str, Any]:
        data: dict[str, Any] = self._state().model_dump(mode="json")
        return data

    async def run(self) -> None:
        self.bus.add_connect_listener(self.republish)
        seen = self.hub.version
        await self.step(force=True)
        while True:
            seen = await self.hub.wait(seen)
            await self.step()

    async def republish(self) -> None:
        """After a (re)connect: the broker may have forgotten the retained state."""
        await self.step(force=True)

    async def step(self, *, force: bool = False) -> None:
        """Build the state; publish the events it implies; publish it (when it changed, or
        `force`), but no sooner than `min_interval_s` after the last (waiting, then publishing
        the newest), except when the emergency changed."""
        async with self._lock:
            data = await self._advance()
            urgent = self.published is not None and data["emergency"] != self.published.get(
                "emergency"
            )
            loop = asyncio.get_running_loop()
            wait = self._published_at + self.min_interval_s - loop.time()
            if wait > 0 and not urgent:
                await self._sleep(wait)
                data = await self._advance()
            if force or _changed(self.published, data):
                await self._publish_state(data)

    async def _advance(self) -> dict[str, Any]:
        """The state now, after publishing the events it implies."""
        data = self.build()
        events = state_events(self.last, data) + self._note_events(data)
        self.last = data
        for payload in events:
            await self._publish_event(payload)
        return data

    def _note_events(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        session = data.get("session")
        sid = session["id"] if session else None
        events = [e for e in self._events() if e.kind is EventKind.NOTE]
        newest = max((e.seq for e in events), default=0)
        before, self._note_seq = self._note_seq, (sid, newest)
        if before is None:
            return []  # the notes written before this daemon started were told then
        since = before[1] if before[0] == sid else 0  # a new session: all of its notes
        return [
            {"type": "note", "session": sid, "by": e.by, "at": e.at}
            for e in events
            if e.seq > since
        ]

    async def _publish_state(self, data: dict[str, Any]) -> None:
        try:
            await self.bus.publish(self.topics.state, json.dumps(data), retain=True)
        except BrokerUnavailableError as exc:
            log.debug("room state not published: %s", exc)  # republished on reconnect
            return
        self.published = data
        self._published_at = asyncio.get_running_loop().time()

    async def _publish_event(self, payload: dict[str, Any]) -> None:
        try:
            await self.bus.publish(self.topics.event, json.dumps(payload))
        except BrokerUnavailableError as exc:
            log.info("room event %s not published: %s", payload["type"], exc)


def _changed(before: dict[str, Any] | None, after: dict[str, Any]) -> bool:
    """Anything but the time of the state differs."""
    if before is None:
        return True
    return {**before, "at": None} != {**after, "at": None}
