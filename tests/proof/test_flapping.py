"""A Kasa light that flaps (unplugged for a few seconds, back for a few, again and again) for
five minutes of session time, under a daemon on the demo room whose clock runs 15 times real
time: every outage is noticed and every return too, the other devices stay available and keep
following the arc, the log says a few lines per outage (not one per try), and the daemon's
task and thread counts do not grow."""

from __future__ import annotations

import asyncio
import logging
import random
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from roomctl.clock import ScaledClock
from roomctl.model.events import EventKind
from roomctl.sim.demo import DemoRoom
from tests.daemon_support import Running, follows, mismatches, start_daemon, stop_daemon
from tests.faults import write_config
from tests.helpers import until

SPEED = 15.0
FLAPPER = "reading"
RUN_S = 300.0  # session seconds of flapping (20 s of real time)
DOWN_S = (7.0, 12.0)  # each outage: longer than the health check (5 s), so each is seen
UP_S = (12.0, 20.0)  # each return: longer than the backoff after such an outage (<= 8 s)
LOG_LINES_PER_OUTAGE = 4


@dataclass
class Watch:
    """What a sampler saw, every 10 ms of real time."""

    run: Running
    room: DemoRoom
    flapper: list[tuple[float, bool]] = field(default_factory=list)  # (clock, available)
    others_down: list[str] = field(default_factory=list)
    off_arc: list[list[str]] = field(default_factory=list)
    looks: int = 0

    async def sample(self) -> None:
        health = self.run.engine.health()
        n = 0
        while True:
            now = self.run.daemon.clock.now()
            self.flapper.append((now, health[FLAPPER].available))
            self.others_down += [d for d, h in health.items() if d != FLAPPER and not h.available]
            if n % 25 == 0:  # every quarter second: the others against the session
                self.looks += 1
                late = mismatches(self.room, self.run.desired(), skip=(FLAPPER,), tol=5.0)
                if late:
                    self.off_arc.append([f"at {now:.0f}", *late])
            n += 1
            await asyncio.sleep(0.01)

    def seen(self, available: bool, start: float, end: float) -> bool:
        return any(a == available for t, a in self.flapper if start <= t <= end)


async def test_a_light_flapping_for_minutes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    clock = ScaledClock(SPEED)
    rng = random.Random(11)
    async with DemoRoom.start(clock, tmp_path) as room:
        config = write_config(room, tmp_path / "c.yaml")
        emulator = room.kasa[FLAPPER]
        run = await start_daemon(config, clock)
        try:
            run.session.start("psilocybin", by="test", room=room.initial_state())
            health = run.engine.health()
            await until(lambda: all(h.available for d, h in health.items() if d != "room-heat"),
                        15, lambda: health)  # fmt: skip
            await follows(run, room, 15)  # the first scene has faded in
            run.command(EventKind.ADVANCE)  # pre-onset: a 10-minute fade under the flapping
            watch = Watch(run, room)
            sampler = asyncio.create_task(watch.sample(), name="test-sampler")
            tasks, threads = [len(asyncio.all_tasks())], [threading.active_count()]
            windows: list[tuple[float, float, float]] = []  # (down, up, next down)
            first_log = len(caplog.records)
            began = clock.now()
            try:
                while clock.now() - began < RUN_S:
                    down = clock.now()
                    await emulator.refuse_connections()
                    await clock.sleep(rng.uniform(*DOWN_S))
                    up = clock.now()
                    await emulator.accept_connections()
                    await clock.sleep(rng.uniform(*UP_S))
                    windows.append((down, up, clock.now()))
                    tasks.append(len(asyncio.all_tasks()))
                    threads.append(threading.active_count())
            finally:
                sampler.cancel()
            flap_log = caplog.records[first_log:]
            await until(lambda: not mismatches(room, run.desired(), tol=5.0), 10,
                        lambda: mismatches(room, run.desired(), tol=5.0))  # fmt: skip
        finally:
            await stop_daemon(run)

    print(f"{len(windows)} outages in {RUN_S:g} s; tasks {tasks}, threads {threads}")
    assert len(windows) >= 10
    for down, up, following in windows:
        assert watch.seen(False, down, up + 2), f"the outage at {down - began:.0f} s not seen"
        assert watch.seen(True, up, following), f"the return at {up - began:.0f} s not seen"
    assert watch.others_down == []
    assert len(watch.off_arc) <= watch.looks // 20, watch.off_arc
    assert max(tasks) <= tasks[0] + 2 and max(threads) <= threads[0] + 2, (tasks, threads)

    about = Counter(
        r.getMessage() for r in flap_log if FLAPPER in r.getMessage() or r.levelno > logging.INFO
    )
    print(f"{about.total()} log lines about the outages:", *about.items(), sep="\n  ")
    assert about.total() <= LOG_LINES_PER_OUTAGE * len(windows), about
    assert not [r for r in flap_log if r.levelno >= logging.ERROR]
