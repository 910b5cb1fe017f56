"""The session database's shape: connection settings, ordered migrations, the row types read
from it and how values are encoded in it (JSON text, scrypt password hashes).

The schema version is SQLite's ``PRAGMA user_version``: version N means the first N entries of
:data:`MIGRATIONS` have been applied.  Migrations are only ever appended to the list, never
edited, and all pending ones run in one transaction on open, so a crash mid-upgrade leaves the
database at the old version.  A database written by a newer roomctl is refused rather than
guessed at.

Guard rails live in the schema itself, so they hold for any code (or sqlite3 shell) that
touches the file: events, audit rows and preference versions cannot be updated; events cannot
be deleted while their session exists (only a purge of the whole session removes them); a
session row changes once, when it ends.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import hashlib
import hmac
import json
import secrets
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from roomctl.errors import SessionError, StoreError
from roomctl.model.events import Event, EventKind

__all__ = [
    "APPLICATION_ID",
    "MIGRATIONS",
    "ROLES",
    "AuditRow",
    "ClientRow",
    "PreferencesRow",
    "Role",
    "SessionRow",
    "UserRow",
    "connect",
    "migrate",
    "schema_version",
]

# Written to the file header so a roomctl database can be told apart from any other SQLite file.
APPLICATION_ID = 0x726D6374  # "rmct"

BUSY_TIMEOUT_MS = 5000

_V1 = (
    """
    CREATE TABLE clients (
        id          TEXT PRIMARY KEY,
        label       TEXT,
        created_at  REAL NOT NULL,
        deleted_at  REAL
    )
    """,
    """
    CREATE TABLE sessions (
        id             TEXT PRIMARY KEY,
        room_id        TEXT NOT NULL,
        arc            TEXT NOT NULL,
        client_id      TEXT REFERENCES clients(id),
        prefs_version  INTEGER,
        created_at     REAL NOT NULL,
        created_by     TEXT NOT NULL,
        ended_at       REAL
    )
    """,
    "CREATE INDEX sessions_by_room ON sessions(room_id, created_at)",
    """
    CREATE TRIGGER sessions_fixed BEFORE UPDATE
        OF id, room_id, arc, client_id, prefs_version, created_at, created_by ON sessions
    BEGIN SELECT RAISE(ABORT, 'a session row is fixed once created'); END
    """,
    """
    CREATE TRIGGER sessions_end_once BEFORE UPDATE OF ended_at ON sessions
        WHEN OLD.ended_at IS NOT NULL
    BEGIN SELECT RAISE(ABORT, 'the session has already ended'); END
    """,
    """
    CREATE TABLE events (
        seq         INTEGER PRIMARY KEY AUTOINCREMENT,
        session_id  TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        at          REAL NOT NULL,
        kind        TEXT NOT NULL,
        "by"        TEXT NOT NULL,
        data        TEXT NOT NULL
    )
    """,
    "CREATE INDEX events_by_session ON events(session_id, seq)",
    """
    CREATE TRIGGER events_no_update BEFORE UPDATE ON events
    BEGIN SELECT RAISE(ABORT, 'events are append-only'); END
    """,
    """
    CREATE TRIGGER events_no_delete BEFORE DELETE ON events
        WHEN EXISTS (SELECT 1 FROM sessions WHERE id = OLD.session_id)
    BEGIN SELECT RAISE(ABORT, 'events are append-only (only a whole-session purge removes them)');
    END
    """,
    """
    CREATE TABLE preferences (
        client_id   TEXT NOT NULL REFERENCES clients(id),
        version     INTEGER NOT NULL CHECK (version >= 1),
        data        TEXT NOT NULL,
        created_at  REAL NOT NULL,
        created_by  TEXT NOT NULL,
        PRIMARY KEY (client_id, version)
    )
    """,
    """
    CREATE TRIGGER preferences_no_update BEFORE UPDATE ON preferences
    BEGIN SELECT RAISE(ABORT, 'preferences are versioned: save a new version instead'); END
    """,
    """
    CREATE TABLE audit (
        id      INTEGER PRIMARY KEY AUTOINCREMENT,
        at      REAL NOT NULL,
        who     TEXT NOT NULL,
        action  TEXT NOT NULL,
        target  TEXT NOT NULL,
        detail  TEXT
    )
    """,
    "CREATE INDEX audit_by_time ON audit(at)",
    """
    CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END
    """,
    """
    CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END
    """,
    """
    CREATE TABLE users (
        username       TEXT PRIMARY KEY,
        password_hash  TEXT NOT NULL,
        role           TEXT NOT NULL CHECK (role IN ('facilitator', 'admin', 'client')),
        created_at     REAL NOT NULL
    )
    """,
)

# Ordered; entry i upgrades schema version i to i + 1.  Append only, never edit a shipped entry.
MIGRATIONS: tuple[tuple[str, ...], ...] = (_V1,)


def configure(conn: sqlite3.Connection, *, in_memory: bool) -> None:
    """Per-connection settings.  Raises sqlite3.Error (the caller names the path)."""
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    # Deleted rows (a client's preferences, purged sessions) are overwritten, not left in pages.
    conn.execute("PRAGMA secure_delete = ON")
    mode = str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]).lower()
    if mode != "wal" and not in_memory:
        raise StoreError(f"journal mode is {mode!r}, WAL is required (is it a network drive?)")
    # FULL in WAL mode: the WAL is synced on every commit, so a committed append survives a
    # crash or a power cut.  fullfsync matters on macOS only.
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA fullfsync = ON")


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _check_compatible(conn: sqlite3.Connection, where: str, target: int) -> int:
    """The database's schema version; StoreError if roomctl cannot use it."""
    app_id = int(conn.execute("PRAGMA application_id").fetchone()[0])
    version = schema_version(conn)
    if app_id not in (0, APPLICATION_ID):
        raise StoreError(f"{where} is not a roomctl database (application id {app_id:#x})")
    tables = int(conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0])
    if app_id == 0 and version == 0 and tables:
        raise StoreError(f"{where} is an SQLite database, but not a roomctl one")
    if version > target:
        raise StoreError(
            f"{where} was written by a newer roomctl (schema version {version}; this "
            f"roomctl knows up to {target}). Upgrade roomctl, or restore an older backup."
        )
    return version


