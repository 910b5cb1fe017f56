"""What went wrong with the session database, in words a facilitator can act on.

SQLite reports a result code with every error; together with a look at the file system it tells
a full disk from a read-only one, a lock held by another process from a damaged file.  Only a
damaged file is called corrupt (and only then is a backup the answer).
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from roomctl.errors import (
    StoreBusyError,
    StoreCorruptError,
    StoreError,
    StoreFullError,
    StoreReadOnlyError,
)

__all__ = ["read_only_reason", "store_error"]

# SQLite's primary result codes (the low byte of an extended code).
SQLITE_PERM = 3
SQLITE_BUSY = 5
SQLITE_LOCKED = 6
SQLITE_READONLY = 8
SQLITE_IOERR = 10
SQLITE_CORRUPT = 11
SQLITE_FULL = 13
SQLITE_CANTOPEN = 14
SQLITE_NOTADB = 26


def read_only_reason(where: str) -> str | None:
    """Why the database at `where` cannot be written, if the file system says it cannot."""
    if where == ":memory:" or where.startswith("file:"):
        return None
    path = Path(where)
    folder = path.parent
    try:
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return f"the file system holding {folder} is mounted read-only"
    except OSError:
        return None
    if path.exists() and not os.access(path, os.W_OK):
        return f"{path} is not writable (permissions)"
    if not os.access(folder, os.W_OK):
        return f"its directory {folder} is not writable (permissions)"
    return None


def store_error(exc: sqlite3.Error, where: str, op: str) -> StoreError:
    """The StoreError (of the right kind) for `exc`, raised while trying to `op`."""
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    head = f"session database {where}: cannot {op}"
    if primary == SQLITE_FULL:
        return StoreFullError(
            f"{head}: the disk is full (SQLITE_FULL); free some space. "
            "What is already stored can still be read."
        )
    if primary in (SQLITE_READONLY, SQLITE_CANTOPEN, SQLITE_PERM):
        reason = read_only_reason(where)
        if reason is not None or primary == SQLITE_READONLY:
            why = reason or str(exc)
            return StoreReadOnlyError(
                f"{head}: it is read-only ({why}). What is already stored can still be read."
            )
        return StoreError(f"{head}: {exc} (does the file exist and may roomctl open it?)")
    if primary in (SQLITE_BUSY, SQLITE_LOCKED):
        return StoreBusyError(
            f"{head}: another process keeps it locked ({exc}); is a second roomctl writing "
            "to it, or a sqlite3 shell left open?"
        )
    if primary in (SQLITE_CORRUPT, SQLITE_NOTADB):
        return StoreCorruptError(
            f"{head}: {exc} (the file is corrupt or not a database; restore it from a backup)"
        )
    if primary == SQLITE_IOERR:
        return StoreError(
            f"{head}: disk I/O error ({exc}); is the storage failing or was it removed?"
        )
    return StoreError(f"{head}: {exc}")
