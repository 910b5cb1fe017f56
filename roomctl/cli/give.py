"""A session command given on the command line that no daemon took over its socket: record it
in the store and tell a running daemon to look now; for an emergency, act on the room first.

Without a daemon nothing drives the room, so `session emergency` drives the devices itself
(every light at the emergency level at once, music paused) and then records it, in the session
or, with no session, in the audit log.  A store that cannot be written (full, read-only) never
stops the emergency: it is done, and the user is told it could not be recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from roomctl.cli.handoff import poke
from roomctl.control.apply import ApplyResult, apply_scene
from roomctl.control.lock import holder
from roomctl.control.session import SessionControl
from roomctl.control.status import format_status
from roomctl.devices.factory import build_devices
from roomctl.errors import RoomctlError
from roomctl.model.events import EventKind
from roomctl.model.library import Library
from roomctl.model.state import DeviceState
from roomctl.mqtt.bus import MqttBus

__all__ = ["drive", "give"]

BROKER_WAIT_S = 2.0


def give(
    control: SessionControl, kind: EventKind, data: Mapping[str, Any] | None, *, by: str
) -> int:
    """Give one session command through the store; print the status; the exit code."""
    db = Path(control.store.path)
    daemon = holder(db) is not None
    if kind in (EventKind.EMERGENCY_ON, EventKind.EMERGENCY_CLEAR):
        on = kind is EventKind.EMERGENCY_ON
        outcome = control.emergency(on, by=by)
        told = daemon and outcome.recorded and poke(db)
        if on and not told:  # nobody else drives the room now
            _print_results(asyncio.run(drive(control.lib, control.room_emergency.states)))
        print(format_status(control))
        if not outcome.recorded:
            print(f"roomctl: done in the room, but not recorded: {outcome.error}", file=sys.stderr)
        return 0
    control.command(kind, data, by=by)
    if daemon:
        poke(db)
    print(format_status(control))
    return 0


async def drive(lib: Library, states: Mapping[str, DeviceState]) -> list[ApplyResult]:
    """Show `states` on the devices at once (no fade); a broker that is down fails only the
    MQTT devices."""
    room = lib.room
    bus: MqttBus | None = None
    if room.mqtt is not None and room.needs_mqtt:
        bus = MqttBus(room.mqtt, f"roomctl-emergency-{room.room.id}")
        await bus.start(required=False)
        with contextlib.suppress(RoomctlError):
            await bus.wait_connected(BROKER_WAIT_S)
    try:
        from roomctl.cli.commands import room_clock

        devices = build_devices(room, bus, room_clock(lib))
        return await apply_scene(devices, states, 0.0, timeout_s=5.0)
    finally:
        if bus is not None:
            await bus.close()


def _print_results(results: list[ApplyResult]) -> None:
    for r in results:
        mark = "ok    " if r.ok else "FAILED"
        print(f"{r.device_id:<14} {mark} {r.elapsed_s:6.2f} s  {r.detail}")
