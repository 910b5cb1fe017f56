"""The JSON API for people: clients and their preferences (facilitators), a client's own link
and page (client tokens), logins and tokens (admins)."""

from __future__ import annotations

import asyncio
import math
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from roomctl.model.prefs import COLOR_NAMES, LANGUAGES, Preferences
from roomctl.model.prefs_report import overrides_for_arcs, summary
from roomctl.model.scene import MusicTarget
from roomctl.preview.rows import PREVIEW_T0, device_json, start_events
from roomctl.store.clients import DEFAULT_CONSENT_SCOPE, Consent
from roomctl.store.rows import Role
from roomctl.store.tokens import NAME_RE as TOKEN_NAME_RE
from roomctl.store.tokens import TokenRole
from roomctl.store.users import MAX_PASSWORD_LEN, MIN_PASSWORD_LEN, USERNAME_RE
from roomctl.timeline.fold import Timeline
from roomctl.web.auth import Admin, AnyCaller, Facilitator, Principal, WebDep
from roomctl.web.context import Web
from roomctl.web.views import REFUSALS, ConsentBody, PreviewBody, SampleBody, SampleView

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["people"], responses=REFUSALS)


class _Body(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class NewClient(_Body):
    label: str | None = Field(default=None, max_length=80)  # for staff: never a real name


class UserBody(_Body):
    username: str = Field(pattern=f"^{USERNAME_RE.pattern}$")
    password: str = Field(min_length=MIN_PASSWORD_LEN, max_length=MAX_PASSWORD_LEN)
    role: Role = "facilitator"


class TokenBody(_Body):
    name: str = Field(pattern=f"^{TOKEN_NAME_RE.pattern}$")
    role: Annotated[TokenRole, Field()] = "readonly"


class ClientPage(_Body):
    """What a client's page shows and offers."""

    client_id: str
    version: int | None
    preferences: Preferences
    overrides: list[str]
    summary: list[str]
    colors: dict[str, float]  # name: hue
    music: list[dict[str, Any]]  # the room's curated sources: name, kind, tags
    languages: dict[str, str]
    consent_scope: str
    session_running: bool
    safety: dict[str, Any]


def _scope(who: Principal, client_id: str) -> None:
    """A client reaches only their own record; staff reach every client's."""
    if who.role == "client":
        if who.client_id != client_id:
            raise HTTPException(403, "this link is for another client")
    elif not who.at_least("facilitator"):
        raise HTTPException(403, "this needs the facilitator role")


def _music(web: Web) -> list[dict[str, Any]]:
    lib = web.daemon.lib
    sources = lib.room.music.sources
    if sources:
        return [{"name": s.name, "kind": s.kind, "tags": sorted(s.carried)} for s in sources]
    names: list[str] = []  # no curated list: the favourites the scenes play
    for _, scene in sorted(lib.scenes.items()):
        for target in scene.music.values():
            if target.favorite and target.favorite not in names:
                names.append(target.favorite)
    return [{"name": n, "kind": "favorite", "tags": []} for n in names]


def client_page(web: Web, client_id: str) -> ClientPage:
    if web.store.get_client(client_id) is None:
        raise HTTPException(404, f"no client {client_id!r}")
    found = web.store.preferences(client_id)
    version, prefs = (None, Preferences()) if found is None else found
    room = web.daemon.lib.room
    safety = room.safety
    return ClientPage(
        client_id=client_id,
        version=version,
        preferences=prefs,
        overrides=overrides_for_arcs(prefs, safety, web.daemon.lib.arcs.values()),
        summary=summary(prefs),
        colors={name: hue for name, (hue, _) in COLOR_NAMES.items()},
        music=_music(web),
        languages=dict(LANGUAGES),
        consent_scope=DEFAULT_CONSENT_SCOPE,
        session_running=web.control.session is not None,
        safety={
            "min_brightness_pct": safety.min_brightness_pct,
            "max_volume": safety.max_volume,
            "temperature_c": [safety.temperature_c.min, safety.temperature_c.max],
        },
    )


# ------------------------------------------------------------------ clients


@router.get("/clients", summary="Clients (pseudonymous ids and staff labels)")
async def clients(web: WebDep, who: Facilitator) -> list[dict[str, Any]]:
    del who
    return [{"id": c.id, "label": c.label} for c in web.store.list_clients()]


@router.post("/clients", summary="Add a client; returns the new pseudonymous id", status_code=201)
async def add_client(body: NewClient, web: WebDep, who: Facilitator) -> dict[str, str]:
    return {"id": web.store.create_client(body.label, by=who.who)}


@router.get("/clients/{client_id}", summary="A client's page: preferences, choices, overrides")
async def client(client_id: str, web: WebDep, who: AnyCaller) -> ClientPage:
    _scope(who, client_id)
    return client_page(web, client_id)


@router.post(
    "/clients/{client_id}/preferences",
    summary="Save preferences as a new version, with the client's consent",
    status_code=201,
)
async def save_preferences(
    client_id: str, body: ConsentBody, web: WebDep, who: AnyCaller
) -> ClientPage:
    _scope(who, client_id)
    consent = Consent(who.who, body.scope or DEFAULT_CONSENT_SCOPE)
    web.store.save_preferences(client_id, body.preferences, who.who, consent=consent)
    return client_page(web, client_id)


@router.post("/clients/{client_id}/overrides", summary="What the limits override in these")
async def check_overrides(
    client_id: str, body: Preferences, web: WebDep, who: AnyCaller
) -> list[str]:
    _scope(who, client_id)
    room = web.daemon.lib.room
    return overrides_for_arcs(body, room.safety, web.daemon.lib.arcs.values())


@router.post("/clients/{client_id}/arc.svg", summary="The arc drawn with these preferences")
async def arc_picture(
    client_id: str, body: Preferences, web: WebDep, who: AnyCaller, arc: str = "psilocybin"
) -> Response:
    from roomctl.preview.svg import render_svg  # drawn on request: not needed to start

    _scope(who, client_id)
    lib = web.daemon.lib
    chosen = lib.arc(arc if arc in lib.arcs else sorted(lib.arcs)[0])
    timeline = Timeline(lib.room, chosen, lib.scenes, start_events(chosen), body)
    end = chosen.nominal_end if chosen.nominal_end is not None else chosen.nominal_starts()[-1]
    svg = render_svg(timeline, PREVIEW_T0 + chosen.starts_at, PREVIEW_T0 + end + 1800,
                     step_s=120)  # fmt: skip
    return Response(svg, media_type="image/svg+xml")


@router.post("/clients/{client_id}/preview", summary="Try a colour on the room for a few seconds")
async def preview(client_id: str, body: PreviewBody, web: WebDep, who: AnyCaller) -> dict[str, Any]:
    _scope(who, client_id)
    shown = web.preview.show(body.hue, body.saturation, body.brightness_pct, body.preferences)
    web.store.audit(who.who, "preview", client_id, {"lights": len(shown)})
    room = web.daemon.lib.room
    return {
        "lights": {k: device_json(v, room.device(k)) for k, v in shown.items()},
        "hold_s": web.preview.hold_s,
        "fade_s": web.preview.fade_s,
    }


@router.post(
    "/clients/{client_id}/sample",
    summary="Hear the room's music at a volume for a few seconds, then it fades out",
)
async def sample(client_id: str, body: SampleBody, web: WebDep, who: AnyCaller) -> SampleView:
    _scope(who, client_id)
    if web.store.get_client(client_id) is None:
        raise HTTPException(404, f"no client {client_id!r}")
    if web.preview.sample is None:
        raise HTTPException(409, "this room has no speakers to play a sample on")
    music = _sample_music(web, body)
    plan = await web.preview.sample.play(music, body.preferences)
    volume = max(plan.volumes.values())
    web.store.audit(who.who, "sample", client_id, {"speakers": len(plan.volumes), "volume": volume})
    return SampleView(
        music=plan.source.name,
        volume=volume,
        asked=body.volume,
        speakers=plan.volumes,
        rise_s=round(plan.rise_s, 1),
        hold_s=plan.hold_s,
        fade_s=plan.fade_s,
        message=_sample_message(volume, body.volume, plan.rise_s, plan.hold_s),
    )


def _sample_music(web: Web, body: SampleBody) -> MusicTarget:
    """The curated source to sample: the one asked for, else the client's first chosen, else
    the room's first.  Only a source of the room's own list is played."""
    listed = {m["name"]: m["kind"] for m in _music(web)}
    if not listed:
        raise HTTPException(409, "the room has no curated music to play a sample of")
    if body.music is not None and body.music not in listed:
        raise HTTPException(422, f"music: {body.music!r} is not in the room's list")
    chosen = [n for n in body.preferences.music.favorites if n in listed]
    name = body.music or (chosen[0] if chosen else next(iter(listed)))
    return MusicTarget.model_validate({listed[name]: name, "volume": body.volume})


def _sample_message(volume: int, asked: int, rise_s: float, hold_s: float) -> str:
    parts = []
    if volume < asked:
        parts.append(f"The room's limits keep the music at {volume} or below.")
    if rise_s >= 1.0:
        parts.append("The room's music rises slowly, as in a session: it reaches this level "
                     f"in about {math.ceil(rise_s)} s.")  # fmt: skip
    parts.append(f"It plays about {hold_s:g} s at that level, then fades out and the speakers "
                 "go back to what they were doing.")  # fmt: skip
    return " ".join(parts)


@router.post("/clients/{client_id}/link", summary="A link (and QR code) for the client's page")
async def client_link(
    client_id: str, request: Request, web: WebDep, who: Facilitator
) -> dict[str, str]:
    if web.store.get_client(client_id) is None:
        raise HTTPException(404, f"no client {client_id!r}")
    name = f"link-{client_id}-{int(web.daemon.clock.now())}"
    _, token = web.store.create_token(name, "client", client_id=client_id, by=who.who)
    url = str(request.base_url).rstrip("/") + f"/c/{token}"
    import segno  # made here, when a link is asked for: 1 MiB the daemon need not carry

    qr = segno.make(url, error="m")
    svg = qr.svg_inline(scale=4, dark="#d8c3a5", light="#0b0b0c", border=2)
    return {"url": url, "qr_svg": svg, "token_name": name}


# ------------------------------------------------------------------ admins


@router.get("/users", summary="Logins (admin)")
async def users(web: WebDep, who: Admin) -> list[dict[str, Any]]:
    del who
    return [{"username": u.username, "role": u.role} for u in web.store.list_users()]


@router.post("/users", summary="Add a login (admin)", status_code=201)
async def add_user(body: UserBody, web: WebDep, who: Admin) -> dict[str, str]:
    await asyncio.to_thread(web.store.add_user, body.username, body.password, body.role,
                            by=who.who)  # fmt: skip
    return {"username": body.username, "role": body.role}


@router.delete("/users/{username}", summary="Remove a login (admin)")
async def remove_user(username: str, web: WebDep, who: Admin) -> dict[str, str]:
    web.store.remove_user(username, by=who.who)
    return {"removed": username}


@router.get("/tokens", summary="Bearer tokens (admin; never the tokens themselves)")
async def tokens(web: WebDep, who: Admin) -> list[dict[str, Any]]:
    del who
    return [
        {"id": t.id, "name": t.name, "role": t.role, "client_id": t.client_id,
         "created_at": t.created_at, "created_by": t.created_by}
        for t in web.store.list_tokens()
    ]  # fmt: skip


@router.post("/tokens", summary="Create a bearer token (admin): shown once", status_code=201)
async def create_token(body: TokenBody, web: WebDep, who: Admin) -> dict[str, str]:
    if body.role == "client":
        raise HTTPException(422, "client tokens are made with /api/clients/{id}/link")
    row, token = web.store.create_token(body.name, body.role, by=who.who)
    return {"id": row.id, "name": row.name, "role": row.role, "token": token}


@router.delete("/tokens/{name}", summary="Revoke a bearer token (admin)")
async def revoke_token(name: str, web: WebDep, who: Admin) -> dict[str, str]:
    row = web.store.revoke_token(name, by=who.who)
    return {"revoked": row.name}
