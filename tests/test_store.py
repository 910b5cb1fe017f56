"""The session store, on real SQLite files: schema and migrations, the append-only event log,
preferences, audit, users, retention, and durability across a SIGKILL."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

from roomctl.clock import SystemClock
from roomctl.errors import SessionError, StoreError
from roomctl.model.events import Event, EventKind, Start
from roomctl.model.prefs import Preferences
from roomctl.store.schema import APPLICATION_ID, MIGRATIONS, migrate, schema_version
from roomctl.store.store import Store

ROOT = Path(__file__).resolve().parent.parent
T0 = 1_800_000_000.0


class StepClock:
    """A wall clock that moves only when a test moves it."""

    def __init__(self, start: float = T0) -> None:
        self.t = start

    def now(self) -> float:
        return self.t

    def monotonic(self) -> float:
        return self.t - T0

    async def sleep(self, seconds: float) -> None:
        self.t += max(0.0, seconds)


@pytest.fixture
def clock() -> StepClock:
    return StepClock()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "roomctl.db"


@pytest.fixture
def store(db: Path, clock: StepClock) -> Iterator[Store]:
    with Store.open(db, clock) as s:
        yield s


def raw(db: Path) -> sqlite3.Connection:
    """Another program's connection to the file (as the sqlite3 shell would be)."""
    return sqlite3.connect(db, isolation_level=None)


def schema(db: Path) -> list[tuple[str, str]]:
    conn = raw(db)
    try:
        return conn.execute("SELECT name, sql FROM sqlite_master ORDER BY name").fetchall()
    finally:
        conn.close()


# -- schema and opening ----------------------------------------------------------------------


def test_open_creates_schema_and_reopen_is_a_no_op(db: Path, clock: StepClock) -> None:
    with Store.open(db, clock) as s:
        sid = s.create_session("room-1", "classic")
        s.append(sid, EventKind.START, {"arc": "classic"}, by="ana")
        conn = s._conn
        assert conn is not None
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] > 0
    first = schema(db)
    names = {name for name, _ in first}
    assert {"sessions", "events", "clients", "preferences", "audit", "users"} <= names
    conn = raw(db)
    assert schema_version(conn) == len(MIGRATIONS)
    assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    conn.close()

    with Store.open(db, clock) as s:
        assert [e.kind for e in s.events(sid)] == [EventKind.START]
    assert schema(db) == first


def test_pending_migrations_run_in_one_transaction(db: Path) -> None:
    conn = raw(db)
    broken = (("CREATE TABLE a (x)",), ("CREATE TABLE b (y)", "CREATE TABLE syntax error"))
    with pytest.raises(sqlite3.OperationalError):
        migrate(conn, str(db), broken)
    assert schema_version(conn) == 0
    assert conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0
    assert migrate(conn, str(db), broken[:1]) == 1
    assert migrate(conn, str(db), broken[:1]) == 1  # already there: nothing to do
    conn.close()


def test_database_from_a_newer_roomctl_is_refused(db: Path, clock: StepClock) -> None:
    Store.open(db, clock).close()
    conn = raw(db)
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    conn.close()
    with pytest.raises(StoreError, match="newer roomctl") as err:
        Store.open(db, clock)
    assert str(db) in str(err.value)


def test_corrupt_file_is_a_store_error_naming_the_path(db: Path, clock: StepClock) -> None:
    db.write_bytes(b"definitely not an SQLite file\n" * 200)
    with pytest.raises(StoreError, match="corrupt") as err:
        Store.open(db, clock)
    assert str(db) in str(err.value)


def test_damaged_schema_page_is_a_store_error(db: Path, clock: StepClock) -> None:
    Store.open(db, clock).close()
    data = bytearray(db.read_bytes())
    data[100:4096] = b"\xff" * 3996  # page 1 after the header: the schema table
    db.write_bytes(bytes(data))
    with pytest.raises(StoreError) as err:
        Store.open(db, clock)
    assert str(db) in str(err.value)


def test_other_sqlite_files_and_missing_directories_are_refused(
    tmp_path: Path, clock: StepClock
) -> None:
    other = tmp_path / "other.db"
    conn = raw(other)
    conn.execute("CREATE TABLE notes (x)")
    conn.close()
    with pytest.raises(StoreError, match="not a roomctl"):
        Store.open(other, clock)
    with pytest.raises(StoreError, match="does not exist"):
        Store.open(tmp_path / "nope" / "roomctl.db", clock)


def test_memory_database_and_closed_store(clock: StepClock) -> None:
    s = Store.open(":memory:", clock)
    sid = s.create_session("room-1", "classic")
    assert s.get_session(sid) is not None
    s.close()
    s.close()
    with pytest.raises(StoreError, match="closed"):
        s.get_session(sid)


