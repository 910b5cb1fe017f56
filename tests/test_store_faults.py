"""Storage faults say what they are: a full disk, a read-only file system or file, a lock held by
another process, a damaged file.  Only the last is called corrupt.  A healthy database on a
read-only file system can be opened read-only and read; the database and its WAL files are
owner-only whatever the umask.

The read-only file system is real: a read-only bind mount in a private mount namespace
(`unshare -m`, root only; skipped elsewhere).  A full disk is SQLite's own SQLITE_FULL, reached
honestly through ``PRAGMA max_page_count``.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from roomctl.clock import SystemClock, VirtualClock
from roomctl.errors import (
    StoreBusyError,
    StoreCorruptError,
    StoreError,
    StoreFullError,
    StoreReadOnlyError,
)
from roomctl.model.events import EventKind, Note, Start
from roomctl.store.store import Store

ROOT = Path(__file__).resolve().parent.parent
T0 = 1_800_000_000.0


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "roomctl.db"


@pytest.fixture
def store(db: Path) -> Iterator[Store]:
    with Store.open(db, VirtualClock(T0)) as s:
        yield s


def conn_of(store: Store) -> sqlite3.Connection:
    conn = store._conn
    assert conn is not None
    return conn


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- disk full ---------------------------------------------------------------------------------


def test_a_full_disk_is_named_and_reads_go_on(store: Store) -> None:
    sid = store.create_session("room-1", "classic")
    first = store.append(sid, Start(arc="classic"), by="ana")
    conn = conn_of(store)
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages + 2}")  # the file may not grow any more
    with pytest.raises(StoreFullError) as err:
        for i in range(200):
            store.append(sid, Note(text=f"{i} " + "x" * 2000), by="ana")
    message = str(err.value)
    assert "disk is full" in message
    assert store.path in message
    assert "corrupt" not in message and "backup" not in message
    events = store.events(sid)  # what is stored can still be read
    assert events[0] == first
    assert isinstance(err.value, StoreError)


# -- read-only ---------------------------------------------------------------------------------


def test_writing_a_database_that_refuses_writes_is_named_read_only(store: Store) -> None:
    sid = store.create_session("room-1", "classic")
    conn_of(store).execute("PRAGMA query_only = ON")  # SQLite refuses writes: SQLITE_READONLY
    with pytest.raises(StoreReadOnlyError) as err:
        store.append(sid, Note(text="x"), by="ana")
    assert "read-only" in str(err.value)
    assert "corrupt" not in str(err.value)
    assert store.get_session(sid) is not None


def test_readonly_store_reads_and_refuses_writes(db: Path) -> None:
    with Store.open(db, VirtualClock(T0)) as s:
        sid = s.create_session("room-1", "classic")
        s.append(sid, Start(arc="classic"), by="ana")
        s.append(sid, Note(text="calm"), by="ana")
    with Store.open(db, VirtualClock(T0), readonly=True) as ro:
        assert ro.readonly
        assert [e.kind for e in ro.events(sid)] == [EventKind.START, EventKind.NOTE]
        assert ro.active_session("room-1") is not None
        with pytest.raises(StoreReadOnlyError, match="open read-only"):
            ro.append(sid, Note(text="late"), by="ana")
        with pytest.raises(StoreReadOnlyError, match="open read-only"):
            ro.create_client()


def test_readonly_open_of_a_missing_database_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "none.db"
    with pytest.raises(StoreError, match="does not exist"):
        Store.open(path, VirtualClock(T0), readonly=True)
    assert not path.exists()


def _unshare_available() -> bool:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    probe = subprocess.run(  # noqa: PLW1510
        ["unshare", "-m", "true"], capture_output=True, timeout=10
    )
    return probe.returncode == 0


READ_ONLY_CHILD = """
import sys
from roomctl.clock import SystemClock
from roomctl.errors import StoreReadOnlyError
from roomctl.model.events import Note
from roomctl.store.store import Store

path, sid = sys.argv[1], sys.argv[2]
try:
    Store.open(path, SystemClock())
except StoreReadOnlyError as e:
    print("rw:", e)
else:
    print("rw: opened")
with Store.open(path, SystemClock(), readonly=True) as store:
    print("events:", [e.data.get("text") for e in store.events(sid)])
    try:
        store.append(sid, Note(text="late"), by="x")
    except StoreReadOnlyError as e:
        print("append:", e)
