"""The session database: sessions and their append-only event logs, clients and their
versioned preferences, an audit log and login users, in one SQLite file.

Durability: WAL with ``synchronous=FULL``, so when :meth:`Store.append` returns the event is on
disk and survives a crash or power cut; acknowledge a command only after its append returned.
Every call is one short transaction, and every change writes its audit row in that same
transaction.  Calls are synchronous and fast (the daemon makes them from the event loop), except
the password methods, which hash on purpose slowly: run those in a thread.  A Store may be
shared between threads; its calls are serialised.

Health data: preference profiles and event payloads (facilitators' notes) are health data.
Audit rows carry only ids, kinds and versions, never payloads, client labels or passwords.
"""

from __future__ import annotations

import json
import math
import re
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import TracebackType
from typing import Any, Self, cast

from roomctl.clock import Clock
from roomctl.errors import SessionError, StoreError
from roomctl.model.events import Event, EventKind, validate_payload
from roomctl.store.schema import (
    EVENT_COLS,
    ROLES,
    SESSION_COLS,
    AuditRow,
    ClientRow,
    PreferencesRow,
    Role,
    SessionRow,
    UserRow,
    audit_row,
    check_password,
    connect,
    dumps,
    event_row,
    hash_password,
    session_row,
)

__all__ = [
    "ROLES",
    "AuditRow",
    "ClientRow",
    "PreferencesRow",
    "Role",
    "SessionRow",
    "Store",
    "UserRow",
]

USERNAME_RE = re.compile(r"[a-z][a-z0-9._-]{1,31}")
MIN_PASSWORD_LEN = 10
MAX_PASSWORD_LEN = 1024
# A session never ended (the daemon died for good) is purged only once idle this long.
ABANDONED_AFTER_S = 48 * 3600.0