# -- sessions and the event log --------------------------------------------------------------


def test_append_returns_the_stored_event_and_events_come_back_in_order(
    store: Store, clock: StepClock
) -> None:
    sid = store.create_session("room-1", "classic", by="ana")
    assert sid.startswith("s-20270115-")
    appended = [store.append(sid, EventKind.START, {"arc": "classic"}, by="ana")]
    clock.t += 60
    appended.append(store.append(sid, EventKind.NOTE, {"text": "calm"}, by="ana"))
    appended.append(store.append(sid, EventKind.EXTEND, {"minutes": 10}, by="bo", at=T0 + 30))
    appended.append(store.append(sid, EventKind.HOLD, {}, by="ana"))
    assert [e.seq for e in appended] == sorted(e.seq for e in appended)
    assert appended[0] == Event(at=T0, payload=Start(arc="classic"), by="ana", seq=appended[0].seq)
    assert appended[2].at == T0 + 30
    assert store.events(sid) == appended
    assert store.events(sid, after_seq=appended[1].seq) == appended[2:]


def test_invalid_appends_are_refused_and_leave_nothing(store: Store) -> None:
    sid = store.create_session("room-1", "classic")
    audit_before = len(store.audit_log())
    with pytest.raises(SessionError, match="minutes"):
        store.append(sid, EventKind.EXTEND, {}, by="ana")
    with pytest.raises(SessionError, match="note: unknown field 'when'"):
        store.append(sid, EventKind.NOTE, {"text": "x", "when": object()}, by="ana")
    with pytest.raises(SessionError, match="'fade_s'"):
        store.append(sid, EventKind.OVERRIDE_CLEAR, {"device": "lamp", "fade_s": -1}, by="ana")
    with pytest.raises(SessionError, match="'minutes'"):
        store.append(sid, EventKind.EXTEND, {"minutes": float("nan")}, by="ana")
    with pytest.raises(SessionError, match="no session"):
        store.append("s-nope", EventKind.HOLD, {}, by="ana")
    assert store.events(sid) == []
    assert len(store.audit_log()) == audit_before


def test_events_cannot_be_updated_or_deleted(store: Store, db: Path) -> None:
    sid = store.create_session("room-1", "classic")
    store.append(sid, EventKind.NOTE, {"text": "hello"}, by="ana")
    conn = raw(db)
    conn.execute("PRAGMA foreign_keys = ON")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE events SET data = '{}'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM events")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM audit")
    with pytest.raises(sqlite3.IntegrityError, match="fixed"):
        conn.execute("UPDATE sessions SET arc = 'other'")
    conn.close()
    assert [e.data for e in store.events(sid)] == [{"text": "hello"}]


def test_end_ends_the_session_and_later_appends_are_refused(store: Store, clock: StepClock) -> None:
    sid = store.create_session("room-1", "classic")
    store.append(sid, EventKind.START, {"arc": "classic"}, by="ana")
    assert store.active_session("room-1") == store.get_session(sid)
    clock.t += 3600
    store.append(sid, EventKind.END, {}, by="ana")
    row = store.get_session(sid)
    assert row is not None
    assert row.ended
    assert row.ended_at == T0 + 3600
    assert store.active_session("room-1") is None
    with pytest.raises(SessionError, match="ended"):
        store.append(sid, EventKind.NOTE, {"text": "late"}, by="ana")
    with pytest.raises(SessionError, match="ended"):
        store.append(sid, EventKind.END, {}, by="ana")
    assert [e.kind for e in store.events(sid)] == [EventKind.START, EventKind.END]


def test_active_session_is_the_newest_not_ended(store: Store, clock: StepClock) -> None:
    old = store.create_session("room-1", "classic")
    clock.t += 10
    new = store.create_session("room-1", "short")
    clock.t += 10
    other_room = store.create_session("room-2", "classic")
    active = store.active_session("room-1")
    assert active is not None
    assert active.id == new
    store.append(new, EventKind.END, {}, by="ana")
    active = store.active_session("room-1")
    assert active is not None
    assert active.id == old
    assert [s.id for s in store.list_sessions()] == [other_room, new, old]
    assert [s.id for s in store.list_sessions("room-1", limit=1)] == [new]


# -- clients and preferences -----------------------------------------------------------------


def test_preferences_are_versioned_never_overwritten(store: Store, db: Path) -> None:
    cid = store.create_client("Client A")
    assert store.preferences(cid) is None
    assert store.save_preferences(cid, {"volume_max": 40}, by="ana") == 1
    second = Preferences(volume_max=30, colors_avoided=("red",))
    assert store.save_preferences(cid, second, by="bo") == 2
    assert store.preferences(cid) == (2, second)
    assert store.preferences(cid, version=1) == (1, Preferences(volume_max=40))
    assert store.preferences(cid, version=3) is None
    assert [(v.version, v.created_by) for v in store.preference_versions(cid)] == [
        (1, "ana"),
        (2, "bo"),
    ]
    conn = raw(db)
    with pytest.raises(sqlite3.IntegrityError, match="versioned"):
        conn.execute("UPDATE preferences SET data = '{}'")
    conn.close()
    with pytest.raises(StoreError, match="no client"):
        store.save_preferences("c-nobody", {}, by="ana")


