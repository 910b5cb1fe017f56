"""A session started for a client records once what the room's limits override in their
preferences (a note by "system" right after the start), whoever starts it."""

from __future__ import annotations

from pathlib import Path

import pytest

from roomctl.clock import VirtualClock
from roomctl.control.session import SessionControl
from roomctl.model.events import Note, Start
from roomctl.model.library import Library
from roomctl.store.clients import Consent
from roomctl.store.store import Store

ROOT = Path(__file__).resolve().parent.parent
T0 = 1_800_000_000.0


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(tmp_path / "roomctl.db", VirtualClock(T0))


def client_with(store: Store, data: dict[str, object]) -> str:
    cid = store.create_client()
    store.save_preferences(cid, data, by="ana", consent=Consent("ana"))
    return cid


def test_the_note_is_written_once_after_the_start(lib: Library, store: Store) -> None:
    cid = client_with(store, {"temperature_c": 23.5})
    control = SessionControl(lib, store, VirtualClock(T0))
    row = control.start("mdma", by="ana", client_id=cid)
    events = store.events(row.id)
    assert [type(e.payload) for e in events] == [Start, Note]
    assert events[1].by == "system"
    assert isinstance(events[1].payload, Note)
    assert "the room will keep to 22 °C" in events[1].payload.text
    # another process following the session (the daemon) does not write it again
    follower = SessionControl(lib, store, VirtualClock(T0 + 60))
    follower.refresh()
    assert len(store.events(row.id)) == 2
    assert follower.snapshot().status is not None


@pytest.mark.parametrize(
    ("arc", "data", "without"),
    [
        ("psilocybin", {"temperature_c": 23.5}, False),  # inside psilocybin's 18–24 °C
        ("mdma", {"temperature_c": 23.5}, True),  # started without the preferences
        ("mdma", {}, False),
    ],
)
def test_no_note_when_nothing_is_overridden(
    lib: Library, store: Store, arc: str, data: dict[str, object], without: bool
) -> None:
    cid = client_with(store, data)
    control = SessionControl(lib, store, VirtualClock(T0))
    row = control.start(arc, by="ana", client_id=cid, without_preferences=without)
    assert [type(e.payload) for e in store.events(row.id)] == [Start]
