"""Preferences fail closed: a profile that does not validate is refused when saved (naming the
field), a stored record that does not validate is an error naming the client and the field,
and a session for that client does not start on it unless the facilitator explicitly starts
without preferences, which the start event records."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from roomctl.clock import VirtualClock
from roomctl.control.session import SessionControl
from roomctl.errors import PreferencesError
from roomctl.model.events import Start
from roomctl.model.library import Library
from roomctl.model.prefs import NO_PREFERENCES, Preferences
from roomctl.store.store import Store

ROOT = Path(__file__).resolve().parent.parent
T0 = 1_800_000_000.0


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "roomctl.db"


@pytest.fixture
def store(db: Path) -> Store:
    return Store.open(db, VirtualClock(T0))


def write_raw_preferences(db: Path, client_id: str, version: int, data: str) -> None:
    """A record written behind roomctl's back (an old version, the sqlite3 shell)."""
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute(
        "INSERT INTO preferences (client_id, version, data, created_at, created_by) "
        "VALUES (?, ?, ?, ?, 'shell')",
        (client_id, version, data, T0),
    )
    conn.close()


def test_saving_invalid_preferences_is_refused_naming_the_field(store: Store) -> None:
    cid = store.create_client()
    with pytest.raises(PreferencesError) as err:
        store.save_preferences(cid, {"brightnes_max_pct": 40}, by="ana")
    assert err.value.client_id == cid
    assert err.value.field == "brightnes_max_pct"
    assert str(err.value) == f"preferences for client {cid}: unknown field 'brightnes_max_pct'"
    with pytest.raises(PreferencesError, match="'volume_max'"):
        store.save_preferences(cid, {"volume_max": 400}, by="ana")
    with pytest.raises(PreferencesError, match=r"darkness_limit_pct .* is above"):
        store.save_preferences(
            cid, {"darkness_limit_pct": 50, "brightness_max_pct": 30}, by="ana"
        )
    assert store.preference_versions(cid) == []


def test_an_invalid_stored_record_is_an_error_naming_client_and_field(
    store: Store, db: Path
) -> None:
    cid = store.create_client()
    store.save_preferences(cid, {"volume_max": 40}, by="ana")
    write_raw_preferences(db, cid, 2, '{"volume_max": 30, "colours_avoided": ["red"]}')
    with pytest.raises(PreferencesError) as err:
        store.preferences(cid)
    assert str(err.value) == (
        f"client {cid}: stored preferences v2 do not validate: unknown field 'colours_avoided'"
    )
    assert err.value.field == "colours_avoided"
    assert store.preferences(cid, version=1) == (1, Preferences(volume_max=40))


def test_start_is_refused_on_invalid_stored_preferences(
    lib: Library, store: Store, db: Path
) -> None:
    cid = store.create_client()
    write_raw_preferences(db, cid, 1, '{"volume_max": 30, "colours_avoided": ["red"]}')
    control = SessionControl(lib, store, VirtualClock(T0))
    with pytest.raises(PreferencesError) as err:
        control.start("psilocybin", by="alice", client_id=cid)
    message = str(err.value)
    assert cid in message and "'colours_avoided'" in message
    assert "--without-preferences" in message
    assert store.list_sessions() == []


def test_start_without_preferences_is_explicit_and_recorded(
    lib: Library, store: Store, db: Path
) -> None:
    cid = store.create_client()
    write_raw_preferences(db, cid, 1, '{"volume_max": 30, "colours_avoided": ["red"]}')
    control = SessionControl(lib, store, VirtualClock(T0))
    row = control.start("psilocybin", by="alice", client_id=cid, without_preferences=True)
    assert (row.client_id, row.prefs_version) == (cid, None)
    (start,) = store.events(row.id)
    assert start.payload == Start(arc="psilocybin", without_preferences=True)
    assert start.data == {"arc": "psilocybin", "without_preferences": True}
    assert control.prefs is NO_PREFERENCES


def test_valid_preferences_are_used_by_the_session(lib: Library, store: Store) -> None:
    cid = store.create_client()
    store.save_preferences(cid, Preferences(volume_max=25), by="ana")
    control = SessionControl(lib, store, VirtualClock(T0))
    row = control.start("psilocybin", by="alice", client_id=cid)
    assert row.prefs_version == 1
    assert control.prefs == Preferences(volume_max=25)
    (start,) = store.events(row.id)
    assert start.data == {"arc": "psilocybin"}  # the stored shape is unchanged
