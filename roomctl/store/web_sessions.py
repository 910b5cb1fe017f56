"""Cookie sessions of the web app: one row per login (a person's, or a client's link opened in
a browser), so a logout, a changed password or a removed login ends it for good, across
restarts of the daemon.

A cookie carries its session's id, signed; the row says who it is for, when it was made, when
it expires (the cookie's max age) and whether it was ended.  Times here are wall-clock epoch
seconds given by the caller (a browser's cookie ages in wall time, whatever clock the room
runs on).  Expired rows, and ended ones past their expiry, are purged on the daemon's start.
The row holds no secret: the id alone, without the install's signing key, is no cookie.
"""

from __future__ import annotations

import secrets

from roomctl.store.base import StoreBase

__all__ = ["WebSessionStore"]

SID_BYTES = 18


class WebSessionStore(StoreBase):
    def create_web_session(self, user: str, *, now: float, max_age_s: float) -> str:
        """A new cookie session for `user` (a username or ``client:ID``); returns its id."""
        sid = secrets.token_urlsafe(SID_BYTES)
        with self._tx("record a web login") as conn:
            conn.execute(
                "INSERT INTO web_sessions (id, user, created_at, expires_at) VALUES (?, ?, ?, ?)",
                (sid, user, now, now + max_age_s),
            )
        return sid

    def web_session_live(self, sid: str, user: str, *, now: float) -> bool:
        """True if `sid` is a session of `user` that has neither ended nor expired."""
        with self._tx("read a web login", write=False) as conn:
            row = conn.execute(
                "SELECT 1 FROM web_sessions WHERE id = ? AND user = ? AND revoked_at IS NULL "
                "AND expires_at > ?",
                (sid, user, now),
            ).fetchone()
        return row is not None

    def end_web_session(self, sid: str, *, now: float) -> bool:
        """Log out: the session's cookie is refused from now on.  False if it was not live."""
        with self._tx("end a web login") as conn:
            cur = conn.execute(
                "UPDATE web_sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                (now, sid),
            )
        return cur.rowcount > 0

    def end_web_sessions_of(self, user: str, *, now: float) -> int:
        """End every live cookie session of `user`; returns how many."""
        with self._tx("end a user's web logins") as conn:
            cur = conn.execute(
                "UPDATE web_sessions SET revoked_at = ? WHERE user = ? AND revoked_at IS NULL",
                (now, user),
            )
        return cur.rowcount

    def purge_web_sessions(self, *, now: float) -> int:
        """Delete the rows whose cookies have expired (ended or not); returns how many."""
        with self._tx("purge expired web logins") as conn:
            cur = conn.execute("DELETE FROM web_sessions WHERE expires_at <= ?", (now,))
        return cur.rowcount
