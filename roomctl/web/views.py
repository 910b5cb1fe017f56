"""Response and request bodies of the JSON API that are not the room state or an event payload
(those are `RoomState` and the models of roomctl/model/events.py, shared with MQTT)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from roomctl.control.room_state import RoomState
from roomctl.model.arc import Arc
from roomctl.model.prefs import Preferences

__all__ = [
    "REFUSALS",
    "ArcView",
    "CommandResult",
    "ConsentBody",
    "EventView",
    "PhaseView",
    "PreviewBody",
    "Problem",
    "SampleBody",
    "SampleView",
    "SceneView",
    "StartBody",
    "arc_view",
]


class _Body(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StartBody(_Body):
    """Start a session of `arc` for a client (by pseudonym; their latest preferences apply)."""

    arc: str = Field(min_length=1)
    client_id: str | None = None
    t0: float | None = None  # the dose time (epoch seconds); default: the arc's planned 0:00
    without_preferences: bool = False


class EventView(_Body):
    seq: int
    at: float
    kind: str
    by: str
    data: dict[str, Any]


class CommandResult(_Body):
    """What a command did: its stored event (for an emergency: acted on, and whether it is
    recorded yet) and the room's state afterwards."""

    event: EventView
    recorded: bool = True
    error: str | None = None  # why an emergency is not recorded yet (the daemon keeps trying)
    state: RoomState


class PhaseView(_Body):
    name: str
    scene: str
    start_s: float  # from T0, as planned
    duration_s: float | None


class ArcView(_Body):
    name: str
    title: str
    starts_at_s: float
    phases: list[PhaseView]
    markers: list[dict[str, Any]]


def arc_view(arc: Arc) -> ArcView:
    phases = [
        PhaseView(name=p.name, scene=p.scene, start_s=s, duration_s=p.duration)
        for p, s in zip(arc.phases, arc.nominal_starts(), strict=True)
    ]
    markers = [{"name": m.name, "at_s": m.at, "until_s": m.until} for m in arc.markers]
    title = arc.title or arc.name
    return ArcView(
        name=arc.name, title=title, starts_at_s=arc.starts_at, phases=phases, markers=markers
    )


class ConsentBody(_Body):
    """Preferences to save as a new version, with the client's explicit consent."""

    preferences: Preferences
    consent: Literal[True]  # nothing is stored without it
    scope: str | None = None  # what the client agreed to (default: the room's standard wording)


class PreviewBody(_Body):
    """Show a colour on the room for a few seconds.  `hue` None: warm white."""

    hue: float | None = Field(default=None, ge=0, le=360)
    saturation: float = Field(default=80, ge=0, le=100)
    brightness_pct: float = Field(default=30, ge=1, le=100)
    preferences: Preferences = Preferences()


class SampleBody(_Body):
    """Play the room's music for a few seconds at `volume` (the client's volume comfort).
    `music`: a name from the room's curated list (default: the first)."""

    volume: int = Field(ge=0, le=100)
    music: str | None = Field(default=None, min_length=1, max_length=200)
    preferences: Preferences = Preferences()


class SampleView(_Body):
    """What the sample plays: the source, each speaker's level after the room's limits, and
    about how long the rise limit takes to get there."""

    music: str
    volume: int  # the level the sample plays at (the loudest speaker's)
    asked: int
    speakers: dict[str, int]
    rise_s: float
    hold_s: float
    fade_s: float
    message: str


class FieldProblem(_Body):
    field: str  # e.g. "minutes", "preferences.volume_max", "body"
    message: str
    type: str | None = None


class Problem(_Body):
    """Why a request was refused, in a sentence; a bad body also lists each field's problem."""

    detail: str
    errors: list[FieldProblem] | None = None


# What every API router declares for its refusals, so the OpenAPI schema says what they look
# like (FastAPI's own 422 shape is not the one roomctl sends).
REFUSALS: dict[int | str, dict[str, Any]] = {
    422: {"model": Problem, "description": "A field of the request is not valid (named)"},
}


class SceneView(_Body):
    name: str
    title: str
    cue: bool
