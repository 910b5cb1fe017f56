"""The session database's shape and how it is opened: connection settings, ordered migrations,
file permissions, and the read-only mode for a database on a read-only file system.

The schema version is SQLite's ``PRAGMA user_version``: version N means the first N entries of
:data:`MIGRATIONS` have been applied.  Migrations are only ever appended to the list, never
edited, and all pending ones run in one transaction on open, so a crash mid-upgrade leaves the
database at the old version.  A database written by a newer roomctl is refused rather than
guessed at.

Guard rails live in the schema itself, so they hold for any code (or sqlite3 shell) that
touches the file: events, audit rows, preference versions and consent records cannot be
updated; events cannot be deleted while their session exists (only a purge of the whole
session removes them); a session row changes once, when it ends.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import urllib.parse
from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path

from roomctl.errors import StoreError, StoreReadOnlyError
from roomctl.store.faults import read_only_reason, store_error

__all__ = [
    "APPLICATION_ID",
    "FILE_MODE",
    "MIGRATIONS",
    "connect",
    "migrate",
    "schema_version",
]

# Written to the file header so a roomctl database can be told apart from any other SQLite file.
APPLICATION_ID = 0x726D6374  # "rmct"

BUSY_TIMEOUT_MS = 5000
# The database holds health data: owner only, whatever the umask (SQLite gives the -wal and -shm
# files the database file's mode).
FILE_MODE = 0o600

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

# Version 2: the client's consent to each preferences version: who consented (the client),
# the staff member who recorded it, when, and to what.  It goes when the version goes (a client's
# deletion); the audit log keeps that it was recorded.  Versions saved before have none.
_V2 = (
    """
    CREATE TABLE consents (
        client_id    TEXT NOT NULL,
        version      INTEGER NOT NULL,
        given_by     TEXT NOT NULL,
        recorded_by  TEXT NOT NULL,
        at           REAL NOT NULL,
        scope        TEXT NOT NULL CHECK (length(trim(scope)) > 0),
        PRIMARY KEY (client_id, version),
        FOREIGN KEY (client_id, version) REFERENCES preferences(client_id, version)
            ON DELETE CASCADE
    )
    """,
    """
    CREATE TRIGGER consents_no_update BEFORE UPDATE ON consents
    BEGIN SELECT RAISE(ABORT, 'a consent record is fixed once recorded'); END
    """,
)

# Version 3: bearer tokens for the web API (store/tokens.py): only a SHA-256 of each token;
# a client token names its one client.
_V3_TOKENS = (
    """
    CREATE TABLE tokens (
        id          TEXT PRIMARY KEY,
        name        TEXT NOT NULL,
        role        TEXT NOT NULL CHECK (role IN ('facilitator', 'readonly', 'admin', 'client')),
        client_id   TEXT,
        hash        TEXT NOT NULL UNIQUE,
        created_at  REAL NOT NULL,
        created_by  TEXT NOT NULL,
        revoked_at  REAL,
        CHECK ((role = 'client') = (client_id IS NOT NULL))
    )
    """,
    "CREATE UNIQUE INDEX tokens_live_name ON tokens(name) WHERE revoked_at IS NULL",
)

# Version 4: the web app's cookie sessions (store/web_sessions.py), so a logout (or a changed
# password, a removed login) holds across restarts.  Wall-clock times: cookies age in wall time.
_V4_WEB_SESSIONS = (
    """
    CREATE TABLE web_sessions (
        id          TEXT PRIMARY KEY,
        user        TEXT NOT NULL,
        created_at  REAL NOT NULL,
        expires_at  REAL NOT NULL,
        revoked_at  REAL
    )
    """,
    "CREATE INDEX web_sessions_user ON web_sessions(user)",
)


# Ordered; entry i upgrades schema version i to i + 1.  Append only, never edit a shipped entry.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    _V1,
    _V2,
    _V3_TOKENS,
    _V4_WEB_SESSIONS,
)


def configure(conn: sqlite3.Connection, *, in_memory: bool, readonly: bool = False) -> None:
    """Per-connection settings.  Raises sqlite3.Error (the caller names the path)."""
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    if readonly:
        conn.execute("PRAGMA query_only = ON")
        return
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


def connect(path: str | Path, *, readonly: bool = False) -> sqlite3.Connection:
    """Open, configure and migrate the database at `path` (or ":memory:").

    The connection is in autocommit mode (transactions are explicit) and may be used from any
    thread (the caller serialises).  A new database and its WAL files are created 0600; an
    existing one that is readable by others is made 0600.  Every failure is a StoreError (of
    the kind that says what is wrong) naming the path.

    `readonly`: open an existing, up-to-date database for reading only (nothing is created,
    migrated or written), which also works on a read-only file system.
    """
    where = str(path)
    in_memory = where == ":memory:"
    if not in_memory:
        p = Path(path)
        if p.is_dir():
            raise StoreError(f"session database {p} is a directory")
        if not p.parent.is_dir():
            raise StoreError(f"session database {p}: directory {p.parent} does not exist")
        if readonly and not p.exists():
            raise StoreError(f"session database {p} does not exist (nothing to open read-only)")
        if not readonly:
            _secure_files(p)
    try:
        conn = _open(where, in_memory=in_memory, readonly=readonly)
    except sqlite3.Error as e:
        raise store_error(e, where, "open it") from e
    try:
        configure(conn, in_memory=in_memory, readonly=readonly)
        if readonly:
            _check_current(conn, where)
        else:
            migrate(conn, where)
    except StoreError as e:
        conn.close()
        msg = str(e)
        raise type(e)(msg if where in msg else f"session database {where}: {msg}") from e
    except sqlite3.Error as e:
        conn.close()
        raise store_error(e, where, "open it") from e
    return conn


def _open(where: str, *, in_memory: bool, readonly: bool) -> sqlite3.Connection:
    def connect_to(target: str, uri: bool) -> sqlite3.Connection:
        return sqlite3.connect(
            target,
            timeout=BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,
            check_same_thread=False,
            uri=uri,
        )

    if not readonly or in_memory:
        return connect_to(where, False)
    base = "file:" + urllib.parse.quote(str(Path(where).resolve())) + "?mode=ro"
    conn = connect_to(base, True)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error as e:
        conn.close()
        code = getattr(e, "sqlite_errorcode", 0) & 0xFF
        # A WAL database closed cleanly has no -shm file, and on a read-only file system none
        # can be made.  Then nobody can write to it either, and with no -wal file there is
        # nothing beyond the main file to read: it can be opened as immutable.
        wal = Path(where + "-wal")
        ro_fs = (read_only_reason(where) or "").endswith("mounted read-only")
        if code != 14 or wal.exists() or not ro_fs:  # 14: SQLITE_CANTOPEN
            raise
        return connect_to(base + "&immutable=1", True)
    return conn


def _secure_files(p: Path) -> None:
    """Create the database file 0600 (umask or not) and tighten files others can read."""
    if not p.exists():
        try:
            fd = os.open(p, os.O_RDWR | os.O_CREAT | os.O_EXCL, FILE_MODE)
        except FileExistsError:
            pass
        except OSError as e:
            reason = read_only_reason(str(p))
            if reason is not None:
                raise StoreReadOnlyError(
                    f"session database {p}: cannot create it: it is read-only ({reason})"
                ) from e
            raise StoreError(f"session database {p}: cannot create it: {e.strerror}") from e
        else:
            try:
                os.fchmod(fd, FILE_MODE)  # the umask may have taken bits away; never adds any
            finally:
                os.close(fd)
    for f in (p, Path(f"{p}-wal"), Path(f"{p}-shm")):
        with suppress(OSError):  # a read-only file system: the open says so
            if stat.S_IMODE(f.stat().st_mode) & 0o077:
                f.chmod(FILE_MODE)


def _check_current(conn: sqlite3.Connection, where: str) -> None:
    """A read-only store cannot migrate: the database must be at this roomctl's version."""
    target = len(MIGRATIONS)
    version = _check_compatible(conn, where, target)
    if version < target:
        raise StoreReadOnlyError(
            f"{where} is at schema version {version} and needs upgrading to {target}, which "
            "cannot be done while it is read-only"
        )
