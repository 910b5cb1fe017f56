"""The open session database: the connection, its lock, transactions and the audit row every
change writes.  The parts of the public Store (sessions, clients, users, audit) build on this."""

from __future__ import annotations

import secrets
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import TracebackType
from typing import Self

from roomctl.clock import Clock
from roomctl.errors import SessionError, StoreError, StoreReadOnlyError
from roomctl.store.faults import store_error
from roomctl.store.rows import dumps
from roomctl.store.schema import connect

__all__ = ["StoreBase"]


def text_arg(value: object, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise SessionError(f"{what} must be a non-empty string, got {value!r}")
    return value


class StoreBase:
    """The connection and its transactions.  Use :meth:`open`; close with :meth:`close` or
    ``with``."""

    def __init__(
        self, conn: sqlite3.Connection, where: str, clock: Clock, *, readonly: bool = False
    ) -> None:
        self._conn: sqlite3.Connection | None = conn
        self._where = where
        self._clock = clock
        self._readonly = readonly
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path: str | Path, clock: Clock, *, readonly: bool = False) -> Self:
        """Open (creating and migrating as needed) the database at `path`; ":memory:" works.

        Raises StoreError naming the path if it cannot be opened: StoreReadOnlyError when it
        cannot be written (e.g. a read-only file system), StoreCorruptError when it is damaged,
        and a plain StoreError when it is not a roomctl database or was written by a newer
        roomctl.

        `readonly=True` opens an existing database for reading only: sessions, events,
        clients and preferences can be read (also on a read-only file system); every write
        raises StoreReadOnlyError.
        """
        return cls(connect(path, readonly=readonly), str(path), clock, readonly=readonly)

    @property
    def path(self) -> str:
        return self._where

    @property
    def readonly(self) -> bool:
        return self._readonly

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
        """One transaction under the lock; sqlite3 errors become a StoreError naming `op`.

        A write transaction holds SQLite's write lock (BEGIN IMMEDIATE) from the start, so
        what is read or stamped inside it (the time of an event) is in the order of the writes,
        across threads and processes.
        """
        with self._lock:
            conn = self._conn
            if conn is None:
                raise StoreError(f"session database {self._where} is closed (while trying to {op})")
            if write and self._readonly:
                raise StoreReadOnlyError(
                    f"session database {self._where}: cannot {op}: it is open read-only"
                )
            try:
                conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                yield conn
                conn.execute("COMMIT")
            except BaseException as e:
                if conn.in_transaction:
                    with suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                if isinstance(e, sqlite3.Error):
                    raise store_error(e, self._where, op) from e
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

    @staticmethod
    def _new_id(conn: sqlite3.Connection, table: str, prefix: str, nbytes: int) -> str:
        for _ in range(100):
            candidate = prefix + secrets.token_hex(nbytes)
            if not conn.execute(f"SELECT 1 FROM {table} WHERE id = ?", (candidate,)).fetchone():
                return candidate
        raise StoreError(f"cannot find a free id in {table}")

    @staticmethod
    def _live_client(
        conn: sqlite3.Connection, client_id: str, error: type[StoreError | SessionError]
    ) -> None:
        row = conn.execute("SELECT deleted_at FROM clients WHERE id = ?", (client_id,)).fetchone()
        if row is None:
            raise error(f"no client {client_id!r}")
        if row[0] is not None:
            raise error(f"client {client_id} has been deleted")
