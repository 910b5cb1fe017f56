"""The session's music from the API: `POST /api/session/music/pause` and `.../resume`, each
through SessionControl (the tablet's Pause music and Resume music), with the same logins and
CSRF as every session command.  A pause fades the volume down, then pauses the speakers, until
a resume; clearing an emergency does not resume it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, HTTPException

from roomctl.model.events import MusicPause, MusicResume
from roomctl.web.api import _command
from roomctl.web.auth import Facilitator, WebDep
from roomctl.web.views import REFUSALS, CommandResult

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["room"], responses=REFUSALS)


@router.post(
    "/session/music/pause",
    summary="Pause the music (the volume fades down first) until it is resumed",
)
async def pause(
    web: WebDep, who: Facilitator, body: Annotated[MusicPause | None, Body()] = None
) -> CommandResult:
    if body is not None and body.reason != "facilitator":
        raise HTTPException(422, "reason: only roomctl itself pauses the music for a power cut")
    return await _command(web, MusicPause(), who.who)


@router.post(
    "/session/music/resume",
    summary="Play the music again: the scene's source, the volume rising from silence",
)
async def resume(web: WebDep, who: Facilitator) -> CommandResult:
    return await _command(web, MusicResume(), who.who)
