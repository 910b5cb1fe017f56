"""Opening the session database for the daemon: read-write, or, when the disk will not let it
(a read-only file system, a database it may not write), read-only with a clear warning, so the
room still runs: the arc as stored, the emergency working, commands refused with the reason."""

from __future__ import annotations

import logging
import os
import sqlite3
import urllib.parse
from pathlib import Path

from roomctl.clock import Clock
from roomctl.errors import StoreError
from roomctl.store.store import Store

__all__ = ["open_store"]

log = logging.getLogger("roomctl.control.storage")


def open_store(path: Path, clock: Clock) -> tuple[Store, str | None]:
    """The store, and None; or a read-only store and what is wrong (StoreError if neither)."""
    try:
        return Store.open(path, clock), None
    except StoreError as exc:
        if not path.is_file():
            raise
        problem = _why(path) or str(exc)
    conn = _read_only(path)
    if conn is None:
        raise StoreError(problem)
    why = (
        f"{problem}; running the room read-only: the session as stored, the emergency "
        "working, commands refused"
    )
    log.error("%s", why)
    return Store(conn, str(path), clock), why


def _why(path: Path) -> str | None:
    """A clearer reason than SQLite's when the disk or the file cannot be written."""
    try:
        if os.statvfs(path.parent).f_flag & os.ST_RDONLY:
            return f"session database {path}: the file system is read-only"
    except OSError:
        return None
    if not os.access(path, os.W_OK) or not os.access(path.parent, os.W_OK):
        return f"session database {path}: no permission to write it (or its folder)"
    return None


def _read_only(path: Path) -> sqlite3.Connection | None:
    quoted = urllib.parse.quote(str(path.resolve()))
    # mode=ro reads the WAL too; immutable=1 when not even the WAL's index can be made.
    for query in ("mode=ro", "mode=ro&immutable=1"):
        conn: sqlite3.Connection | None = None
        try:
            conn = sqlite3.connect(
                f"file:{quoted}?{query}", uri=True, isolation_level=None, check_same_thread=False
            )
            conn.execute("SELECT count(*) FROM sessions").fetchone()
        except sqlite3.Error:
            if conn is not None:
                conn.close()
            continue
        return conn
    return None
