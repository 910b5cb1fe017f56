"""Sessions and their append-only event logs: create, follow, append, export, purge.

Durability: WAL with ``synchronous=FULL``, so when :meth:`SessionStore.append` returns the event
is on disk and survives a crash or power cut; acknowledge a command only after its append
returned.  An event's time is read under the database's write lock, so the times of events
appended by any number of threads and processes follow their order in the log.
"""

from __future__ import annotations

import math
import sqlite3
import time
from collections.abc import Mapping
from typing import Any, cast

from roomctl.errors import SessionError, StoreError
from roomctl.model.events import End, Event, EventKind, Payload, parse_payload, payload_json
from roomctl.store.base import StoreBase, text_arg
from roomctl.store.rows import EVENT_COLS, SESSION_COLS, SessionRow, dumps, event_row, session_row

__all__ = ["ABANDONED_AFTER_S", "EXPORT_FORMAT", "SessionStore"]

# A session never ended (the daemon died for good) is purged only once idle this long.
ABANDONED_AFTER_S = 48 * 3600.0
EXPORT_FORMAT = "roomctl-session/1"


class SessionStore(StoreBase):
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
        text_arg(room_id, "room_id")
        text_arg(arc, "arc")
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
        payload: Payload | EventKind | str,
        data: Mapping[str, Any] | None = None,
        *,
        by: str,
        at: float | None = None,
    ) -> Event:
        """Append an event; it is on disk when this returns.  Returns the stored event (seq set).

        `payload` is the typed payload (``Note(text="...")``), or a kind with its `data` as
        plain values, validated through the same model.  The event's time is the clock's, read
        under the write lock; `at` overrides it (imports and tests only: the log is then no
        longer in time order).

        Raises SessionError naming the field for a bad payload, and for an unknown session or
        one that has ended.  An END event marks the session ended (at the event's time).
        """
        if isinstance(payload, str):  # an EventKind is a str
            payload = parse_payload(payload, data)
        elif data is not None:
            raise SessionError(f"{payload.kind}: give a typed payload or a kind with data")
        text = dumps(payload_json(payload), f"{payload.kind} payload")
        text_arg(by, "by")
        if at is not None and not (isinstance(at, int | float) and math.isfinite(at)):
            raise SessionError(f"{payload.kind}: 'at' must be a time in seconds, got {at!r}")
        with self._tx("append an event") as conn:
            self._open_session(conn, session_id, payload.kind)
            when = float(at) if at is not None else self._stamp(conn, session_id)
            cur = conn.execute(
                'INSERT INTO events (session_id, at, kind, "by", data) VALUES (?, ?, ?, ?, ?)',
                (session_id, when, payload.kind, by, text),
            )
            seq = cast(int, cur.lastrowid)
            if isinstance(payload, End):
                conn.execute("UPDATE sessions SET ended_at = ? WHERE id = ?", (when, session_id))
            self._audit(conn, by, "append", session_id, {"seq": seq, "kind": payload.kind})
        return Event(at=when, payload=payload, by=by, seq=seq)

    def _stamp(self, conn: sqlite3.Connection, session_id: str) -> float:
        """The time of a new event, read under the write lock: the clock's, never before the
        session's newest event (a clock stepped back must not put the session before its own
        past), so time order and seq order agree."""
        (last,) = conn.execute(
            "SELECT max(at) FROM events WHERE session_id = ?", (session_id,)
        ).fetchone()
        now = self._clock.now()
        return now if last is None else max(now, float(last))

    def events(self, session_id: str, after_seq: int = 0) -> list[Event]:
        """The session's events in seq order (only those after `after_seq` if given).

        Raises StoreCorruptError naming the event and field if a stored row does not fit its
        kind's model.
        """
        with self._tx("read events", write=False) as conn:
            self._session_row(conn, session_id)
            rows = conn.execute(
                f"SELECT {EVENT_COLS} FROM events WHERE session_id = ? AND seq > ? ORDER BY seq",
                (session_id, after_seq),
            ).fetchall()
        where = f"session {session_id}"
        return [event_row(r, where) for r in rows]

    # -- retention -------------------------------------------------------------------------------

    def export_session(self, session_id: str, *, by: str = "system") -> dict[str, Any]:
        """The session row and its events as a JSON-serialisable dict.  Audited (so it needs a
        writable database)."""
        with self._tx("export a session") as conn:
            session = self._session_row(conn, session_id)
            rows = conn.execute(
                f"SELECT {EVENT_COLS} FROM events WHERE session_id = ? ORDER BY seq",
                (session_id,),
            ).fetchall()
            self._audit(conn, by, "export_session", session_id, {"events": len(rows)})
        where = f"session {session_id}"
        return {
            "format": EXPORT_FORMAT,
            "exported_at": self._clock.now(),
            "session": session.to_json(),
            "events": [event_row(r, where).to_json() for r in rows],
        }

    def purge_sessions(self, older_than_s: float, *, by: str = "system") -> list[str]:
        """Delete sessions (rows and events) older than `older_than_s`; return their ids.

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
        return ids

    # -- helpers -------------------------------------------------------------------------------

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
