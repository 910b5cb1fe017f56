"""SessionControl with a real SQLite store and a virtual clock: every command is checked against
the session's state before anything is written, accepted commands are on disk when `command()`
returns and visible to a second SessionControl on the same database, and a change made at a
device becomes a manual override recorded as by "device"."""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from roomctl.clock import VirtualClock
from roomctl.control.session import SessionControl
from roomctl.errors import ConfigError, RoomctlError, SessionError
from roomctl.model.events import EventKind
from roomctl.model.library import PACKAGE_SCENES, Library, load_library
from roomctl.model.scene import Source
from roomctl.model.state import LightState, PlayerState
from roomctl.store.store import Store

ROOT = Path(__file__).resolve().parent.parent
T0 = 1_800_000_000.0
PSILOCYBIN_PHASES = (
    "settle, pre-onset, onset, building, peak, re-entry, return, closing"  # as the error lists
)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(T0)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "roomctl.db"


@pytest.fixture
def store(db: Path, clock: VirtualClock) -> Iterator[Store]:
    with Store.open(db, clock) as s:
        yield s


@pytest.fixture
def control(lib: Library, store: Store, clock: VirtualClock) -> SessionControl:
    return SessionControl(lib, store, clock)


@pytest.fixture
def running(control: SessionControl) -> SessionControl:
    """A psilocybin session started at T0 (the settle phase)."""
    control.start("psilocybin", by="alice")
    return control


def later(clock: VirtualClock, seconds: float) -> None:
    asyncio.run(clock.advance(seconds))


def stored(control: SessionControl) -> list[tuple[str, dict[str, Any]]]:
    """The session's events as the database holds them (read fresh, not from the cache)."""
    assert control.session is not None
    return [(e.kind.value, e.data) for e in control.store.events(control.session.id)]


def refused(control: SessionControl, kind: EventKind, data: dict[str, Any] | None = None) -> str:
    """Give a command that must be refused; check nothing was written; return the message."""
    before = stored(control)
    audit_before = len(control.store.audit_log(limit=1000))
    with pytest.raises(SessionError) as info:
        control.command(kind, data, by="alice")
    assert stored(control) == before, "a refused command must not reach the store"
    assert len(control.store.audit_log(limit=1000)) == audit_before
    message = str(info.value)
    assert message and "\n" not in message and "Traceback" not in message
    return message


# ------------------------------------------------------------------ starting


def test_start_writes_a_session_and_its_start_event(
    running: SessionControl, clock: VirtualClock
) -> None:
    assert running.session is not None
    assert running.session.arc == "psilocybin"
    assert stored(running) == [("start", {"arc": "psilocybin"})]
    snap = running.snapshot()
    assert snap.status is not None
    assert snap.status.phase == "settle"
    assert not snap.status.held and not snap.status.ended
    assert set(snap.devices) == {"lamp", "strip", "ceiling", "speakers", "radiator"}
    assert running.store.events(running.session.id)[0].at == clock.now()


def test_command_without_a_session_is_refused_and_nothing_is_stored(
    control: SessionControl, store: Store
) -> None:
    with pytest.raises(SessionError, match="no session is running"):
        control.command(EventKind.HOLD, by="alice")
    assert store.list_sessions() == []


def test_start_of_an_unknown_arc_says_did_you_mean_and_creates_nothing(
    control: SessionControl, store: Store
) -> None:
    with pytest.raises(ConfigError) as info:
        control.start("psilocibin", by="alice")
    assert isinstance(info.value, RoomctlError)
    assert "did you mean 'psilocybin'" in str(info.value)
    assert store.list_sessions() == []


def test_a_second_start_is_refused_while_one_runs(running: SessionControl, store: Store) -> None:
    with pytest.raises(SessionError, match="already running"):
        running.start("mdma", by="bob")
    assert len(store.list_sessions()) == 1
    assert len(stored(running)) == 1


def test_start_is_refused_when_another_process_started_a_session(
    lib: Library, db: Path, clock: VirtualClock, control: SessionControl
) -> None:
    with Store.open(db, clock) as other_store:
        SessionControl(lib, other_store, clock).start("mdma", by="bob")
    with pytest.raises(SessionError, match="already running"):
        control.start("psilocybin", by="alice")


# ------------------------------------------------------------ refused commands


def test_advance_at_the_last_phase_is_refused(running: SessionControl) -> None:
    running.command(EventKind.JUMP, {"phase": "closing"}, by="alice")
    message = refused(running, EventKind.ADVANCE)
    assert "'closing' is the last phase" in message
    assert "end the session" in message


def test_step_back_at_the_first_phase_is_refused(running: SessionControl) -> None:
    assert "'settle' is the first phase" in refused(running, EventKind.STEP_BACK)


