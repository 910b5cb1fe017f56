"""Where a room's files are: the config file, the session database, and beside the database the
daemon's lock and its command socket.  Resolved here once, for the daemon and every command.

Light on purpose (no pydantic, no device libraries): the command line's hand-off to a running
daemon uses it before anything heavy is imported.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from roomctl.model.files import config_candidates

__all__ = ["config_candidates", "lock_paths", "socket_paths", "store_path"]


def store_path(config_file: Path, storage_path: str) -> Path:
    """The session database: `storage.path`, relative to the config file's folder."""
    if storage_path == ":memory:":
        return Path(storage_path)
    path = Path(storage_path).expanduser()
    if not path.is_absolute():
        path = config_file.resolve().parent / path
    return path


def _runtime(db: Path, suffix: str) -> Path:
    """A file for `db` in the runtime folder, named from the database's path: for a database on
    a read-only disk, or a socket path too long for a unix socket."""
    digest = hashlib.sha256(os.fsencode(db.resolve())).hexdigest()[:20]
    runtime = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    return Path(runtime) / f"roomctl-{digest}{suffix}"


def lock_paths(db: Path) -> list[Path]:
    """Where the daemon's lock file (holding its pid) may be: beside the database, else (a
    read-only disk) in the runtime folder."""
    return [db.with_name(db.name + ".lock"), _runtime(db, ".lock")]


# A unix socket's path must fit in 108 bytes (sun_path); leave room for the terminating NUL.
MAX_SOCKET_PATH = 100


def socket_paths(db: Path) -> list[Path]:
    """Where the daemon's command socket (unix, 0600) may be: beside the database, else (a
    read-only disk, or a path too long for a unix socket) in the runtime folder."""
    beside = db.with_name(db.name + ".sock")
    runtime = _runtime(db, ".sock")
    return [beside, runtime] if len(os.fsencode(beside)) <= MAX_SOCKET_PATH else [runtime]
