"""Session events: the append-only log a session's state is rebuilt from.

Each event has a wall time (`at`, seconds since the epoch), who caused it (`by`), its place in
the store's log (`seq`) and a typed payload: one frozen model per kind, told apart by its `kind`
field (a tagged union).  The store, the timeline and SessionControl use these models, and so can
any front end (HTTP API, MQTT commands): a payload that does not fit is refused with an error
naming the field.  The timeline folds events in order; nothing else is needed to know where a
session is.

On disk an event's payload is its model as JSON without `kind` (which has its own column), and
without fields left at their defaults: ``{"minutes": 10}`` for an extend.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from roomctl.errors import SessionError

__all__ = [
    "CHANNELS",
    "Advance",
    "Channel",
    "Command",
    "CueOff",
    "CueOn",
    "DeviceReading",
    "Dose",
    "EmergencyClear",
    "EmergencyOn",
    "End",
    "Event",
    "EventKind",
    "Extend",
    "HeatAlert",
    "HeatClear",
    "Hold",
    "Jump",
    "Mark",
    "MusicPause",
    "MusicResume",
    "Note",
    "Override",
    "OverrideClear",
    "Payload",
    "Resume",
    "Start",
    "StepBack",
    "Track",
    "parse_payload",
    "payload_json",
]


class EventKind(enum.StrEnum):
    START = "start"
    DOSE = "dose"
    HOLD = "hold"
    RESUME = "resume"
    EXTEND = "extend"
    ADVANCE = "advance"
    STEP_BACK = "step_back"
    JUMP = "jump"
    CUE_ON = "cue_on"
    CUE_OFF = "cue_off"
    OVERRIDE = "override"
    OVERRIDE_CLEAR = "override_clear"
    EMERGENCY_ON = "emergency_on"
    EMERGENCY_CLEAR = "emergency_clear"
    NOTE = "note"
    MARK = "mark"
    HEAT_ALERT = "heat_alert"
    HEAT_CLEAR = "heat_clear"
    END = "end"
    TRACK = "track"
    MUSIC_PAUSE = "music_pause"
    MUSIC_RESUME = "music_resume"


# Channels a manual override may set (which ones a device has depends on its kind).
Channel = Literal[
    "on", "brightness_pct", "color_temp_k", "hue", "saturation", "volume", "setpoint_c"
]
CHANNELS: tuple[Channel, ...] = (
    "on", "brightness_pct", "color_temp_k", "hue", "saturation", "volume", "setpoint_c",
)  # fmt: skip

Name = Annotated[str, Field(min_length=1)]
Seconds = Annotated[float, Field(ge=0)]


class _Payload(BaseModel):
    # strict: no "20" for 20 and no true for 1 (JSON ints are still fine for floats)
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, allow_inf_nan=False)


class DeviceReading(_Payload):
    """One device as read when the session started; every field is optional."""

    on: bool | None = None
    brightness_pct: float | None = None
    color_temp_k: float | None = None
    hue: float | None = None
    saturation: float | None = None
    volume: float | None = None
    playing: bool | None = None
    source: str | None = None  # "favorite:NAME", "playlist:NAME" or "uri:URI"
    setpoint_c: float | None = None


class Start(_Payload):
    """The session begins: its arc, the dose time if known (default: planned for the arc's
    0:00), optionally the room as read at the start, and whether the facilitator chose to run
    without the client's preferences."""

    kind: Literal["start"] = "start"
    arc: Name
    t0: float | None = None
    room: dict[str, DeviceReading] | None = None
    without_preferences: bool = False


class Dose(_Payload):
    """T0 is now: the arc clock is re-anchored to 0:00."""

    kind: Literal["dose"] = "dose"


class Hold(_Payload):
    """Freeze the arc clock."""

    kind: Literal["hold"] = "hold"


class Resume(_Payload):
    kind: Literal["resume"] = "resume"