"""


def _on_read_only_mount(folder: Path, db: Path, sid: str) -> list[str]:
    """Run READ_ONLY_CHILD with `folder` bind-mounted read-only (a private mount namespace)."""
    script = textwrap.dedent(f"""
        mount --bind '{folder}' '{folder}' &&
        mount -o remount,ro,bind '{folder}' &&
        exec '{sys.executable}' -c "$CHILD" '{db}' '{sid}'
    """)
    done = subprocess.run(  # noqa: PLW1510
        ["unshare", "-m", "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT), "CHILD": READ_ONLY_CHILD},
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return done.stdout.splitlines()


needs_unshare = pytest.mark.skipif(
    not _unshare_available(), reason="needs root and unshare -m for a read-only bind mount"
)


@needs_unshare
def test_healthy_database_on_a_read_only_file_system(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    db = folder / "roomctl.db"
    with Store.open(db, SystemClock()) as s:  # closed cleanly: no -wal or -shm left
        sid = s.create_session("room-1", "classic")
        s.append(sid, Note(text="one"), by="ana")
        s.append(sid, Note(text="two"), by="ana")
    assert not Path(f"{db}-shm").exists()
    rw, events, append = _on_read_only_mount(folder, db, sid)
    assert rw.startswith("rw: session database")
    assert "mounted read-only" in rw
    assert "corrupt" not in rw and "backup" not in rw
    assert events == "events: ['one', 'two']"
    assert append.startswith("append: ") and "read-only" in append


CRASHING_CHILD = """
import os, sys
from roomctl.clock import SystemClock
from roomctl.model.events import Note
from roomctl.store.store import Store

store = Store.open(sys.argv[1], SystemClock())
store.append(sys.argv[2], Note(text="in the wal"), by="x")
os._exit(0)  # no close, no checkpoint: the note is only in the -wal file
"""


@needs_unshare
def test_read_only_file_system_after_a_crash_reads_the_wal(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    db = folder / "roomctl.db"
    with Store.open(db, SystemClock()) as s:
        sid = s.create_session("room-1", "classic")
        s.append(sid, Note(text="one"), by="ana")
    subprocess.run(
        [sys.executable, "-c", CRASHING_CHILD, str(db), sid],
        check=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert Path(f"{db}-wal").stat().st_size > 0
    lines = _on_read_only_mount(folder, db, sid)
    assert lines[1] == "events: ['one', 'in the wal']"
    assert "read-only" in lines[2]


# -- locked, corrupt -----------------------------------------------------------------------------


def test_a_lock_held_by_another_process_is_named(store: Store, db: Path) -> None:
    sid = store.create_session("room-1", "classic")
    other = sqlite3.connect(db, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        conn_of(store).execute("PRAGMA busy_timeout = 50")
        with pytest.raises(StoreBusyError, match="another process keeps it locked") as err:
            store.append(sid, Note(text="x"), by="ana")
        assert "corrupt" not in str(err.value)
    finally:
        other.execute("ROLLBACK")
        other.close()
    store.append(sid, Note(text="x"), by="ana")


def test_only_a_damaged_file_is_called_corrupt(db: Path) -> None:
    db.write_bytes(b"definitely not an SQLite file\n" * 200)
    with pytest.raises(StoreCorruptError, match="restore it from a backup"):
        Store.open(db, VirtualClock(T0))


# -- permissions -------------------------------------------------------------------------------


def test_database_and_wal_files_are_owner_only_whatever_the_umask(db: Path) -> None:
    old = os.umask(0o022)
    try:
        with Store.open(db, VirtualClock(T0)) as s:
            sid = s.create_session("room-1", "classic")
            s.append(sid, Note(text="private"), by="ana")
            files = [db, Path(f"{db}-wal"), Path(f"{db}-shm")]
            assert all(f.exists() for f in files)
            assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}
    finally:
        os.umask(old)


def test_an_existing_database_readable_by_others_is_made_owner_only(db: Path) -> None:
    Store.open(db, VirtualClock(T0)).close()
    db.chmod(0o644)
    with Store.open(db, VirtualClock(T0)) as s:
        s.create_client()
        assert mode(db) == 0o600
        assert mode(Path(f"{db}-wal")) == 0o600