def test_sessions_check_client_and_preference_version(store: Store) -> None:
    cid = store.create_client()
    store.save_preferences(cid, {"volume_max": 40}, by="ana")
    sid = store.create_session("room-1", "classic", client_id=cid, prefs_version=1)
    row = store.get_session(sid)
    assert row is not None
    assert (row.client_id, row.prefs_version) == (cid, 1)
    with pytest.raises(SessionError, match="no preferences v2"):
        store.create_session("room-1", "classic", client_id=cid, prefs_version=2)
    with pytest.raises(SessionError, match="no client"):
        store.create_session("room-1", "classic", client_id="c-nobody")
    with pytest.raises(SessionError, match="without a client"):
        store.create_session("room-1", "classic", prefs_version=1)


def test_delete_client_removes_preferences_and_label_but_keeps_sessions(store: Store) -> None:
    cid = store.create_client("Jane Doe")
    store.save_preferences(cid, {"volume_max": 40}, by="ana")
    sid = store.create_session("room-1", "classic", client_id=cid, prefs_version=1)
    store.delete_client(cid, by="admin")
    assert store.preferences(cid) is None
    assert store.preference_versions(cid) == []
    assert store.get_client(cid) is None
    assert store.list_clients() == []
    row = store.get_session(sid)
    assert row is not None
    assert row.client_id == cid
    with pytest.raises(StoreError, match="deleted"):
        store.save_preferences(cid, {}, by="ana")
    with pytest.raises(StoreError, match="deleted"):
        store.delete_client(cid)


# -- audit -----------------------------------------------------------------------------------


def test_every_change_writes_an_audit_row(store: Store, clock: StepClock) -> None:
    cid = store.create_client("Jane Doe", by="ana")
    store.save_preferences(cid, {"notes": "health"}, by="ana")
    sid = store.create_session("room-1", "classic", client_id=cid, by="ana")
    store.append(sid, EventKind.NOTE, {"text": "private note"}, by="bo")
    store.add_user("ana", "correct horse battery", "facilitator", by="admin")
    store.remove_user("ana", by="admin")
    store.export_session(sid, by="admin")
    store.delete_client(cid, by="admin")
    store.audit("ana", "login", "web")
    clock.t += 100 * 86400
    store.append(sid, EventKind.END, {}, by="bo")
    clock.t += 100 * 86400
    store.purge_sessions(30 * 86400, by="cron")

    log = list(reversed(store.audit_log()))
    assert [(a.who, a.action) for a in log] == [
        ("ana", "create_client"),
        ("ana", "save_preferences"),
        ("ana", "create_session"),
        ("bo", "append"),
        ("admin", "add_user"),
        ("admin", "remove_user"),
        ("admin", "export_session"),
        ("admin", "delete_client"),
        ("ana", "login"),
        ("bo", "append"),
        ("cron", "purge_sessions"),
    ]
    assert log[3].target == sid
    assert log[3].detail == {"seq": 1, "kind": "note"}
    everything = json.dumps([(a.target, a.detail) for a in log])
    for health_data in ("Jane Doe", "health", "private note", "correct horse"):
        assert health_data not in everything
    assert [a.action for a in store.audit_log(since=T0 + 1)] == ["purge_sessions", "append"]
    assert len(store.audit_log(limit=3)) == 3


# -- users -----------------------------------------------------------------------------------


def test_users_verify_passwords(store: Store, db: Path) -> None:
    store.add_user("ana", "correct horse battery", "facilitator")
    store.add_user("root.admin", "another long password", "admin")
    assert store.verify_user("ana", "correct horse battery") == "facilitator"
    assert store.verify_user("ana", "wrong password!!") is None
    assert store.verify_user("nobody", "correct horse battery") is None
    assert [(u.username, u.role) for u in store.list_users()] == [
        ("ana", "facilitator"),
        ("root.admin", "admin"),
    ]
    conn = raw(db)
    (stored,) = conn.execute("SELECT password_hash FROM users WHERE username = 'ana'").fetchone()
    conn.close()
    assert stored.startswith("scrypt$")
    assert "correct horse" not in stored
    store.set_password("ana", "a brand new password")
    assert store.verify_user("ana", "correct horse battery") is None
    assert store.verify_user("ana", "a brand new password") == "facilitator"
    store.remove_user("ana")
    assert store.verify_user("ana", "a brand new password") is None