def test_jump_to_an_unknown_phase_lists_the_phases(running: SessionControl) -> None:
    message = refused(running, EventKind.JUMP, {"phase": "peek"})
    assert "no phase 'peek' in psilocybin" in message
    assert PSILOCYBIN_PHASES in message


def test_jump_without_a_phase_is_refused(running: SessionControl) -> None:
    assert "missing 'phase'" in refused(running, EventKind.JUMP, {})


def test_resume_when_not_held_and_hold_when_held_are_refused(running: SessionControl) -> None:
    assert "not held" in refused(running, EventKind.RESUME)
    running.command(EventKind.HOLD, by="alice")
    assert "already held" in refused(running, EventKind.HOLD)
    running.command(EventKind.RESUME, by="alice")
    assert [k for k, _ in stored(running)] == ["start", "hold", "resume"]


def test_unknown_cue_lists_the_cues(running: SessionControl) -> None:
    message = refused(running, EventKind.CUE_ON, {"cue": "tlak"})
    assert "no cue scene 'tlak'" in message
    assert "talk, break, check-in" in message


def test_cue_off_without_a_cue_is_refused(running: SessionControl) -> None:
    assert "no cue is on" in refused(running, EventKind.CUE_OFF)


def test_clear_emergency_without_one_is_refused(running: SessionControl) -> None:
    assert "no emergency to clear" in refused(running, EventKind.EMERGENCY_CLEAR)


def test_a_second_dose_is_refused(running: SessionControl) -> None:
    running.command(EventKind.DOSE, by="alice")
    assert "already recorded" in refused(running, EventKind.DOSE)


@pytest.mark.parametrize("minutes", [0, -5, 500])
def test_extend_out_of_range_is_refused(running: SessionControl, minutes: float) -> None:
    assert "extend: minutes must be between" in refused(
        running, EventKind.EXTEND, {"minutes": minutes}
    )


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {"device": "lmap", "channel": "brightness_pct", "value": 20},
            "no device 'lmap'; devices: lamp, strip, ceiling, speakers, radiator",
        ),
        (
            {"device": "lamp", "channel": "volume", "value": 20},
            "lamp: a light has no channel 'volume'",
        ),
        (
            {"device": "speakers", "channel": "brightness_pct", "value": 20},
            "speakers: a player has no channel 'brightness_pct'",
        ),
        (
            {"device": "radiator", "channel": "on", "value": True},
            "radiator: a thermostat has no channel 'on'",
        ),
        (
            {"device": "lamp", "channel": "colour", "value": 20},
            "override: unknown channel 'colour'",
        ),
        (
            {"device": "lamp", "channel": "brightness_pct", "value": 150},
            "lamp: brightness_pct must be between 0 and 100, got 150",
        ),
        (
            {"device": "lamp", "channel": "brightness_pct", "value": -1},
            "lamp: brightness_pct must be between 0 and 100",
        ),
        (
            {"device": "lamp", "channel": "brightness_pct", "value": "dim"},
            "override: 'value' must be true, false or a number, got 'dim'",
        ),
        (
            {"device": "lamp", "channel": "brightness_pct", "value": True},
            "lamp: brightness_pct must be a number",
        ),
        (
            {"device": "lamp", "channel": "color_temp_k", "value": 20000},
            "lamp: color_temp_k must be between 1500 and 9000",
        ),
        (
            {"device": "lamp", "channel": "on", "value": 1},
            "lamp: on must be true or false",
        ),
        (
            {"device": "speakers", "channel": "volume", "value": 101},
            "speakers: volume must be between 0 and 100",
        ),
        (
            {"device": "radiator", "channel": "setpoint_c", "value": 40},
            "radiator: setpoint_c must be between 5 and 35",
        ),
        ({"device": "lamp", "channel": "brightness_pct"}, "override: missing 'value'"),
        (
            {"device": "lamp", "channel": "brightness_pct", "value": 20, "until": "forever"},
            "'until' must be 'phase' or 'session'",
        ),
    ],
)
def test_bad_overrides_are_refused_with_a_clear_message(
    running: SessionControl, data: dict[str, Any], expected: str
) -> None:
    assert expected in refused(running, EventKind.OVERRIDE, data)


