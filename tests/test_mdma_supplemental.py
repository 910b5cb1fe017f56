"""MDMA's supplemental dose is a facilitator's action, not a phase: the arc stays steady and cool
through the peak whether or not a dose is offered; `session supplemental` records the dose and
runs a short, gentle cue that ends by itself, while the music plays on.

A real SQLite store, SessionControl and a virtual clock; the room is read from the timeline
every minute (no command) and every second (around the cue)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from roomctl.clock import VirtualClock
from roomctl.control.session import SessionControl
from roomctl.errors import SessionError
from roomctl.model.events import EventKind, Mark
from roomctl.model.library import Library
from roomctl.model.state import DeviceState, LightState, PlayerState, ThermostatState
from roomctl.store.store import Store

ROOT = Path(__file__).resolve().parent.parent
T0 = 1_800_000_000.0  # the dose: the session starts at -0:15 with t0 = T0
PEAK = [T0 + minute * 60 for minute in range(60, 151)]  # every minute 1:00–2:30
GIVEN = T0 + 100 * 60  # the supplemental dose at 1:40


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(T0 - 900)


@pytest.fixture
def control(lib: Library, clock: VirtualClock, tmp_path: Path) -> Iterator[SessionControl]:
    with Store.open(tmp_path / "roomctl.db", clock) as store:
        ctl = SessionControl(lib, store, clock)
        ctl.start("mdma", by="ana", t0=T0)
        yield ctl


def room(ctl: SessionControl, t: float) -> dict[str, DeviceState]:
    return dict(ctl.snapshot(t).devices)


def lamp(state: dict[str, DeviceState]) -> LightState:
    found = state["lamp"]
    assert isinstance(found, LightState)
    return found


def speakers(state: dict[str, DeviceState]) -> PlayerState:
    found = state["speakers"]
    assert isinstance(found, PlayerState)
    return found


def setpoint(state: dict[str, DeviceState]) -> float:
    found = state["radiator"]
    assert isinstance(found, ThermostatState)
    return found.setpoint_c


def test_without_the_command_the_peak_is_steady_and_cool(control: SessionControl) -> None:
    first = room(control, PEAK[0])
    for t in PEAK:
        now = room(control, t)
        where = f"at {(t - T0) / 60:.0f} min"
        assert speakers(now).source == speakers(first).source, where
        assert speakers(now).volume == pytest.approx(speakers(first).volume), where
        assert lamp(now) == lamp(first), where
        assert setpoint(now) == 20.0, where  # the cool end of MDMA's 20–22 °C band
        assert control.snapshot(t).status is not None
    assert str(speakers(first).source) == "favorite:Inner Focus"
    assert lamp(first).brightness_pct == pytest.approx(14.0)


def test_the_supplemental_dose_is_recorded_and_runs_a_gentle_cue(
    control: SessionControl, clock: VirtualClock
) -> None:
    asyncio.run(clock.advance(GIVEN - clock.now()))
    event = control.command(EventKind.MARK, {"name": "supplemental"}, by="ana")
    # the record says what was given and what the room did for it
    assert event.payload == Mark(name="supplemental", cue="supplemental", cue_s=600.0)
    assert control.session is not None
    stored = [(e.kind.value, e.by, e.data) for e in control.store.events(control.session.id)]
    assert stored[-1] == ("mark", "ana", {"name": "supplemental", "cue": "supplemental",
                                          "cue_s": 600.0})  # fmt: skip

    steady = room(control, GIVEN - 1)
    source = speakers(steady).source
    seconds = [GIVEN - 60 + s for s in range(60 + 600 + 300)]
    shown = [room(control, t) for t in seconds]
    levels = [lamp(s).brightness_pct or 0.0 for s in shown]
    for before, after, t in zip(levels, levels[1:], seconds[1:], strict=False):
        assert abs(after - before) <= 0.5, f"a jump of the lamp at {t - GIVEN:+.0f} s"
    for s, t in zip(shown, seconds, strict=True):
        assert speakers(s).source == source, f"the music changed at {t - GIVEN:+.0f} s"
        assert setpoint(s) == 20.0
    # up to the cue's level, never faster than the safety minimum (30 s for lights)
    assert (lamp(room(control, GIVEN + 29)).brightness_pct or 0.0) < 22.0 - 0.5
    assert lamp(room(control, GIVEN + 120)).brightness_pct == pytest.approx(22.0)
    assert speakers(room(control, GIVEN + 120)).volume == pytest.approx(14.0)
    cue = control.snapshot(GIVEN + 300).status
    assert cue is not None and cue.cue == "supplemental"
    assert cue.cue_ends_at == pytest.approx(GIVEN + 600)
    # it ends by itself after 10 minutes and fades back to the arc, which ran on underneath
    ended = control.snapshot(GIVEN + 600 + 1).status
    assert ended is not None and ended.cue is None and ended.phase == "inner-focus"
    back = room(control, GIVEN + 600 + 120)
    assert lamp(back) == lamp(steady)
    assert speakers(back).volume == pytest.approx(speakers(steady).volume)
    assert speakers(back).source == source


def test_the_dose_is_recorded_once(control: SessionControl, clock: VirtualClock) -> None:
    asyncio.run(clock.advance(GIVEN - clock.now()))
    control.command(EventKind.MARK, {"name": "Supplemental"}, by="ana")
    asyncio.run(clock.advance(60))
    with pytest.raises(SessionError, match=r"'supplemental' is already recorded .* by ana"):
        control.command(EventKind.MARK, {"name": "supplemental"}, by="bob")
    with pytest.raises(SessionError, match="name is empty"):
        control.command(EventKind.MARK, {"name": "  "}, by="bob")
    with pytest.raises(SessionError, match="no cue scene 'nope'"):
        control.command(Mark(name="water", cue="nope", cue_s=60), by="bob")
    # a mark that is not one of the arc's markers is just a moment in the record
    event = control.command(EventKind.MARK, {"name": "asked for water"}, by="bob")
    assert event.payload == Mark(name="asked for water")


def test_the_facilitator_gives_it_from_the_command_line(tmp_path: Path) -> None:
    """`roomctl session supplemental` through `python -m roomctl` (no daemon)."""
    import os
    import shutil
    import subprocess
    import sys

    shutil.copy(ROOT / "config.example.yaml", tmp_path / "config.yaml")
    env = {k: v for k, v in os.environ.items() if k != "ROOMCTL_CONFIG"}
    env["PYTHONPATH"] = str(ROOT)

    def roomctl(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: PLW1510 - asserted below
            [sys.executable, "-m", "roomctl", *argv], cwd=tmp_path, env=env,
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
        )  # fmt: skip

    assert roomctl("session", "start", "mdma").returncode == 0
    done = roomctl("session", "supplemental", "--by", "ana")
    assert done.returncode == 0, done.stderr
    assert "[cue supplemental, ends in 10 min]" in done.stdout
    again = roomctl("session", "supplemental")
    assert again.returncode != 0 and "already recorded" in again.stderr
    assert "Traceback" not in again.stderr and len(again.stderr.splitlines()) == 1
    marked = roomctl("session", "mark", "client", "asked", "for", "water")
    assert marked.returncode == 0, marked.stderr
