"""Login users: usernames, roles and scrypt password hashes.

The password methods hash on purpose slowly: call them in a thread from the event loop.
"""

from __future__ import annotations

import re
import sqlite3
import time
from typing import cast

from roomctl.errors import StoreError
from roomctl.store.base import StoreBase
from roomctl.store.passwords import check_password, hash_password
from roomctl.store.rows import ROLES, Role, UserRow

__all__ = ["MAX_PASSWORD_LEN", "MIN_PASSWORD_LEN", "UserStore"]

USERNAME_RE = re.compile(r"[a-z][a-z0-9._-]{1,31}")
MIN_PASSWORD_LEN = 10
MAX_PASSWORD_LEN = 1024


def _end_web_sessions(conn: sqlite3.Connection, username: str) -> None:
    """A new password or a removed login ends the user's cookie sessions (store/web_sessions.py;
    wall-clock time, as cookies age)."""
    conn.execute(
        "UPDATE web_sessions SET revoked_at = ? WHERE user = ? AND revoked_at IS NULL",
        (time.time(), username),
    )


class UserStore(StoreBase):
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
            _end_web_sessions(conn, username)
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
            _end_web_sessions(conn, username)
            self._audit(conn, by, "remove_user", username)

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