class Extend(_Payload):
    """The current phase lasts longer."""

    kind: Literal["extend"] = "extend"
    minutes: float = Field(ge=1, le=240)


class Advance(_Payload):
    """The next phase starts now."""

    kind: Literal["advance"] = "advance"


class StepBack(_Payload):
    """The previous phase starts again now."""

    kind: Literal["step_back"] = "step_back"


class Jump(_Payload):
    kind: Literal["jump"] = "jump"
    phase: Name


class CueOn(_Payload):
    """A cue scene (talk, break, check-in, ...) over the arc."""

    kind: Literal["cue_on"] = "cue_on"
    cue: Name


class CueOff(_Payload):
    kind: Literal["cue_off"] = "cue_off"


class Override(_Payload):
    """A manual change of one channel, until the phase (default) or the session ends."""

    kind: Literal["override"] = "override"
    device: Name
    channel: Channel
    value: bool | float
    fade_s: Seconds | None = None
    until: Literal["phase", "session"] = "phase"


class OverrideClear(_Payload):
    """Drop the overrides of one device (default: of every device)."""

    kind: Literal["override_clear"] = "override_clear"
    device: Name | None = None
    fade_s: Seconds | None = None


class EmergencyOn(_Payload):
    kind: Literal["emergency_on"] = "emergency_on"


class EmergencyClear(_Payload):
    kind: Literal["emergency_clear"] = "emergency_clear"


class Note(_Payload):
    """A facilitator's note (health data); no effect on the room.  The client's own copy of
    the session record leaves a note out unless it is `shareable`."""

    kind: Literal["note"] = "note"
    text: str
    shareable: bool = False


class Mark(_Payload):
    """A named moment, e.g. "supplemental" (the supplemental dose given).  With `cue`, that
    cue scene runs over the arc for `cue_s` seconds and then ends by itself (the session fills
    both in from the arc's marker of that name)."""

    kind: Literal["mark"] = "mark"
    name: str  # not empty (checked by the session: marks stored before that was checked load)
    cue: Name | None = None
    cue_s: float | None = Field(default=None, gt=0, le=3600)

    @model_validator(mode="after")
    def _cue(self) -> Mark:
        if (self.cue is None) != (self.cue_s is None):
            raise ValueError("give both cue and cue_s, or neither")
        return self


class HeatAlert(_Payload):
    """The room is too hot (a reading above the arc's heat alert threshold or the safety
    maximum): while it is on, the room's cooling switches are on and every thermostat is at
    the band's minimum.  Recorded by "system"."""

    kind: Literal["heat_alert"] = "heat_alert"
    device: Name | None = None  # the thermostat or sensor that read it
    temperature_c: float | None = None
    limit_c: float | None = None


class HeatClear(_Payload):
    """The room has been back under the limit for some minutes: the cooling stops."""

    kind: Literal["heat_clear"] = "heat_clear"
    temperature_c: float | None = None


class MusicPause(_Payload):
    """The room's music pauses (its volume fades down first) until a `music_resume`: given by
    a facilitator, or by "system" when the room comes back after a power cut.  An emergency
    and its clear leave it as it is."""

    kind: Literal["music_pause"] = "music_pause"
    reason: Literal["facilitator", "power cut"] = "facilitator"


class MusicResume(_Payload):
    """The music plays again: the scene's source, its volume rising from 0 at the rise limit."""

    kind: Literal["music_resume"] = "music_resume"


class End(_Payload):
    kind: Literal["end"] = "end"


class Track(_Payload):
    """A speaker began playing a track (read from the speaker while the session runs); no
    effect on the room.  `source` is what the room asked the speaker to play then
    ("favorite:NAME", ...), `uri` what the speaker reports."""

    kind: Literal["track"] = "track"
    device: Name
    title: str
    artist: str = ""
    album: str = ""
    uri: str = ""
    source: str | None = None


