"""`kill -9` of a real `roomctl run` mid-fade, then a restart: every device is back at the arc's
current target within 3 s of the restart, the lamp does not jump on the way, and every command
the command line acknowledged before the kill is in the store after it.

The emulators run in the test's process on the same scaled clock as the daemon (written into
the config), so a 20-minute fade takes a minute of real time and the lamp fades natively in the
same clock the daemon plans in."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Mapping
from pathlib import Path

from roomctl.clock import ScaledClock
from roomctl.control.session import SessionControl
from roomctl.model.events import EventKind
from roomctl.model.library import load_library
from roomctl.model.state import DeviceState
from roomctl.sim.demo import DemoRoom
from roomctl.store.store import Store
from tests.daemon_support import mismatches, run_cli
from tests.faults import write_config
from tests.helpers import until
from tests.proof.process import DaemonProcess

SPEED = 20.0
BACK_WITHIN_S = 3.0


class Watcher:
    """What the room should show now, read from the database as a second process would."""

    def __init__(self, config: Path, db: Path, clock: ScaledClock) -> None:
        self.clock = clock
        self.store = Store.open(db, clock, readonly=True)
        self.control = SessionControl(load_library(config), self.store, clock)

    def desired(self) -> Mapping[str, DeviceState]:
        self.control.refresh()
        return self.control.desired(self.clock.now())

    def kinds(self) -> list[EventKind]:
        self.control.refresh()
        assert self.control.session is not None
        return [e.kind for e in self.store.events(self.control.session.id)]


async def test_kill_9_mid_fade_then_restart(tmp_path: Path) -> None:
    clock = ScaledClock(SPEED)
    async with DemoRoom.start(clock, tmp_path, emulator_clock=clock) as room:
        config = write_config(room, tmp_path / "c.yaml")
        db = tmp_path / "roomctl.db"
        log = tmp_path / "daemon.log"
        lamp = room.kasa["lamp"]
        first = await DaemonProcess.start(config, log)
        acknowledged: list[EventKind] = []
        try:
            for argv, kind in [
                (("start", "psilocybin"), EventKind.START),
                (("jump", "building"), EventKind.JUMP),
                (("note", "settling in"), EventKind.NOTE),
                (("cue", "talk"), EventKind.CUE_ON),
            ]:
                code, out, err = await run_cli(config, "session", *argv)
                assert code == 0, out + err
                acknowledged.append(kind)
            watcher = Watcher(config, db, clock)
            await until(lambda: lamp.commands != [], 10, "the lamp driven by the session")
            # the lamp fades toward the talk cue: watch a few of its steps
            samples: list[float] = []
            began = time.monotonic()
            while time.monotonic() - began < 2.0:
                samples.append(lamp.state["brightness"])
                await asyncio.sleep(0.02)
            code, out, err = await run_cli(config, "session", "cue-off")
            assert code == 0, out + err
            acknowledged.append(EventKind.CUE_OFF)
            await asyncio.sleep(0.5)  # mid-fade back from the cue
        finally:
            first.kill9()
            await first.proc.wait()
        before_kill = len(lamp.commands)
        shown_at_kill = lamp.state["brightness"]
        await asyncio.sleep(1.0)  # the power is out for a moment

        second = await DaemonProcess.start(config, log)
        try:
            last: list[str] = []

            def back() -> bool:
                nonlocal last
                samples.append(lamp.state["brightness"])
                last = mismatches(room, watcher.desired())
                return not last

            took = await until(back, BACK_WITHIN_S, lambda: last)
            print(  # the figure for the report: restart to every device at its target
                f"kill -9: back at the arc's target {took:.2f} s after READY, "
                f"{second.ready_at - second.launched_at:.2f} s after the launch"
            )
            kinds = watcher.kinds()
            for kind in acknowledged:  # nothing acknowledged was lost
                assert kind in kinds, (kind, kinds)
            assert kinds.index(EventKind.CUE_OFF) > kinds.index(EventKind.CUE_ON)
            began = time.monotonic()
            while time.monotonic() - began < 2.0:
                samples.append(lamp.state["brightness"])
                await asyncio.sleep(0.02)
        finally:
            assert await second.stop() == 0
        # No visible jump: the lamp's brightness never moved more than a step or two between
        # two looks 20 ms apart (0.4 s of session time), and the first command after the
        # restart starts within a step of where the lamp was or fades there over seconds.
        moves = [abs(b - a) for a, b in itertools.pairwise(samples)]
        assert max(moves) <= 2.0, moves
        after = [c for c in lamp.commands[before_kill:] if "brightness" in c.params]
        if after:  # within a step of where it was, or a catch-up fade (not a jump)
            first_move = abs(after[0].params["brightness"] - shown_at_kill)
            assert first_move <= 2 or after[0].params["transition_period"] >= 5000, after[0]
        assert not [line for line in second.log_lines() if "Traceback" in line]
