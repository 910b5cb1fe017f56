"""The rows read from the session database, and how values are encoded in its columns (JSON
text; event payloads through their typed models)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any, Literal

from roomctl.errors import SessionError, StoreCorruptError, StoreError
from roomctl.model.events import Event, parse_payload

__all__ = [
    "EVENT_COLS",
    "ROLES",
    "SESSION_COLS",
    "AuditRow",
    "ClientRow",
    "PreferencesRow",
    "Role",
    "SessionRow",
    "UserRow",
    "audit_row",
    "dumps",
    "event_row",
    "session_row",
]

# -- rows ----------------------------------------------------------------------------------------

Role = Literal["facilitator", "admin", "client"]
ROLES: tuple[Role, ...] = ("facilitator", "admin", "client")


@dataclass(frozen=True, slots=True)
class SessionRow:
    id: str
    room_id: str
    arc: str
    client_id: str | None  # pseudonymous; kept after the client is deleted
    prefs_version: int | None
    created_at: float
    created_by: str
    ended_at: float | None

    @property
    def ended(self) -> bool:
        return self.ended_at is not None

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class ClientRow:
    id: str
    label: str | None
    created_at: float


@dataclass(frozen=True, slots=True)
class PreferencesRow:
    client_id: str
    version: int
    created_at: float
    created_by: str


@dataclass(frozen=True, slots=True)
class AuditRow:
    id: int
    at: float
    who: str
    action: str
    target: str
    detail: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class UserRow:
    username: str
    role: Role
    created_at: float


SESSION_COLS = "id, room_id, arc, client_id, prefs_version, created_at, created_by, ended_at"
EVENT_COLS = 'seq, at, kind, "by", data'


def session_row(r: tuple[Any, ...]) -> SessionRow:
    return SessionRow(r[0], r[1], r[2], r[3], r[4], float(r[5]), r[6], r[7])


def event_row(r: tuple[Any, ...], where: str = "the session database") -> Event:
    """The event in row `r` (EVENT_COLS).  A row whose payload does not fit its kind's model
    is a StoreCorruptError naming the event and the field (the writer validated it)."""
    seq = int(r[0])
    try:
        data = json.loads(r[4])
        payload = parse_payload(r[2], data)
    except (ValueError, SessionError) as e:
        raise StoreCorruptError(f"{where}: event {seq} ({r[2]}) cannot be read: {e}") from None
    return Event(at=float(r[1]), payload=payload, by=r[3], seq=seq)


def audit_row(r: tuple[Any, ...]) -> AuditRow:
    detail = None if r[5] is None else json.loads(r[5])
    return AuditRow(r[0], float(r[1]), r[2], r[3], r[4], detail)


# -- encodings -----------------------------------------------------------------------------------


def dumps(data: object, what: str, error: type[SessionError | StoreError] = SessionError) -> str:
    """Compact JSON text for a column; `error` naming `what` if it is not JSON."""
    try:
        return json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as e:
        raise error(f"{what} cannot be stored as JSON: {e}") from e