Command = (
    Dose | Hold | Resume | Extend | Advance | StepBack | Jump | CueOn | CueOff | Override
    | OverrideClear | EmergencyOn | EmergencyClear | Note | Mark | HeatAlert | HeatClear | End
    | Track | MusicPause | MusicResume
)  # fmt: skip
Payload = Annotated[Start | Command, Field(discriminator="kind")]

_PAYLOAD: TypeAdapter[Payload] = TypeAdapter(Payload)


def payload_json(payload: Payload) -> dict[str, Any]:
    """The payload as stored and exported: JSON values, without `kind` and defaults."""
    return payload.model_dump(mode="json", exclude={"kind"}, exclude_defaults=True)


def parse_payload(kind: EventKind | str, data: Mapping[str, Any] | None = None) -> Payload:
    """The typed payload of an event of `kind` from plain data (a command's arguments, a stored
    row).  Raises SessionError naming the kind and the field that is wrong."""
    try:
        kind = EventKind(kind)
    except ValueError:
        known = ", ".join(k.value for k in EventKind)
        raise SessionError(f"unknown event kind {kind!r}; one of {known}") from None
    if data is not None and not isinstance(data, Mapping):
        raise SessionError(f"{kind.value}: the payload must be an object, got {data!r}")
    fields = dict(data or {})
    if "kind" in fields and fields["kind"] != kind.value:
        raise SessionError(f"{kind.value}: 'kind' is {fields['kind']!r}")
    fields["kind"] = kind.value
    try:
        return _PAYLOAD.validate_python(fields)
    except ValidationError as exc:
        raise SessionError(describe(kind.value, exc)) from None


def describe(what: str, exc: ValidationError) -> str:
    """One line for the first problem of a validation error: `what`, the field, the problem."""
    err = exc.errors()[0]
    loc = [str(p) for p in err["loc"] if p != what]  # drop the union's tag
    # a union's member types are not fields: "value.bool" is "value"
    while len(loc) > 1 and loc[-1] in ("bool", "float", "str", "int", "none"):
        loc.pop()
    field = ".".join(loc)
    kind, given = err["type"], err.get("input")
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    if kind == "missing":
        return f"{what}: missing {field!r}{more}"
    if kind == "extra_forbidden":
        return f"{what}: unknown field {field!r}{more}"
    if field == "value" and what == "override":  # a union: one error per member type
        return f"{what}: 'value' must be true, false or a number, got {given!r}"
    if kind == "literal_error" and field == "channel":
        return f"{what}: unknown channel {given!r}; one of {', '.join(CHANNELS)}"
    if kind == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        return f"{what}: {field!r} must be {expected}, got {given!r}{more}"
    if kind in ("greater_than_equal", "less_than_equal") and field == "minutes":
        return f"{what}: minutes must be between 1 and 240, got {given!r}"
    message = err["msg"].removeprefix("Value error, ")
    message = message[0].lower() + message[1:]
    if not field:
        return f"{what}: {message}{more}"
    return f"{what}: {field!r}: {message}, got {given!r}{more}"


@dataclass(frozen=True, slots=True)
class Event:
    at: float
    payload: Payload
    by: str = "system"
    seq: int = 0  # position in the store's log; 0 until stored

    @classmethod
    def of(
        cls,
        at: float,
        kind: EventKind | str,
        data: Mapping[str, Any] | None = None,
        *,
        by: str = "system",
        seq: int = 0,
    ) -> Event:
        """An event from plain data; SessionError naming the field if it does not fit."""
        return cls(at, parse_payload(kind, data), by, seq)

    @property
    def kind(self) -> EventKind:
        return EventKind(self.payload.kind)

    @property
    def data(self) -> dict[str, Any]:
        """The payload as plain JSON data (as stored)."""
        return payload_json(self.payload)

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at,
            "kind": self.kind.value,
            "by": self.by,
            "data": self.data,
        }