def migrate(
    conn: sqlite3.Connection, where: str, migrations: Sequence[Sequence[str]] = MIGRATIONS
) -> int:
    """Bring the database up to ``len(migrations)`` in one transaction; return the version.

    `conn` must be in autocommit mode (``isolation_level=None``).  Raises StoreError (naming
    `where`) for a database from a newer roomctl or a file that is some other application's;
    sqlite3 errors propagate and leave the database untouched.
    """
    target = len(migrations)
    conn.execute("BEGIN IMMEDIATE")  # re-read inside the lock: another process may migrate too
    try:
        version = _check_compatible(conn, where, target)
        for index in range(version, target):
            for statement in migrations[index]:
                conn.execute(statement)
        if version < target:
            conn.execute(f"PRAGMA user_version = {target:d}")
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID:d}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return target


_CORRUPT_HINT = " (the file is corrupt or not a database; restore it from a backup)"


def connect(path: str | Path) -> sqlite3.Connection:
    """Open, configure and migrate the database at `path` (or ":memory:").

    The connection is in autocommit mode (transactions are explicit) and may be used from any
    thread (the caller serialises).  Every failure is a StoreError naming the path.
    """
    where = str(path)
    in_memory = where == ":memory:"
    if not in_memory:
        p = Path(path)
        if p.is_dir():
            raise StoreError(f"session database {p} is a directory")
        if not p.parent.is_dir():
            raise StoreError(f"session database {p}: directory {p.parent} does not exist")
    try:
        conn = sqlite3.connect(
            where, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
        )
    except sqlite3.Error as e:
        raise StoreError(f"cannot open session database {where}: {e}") from e
    try:
        configure(conn, in_memory=in_memory)
        migrate(conn, where)
    except StoreError as e:
        conn.close()
        msg = str(e)
        raise StoreError(msg if where in msg else f"session database {where}: {msg}") from e
    except sqlite3.Error as e:
        conn.close()
        hint = _CORRUPT_HINT if isinstance(e, sqlite3.DatabaseError) else ""
        raise StoreError(f"cannot open session database {where}: {e}{hint}") from e
    return conn


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


def event_row(r: tuple[Any, ...]) -> Event:
    return Event(at=float(r[1]), kind=EventKind(r[2]), data=json.loads(r[4]), by=r[3], seq=r[0])


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


_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1  # ~16 MiB, tens of ms per hash


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=32)


def hash_password(password: str) -> str:
    """'scrypt$n$r$p$salt$digest' (base64), with a fresh random salt."""
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, _SCRYPT_N, _SCRYPT_R, _SCRYPT_P)
    b64 = base64.b64encode
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def check_password(password: str, stored: str | None) -> bool:
    """Whether `password` matches `stored`, in constant time.  For an unknown user pass None:
    a dummy hash is checked so the answer takes as long as for a known one."""
    scheme, _, params = (stored or _dummy_hash()).partition("$")
    if scheme != "scrypt":
        raise StoreError(f"a stored password hash has an unknown scheme {scheme!r}")
    try:
        n, r, p, salt, digest = params.split("$")
        expected = base64.b64decode(digest, validate=True)
        actual = _scrypt(password, base64.b64decode(salt, validate=True), int(n), int(r), int(p))
    except ValueError as e:  # binascii.Error is a ValueError
        raise StoreError(f"a stored password hash is malformed ({e}); set it again") from e
    return hmac.compare_digest(actual, expected) and stored is not None


@functools.cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_hex(16))