def test_user_validation_says_what_is_wrong(store: Store) -> None:
    with pytest.raises(StoreError, match="username 'Ana Smith' is not valid"):
        store.add_user("Ana Smith", "correct horse battery", "admin")
    with pytest.raises(StoreError, match="at least 10 characters"):
        store.add_user("ana", "short", "admin")
    with pytest.raises(StoreError, match="role must be one of"):
        store.add_user("ana", "correct horse battery", "root")  # type: ignore[arg-type]
    store.add_user("ana", "correct horse battery", "client")
    with pytest.raises(StoreError, match="already exists"):
        store.add_user("ana", "correct horse battery", "admin")
    with pytest.raises(StoreError, match="no user"):
        store.remove_user("bo")


# -- retention -------------------------------------------------------------------------------


def test_export_is_json_with_session_and_events(store: Store) -> None:
    sid = store.create_session("room-1", "classic", by="ana")
    store.append(sid, EventKind.START, {"arc": "classic"}, by="ana")
    store.append(sid, EventKind.MARK, {"name": "dose"}, by="ana")
    exported = store.export_session(sid)
    again = json.loads(json.dumps(exported))
    assert again["session"]["id"] == sid
    assert again["session"]["arc"] == "classic"
    assert [e["kind"] for e in again["events"]] == ["start", "mark"]
    assert again["events"][1]["data"] == {"name": "dose"}
    with pytest.raises(SessionError, match="no session"):
        store.export_session("s-nope")


def test_purge_removes_old_sessions_and_their_events_only(store: Store, clock: StepClock) -> None:
    old = store.create_session("room-1", "classic")
    store.append(old, EventKind.NOTE, {"text": "x"}, by="ana")
    store.append(old, EventKind.END, {}, by="ana")
    abandoned = store.create_session("room-1", "classic")
    clock.t += 40 * 86400
    recent = store.create_session("room-1", "classic")
    store.append(recent, EventKind.END, {}, by="ana")
    running = store.create_session("room-2", "classic")
    assert sorted(store.purge_sessions(30 * 86400)) == sorted([old, abandoned])
    assert {s.id for s in store.list_sessions()} == {recent, running}
    with pytest.raises(SessionError, match="no session"):
        store.events(old)
    clock.t += 1
    assert store.purge_sessions(0) == [recent]  # a running session is never purged
    assert [s.id for s in store.list_sessions()] == [running]
    assert abandoned not in {s.id for s in store.list_sessions()}


# -- durability ------------------------------------------------------------------------------

CHILD = """
import sys
from roomctl.clock import SystemClock
from roomctl.model.events import EventKind
from roomctl.store.store import Store

store = Store.open(sys.argv[1], SystemClock())
i = 0
while True:
    event = store.append(sys.argv[2], EventKind.NOTE, {"text": f"note {i}"}, by="child")
    sys.stdout.write(f"{event.seq}\\n")
    sys.stdout.flush()
    i += 1
"""


def _read_acks(stdout: IO[bytes], acked: list[int], started: threading.Event) -> None:
    for line in stdout:
        if line.endswith(b"\n"):  # a torn last line was never acknowledged
            acked.append(int(line))
            started.set()


def _append_until_killed(db: Path, sid: str, delay_s: float) -> list[int]:
    """Run a child that appends and prints each seq; SIGKILL it `delay_s` after its first
    acknowledgement.  Return the seqs it acknowledged."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(db), sid],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
    )
    assert child.stdout is not None
    assert child.stderr is not None
    acked: list[int] = []
    started = threading.Event()
    reader = threading.Thread(target=_read_acks, args=(child.stdout, acked, started), daemon=True)
    reader.start()
    try:
        if not started.wait(10):
            child.kill()
            pytest.fail(f"child never appended: {child.stderr.read().decode()}")
        time.sleep(delay_s)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
        reader.join(5)
        child.stdout.close()
        child.stderr.close()
    assert child.returncode == -signal.SIGKILL
    return acked


def test_acknowledged_appends_survive_sigkill(db: Path) -> None:
    with Store.open(db, SystemClock()) as s:
        sid = s.create_session("room-1", "classic")
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    for _ in range(3):
        acked = _append_until_killed(db, sid, rng.uniform(0.0, 0.4))
        assert acked
        assert Path(f"{db}-wal").exists()  # the child died with its WAL not checkpointed
        with Store.open(db, SystemClock()) as s:
            stored = [e.seq for e in s.events(sid)]
            conn = s._conn
            assert conn is not None
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        lost = sorted(set(acked) - set(stored))
        assert not lost, f"seed {seed}: acknowledged but lost: {lost[:10]}"
        assert stored == sorted(set(stored))
