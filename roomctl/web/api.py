"""The JSON API for the room and its session: state (and its live stream), arcs, scenes,
devices, sessions and every session command.

A command calls SessionControl directly on the daemon's loop and returns once its event is
stored; the emergency acts first and says whether it is recorded yet.  Request bodies are the
event payload models (roomctl/model/events.py), so a bad body is a 422 naming the field.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException
from fastapi.responses import StreamingResponse

from roomctl.control.apply import override_commands, scene_states
from roomctl.control.room_state import DeviceView, RoomState
from roomctl.control.session import Outcome
from roomctl.model.events import (
    Advance,
    Command,
    CueOff,
    CueOn,
    Dose,
    End,
    Event,
    Extend,
    Hold,
    Jump,
    Mark,
    Note,
    Override,
    OverrideClear,
    Resume,
    StepBack,
)
from roomctl.model.library import CUES
from roomctl.model.state import DeviceState, LightState, SwitchState, ThermostatState
from roomctl.mqtt.overview import RoomRow
from roomctl.web.auth import Facilitator, Reader, WebDep
from roomctl.web.context import Web
from roomctl.web.sse import state_stream
from roomctl.web.views import (
    REFUSALS,
    ArcView,
    CommandResult,
    EventView,
    SceneView,
    StartBody,
    arc_view,
)

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["room"], responses=REFUSALS)


def _result(web: Web, event: Event, outcome: Outcome | None = None) -> CommandResult:
    return CommandResult(
        event=EventView.model_validate(event.to_json()),
        recorded=outcome is None or outcome.recorded,
        error=None if outcome is None else outcome.error,
        state=web.daemon.state(),
    )


# Loop turns from `engine.wake()` to a woken worker's first command (the wake event, its
# waiter, asyncio.wait, the worker, its settling sleep(0)), and one to spare.
ENGINE_TURNS = 6


async def after_the_engine() -> None:
    """Let the engine's woken workers send before the answer is built: the room state and
    its JSON (a millisecond or more) then come after the first device command, not before."""
    for _ in range(ENGINE_TURNS):
        await asyncio.sleep(0)


async def _command(web: Web, payload: Command, who: str) -> CommandResult:
    event = web.control.command(payload, by=who)  # stored when it returns
    await after_the_engine()
    return _result(web, event)


@router.get("/state", summary="The room now: session, phase, times, devices, alerts")
async def state(web: WebDep, who: Reader) -> RoomState:
    del who
    return web.daemon.state()


@router.get(
    "/stream",
    summary="Live room state (Server-Sent Events): the whole state first, then on change",
    response_class=StreamingResponse,
)
async def stream(web: WebDep, who: Reader) -> StreamingResponse:
    del who
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(state_stream(web), media_type="text/event-stream", headers=headers)


@router.get("/overview", summary="Every room of the clinic seen on the MQTT broker (bridged too)")
async def overview(web: WebDep, who: Reader) -> list[RoomRow]:
    del who
    return [] if web.overview is None else web.overview.rows()


@router.get("/devices", summary="Each device: desired and reported state, health")
async def devices(web: WebDep, who: Reader) -> list[DeviceView]:
    del who
    return web.daemon.state().devices


@router.get("/arcs", summary="The arcs a session can follow, with their phases as planned")
async def arcs(web: WebDep, who: Reader) -> list[ArcView]:
    del who
    return [arc_view(a) for _, a in sorted(web.daemon.lib.arcs.items())]


@router.get("/scenes", summary="The scene library (cues marked)")
async def scenes(web: WebDep, who: Reader) -> list[SceneView]:
    del who
    return [
        SceneView(name=s.name, title=s.title or s.name, cue=s.name in CUES)
        for _, s in sorted(web.daemon.lib.scenes.items())
    ]


@router.post("/scenes/{name}/apply", summary="Apply a scene in the session (manual overrides)")
async def apply_scene(name: str, web: WebDep, who: Facilitator) -> CommandResult:
    lib, control = web.daemon.lib, web.control
    scene = lib.scene(name)
    control.refresh()
    if control.session is None:
        raise HTTPException(409, "no session is running: start one to apply a scene")
    states = scene_states(lib.room, scene, control.prefs)
    event: Event | None = None
    for data in override_commands(lib.room, states, scene.fade_s):
        event = control.command(Override.model_validate(data, strict=False), by=who.who)
    if event is None:
        raise HTTPException(409, f"scene {name!r} sets nothing this room's devices can show")
    return _result(web, event)


# ------------------------------------------------------------------ sessions


@router.get("/sessions", summary="Sessions in this room, newest first")
async def sessions(web: WebDep, who: Facilitator) -> list[dict[str, Any]]:
    del who
    return [s.to_json() for s in web.store.list_sessions(web.daemon.lib.room.room.id)]


@router.get("/sessions/{session_id}", summary="One session with its events (audited)")
async def session_export(session_id: str, web: WebDep, who: Facilitator) -> dict[str, Any]:
    if web.store.get_session(session_id) is None:
        raise HTTPException(404, f"no session {session_id!r}")
    return web.store.export_session(session_id, by=who.who)


@router.get("/session/events", summary="The running session's events so far")
async def session_events(web: WebDep, who: Facilitator) -> list[EventView]:
    del who
    control = web.control
    return [EventView.model_validate(e.to_json()) for e in control.events]


def _room_reading(state: DeviceState | None) -> dict[str, Any] | None:
    if isinstance(state, LightState):
        fields = ("on", "brightness_pct", "color_temp_k", "hue", "saturation")
        return {k: v for k in fields if (v := getattr(state, k)) is not None}
    if isinstance(state, SwitchState):
        return {"on": state.on}
    if isinstance(state, ThermostatState):
        return {"setpoint_c": state.setpoint_c}
    return None


@router.post("/sessions", summary="Start a session (arc, client, T0)", status_code=201)
async def start(body: StartBody, web: WebDep, who: Facilitator) -> RoomState:
    control = web.control
    readings = {k: r for k, s in control.shown().items() if (r := _room_reading(s)) is not None}
    control.start(
        body.arc,
        by=who.who,
        client_id=body.client_id,
        t0=body.t0,
        room=readings or None,
        without_preferences=body.without_preferences,
    )
    return web.daemon.state()


@router.post("/session/emergency", summary="Emergency: bright neutral light, music off, arc held")
async def emergency(web: WebDep, who: Facilitator) -> CommandResult:
    outcome = web.control.emergency(True, by=who.who)
    await after_the_engine()
    return _result(web, outcome.event, outcome)


@router.post("/session/clear-emergency", summary="Clear the emergency (the room fades back)")
async def clear_emergency(web: WebDep, who: Facilitator) -> CommandResult:
    outcome = web.control.emergency(False, by=who.who)
    return _result(web, outcome.event, outcome)


@router.post("/session/extend", summary="The current phase lasts longer")
async def extend(body: Extend, web: WebDep, who: Facilitator) -> CommandResult:
    return await _command(web, body, who.who)


@router.post("/session/jump", summary="Jump to a phase")
async def jump(body: Jump, web: WebDep, who: Facilitator) -> CommandResult:
    return await _command(web, body, who.who)


@router.post("/session/cue", summary="A cue (talk, break, check-in) over the arc")
async def cue(body: CueOn, web: WebDep, who: Facilitator) -> CommandResult:
    return await _command(web, body, who.who)


@router.post("/session/note", summary="A timestamped note into the session")
async def note(body: Note, web: WebDep, who: Facilitator) -> CommandResult:
    if not body.text.strip():
        raise HTTPException(422, "note: 'text' is empty")
    return await _command(web, body, who.who)


@router.post("/session/mark", summary="A named moment (e.g. a supplemental dose)")
async def mark(body: Mark, web: WebDep, who: Facilitator) -> CommandResult:
    return await _command(web, body, who.who)


@router.post("/session/set", summary="Set one channel of one device (a manual override)")
async def set_channel(body: Override, web: WebDep, who: Facilitator) -> CommandResult:
    return await _command(web, body, who.who)


@router.post("/session/clear-overrides", summary="Drop manual overrides (one device or all)")
async def clear_overrides(
    web: WebDep, who: Facilitator, body: Annotated[OverrideClear | None, Body()] = None
) -> CommandResult:
    return await _command(web, body or OverrideClear(), who.who)


def _simple(path: str, make: Callable[[], Command], summary: str) -> None:
    async def endpoint(web: WebDep, who: Facilitator) -> CommandResult:
        return await _command(web, make(), who.who)

    endpoint.__name__ = path.replace("-", "_")
    router.add_api_route(f"/session/{path}", endpoint, methods=["POST"], summary=summary)


for _path, _make, _summary in (
    ("dose", Dose, "T0 is now: the dose is given"),
    ("hold", Hold, "Hold the arc"),
    ("resume", Resume, "Resume the arc"),
    ("advance", Advance, "The next phase starts now"),
    ("step-back", StepBack, "The previous phase starts again now"),
    ("cue-off", CueOff, "End the cue"),
    ("end", End, "End the session"),
):
    _simple(_path, _make, _summary)
