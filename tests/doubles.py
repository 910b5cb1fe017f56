"""Small working devices for engine tests: they keep state, count commands and check that the
engine used them correctly (started before use, never two commands at once).  Latency is on
the injected clock, never a real sleep.  `ParkedClock` lets engine tests that drive real
libraries (SoCo threads, python-kasa sockets) move virtual time only once every worker is
waiting on the clock again."""

from __future__ import annotations

import asyncio
import time

from roomctl.clock import Clock, VirtualClock
from roomctl.devices.base import Light, Player
from roomctl.errors import DeviceRejected, DeviceUnreachable
from roomctl.model.scene import Source
from roomctl.model.state import LightState, PlayerReading


class MemoryLight(Light):
    def __init__(self, device_id: str, clock: Clock, *, latency_s: float = 0.0) -> None:
        super().__init__(device_id)
        self.clock = clock
        self.latency_s = latency_s
        self.started = False
        self.state = LightState(on=False)
        self.commands: list[tuple[float, LightState, float]] = []
        self.down = False  # unreachable: commands fail before landing
        self.lose_answers = False  # the command lands but the answer is lost
        self.reject = False
        self.bug: Exception | None = None  # raised by every call: a driver's own bug
        self._busy = False

    @property
    def supports_color_temp(self) -> bool:
        return True

    @property
    def supports_hue(self) -> bool:
        return True

    async def start(self) -> None:
        if self.bug is not None:
            raise self.bug
        if self.down:
            raise DeviceUnreachable(self.device_id, "connect", "no answer")
        self.started = True

    async def close(self) -> None:
        self.started = False

    async def set_light(self, state: LightState, transition_s: float) -> None:
        assert self.started, "set_light before start"
        assert not self._busy, "two commands at once on one device"
        self._busy = True
        try:
            if self.latency_s:
                await self.clock.sleep(self.latency_s)
            if self.bug is not None:
                raise self.bug
            if self.down:
                raise DeviceUnreachable(self.device_id, "set_light", "timed out")
            if self.reject:
                raise DeviceRejected(self.device_id, "set_light", "error code -3")
            self.state = state
            self.commands.append((self.clock.now(), state, transition_s))
            if self.lose_answers:
                raise DeviceUnreachable(self.device_id, "set_light", "connection dropped")
        finally:
            self._busy = False

    async def read_light(self) -> LightState:
        assert self.started, "read_light before start"
        if self.bug is not None:
            raise self.bug
        if self.down:
            raise DeviceUnreachable(self.device_id, "read", "no answer")
        return self.state


class MemoryPlayer(Player):
    """A speaker: volume and source, with outages, lost answers and sources it does not know."""

    def __init__(self, device_id: str, clock: Clock) -> None:
        super().__init__(device_id)
        self.clock = clock
        self.started = False
        self.volume = 0
        self.source: Source | None = None
        self.playing = False
        self.volumes: list[tuple[float, int]] = []
        self.down = False  # no answer: commands and readings fail before landing
        self.lose_answers = False  # a volume lands but its answer is lost
        self.known: set[str] | None = None  # source names it has (None: every name)
        self.reads = 0

    def _check(self, operation: str) -> None:
        assert self.started, f"{operation} before start"
        if self.down:
            raise DeviceUnreachable(self.device_id, operation, "no answer")

    async def start(self) -> None:
        if self.down:
            raise DeviceUnreachable(self.device_id, "connect", "no answer")
        self.started = True

    async def close(self) -> None:
        self.started = False

    async def play(self, source: Source) -> None:
        self._check("play")
        if self.known is not None and source.name not in self.known:
            raise DeviceRejected(self.device_id, f"play {source}", "no such favourite")
        self.source, self.playing = source, True

    async def pause(self) -> None:
        self._check("pause")
        self.playing = False

    async def set_volume(self, volume: int) -> None:
        self._check(f"set volume {volume}")
        assert 0 <= volume <= 100
        self.volume = volume
        self.volumes.append((self.clock.now(), volume))
        if self.lose_answers:
            raise DeviceUnreachable(self.device_id, "set volume", "answer lost")

    async def read_player(self) -> PlayerReading:
        self._check("read player")
        self.reads += 1
        return PlayerReading(volume=self.volume, transport="playing" if self.playing else "paused")


def max_rise(volumes: list[tuple[float, int]], start: int, window_s: float = 10.0) -> int:
    """The largest rise a speaker made within any `window_s` seconds (half-open window), given
    the volume it showed first and the (time, volume) it was set to since."""
    worst = 0
    for i, (t, v) in enumerate(volumes):
        so_far = volumes[: i + 1]
        before = start
        for t2, v2 in so_far:
            if t2 <= t - window_s + 1e-6:
                before = v2
        inside = [v2 for t2, v2 in so_far if t2 > t - window_s + 1e-6]
        worst = max(worst, v - min([before, *inside]))
    return worst


class ParkedClock(VirtualClock):
    """A VirtualClock that counts the tasks asleep on it."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        super().__init__(start)
        self.parked = 0

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await super().sleep(seconds)
            return
        self.parked += 1
        try:
            await super().sleep(seconds)
        finally:
            self.parked -= 1

    async def settle(self, tasks: int, timeout_s: float = 10.0) -> None:
        """Wait (real time) until `tasks` tasks sleep on this clock: their I/O is done."""
        began = time.monotonic()
        while self.parked < tasks:
            if time.monotonic() - began > timeout_s:
                raise AssertionError(f"{self.parked} of {tasks} tasks parked after {timeout_s} s")
            await asyncio.sleep(0.002)

    async def run(self, seconds: float, tasks: int) -> None:
        """Move time on by `seconds`, from one sleeper's deadline to the next, each time once
        `tasks` tasks are parked again (so no task's I/O straddles a jump in time)."""
        end = self.now() + seconds
        while True:
            await self.settle(tasks)
            pending = [deadline for deadline, _, fut in self._sleepers if not fut.done()]
            upcoming = min(pending, default=None)
            if upcoming is None or upcoming > end:
                await self.advance(max(0.0, end - self.now()))
                await self.settle(tasks)
                return
            await self.advance(max(0.0, upcoming - self.now()))
