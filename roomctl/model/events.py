"""Session events: the append-only log a session's state is rebuilt from.

Each event has a wall time (`at`, seconds since the epoch), who caused it (`by`), a kind and a
small payload.  The timeline folds them in order; nothing else is needed to know where a
session is.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from roomctl.errors import SessionError

__all__ = ["CHANNELS", "Event", "EventKind", "validate_payload"]


class EventKind(enum.StrEnum):
    START = "start"  # payload: arc, t0 (wall time of the dose; default: now), prefs_version
    DOSE = "dose"  # T0 is now: re-anchor the arc clock to 0:00
    HOLD = "hold"  # freeze the arc clock
    RESUME = "resume"
    EXTEND = "extend"  # payload: minutes (the current phase lasts longer)
    ADVANCE = "advance"  # the next phase starts now
    STEP_BACK = "step_back"  # the previous phase starts again now
    JUMP = "jump"  # payload: phase
    CUE_ON = "cue_on"  # payload: cue (a scene name, e.g. talk, break, check-in)
    CUE_OFF = "cue_off"
    OVERRIDE = (
        "override"  # payload: device, channel, value, fade_s (optional), until: phase|session
    )
    OVERRIDE_CLEAR = "override_clear"  # payload: device (optional; default: every override)
    EMERGENCY_ON = "emergency_on"
    EMERGENCY_CLEAR = "emergency_clear"
    NOTE = "note"  # payload: text (a facilitator's note; no effect on the room)
    MARK = "mark"  # payload: name (e.g. "supplemental dose given")
    END = "end"


# Channels a manual override may set, per device kind.
CHANNELS = ("on", "brightness_pct", "color_temp_k", "hue", "saturation", "volume", "setpoint_c")


@dataclass(frozen=True, slots=True)
class Event:
    at: float
    kind: EventKind
    data: dict[str, Any] = field(default_factory=dict)
    by: str = "system"
    seq: int = 0  # position in the store's log; 0 until stored

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at,
            "kind": self.kind.value,
            "by": self.by,
            "data": self.data,
        }


def _need(kind: EventKind, data: dict[str, Any], key: str, typ: type | tuple[type, ...]) -> None:
    if key not in data:
        raise SessionError(f"{kind.value}: missing {key!r}")
    if not isinstance(data[key], typ) or (isinstance(data[key], bool) and typ is not bool):
        raise SessionError(f"{kind.value}: {key!r} has the wrong type ({data[key]!r})")


def validate_payload(kind: EventKind, data: dict[str, Any]) -> None:
    """Raise SessionError naming what is wrong with an event's payload."""
    if kind is EventKind.START:
        _need(kind, data, "arc", str)
        if "t0" in data and not isinstance(data["t0"], int | float):
            raise SessionError(f"start: 't0' must be a time in seconds, got {data['t0']!r}")
    elif kind is EventKind.EXTEND:
        _need(kind, data, "minutes", (int, float))
        if not 1 <= data["minutes"] <= 240:
            raise SessionError(f"extend: minutes must be between 1 and 240, got {data['minutes']}")
    elif kind is EventKind.JUMP:
        _need(kind, data, "phase", str)
    elif kind is EventKind.CUE_ON:
        _need(kind, data, "cue", str)
    elif kind is EventKind.OVERRIDE:
        _need(kind, data, "device", str)
        _need(kind, data, "channel", str)
        if data["channel"] not in CHANNELS:
            raise SessionError(
                f"override: unknown channel {data['channel']!r}; one of {', '.join(CHANNELS)}"
            )
        if "value" not in data:
            raise SessionError("override: missing 'value'")
        if data.get("until", "phase") not in ("phase", "session"):
            raise SessionError("override: 'until' must be 'phase' or 'session'")
    elif kind in (EventKind.NOTE, EventKind.MARK):
        key = "text" if kind is EventKind.NOTE else "name"
        _need(kind, data, key, str)