def test_a_light_without_colour_temperature_refuses_one(tmp_path: Path) -> None:
    """The 'strip' of config.example is a Kasa strip (colour temperature and hue); a dimmer has
    neither."""
    cfg = {
        "room": {"id": "r1", "name": "R"},
        "devices": [
            {"id": "lamp", "driver": "kasa", "host": "127.0.0.1", "zone": "lamp",
             "model": "color_bulb"},
            {"id": "reading", "driver": "kasa", "host": "127.0.0.2", "zone": "lamp",
             "model": "dimmer"},
        ],
        "scenes_dir": str(PACKAGE_SCENES),
    }  # fmt: skip
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    clock = VirtualClock(T0)
    with Store.open(tmp_path / "r.db", clock) as store:
        control = SessionControl(load_library(path), store, clock)
        control.start("psilocybin", by="alice")
        assert "reading: this light has no colour temperature" in refused(
            control, EventKind.OVERRIDE,
            {"device": "reading", "channel": "color_temp_k", "value": 2700},
        )  # fmt: skip
        assert "reading: this light has no colour" in refused(
            control, EventKind.OVERRIDE, {"device": "reading", "channel": "hue", "value": 30}
        )


def test_start_event_cannot_be_given_as_a_command(running: SessionControl) -> None:
    assert "use start()" in refused(running, EventKind.START, {"arc": "mdma"})


def test_commands_after_the_end_are_refused_and_a_new_session_may_start(
    running: SessionControl, store: Store
) -> None:
    first = running.session
    assert first is not None
    running.command(EventKind.END, by="alice")
    with pytest.raises(SessionError, match="no session is running"):
        running.command(EventKind.HOLD, by="alice")
    ended = store.get_session(first.id)
    assert ended is not None and ended.ended
    assert [e.kind for e in store.events(first.id)][-1] is EventKind.END
    # the room is free again
    second = running.start("mdma", by="alice")
    assert second.id != first.id
    assert running.snapshot().status is not None


# ------------------------------------------------------------ accepted commands


def test_commands_change_the_session_state(running: SessionControl, clock: VirtualClock) -> None:
    def status() -> Any:
        st = running.snapshot().status
        assert st is not None
        return st

    running.command(EventKind.HOLD, by="alice")
    assert status().held
    running.command(EventKind.RESUME, by="alice")
    running.command(EventKind.ADVANCE, by="alice")
    assert status().phase == "pre-onset"
    running.command(EventKind.STEP_BACK, by="alice")
    assert status().phase == "settle"
    running.command(EventKind.JUMP, {"phase": "peak"}, by="alice")
    assert status().phase == "peak"
    running.command(EventKind.CUE_ON, {"cue": "talk"}, by="alice")
    assert status().cue == "talk"
    running.command(EventKind.CUE_OFF, by="alice")
    assert status().cue is None
    running.command(
        EventKind.OVERRIDE, {"device": "lamp", "channel": "brightness_pct", "value": 20},
        by="alice",
    )  # fmt: skip
    assert ("lamp", "level", 20.0) in status().overrides
    later(clock, 600)  # past every fade
    lamp = running.snapshot().devices["lamp"]
    assert isinstance(lamp, LightState) and lamp.brightness_pct == 20.0
    running.command(EventKind.EMERGENCY_ON, by="alice")
    st = status()
    assert st.emergency and st.held
    lamp = running.snapshot().devices["lamp"]
    assert lamp == LightState(on=True, brightness_pct=100.0, color_temp_k=4000)
    speakers = running.snapshot().devices["speakers"]
    assert isinstance(speakers, PlayerState) and speakers.source is not None
    assert speakers.source.is_silence
    running.command(EventKind.EMERGENCY_CLEAR, by="alice")
    assert not status().emergency
    running.command(EventKind.NOTE, {"text": "client asked for a blanket"}, by="alice")
    kinds = [k for k, _ in stored(running)]
    assert kinds == [
        "start", "hold", "resume", "advance", "step_back", "jump", "cue_on", "cue_off",
        "override", "emergency_on", "emergency_clear", "note",
    ]  # fmt: skip


def test_command_returns_the_stored_event_with_time_and_author(
    running: SessionControl, clock: VirtualClock
) -> None:
    later(clock, 90)
    event = running.command(EventKind.HOLD, by="bob")
    assert event.seq > 0
    assert event.at == clock.now()
    assert event.by == "bob"
    assert running.events[-1] == event


# ------------------------------------------------------ durability, two processes


def test_events_are_durable_and_seen_by_a_second_control(
    lib: Library, db: Path, clock: VirtualClock, running: SessionControl
) -> None:
    with Store.open(db, clock) as other_store:
        other = SessionControl(lib, other_store, clock)
        assert other.refresh() is True  # found the running session
        assert other.session is not None and running.session is not None
        assert other.session.id == running.session.id
        assert other.refresh() is False  # nothing new

        running.command(EventKind.ADVANCE, by="alice")
        running.command(EventKind.CUE_ON, {"cue": "break"}, by="alice")
        assert other.refresh() is True
        st = other.snapshot().status
        assert st is not None and st.phase == "pre-onset" and st.cue == "break"
        assert other.snapshot() == running.snapshot()
        assert other.refresh() is False

        # and the other way round: a command from the second process reaches the first
        other.command(EventKind.HOLD, by="bob")
        assert running.refresh() is True
        st = running.snapshot().status
        assert st is not None and st.held
        assert [e.seq for e in running.events] == [e.seq for e in other.events]


