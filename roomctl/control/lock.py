"""One daemon per room database: an exclusive lock on a file beside the database, held for the
daemon's life.  The file holds the daemon's pid, so a second daemon can name the first.

One-shot commands never take the lock: they work beside the one daemon (SQLite serialises
their writes).  The kernel drops the lock when the process dies, also after `kill -9`.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from types import TracebackType
from typing import Self

from roomctl.control.paths import lock_paths
from roomctl.errors import RoomctlError

__all__ = ["DaemonLock", "DaemonRunningError", "holder"]


class DaemonRunningError(RoomctlError):
    """Another daemon already runs the room database."""


class DaemonLock:
    """`with DaemonLock(db):` holds the room database for this process."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self.path = lock_paths(db)[0]
        self._fd: int | None = None

    def _open(self) -> int:
        """The first lock file that can be opened (a read-only disk: the runtime folder's)."""
        problems: list[str] = []
        for path in lock_paths(self.db):
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except OSError as exc:
                problems.append(f"{path}: {exc.strerror or exc}")
                continue
            self.path = path
            return fd
        raise RoomctlError(f"cannot create the daemon lock: {'; '.join(problems)}")

    def acquire(self) -> None:
        self._check_others()
        fd = self._open()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _read_pid(fd)
            os.close(fd)
            who = f"pid {pid}" if pid else "another process"
            raise DaemonRunningError(
                f"another roomctl daemon ({who}) is already running the room database "
                f"{self.db}; stop it first (lock {self.path})"
            ) from None
        with contextlib.suppress(OSError):  # the pid is a courtesy: a read-only disk keeps the lock
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            os.close(fd)  # closing drops the lock

    def __enter__(self) -> Self:
        self.acquire()
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


    def _check_others(self) -> None:
        """A daemon may hold the lock at either place (the disk was read-only when it started)."""
        for path in lock_paths(self.db):
            pid = _held(path)
            if pid is not None:
                who = f"pid {pid}" if pid > 0 else "another process"
                raise DaemonRunningError(
                    f"another roomctl daemon ({who}) is already running the room database "
                    f"{self.db}; stop it first (lock {path})"
                )


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def holder(db: Path) -> int | None:
    """The pid of the daemon holding `db` (-1: unknown), or None when no daemon holds it."""
    for path in lock_paths(db):
        pid = _held(path)
        if pid is not None:
            return pid
    return None


def _held(path: Path) -> int | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_pid(fd) or -1
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
