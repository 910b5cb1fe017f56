"""The wall clock stepped an hour forward and an hour back, again and again, a minute before
and after every phase boundary of a whole session (psilocybin's phases and scenes, five minutes
each), as NTP puts right a Pi without a hardware clock after a power cut: the room goes through
the arc's phases in order, none skipped or repeated, each for its own length; session time
keeps to the monotonic clock; the stored events are stamped in order with that time, and
folding them again from the database gives the same phases.  The daemon runs on a VirtualClock
(the whole arc in seconds) against the demo room's emulators."""

from __future__ import annotations

import itertools
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml

from roomctl.clock import SystemClock, VirtualClock
from roomctl.control.session import SessionControl
from roomctl.model.events import EventKind
from roomctl.model.library import PACKAGE_SCENES, load_library
from roomctl.sim.demo import DemoRoom
from roomctl.store.store import Store
from tests.daemon_support import DARK_ROOM, stop_daemon
from tests.faults import start, write_config

T0 = 1_800_000_000.0
STEP_S = 60.0  # one look a minute of session time
HOUR = 3600.0


@pytest.fixture
async def config(tmp_path: Path) -> AsyncIterator[Path]:
    """The demo room with the shipped scenes and a short arc: psilocybin's, 5 minutes a phase."""
    scenes = tmp_path / "scenes"
    shutil.copytree(PACKAGE_SCENES, scenes)
    arc = yaml.safe_load((scenes / "arcs" / "psilocybin.yaml").read_text(encoding="utf-8"))
    arc |= {"name": "short", "title": "Psilocybin's phases, short", "markers": []}
    arc["starts_at"] = "-0:05"
    for phase in arc["phases"]:
        phase |= {"duration": "0:05", "fade_s": 60}
    (scenes / "arcs" / "short.yaml").write_text(yaml.safe_dump(arc), encoding="utf-8")
    async with DemoRoom.start(SystemClock(), tmp_path) as room:
        yield write_config(room, tmp_path / "c.yaml", scenes_dir=str(scenes))


def steps_around(boundaries: list[float]) -> dict[float, float]:
    """Wall-clock steps (seconds since the start → step) a look before and after each boundary:
    forward then back, back then forward, or twice the same way."""
    moves = itertools.cycle([(+HOUR, -HOUR), (-HOUR, +HOUR), (+HOUR, +HOUR), (-HOUR, -HOUR)])
    out: dict[float, float] = {}
    for boundary, (before, after) in zip(boundaries, moves, strict=False):
        out[boundary - STEP_S] = before
        out[boundary + STEP_S] = after
    return out


async def test_wall_clock_steps_across_phase_boundaries(config: Path) -> None:
    lib = load_library(config)
    arc = lib.arc("short")
    order = [p.name for p in arc.phases]
    clock = VirtualClock(T0)
    run = await start(config, clock, poll_s=60.0)
    sampled: list[tuple[float, str, float]] = []  # (session time, phase, arc clock)
    try:
        run.session.start("short", by="test", room=DARK_ROOM)
        st = run.session.snapshot().status
        assert st is not None
        arc0, begin = st.arc_clock_s, run.daemon.clock.now()
        # the phase boundaries in seconds since the start, and where the nominal arc ends
        boundaries = [at - arc0 for at in arc.nominal_starts()[1:]]
        end = arc.nominal_end
        assert end is not None
        length = end - arc0
        steps = steps_around(boundaries)
        elapsed = 0.0
        while elapsed < length + 10 * STEP_S:
            await clock.advance(STEP_S, settle=2)
            elapsed += STEP_S
            if elapsed in steps:
                clock.step_wall(steps[elapsed])
            run.command(EventKind.NOTE, {"text": f"{elapsed:.0f}"})
            state = run.daemon.state()
            assert state.session is not None
            st = run.session.snapshot().status
            assert st is not None and st.phase == state.session.phase
            sampled.append((run.daemon.clock.now(), st.phase, st.arc_clock_s))
            # session time is the start plus monotonic time, whatever the wall clock says
            assert abs(run.daemon.clock.now() - (begin + elapsed)) < 1e-6
            assert abs(st.arc_clock_s - (arc0 + elapsed)) < 1e-6
        assert "stepped" in (run.session.clock_note or "")
        assert len(steps) == 2 * (len(order) - 1)
    finally:
        await stop_daemon(run)

    went = [phase for phase, _ in itertools.groupby(p for _, p, _ in sampled)]
    assert went == order, went  # every phase, in order, none skipped and none twice
    minutes = {phase: sum(1 for _ in group) for phase, group in itertools.groupby(
        p for _, p, _ in sampled)}  # fmt: skip
    for phase in arc.phases[:-1]:  # each for its own length
        assert phase.duration is not None
        assert abs(minutes[phase.name] - phase.duration / STEP_S) <= 1, minutes

    # What the database holds folds to the same phases at the same times.
    with Store.open(run.daemon.store_path, clock, readonly=True) as store:
        control = SessionControl(lib, store, clock)
        control.refresh()
        notes = [e for e in control.events if e.kind is EventKind.NOTE]
        stamps = [e.at for e in control.events]
        assert stamps == sorted(stamps)
        assert [n.at for n in notes] == [t for t, _, _ in sampled]
        refolded = [control.snapshot(n.at).status for n in notes]
        assert [s.phase for s in refolded if s is not None] == [p for _, p, _ in sampled]
