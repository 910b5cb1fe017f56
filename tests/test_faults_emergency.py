"""The emergency always works: it acts on the room first and is recorded as soon as it can be,
with no session, with a full disk, with a clock stepped back before the session start, and from
the command line with no daemon running.  Real drivers against the demo room's emulators."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from roomctl.clock import SystemClock, VirtualClock
from roomctl.control.session import SessionControl
from roomctl.errors import StoreError
from roomctl.model.events import EventKind
from roomctl.model.library import load_library
from roomctl.sim.demo import DemoRoom
from roomctl.store.store import Store
from tests.daemon_support import DARK_ROOM, ROOT, emergency_shown, run_cli, stop_daemon
from tests.faults import small_disk, start, write_config
from tests.helpers import until


async def test_emergency_without_a_session_acts_and_clears_back_calmly(tmp_path: Path) -> None:
    async with DemoRoom.start(SystemClock(), tmp_path) as room:
        config = write_config(
            room,
            tmp_path / "c.yaml",
            # the lamp stays as the room had it (no safe light at start) to return to
            safety={"emergency": {"clear_fade_s": 2}, "idle": {"on_start": False}},
        )
        lamp = room.kasa["lamp"]
        before = lamp.state
        assert before["on"] and before["brightness"] < 90
        run = await start(config, SystemClock())
        try:
            health = run.engine.health()
            await until(lambda: health["lamp"].landed is not None, 5, lambda: health["lamp"])
            run.session.command(EventKind.EMERGENCY_ON, by="test")  # no session is running
            await until(lambda: emergency_shown(room), 3, room.shown)
            assert run.session.snapshot().status is None
            store = run.daemon.store
            actions = [(a.action, a.who) for a in store.audit_log(limit=10)]
            assert ("emergency_on", "test") in actions

            run.session.command(EventKind.EMERGENCY_CLEAR, by="test")
            seen: list[int] = []  # the lamp's brightness as it goes back: a fade, not a jump
            shown = ("on", "brightness", "color_temp")

            def back() -> bool:
                seen.append(lamp.state["brightness"])
                return all(lamp.state[k] == before[k] for k in shown)

            await until(back, 10, lambda: lamp.state)
            between = [b for b in seen if before["brightness"] < b < 100]
            assert between, seen  # it passed through levels between the emergency and before
            assert ("emergency_clear", "test") in [
                (a.action, a.who) for a in store.audit_log(limit=10)
            ]
        finally:
            await stop_daemon(run)


async def test_emergency_on_a_full_disk_acts_and_is_recorded_when_there_is_room(
    tmp_path: Path,
) -> None:
    with small_disk(tmp_path, 2048) as disk:
        async with DemoRoom.start(SystemClock(), tmp_path) as room:
            config = write_config(
                room, tmp_path / "c.yaml", storage={"path": str(disk.path / "roomctl.db")}
            )
            run = await start(config, SystemClock(), record_retry_s=0.05)
            try:
                session = run.session.start("psilocybin", by="test", room=DARK_ROOM)
                disk.fill()
                with pytest.raises(StoreError, match="full"):  # an ordinary command: refused
                    run.session.command(EventKind.HOLD, by="test")

                event = run.session.command(EventKind.EMERGENCY_ON, by="test")
                assert event.kind is EventKind.EMERGENCY_ON
                await until(lambda: emergency_shown(room), 3, room.shown)
                assert run.session.pending and "full" in (run.session.record_error or "")
                assert run.session.snapshot().status.emergency
                await asyncio.sleep(0.3)
                assert not run.task.done()  # the daemon keeps running

                disk.free()
                store = run.daemon.store

                def recorded() -> bool:
                    kinds = [e.kind for e in store.events(session.id)]
                    return EventKind.EMERGENCY_ON in kinds

                await until(recorded, 5, "the emergency stored once there is room")
                assert not run.session.pending and run.session.record_error is None
                assert emergency_shown(room)
            finally:
                await stop_daemon(run)


def test_emergency_with_the_clock_stepped_back_before_the_session_start(tmp_path: Path) -> None:
    lib = load_library(ROOT / "config.example.yaml")
    clock = VirtualClock(1_800_000_000.0)
    with Store.open(tmp_path / "roomctl.db", clock) as store:
        control = SessionControl(lib, store, clock)
        control.start("psilocybin", by="test")
        clock.step_wall(-600)  # ten minutes before the session started
        control.command(EventKind.EMERGENCY_ON, by="test")
        status = control.snapshot().status
        assert status is not None and status.emergency
        kinds = [e.kind for e in store.events(control.session.id)]  # type: ignore[union-attr]
        assert kinds == [EventKind.START, EventKind.EMERGENCY_ON]


async def test_emergency_from_the_command_line_with_no_daemon_and_no_session(
    tmp_path: Path,
) -> None:
    async with DemoRoom.start(SystemClock(), tmp_path) as room:
        config = write_config(room, tmp_path / "c.yaml")
        code, out, err = await run_cli(config, "session", "emergency")
        assert code == 0, err
        assert "Traceback" not in err
        assert "[EMERGENCY]" in out
        await until(lambda: emergency_shown(room), 3, room.shown)
        lib = load_library(config)
        with Store.open(Path(lib.room.storage.path), SystemClock()) as store:
            assert "emergency_on" in [a.action for a in store.audit_log(limit=10)]
