"""The daemon starts and keeps the room under control when things around it are wrong: a second
daemon on the same database refuses to start (naming the first), a broker that is down at start
leaves Kasa and Sonos running, a read-only database runs the room read-only, and `roomctl demo`
killed with SIGKILL takes its Mosquitto with it.  Real drivers, emulators, a real Mosquitto."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from roomctl.clock import SystemClock
from roomctl.control.lock import DaemonRunningError
from roomctl.errors import StoreError
from roomctl.model.events import EventKind
from roomctl.sim.demo import DemoRoom
from tests.daemon_support import ROOT, emergency_shown, follows, run_cli, stop_daemon
from tests.faults import small_disk, start, write_config
from tests.helpers import until


async def test_a_second_daemon_on_the_same_database_refuses_to_start(tmp_path: Path) -> None:
    async with DemoRoom.start(SystemClock(), tmp_path) as room:
        config = write_config(room, tmp_path / "c.yaml")
        first = await start(config, SystemClock())
        try:
            with pytest.raises(DaemonRunningError, match=f"pid {os.getpid()}"):
                await start(config, SystemClock())
            code, _, err = await run_cli(config, "run")  # the command: one line, exit 2
            assert code == 2 and f"pid {os.getpid()}" in err and "Traceback" not in err
            # one-shot commands keep working beside the daemon
            code, out, err = await run_cli(config, "session", "start", "psilocybin")
            assert code == 0, err
            code, out, err = await run_cli(config, "session", "status")
            assert code == 0 and "psilocybin" in out, err
            await until(lambda: first.session.session is not None, 2, "the session picked up")
        finally:
            await stop_daemon(first)
        second = await start(config, SystemClock())  # the lock went with the first
        await stop_daemon(second)


async def test_with_the_broker_down_at_start_the_room_is_still_controlled(tmp_path: Path) -> None:
    async with DemoRoom.start(SystemClock(), tmp_path) as room:
        config = write_config(room, tmp_path / "c.yaml")
        await room.broker.stop()
        assert room.sonos is not None
        for speaker in room.sonos.speakers:  # as the arc starts: no slow rise to wait for
            speaker.volume = 14
        run = await start(config, SystemClock())
        try:
            run.session.start("psilocybin", by="test")  # the first scene at once
            health = run.engine.health()
            await follows(run, room, 10, skip=("ceiling", "radiator", "room-heat"))
            assert not health["ceiling"].available
            run.command(EventKind.EMERGENCY_ON)
            lamp = room.kasa["lamp"]
            await until(lambda: lamp.state["brightness"] == 100, 3, lambda: lamp.state)

            await room.broker.launch()  # the bus keeps trying: MQTT devices join
            await until(lambda: health["ceiling"].available, 20, lambda: health["ceiling"])
            await until(lambda: emergency_shown(room), 5, room.shown)
        finally:
            await stop_daemon(run)


async def test_a_read_only_database_runs_the_room_read_only(tmp_path: Path) -> None:
    with small_disk(tmp_path) as disk:
        async with DemoRoom.start(SystemClock(), tmp_path) as room:
            config = write_config(
                room, tmp_path / "c.yaml", storage={"path": str(disk.path / "roomctl.db")}
            )
            assert room.sonos is not None
            for speaker in room.sonos.speakers:
                speaker.volume = 14
            first = await start(config, SystemClock())
            try:
                first.session.start("psilocybin", by="test")
                first.command(EventKind.CUE_ON, {"cue": "talk"})
            finally:
                await stop_daemon(first)
            disk.read_only()
            try:
                run = await start(config, SystemClock())
                try:
                    assert run.daemon.read_only and "read-only" in run.daemon.read_only
                    st = run.session.snapshot().status
                    assert st is not None and st.cue == "talk"  # the session as stored
                    health = run.engine.health()
                    await until(lambda: health["lamp"].available, 5, lambda: health["lamp"])
                    with pytest.raises(StoreError, match=r"readonly|read-only"):
                        run.command(EventKind.HOLD)
                    outcome = run.session.emergency(True, by="test")
                    assert not outcome.recorded and outcome.error
                    await until(lambda: emergency_shown(room), 3, room.shown)
                finally:
                    await stop_daemon(run)
            finally:
                disk.writable()


async def test_demo_killed_with_sigkill_takes_its_broker_with_it() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "roomctl", "demo", "--minutes", "2",
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL, env=env,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 60)
        assert b"roomctl demo" in line, line
        children = _children(proc.pid)
        brokers = [pid for pid in children if b"mosquitto" in _cmdline(pid)]
        assert brokers, children
    finally:
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
    await until(lambda: not any(_alive(pid) for pid in brokers), 5, f"mosquitto {brokers} ends")


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text()
        out += [int(p) for p in text.split()]
    return out


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return False
    return state != "Z"  # a zombie has ended (its parent is gone: init reaps it)
