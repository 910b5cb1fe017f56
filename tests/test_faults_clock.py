"""Clock steps: while the daemon runs, session time follows the monotonic clock, so a step of the
wall clock neither skips nor repeats a phase nor ends the session; after a restart with a clock
behind the last stored event, the room holds at its last known point until the clock is
plausible, and the status says so.  The daemon runs on a VirtualClock whose wall time is stepped
on its own (`step_wall`), the devices are the demo room's emulators."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from roomctl.clock import SessionClock, SystemClock, VirtualClock
from roomctl.control.status import format_status
from roomctl.model.events import EventKind
from roomctl.sim.demo import DemoRoom
from tests.daemon_support import DARK_ROOM, stop_daemon
from tests.faults import start, write_config

T0 = 1_800_000_000.0


@pytest.fixture
async def config(tmp_path: Path) -> AsyncIterator[Path]:
    async with DemoRoom.start(SystemClock(), tmp_path) as room:
        yield write_config(room, tmp_path / "c.yaml")


async def test_a_wall_clock_step_neither_ends_nor_skips_the_session(config: Path) -> None:
    clock = VirtualClock(T0)
    run = await start(config, clock)
    try:
        run.session.start("psilocybin", by="test", room=DARK_ROOM)
        await clock.advance(120)
        before = run.session.snapshot().status
        assert before is not None

        clock.step_wall(-600)  # ten minutes back: before the session started
        st = run.session.snapshot().status
        assert st is not None, "the daemon lost the session"
        assert (st.phase, round(st.arc_clock_s)) == (before.phase, round(before.arc_clock_s))

        clock.step_wall(+4200)  # an hour ahead of where it was
        st = run.session.snapshot().status
        assert st is not None
        assert (st.phase, round(st.arc_clock_s)) == (before.phase, round(before.arc_clock_s))
        assert "stepped" in (run.session.clock_note or "")
        assert "stepped" in format_status(run.session)

        await clock.advance(60)  # session time goes on with the monotonic clock
        run.command(EventKind.HOLD)
        st = run.session.snapshot().status
        assert st is not None and st.phase == before.phase
        assert round(st.arc_clock_s) == round(before.arc_clock_s) + 60
        stamps = [e.at for e in run.session.events]
        assert stamps == sorted(stamps) and stamps[-1] == stamps[0] + 180
    finally:
        await stop_daemon(run)


async def test_after_a_restart_with_the_clock_behind_the_room_holds_until_it_is_plausible(
    config: Path,
) -> None:
    first_clock = VirtualClock(T0)
    first = await start(config, first_clock)
    try:
        first.session.start("psilocybin", by="test", room=DARK_ROOM)
        await first_clock.advance(300)
        first.command(EventKind.CUE_ON, {"cue": "talk"})
        last = first.session.snapshot()
    finally:
        await stop_daemon(first)
    assert last.status is not None

    clock = VirtualClock(T0 - 3600)  # the RTC lost an hour over the restart
    run = await start(config, clock)
    try:
        assert isinstance(run.daemon.clock, SessionClock)
        st = run.session.snapshot().status
        assert st is not None and (st.phase, st.cue) == (last.status.phase, "talk")
        assert run.daemon.clock.now() == last.t  # held at the last known point
        assert run.desired() == last.devices
        assert "behind" in format_status(run.session)

        await clock.advance(600)  # still behind: still held
        assert run.daemon.clock.now() == last.t
        assert run.desired() == last.devices

        clock.step_wall(3600)  # NTP puts the clock right: the session goes on from there
        now = run.daemon.clock.now()
        assert last.t <= now <= last.t + 600 + 1
        assert run.session.clock_note is None or "behind" not in run.session.clock_note
        await clock.advance(30)
        assert run.daemon.clock.now() == now + 30
    finally:
        await stop_daemon(run)
