"""Clients (pseudonymous ids, an optional label) and their versioned preferences.

Preferences are health data.  They are validated through the Preferences model when saved (a
profile that does not validate is refused, naming the field) and again when read: a stored
record that does not validate is an error naming the client and the field, never silently
"no preferences".

Each version saved from the command line or the web carries the client's consent: who
consented (the client), the staff member who recorded it, when, and to what (a short statement
of scope).  A client's export holds everything stored about them; their deletion removes the
label, every version and its consent, and leaves only ids in the audit log.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from pydantic import ValidationError

from roomctl.errors import PreferencesError, StoreError
from roomctl.model.events import describe
from roomctl.model.prefs import Preferences
from roomctl.store.base import StoreBase
from roomctl.store.rows import ClientRow, PreferencesRow, dumps

__all__ = [
    "CLIENT_EXPORT_FORMAT",
    "DEFAULT_CONSENT_SCOPE",
    "ClientStore",
    "Consent",
    "ConsentRecord",
    "PreferenceVersion",
]

CLIENT_EXPORT_FORMAT = "roomctl-client/1"
DEFAULT_CONSENT_SCOPE = "room preferences used to shape this client's sessions in this room"
MAX_SCOPE_LEN = 500


@dataclass(frozen=True, slots=True)
class Consent:
    """The client's consent to a preferences version: what they agreed to, and the staff
    member who recorded it (the client is the one who consents)."""

    recorded_by: str
    scope: str = DEFAULT_CONSENT_SCOPE

    def checked(self, client_id: str) -> Consent:
        """Itself, trimmed; StoreError naming the client if a part is missing or too long."""
        by, scope = self.recorded_by.strip(), " ".join(self.scope.split())
        if not by:
            raise StoreError(f"client {client_id}: consent: who recorded it is missing")
        if not scope:
            raise StoreError(
                f"client {client_id}: consent: say what the client agreed to (the scope is empty)"
            )
        if len(scope) > MAX_SCOPE_LEN:
            raise StoreError(
                f"client {client_id}: consent: the scope is {len(scope)} characters; "
                f"keep it under {MAX_SCOPE_LEN}"
            )
        return Consent(by, scope)


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    """A stored consent: `given_by` is the client's id."""

    given_by: str
    recorded_by: str
    at: float
    scope: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class PreferenceVersion:
    """One stored preferences version (without the profile) and its consent, if recorded."""

    client_id: str
    version: int
    created_at: float
    created_by: str
    consent: ConsentRecord | None


def _validated(client_id: str, data: object, what: str) -> Preferences:
    if isinstance(data, Preferences):
        return data
    if not isinstance(data, Mapping):
        raise PreferencesError(
            client_id, "", f"{what}: preferences must be a mapping, got {type(data).__name__}"
        )
    try:
        return Preferences.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise PreferencesError(client_id, field, describe(what, exc)) from None


def _consent(r: tuple[Any, ...]) -> ConsentRecord | None:
    """The consent in the last four columns of a row joined with consents (None if none)."""
    return None if r[0] is None else ConsentRecord(r[0], r[1], float(r[2]), r[3])