def test_events_survive_closing_the_database(lib: Library, db: Path, clock: VirtualClock) -> None:
    store = Store.open(db, clock)
    control = SessionControl(lib, store, clock)
    session = control.start("psilocybin", by="alice")
    control.command(EventKind.JUMP, {"phase": "building"}, by="alice")
    control.command(EventKind.HOLD, by="alice")
    store.close()

    with Store.open(db, clock) as again:
        reopened = SessionControl(lib, again, clock)
        reopened.refresh()
        assert reopened.session is not None and reopened.session.id == session.id
        st = reopened.snapshot().status
        assert st is not None
        assert (st.phase, st.held) == ("building", True)


def test_an_end_from_another_process_is_noticed(
    lib: Library, db: Path, clock: VirtualClock, running: SessionControl
) -> None:
    with Store.open(db, clock) as other_store:
        SessionControl(lib, other_store, clock).command(EventKind.END, by="bob")
    assert running.refresh() is True
    assert running.session is None
    st = running.snapshot().status
    assert st is not None and st.ended  # keeps showing the end
    assert running.desired(clock.now()) == {}  # after the end the room is left as it is
    with pytest.raises(SessionError, match="no session is running"):
        running.command(EventKind.HOLD, by="alice")


# --------------------------------------------------------------- manual changes


def test_adopt_manual_change_records_overrides_by_device(
    running: SessionControl, clock: VirtualClock
) -> None:
    before = running.snapshot().devices["lamp"]
    shown = LightState(on=True, brightness_pct=12.0, color_temp_k=2700)
    running.adopt_manual_change("lamp", before, shown)
    added = running.events[-2:]
    assert [(e.kind, e.by, e.data) for e in added] == [
        (EventKind.OVERRIDE, "device", {"device": "lamp", "channel": "on", "value": True}),
        (EventKind.OVERRIDE, "device",
         {"device": "lamp", "channel": "brightness_pct", "value": 12.0}),
    ]  # fmt: skip
    assert stored(running)[-2:] == [(e.kind.value, e.data) for e in added]
    later(clock, 600)
    lamp = running.snapshot().devices["lamp"]
    assert isinstance(lamp, LightState) and lamp.brightness_pct == 12.0


def test_adopt_manual_volume_change(running: SessionControl) -> None:
    running.adopt_manual_change(
        "speakers",
        PlayerState(Source(kind="favorite", name="Settling In"), 14),
        PlayerState(None, 30),
    )
    last = running.events[-1]
    assert (last.kind, last.by, last.data) == (
        EventKind.OVERRIDE, "device", {"device": "speakers", "channel": "volume", "value": 30},
    )  # fmt: skip


def test_adopt_manual_change_without_a_session_records_nothing(
    control: SessionControl, store: Store
) -> None:
    control.adopt_manual_change("lamp", LightState(on=False), LightState(on=True))
    assert store.list_sessions() == []


def test_an_unusable_manual_change_is_logged_not_raised(
    running: SessionControl, caplog: pytest.LogCaptureFixture
) -> None:
    n = len(stored(running))
    with caplog.at_level(logging.WARNING, logger="roomctl.control.session"):
        running.adopt_manual_change("nosuch", LightState(on=False), LightState(on=False))
    assert len(stored(running)) == n
    assert "manual change not recorded" in caplog.text


# ------------------------------------------------------------------- bugs found


# Regression test for a bug this test found (since fixed): roomctl/channels.py clamp(): with
# safety.min_brightness_pct left at its default (int 5, pydantic does not validate defaults) the
# floor clamp returns an int, and _device_state() drops a light whose level is not a float: the
# floor light leaves the desired state instead of being held at 5 %
def test_floor_light_is_held_at_the_floor_with_default_safety(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    shutil.copy(ROOT / "config.example.yaml", config)
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("  min_brightness_pct: 5 ", "  # default floor "), "utf-8")
    lib = load_library(config)
    assert "min_brightness_pct" not in config.read_text(encoding="utf-8")
    clock = VirtualClock(T0)
    with Store.open(tmp_path / "f.db", clock) as store:
        control = SessionControl(lib, store, clock)
        control.start("psilocybin", by="alice")
        control.command(
            EventKind.OVERRIDE, {"device": "lamp", "channel": "on", "value": False}, by="alice"
        )
        later(clock, 600)
        lamp = control.snapshot().devices.get("lamp")
        assert lamp == LightState(on=True, brightness_pct=5.0, color_temp_k=2700)
