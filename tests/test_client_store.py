"""Clients in the store: consent recorded with each preferences version, the history, the
export, deletion, and the schema upgrade that added consent records (real SQLite files)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from roomctl.errors import StoreError
from roomctl.model.prefs import Preferences
from roomctl.store.clients import (
    CLIENT_EXPORT_FORMAT,
    DEFAULT_CONSENT_SCOPE,
    Consent,
    ConsentRecord,
)
from roomctl.store.schema import MIGRATIONS, migrate, schema_version
from roomctl.store.store import Store
from tests.test_store import T0, StepClock


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


def test_consent_is_stored_with_the_version_and_shown_in_the_history(
    store: Store, clock: StepClock
) -> None:
    cid = store.create_client()
    clock.t += 60
    v1 = store.save_preferences(cid, {"volume_max": 40}, by="ana", consent=Consent("ana"))
    clock.t += 60
    v2 = store.save_preferences(
        cid, {"volume_max": 30}, by="bo", consent=Consent("bo", "  room   use only ")
    )
    assert (v1, v2) == (1, 2)
    history = store.preference_history(cid)
    assert [(h.version, h.created_by, h.created_at) for h in history] == [
        (1, "ana", T0 + 60),
        (2, "bo", T0 + 120),
    ]
    assert history[0].consent == ConsentRecord(cid, "ana", T0 + 60, DEFAULT_CONSENT_SCOPE)
    assert history[1].consent == ConsentRecord(cid, "bo", T0 + 120, "room use only")
    log = store.audit_log(limit=1)
    assert log[0].detail == {"version": 2, "consent_recorded_by": "bo"}


def test_a_version_without_consent_has_none_in_the_history(store: Store) -> None:
    cid = store.create_client()
    store.save_preferences(cid, {"volume_max": 40}, by="import")
    (only,) = store.preference_history(cid)
    assert only.consent is None


@pytest.mark.parametrize(
    ("consent", "message"),
    [
        (Consent("ana", "   "), "say what the client agreed to"),
        (Consent(" ", "room"), "who recorded it is missing"),
        (Consent("ana", "x" * 501), "keep it under 500"),
    ],
)
def test_an_incomplete_consent_stores_nothing(
    store: Store, consent: Consent, message: str
) -> None:
    cid = store.create_client()
    with pytest.raises(StoreError, match=message) as err:
        store.save_preferences(cid, {"volume_max": 40}, by="ana", consent=consent)
    assert cid in str(err.value)
    assert store.preference_history(cid) == []


def test_consent_records_cannot_be_changed(store: Store, db: Path) -> None:
    cid = store.create_client()
    store.save_preferences(cid, {}, by="ana", consent=Consent("ana"))
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    try:
        with pytest.raises(sqlite3.IntegrityError, match="fixed once recorded"):
            conn.execute("UPDATE consents SET scope = 'anything'")
        with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
            conn.execute(  # a consent to a version that does not exist
                "INSERT INTO consents VALUES (?, 9, ?, 'ana', 0, 'x')", (cid, cid)
            )
    finally:
        conn.close()


def test_export_holds_everything_stored_about_the_client(
    store: Store, clock: StepClock
) -> None:
    cid = store.create_client("Room 2, Tuesdays", by="ana")
    store.save_preferences(
        cid, Preferences(colors_avoided=("red",), temperature_c=21.5), by="ana",
        consent=Consent("ana"),
    )  # fmt: skip
    store.save_preferences(cid, {"volume_max": 30}, by="bo")
    clock.t += 5
    exported = store.export_client(cid, by="admin")
    assert json.loads(json.dumps(exported)) == {
        "format": CLIENT_EXPORT_FORMAT,
        "exported_at": T0 + 5,
        "client": {"id": cid, "label": "Room 2, Tuesdays", "created_at": T0},
        "preferences": [
            {
                "version": 1, "created_at": T0, "created_by": "ana",
                "preferences": {"colors_avoided": ["red"], "temperature_c": 21.5},
                "consent": {"given_by": cid, "recorded_by": "ana", "at": T0,
                            "scope": DEFAULT_CONSENT_SCOPE},
            },
            {
                "version": 2, "created_at": T0, "created_by": "bo",
                "preferences": {"volume_max": 30}, "consent": None,
            },
        ],
    }  # fmt: skip
    (last,) = store.audit_log(limit=1)
    assert (last.who, last.action, last.target) == ("admin", "export_client", cid)
    assert last.detail == {"preference_versions": 2}  # no label, no preferences


def test_export_of_an_unknown_or_deleted_client_is_refused(store: Store) -> None:
    with pytest.raises(StoreError, match="no client 'c-nobody'"):
        store.export_client("c-nobody")
    cid = store.create_client()
    store.delete_client(cid)
    with pytest.raises(StoreError, match="has been deleted"):
        store.export_client(cid)


def test_delete_removes_consents_with_the_versions(store: Store, db: Path) -> None:
    cid = store.create_client("Jane Doe")
    store.save_preferences(cid, {"volume_max": 40}, by="ana", consent=Consent("ana"))
    store.delete_client(cid, by="admin")
    assert store.preference_history(cid) == []
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        assert conn.execute("SELECT count(*) FROM consents").fetchone() == (0,)
    finally:
        conn.close()
    actions = [(a.action, a.target) for a in reversed(store.audit_log())]
    assert actions == [
        ("create_client", cid), ("save_preferences", cid), ("delete_client", cid),
    ]  # fmt: skip


def test_a_version_1_database_is_upgraded_and_keeps_its_preferences(
    db: Path, clock: StepClock
) -> None:
    conn = sqlite3.connect(db, isolation_level=None)
    migrate(conn, str(db), MIGRATIONS[:1])
    conn.execute("INSERT INTO clients VALUES ('c-00000001', NULL, 0, NULL)")
    conn.execute(
        "INSERT INTO preferences VALUES ('c-00000001', 1, '{\"volume_max\": 40}', 0, 'ana')"
    )
    conn.close()
    with Store.open(db, clock) as store:
        (old,) = store.preference_history("c-00000001")
        assert (old.version, old.consent) == (1, None)
        assert store.preferences("c-00000001") == (1, Preferences(volume_max=40))
        store.save_preferences("c-00000001", {}, by="ana", consent=Consent("ana"))
        assert store.preference_history("c-00000001")[1].consent is not None
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        assert schema_version(conn) == len(MIGRATIONS) >= 2
    finally:
        conn.close()