def _text(value: object, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise SessionError(f"{what} must be a non-empty string, got {value!r}")
    return value


class Store:
    """The open session database.  Use :meth:`open`; close with :meth:`close` or ``with``."""

    def __init__(self, conn: sqlite3.Connection, where: str, clock: Clock) -> None:
        self._conn: sqlite3.Connection | None = conn
        self._where = where
        self._clock = clock
        self._lock = threading.Lock()

    # -- lifecycle ------------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | Path, clock: Clock) -> Store:
        """Open (creating and migrating as needed) the database at `path`; ":memory:" works.

        Raises StoreError naming the path if it cannot be opened, is corrupt, is not a roomctl
        database, or was written by a newer roomctl.
        """
        return cls(connect(path), str(path), clock)

    @property
    def path(self) -> str:
        return self._where

    def close(self) -> None:
        """Close the database.  Idempotent; later calls raise StoreError."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @contextmanager
    def _tx(self, op: str, *, write: bool = True) -> Iterator[sqlite3.Connection]:
        """One transaction under the lock; sqlite3 errors become a StoreError naming `op`."""
        with self._lock:
            conn = self._conn
            if conn is None:
                raise StoreError(f"session database {self._where} is closed (while trying to {op})")
            try:
                conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                yield conn
                conn.execute("COMMIT")
            except BaseException as e:
                if conn.in_transaction:
                    with suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                if isinstance(e, sqlite3.Error):
                    raise StoreError(f"session database {self._where}: cannot {op}: {e}") from e
                raise

    def _checkpoint(self) -> None:
        """Best effort: fold the WAL into the file and truncate it, so deleted data is gone."""
        with self._lock:
            if self._conn is not None and self._where != ":memory:":
                with suppress(sqlite3.Error):
                    self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def _audit(
        self, conn: sqlite3.Connection, who: str, action: str, target: str, detail: object = None
    ) -> None:
        conn.execute(
            "INSERT INTO audit (at, who, action, target, detail) VALUES (?, ?, ?, ?, ?)",
            (self._clock.now(), who, action, target,
             None if detail is None else dumps(detail, "audit detail")),
        )  # fmt: skip

    # -- sessions and events ----------------------------------------------------------------

    def create_session(
        self,
        room_id: str,
        arc: str,
        client_id: str | None = None,
        prefs_version: int | None = None,
        *,
        by: str = "system",
    ) -> str:
        """Create a session row and return its id ("s-YYYYMMDD-HHMM-xxxx", UTC).

        Does not append the START event; the caller does, as the session's first event.
        """
        _text(room_id, "room_id")
        _text(arc, "arc")
        with self._tx("create a session") as conn:
            if client_id is not None:
                self._live_client(conn, client_id, SessionError)
                if (
                    prefs_version is not None
                    and not conn.execute(
                        "SELECT 1 FROM preferences WHERE client_id = ? AND version = ?",
                        (client_id, prefs_version),
                    ).fetchone()
                ):
                    raise SessionError(f"client {client_id} has no preferences v{prefs_version}")
            elif prefs_version is not None:
                raise SessionError("prefs_version given without a client_id")
            now = self._clock.now()
            stamp = time.strftime("%Y%m%d-%H%M", time.gmtime(now))
            sid = self._new_id(conn, "sessions", f"s-{stamp}-", 2)
            conn.execute(
                f"INSERT INTO sessions ({SESSION_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, NULL)",
                (sid, room_id, arc, client_id, prefs_version, now, by),
            )
            detail = {"room_id": room_id, "arc": arc, "client_id": client_id,
                      "prefs_version": prefs_version}  # fmt: skip
            self._audit(conn, by, "create_session", sid, detail)
        return sid

    def get_session(self, session_id: str) -> SessionRow | None:
        with self._tx("read a session", write=False) as conn:
            r = conn.execute(f"SELECT {SESSION_COLS} FROM sessions WHERE id = ?", (session_id,))
            row = r.fetchone()
        return None if row is None else session_row(row)

    def list_sessions(self, room_id: str | None = None, limit: int = 100) -> list[SessionRow]:
        """Sessions, newest first."""
        where, args = ("WHERE room_id = ?", [room_id]) if room_id is not None else ("", [])
        with self._tx("list sessions", write=False) as conn:
            rows = conn.execute(
                f"SELECT {SESSION_COLS} FROM sessions {where} "
                "ORDER BY created_at DESC, rowid DESC LIMIT ?",
                (*args, limit),
            ).fetchall()
        return [session_row(r) for r in rows]

    def active_session(self, room_id: str) -> SessionRow | None:
        """The room's newest session that has not ended (the one to resume after a restart)."""
        with self._tx("find the active session", write=False) as conn:
            row = conn.execute(
                f"SELECT {SESSION_COLS} FROM sessions WHERE room_id = ? AND ended_at IS NULL "
                "ORDER BY created_at DESC, rowid DESC LIMIT 1",
                (room_id,),
            ).fetchone()
        return None if row is None else session_row(row)

    def append(
        self,
        session_id: str,
        kind: EventKind,
        data: dict[str, Any],
        by: str,
        at: float | None = None,
    ) -> Event:
        """Append an event; it is on disk when this returns.  Returns the stored event (seq set).

        Raises SessionError for a bad payload, an unknown session or one that has ended.  An
        END event marks the session ended (at the event's time).
        """
        try:
            kind = EventKind(kind)
        except ValueError as e:
            raise SessionError(f"unknown event kind {kind!r}") from e
        if not isinstance(data, dict):
            raise SessionError(f"{kind.value}: payload must be a dict, got {type(data).__name__}")
        validate_payload(kind, data)
        text = dumps(data, f"{kind.value} payload")
        _text(by, "by")
        if at is not None and not (isinstance(at, int | float) and math.isfinite(at)):
            raise SessionError(f"{kind.value}: 'at' must be a time in seconds, got {at!r}")
        with self._tx("append an event") as conn:
            self._open_session(conn, session_id, kind.value)
            when = self._clock.now() if at is None else float(at)
            cur = conn.execute(
                'INSERT INTO events (session_id, at, kind, "by", data) VALUES (?, ?, ?, ?, ?)',
                (session_id, when, kind.value, by, text),
            )
            seq = cast(int, cur.lastrowid)
            if kind is EventKind.END:
                conn.execute("UPDATE sessions SET ended_at = ? WHERE id = ?", (when, session_id))
            self._audit(conn, by, "append", session_id, {"seq": seq, "kind": kind.value})
        return Event(at=when, kind=kind, data=json.loads(text), by=by, seq=seq)

    def events(self, session_id: str, after_seq: int = 0) -> list[Event]:
        """The session's events in seq order (only those after `after_seq` if given)."""
        with self._tx("read events", write=False) as conn:
            self._session_row(conn, session_id)
            rows = conn.execute(
                f"SELECT {EVENT_COLS} FROM events WHERE session_id = ? AND seq > ? ORDER BY seq",
                (session_id, after_seq),
            ).fetchall()
        return [event_row(r) for r in rows]

    # -- clients and preferences --------------------------------------------------------------

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

        Deleted: every version of the client's preferences, and the label (display name).  The
        pages they were stored in are overwritten (``secure_delete``) and the WAL is truncated.
        Kept: a tombstone row with the pseudonymous id, so the id is never handed to someone
        else; session rows and their events, which refer to the client only by that id (but a
        facilitator's notes in the events may mention the person; to remove sessions, use
        :meth:`purge_sessions`); audit rows, which hold ids only.  Backups are not touched.
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

    def save_preferences(self, client_id: str, data: dict[str, Any], by: str) -> int:
        """Store `data` as the client's next preferences version and return that version."""
        if not isinstance(data, dict):
            raise StoreError(f"preferences must be a dict, got {type(data).__name__}")
        text = dumps(data, "preferences", StoreError)
        with self._tx("save preferences") as conn:
            self._live_client(conn, client_id, StoreError)
            (last,) = conn.execute(
                "SELECT coalesce(max(version), 0) FROM preferences WHERE client_id = ?",
                (client_id,),
            ).fetchone()
            version = int(last) + 1
            conn.execute(
                "INSERT INTO preferences (client_id, version, data, created_at, created_by) "
                "VALUES (?, ?, ?, ?, ?)",
                (client_id, version, text, self._clock.now(), by),
            )
            self._audit(conn, by, "save_preferences", client_id, {"version": version})
        return version

    def preferences(
        self, client_id: str, version: int | None = None
    ) -> tuple[int, dict[str, Any]] | None:
        """(version, profile): the given version, or the latest; None if there is none."""
        sql = "SELECT version, data FROM preferences WHERE client_id = ?"
        args: tuple[object, ...] = (client_id,)
        if version is None:
            sql += " ORDER BY version DESC LIMIT 1"
        else:
            sql += " AND version = ?"
            args = (client_id, version)
        with self._tx("read preferences", write=False) as conn:
            row = conn.execute(sql, args).fetchone()
        return None if row is None else (int(row[0]), json.loads(row[1]))

    def preference_versions(self, client_id: str) -> list[PreferencesRow]:
        """The client's preference versions, oldest first (without the profiles)."""
        with self._tx("list preference versions", write=False) as conn:
            rows = conn.execute(
                "SELECT client_id, version, created_at, created_by FROM preferences "
                "WHERE client_id = ? ORDER BY version",
                (client_id,),
            ).fetchall()
        return [PreferencesRow(r[0], int(r[1]), float(r[2]), r[3]) for r in rows]

    # -- audit ---------------------------------------------------------------------------------

    def audit(
        self, who: str, action: str, target: str, detail: dict[str, Any] | None = None
    ) -> None:
        """Record an action (e.g. a login).  Keep health data and names out of `detail`."""
        with self._tx("write the audit log") as conn:
            self._audit(conn, who, action, target, detail)

    def audit_log(self, limit: int = 100, since: float | None = None) -> list[AuditRow]:
        """Audit rows, newest first; only those at or after `since` (wall time) if given."""
        where = "" if since is None else "WHERE at >= ?"
        args = (limit,) if since is None else (since, limit)
        with self._tx("read the audit log", write=False) as conn:
            rows = conn.execute(
                f"SELECT id, at, who, action, target, detail FROM audit {where} "
                "ORDER BY id DESC LIMIT ?",
                args,
            ).fetchall()
        return [audit_row(r) for r in rows]

    # -- users -----------------------------------------------------------------------------------

    def add_user(self, username: str, password: str, role: Role, *, by: str = "system") -> None:
        """Add a login.  Slow on purpose (scrypt): call it in a thread from the event loop."""
        self._check_username(username)
        if role not in ROLES:
            raise StoreError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
        hashed = hash_password(self._check_password(password))
        with self._tx("add a user") as conn:
            if conn.execute("SELECT 1 FROM users WHERE username = ?", (username,)).fetchone():
                raise StoreError(f"user {username!r} already exists")
            conn.execute(
                "INSERT INTO users (username, password_hash, role, created_at) VALUES (?, ?, ?, ?)",
                (username, hashed, role, self._clock.now()),
            )
            self._audit(conn, by, "add_user", username, {"role": role})

    def set_password(self, username: str, password: str, *, by: str = "system") -> None:
        """Replace a user's password.  Slow on purpose, like :meth:`add_user`."""
        hashed = hash_password(self._check_password(password))
        with self._tx("set a password") as conn:
            cur = conn.execute(
                "UPDATE users SET password_hash = ? WHERE username = ?", (hashed, username)
            )
            if cur.rowcount == 0:
                raise StoreError(f"no user {username!r}")
            self._audit(conn, by, "set_password", username)

    def verify_user(self, username: str, password: str) -> Role | None:
        """The user's role if the password is right, else None.  Slow on purpose (scrypt).

        Takes as long for an unknown user as for a wrong password; compares in constant time.
        """
        with self._tx("read a user", write=False) as conn:
            row = conn.execute(
                "SELECT password_hash, role FROM users WHERE username = ?", (username,)
            ).fetchone()
        if not isinstance(password, str) or len(password) > MAX_PASSWORD_LEN:
            return None
        if check_password(password, None if row is None else row[0]) and row is not None:
            return cast(Role, row[1])
        return None

    def list_users(self) -> list[UserRow]:
        with self._tx("list users", write=False) as conn:
            rows = conn.execute(
                "SELECT username, role, created_at FROM users ORDER BY username"
            ).fetchall()
        return [UserRow(r[0], r[1], float(r[2])) for r in rows]

    def remove_user(self, username: str, *, by: str = "system") -> None:
        with self._tx("remove a user") as conn:
            if conn.execute("DELETE FROM users WHERE username = ?", (username,)).rowcount == 0:
                raise StoreError(f"no user {username!r}")
            self._audit(conn, by, "remove_user", username)

    # -- retention -------------------------------------------------------------------------------

    def export_session(self, session_id: str, *, by: str = "system") -> dict[str, Any]:
        """The session row and its events as a JSON-serialisable dict.  Audited."""
        with self._tx("export a session") as conn:
            session = self._session_row(conn, session_id)
            rows = conn.execute(
                f"SELECT {EVENT_COLS} FROM events WHERE session_id = ? ORDER BY seq",
                (session_id,),
            ).fetchall()
            self._audit(conn, by, "export_session", session_id, {"events": len(rows)})
        return {
            "format": "roomctl-session/1",
            "exported_at": self._clock.now(),
            "session": session.to_json(),
            "events": [event_row(r).to_json() for r in rows],
        }

    def purge_sessions(self, older_than_s: float, *, by: str = "system") -> int:
        """Delete sessions (rows and events) older than `older_than_s`; return how many.

        A session is old when it ended before the cutoff.  One that never ended is purged only
        when its last event (or creation) is before the cutoff and at least
        ABANDONED_AFTER_S ago, so a running session is never removed.
        """
        if not (isinstance(older_than_s, int | float) and older_than_s >= 0):
            raise StoreError(f"older_than_s must be >= 0 seconds, got {older_than_s!r}")
        now = self._clock.now()
        cutoff = now - older_than_s
        with self._tx("purge sessions") as conn:
            ids = [r[0] for r in conn.execute(
                "SELECT id FROM sessions s WHERE (ended_at IS NOT NULL AND ended_at < ?) OR "
                "(ended_at IS NULL AND coalesce((SELECT max(at) FROM events e "
                " WHERE e.session_id = s.id), created_at) < ?) ORDER BY created_at",
                (cutoff, min(cutoff, now - ABANDONED_AFTER_S)),
            )]  # fmt: skip
            conn.executemany("DELETE FROM sessions WHERE id = ?", [(i,) for i in ids])
            detail = {"count": len(ids), "older_than_s": older_than_s, "ids": ids}
            self._audit(conn, by, "purge_sessions", "sessions", detail)
        if ids:
            self._checkpoint()
        return len(ids)

    # -- helpers -------------------------------------------------------------------------------

    @staticmethod
    def _new_id(conn: sqlite3.Connection, table: str, prefix: str, nbytes: int) -> str:
        for _ in range(100):
            candidate = prefix + secrets.token_hex(nbytes)
            if not conn.execute(f"SELECT 1 FROM {table} WHERE id = ?", (candidate,)).fetchone():
                return candidate
        raise StoreError(f"cannot find a free id in {table}")

    @staticmethod
    def _session_row(conn: sqlite3.Connection, session_id: str) -> SessionRow:
        r = conn.execute(f"SELECT {SESSION_COLS} FROM sessions WHERE id = ?", (session_id,))
        row = r.fetchone()
        if row is None:
            raise SessionError(f"no session {session_id!r}")
        return session_row(row)

    def _open_session(self, conn: sqlite3.Connection, session_id: str, what: str) -> None:
        if self._session_row(conn, session_id).ended:
            raise SessionError(f"session {session_id} has ended; cannot append {what}")

    @staticmethod
    def _live_client(
        conn: sqlite3.Connection, client_id: str, error: type[StoreError | SessionError]
    ) -> None:
        row = conn.execute("SELECT deleted_at FROM clients WHERE id = ?", (client_id,)).fetchone()
        if row is None:
            raise error(f"no client {client_id!r}")
        if row[0] is not None:
            raise error(f"client {client_id} has been deleted")

    @staticmethod
    def _check_username(username: str) -> None:
        if not isinstance(username, str) or not USERNAME_RE.fullmatch(username):
            raise StoreError(
                f"username {username!r} is not valid: use 2-32 characters, lower-case letters, "
                "digits, '.', '_' or '-', starting with a letter"
            )

    @staticmethod
    def _check_password(password: str) -> str:
        if not isinstance(password, str) or len(password) < MIN_PASSWORD_LEN:
            raise StoreError(f"password too short: use at least {MIN_PASSWORD_LEN} characters")
        if len(password) > MAX_PASSWORD_LEN:
            raise StoreError(f"password too long: use at most {MAX_PASSWORD_LEN} characters")
        return password