class ClientStore(StoreBase):
    def create_client(self, label: str | None = None, *, by: str = "system") -> str:
        """Create a client and return its pseudonymous id ("c-" and 8 hex digits)."""
        with self._tx("create a client") as conn:
            cid = self._new_id(conn, "clients", "c-", 4)
            conn.execute(
                "INSERT INTO clients (id, label, created_at) VALUES (?, ?, ?)",
                (cid, label, self._clock.now()),
            )
            self._audit(conn, by, "create_client", cid)  # never the label: it may be a name
        return cid

    def get_client(self, client_id: str) -> ClientRow | None:
        """The client, or None if unknown or deleted."""
        with self._tx("read a client", write=False) as conn:
            row = conn.execute(
                "SELECT id, label, created_at FROM clients WHERE id = ? AND deleted_at IS NULL",
                (client_id,),
            ).fetchone()
        return None if row is None else ClientRow(row[0], row[1], float(row[2]))

    def live_client(self, client_id: str) -> ClientRow:
        """The client; StoreError saying "no client" or "has been deleted" otherwise."""
        with self._tx("read a client", write=False) as conn:
            self._live_client(conn, client_id, StoreError)
            row = conn.execute(
                "SELECT id, label, created_at FROM clients WHERE id = ?", (client_id,)
            ).fetchone()
        return ClientRow(row[0], row[1], float(row[2]))

    def list_clients(self) -> list[ClientRow]:
        """Clients not deleted, oldest first."""
        with self._tx("list clients", write=False) as conn:
            rows = conn.execute(
                "SELECT id, label, created_at FROM clients WHERE deleted_at IS NULL "
                "ORDER BY created_at, rowid"
            ).fetchall()
        return [ClientRow(r[0], r[1], float(r[2])) for r in rows]

    def delete_client(self, client_id: str, *, by: str = "system") -> None:
        """Delete a client: what that covers, and what it does not.

        Deleted: every version of the client's preferences with its consent, and the label
        (display name).  The pages they were stored in are overwritten (``secure_delete``) and
        the WAL is truncated.
        Kept: a tombstone row with the pseudonymous id, so the id is never handed to someone
        else; session rows and their events, which refer to the client only by that id (but a
        facilitator's notes in the events may mention the person; to remove sessions, use
        ``purge_sessions``); audit rows, which hold ids only.  Backups are not touched.
        """
        with self._tx("delete a client") as conn:
            self._live_client(conn, client_id, StoreError)
            n = conn.execute("DELETE FROM preferences WHERE client_id = ?", (client_id,)).rowcount
            conn.execute(
                "UPDATE clients SET label = NULL, deleted_at = ? WHERE id = ?",
                (self._clock.now(), client_id),
            )
            self._audit(conn, by, "delete_client", client_id, {"preference_versions": n})
        self._checkpoint()

    def save_preferences(
        self,
        client_id: str,
        prefs: Preferences | Mapping[str, Any],
        by: str,
        *,
        consent: Consent | None = None,
    ) -> int:
        """Store `prefs` as the client's next preferences version and return that version.

        Plain data is validated through the Preferences model first: PreferencesError naming
        the client and the field if it does not validate (nothing is stored then).  `consent`
        is recorded with the version, stamped with the same time; front ends (the command
        line, the web) refuse to save without one.
        """
        valid = _validated(client_id, prefs, f"preferences for client {client_id}")
        agreed = None if consent is None else consent.checked(client_id)
        text = dumps(valid.model_dump(mode="json", exclude_defaults=True), "preferences",
                     StoreError)  # fmt: skip
        with self._tx("save preferences") as conn:
            self._live_client(conn, client_id, StoreError)
            (last,) = conn.execute(
                "SELECT coalesce(max(version), 0) FROM preferences WHERE client_id = ?",
                (client_id,),
            ).fetchone()
            version = int(last) + 1
            now = self._clock.now()
            conn.execute(
                "INSERT INTO preferences (client_id, version, data, created_at, created_by) "
                "VALUES (?, ?, ?, ?, ?)",
                (client_id, version, text, now, by),
            )
            detail: dict[str, Any] = {"version": version}
            if agreed is not None:
                conn.execute(
                    "INSERT INTO consents (client_id, version, given_by, recorded_by, at, scope) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (client_id, version, client_id, agreed.recorded_by, now, agreed.scope),
                )
                detail["consent_recorded_by"] = agreed.recorded_by
            self._audit(conn, by, "save_preferences", client_id, detail)
        return version

    def preferences(
        self, client_id: str, version: int | None = None
    ) -> tuple[int, Preferences] | None:
        """(version, preferences): the given version, or the latest; None if there is none.

        Raises PreferencesError naming the client, the version and the field if the stored
        record does not validate.
        """
        sql = "SELECT version, data FROM preferences WHERE client_id = ?"
        args: tuple[object, ...] = (client_id,)
        if version is None:
            sql += " ORDER BY version DESC LIMIT 1"
        else:
            sql += " AND version = ?"
            args = (client_id, version)
        with self._tx("read preferences", write=False) as conn:
            row = conn.execute(sql, args).fetchone()
        if row is None:
            return None
        found = int(row[0])
        what = f"client {client_id}: stored preferences v{found} do not validate"
        try:
            data = json.loads(row[1])
        except ValueError as e:
            raise PreferencesError(client_id, "", f"{what}: not JSON ({e})") from None
        return found, _validated(client_id, data, what)

    def preference_versions(self, client_id: str) -> list[PreferencesRow]:
        """The client's preference versions, oldest first (without the profiles)."""
        with self._tx("list preference versions", write=False) as conn:
            rows = conn.execute(
                "SELECT client_id, version, created_at, created_by FROM preferences "
                "WHERE client_id = ? ORDER BY version",
                (client_id,),
            ).fetchall()
        return [PreferencesRow(r[0], int(r[1]), float(r[2]), r[3]) for r in rows]

    def preference_history(self, client_id: str) -> list[PreferenceVersion]:
        """The client's preference versions with their consent, oldest first."""
        with self._tx("read preference history", write=False) as conn:
            rows = conn.execute(
                "SELECT p.client_id, p.version, p.created_at, p.created_by, c.given_by, "
                "c.recorded_by, c.at, c.scope FROM preferences p LEFT JOIN consents c "
                "ON c.client_id = p.client_id AND c.version = p.version "
                "WHERE p.client_id = ? ORDER BY p.version",
                (client_id,),
            ).fetchall()
        return [
            PreferenceVersion(r[0], int(r[1]), float(r[2]), r[3], _consent(r[4:])) for r in rows
        ]

    def export_client(self, client_id: str, *, by: str = "system") -> dict[str, Any]:
        """Everything stored about a client as a JSON-serialisable dict: id, label, every
        preferences version as stored, with its consent.  Audited (so it needs a writable
        database).  StoreError if the client is unknown or deleted."""
        with self._tx("export a client") as conn:
            self._live_client(conn, client_id, StoreError)
            label, created_at = conn.execute(
                "SELECT label, created_at FROM clients WHERE id = ?", (client_id,)
            ).fetchone()
            rows = conn.execute(
                "SELECT p.version, p.data, p.created_at, p.created_by, c.given_by, "
                "c.recorded_by, c.at, c.scope FROM preferences p LEFT JOIN consents c "
                "ON c.client_id = p.client_id AND c.version = p.version "
                "WHERE p.client_id = ? ORDER BY p.version",
                (client_id,),
            ).fetchall()
            self._audit(conn, by, "export_client", client_id, {"preference_versions": len(rows)})
        versions = []
        for r in rows:
            try:  # exported as stored, even a record that no longer validates
                data: object = json.loads(r[1])
            except ValueError:
                data = r[1]
            consent = _consent(r[4:])
            versions.append({
                "version": int(r[0]), "created_at": float(r[2]), "created_by": r[3],
                "preferences": data, "consent": None if consent is None else consent.to_json(),
            })  # fmt: skip
        return {
            "format": CLIENT_EXPORT_FORMAT,
            "exported_at": self._clock.now(),
            "client": {"id": client_id, "label": label, "created_at": float(created_at)},
            "preferences": versions,
        }
