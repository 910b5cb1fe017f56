"""Session records for the tablet and export: JSON (the record's model) and one self-contained
dark HTML page; `client_copy` leaves out staff notes not marked shareable.  Reading a record is
audited (it holds health data)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from fastapi.responses import HTMLResponse, Response

from roomctl.record.model import SessionRecord
from roomctl.web.auth import Facilitator, WebDep
from roomctl.web.context import Web
from roomctl.web.views import REFUSALS

__all__ = ["router"]

router = APIRouter(prefix="/api/sessions", tags=["records"], responses=REFUSALS)


# The builders and the page are imported when a record is asked for, not at start-up: the
# daemon starts faster without them (only the model is needed, for the response schema).


def _record(web: Web, session_id: str, client_copy: bool, who: str) -> SessionRecord:
    from roomctl.record.build import build_record

    row = web.store.get_session(session_id)
    if row is None:
        raise HTTPException(404, f"no session {session_id!r}")
    now = None if row.ended else web.daemon.clock.now()
    record = build_record(web.store, web.daemon.lib, session_id, client_copy=client_copy, now=now)
    web.store.audit(who, "read_record", session_id, {"client_copy": client_copy})
    return record


@router.get("/{session_id}/record", summary="The session's record (JSON)")
async def record(
    session_id: str, web: WebDep, who: Facilitator, client_copy: bool = False
) -> SessionRecord:
    return _record(web, session_id, client_copy, who.who)


@router.get(
    "/{session_id}/record.html",
    summary="The session's record as one self-contained page",
    response_class=HTMLResponse,
)
async def record_page(
    session_id: str, web: WebDep, who: Facilitator, client_copy: bool = False,
    download: bool = False,
) -> HTMLResponse:  # fmt: skip
    from roomctl.record.export import session_prefs
    from roomctl.record.page import record_html

    found = _record(web, session_id, client_copy, who.who)
    page = record_html(found, web.daemon.lib, prefs=session_prefs(web.store, found))
    headers = {}
    if download:
        kind = "client-copy" if client_copy else "record"
        headers["Content-Disposition"] = f'attachment; filename="{session_id}-{kind}.html"'
    return HTMLResponse(page, headers=headers)


@router.get("/{session_id}/record.json", summary="The session's record as a JSON file")
async def record_file(
    session_id: str, web: WebDep, who: Facilitator, client_copy: bool = False
) -> Response:
    from roomctl.record.export import record_json

    found = _record(web, session_id, client_copy, who.who)
    kind = "client-copy" if client_copy else "record"
    return Response(
        record_json(found),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{session_id}-{kind}.json"'},
    )
