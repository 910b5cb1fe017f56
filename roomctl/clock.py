"""Clocks, injected everywhere time matters: the system clock, and a virtual one for tests,
previews and benchmarks.  Nothing in roomctl reads time or sleeps except through a Clock."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from typing import Protocol

__all__ = [
    "Clock",
    "ScaledClock",
    "SessionClock",
    "SystemClock",
    "VirtualClock",
    "sleep_or_wake",
]

log = logging.getLogger(__name__)


class Clock(Protocol):
    def now(self) -> float:
        """Wall time, seconds since the epoch."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back."""
        ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class VirtualClock:
    """A clock that moves only when told to.  `sleep` returns once `advance` passes its deadline.

    Wall and monotonic time move together; `advance` wakes sleepers in deadline order and lets
    each woken task run before time moves on.  `step_wall` moves the wall clock alone, as an NTP
    correction or a wrong RTC does.
    """

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._now = start
        self._start = start
        self._wall_offset = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._now + self._wall_offset

    def step_wall(self, seconds: float) -> None:
        """Step the wall clock by `seconds` (either way); monotonic time and sleepers are
        unaffected."""
        self._wall_offset += seconds

    def monotonic(self) -> float:
        return self._now - self._start

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + seconds, next(self._seq), fut))
        try:
            await fut
        finally:
            if not fut.done():
                fut.cancel()

    async def advance(self, seconds: float, *, settle: int = 20) -> None:
        """Move time forward by `seconds`, waking every sleeper whose deadline passes."""
        target = self._now + seconds
        while self._sleepers and self._sleepers[0][0] <= target:
            deadline, _, fut = heapq.heappop(self._sleepers)
            self._now = max(self._now, deadline)
            if not fut.done():
                fut.set_result(None)
            for _ in range(settle):
                await asyncio.sleep(0)
        self._now = target
        for _ in range(settle):
            await asyncio.sleep(0)


class ScaledClock:
    """Wall time that runs `speed` times faster than real time (the demo plays an 8-hour arc
    in minutes).  Sleeps are shortened by the same factor."""

    def __init__(
        self, speed: float, start: float | None = None, anchor: float | None = None
    ) -> None:
        """Session time is `start` at real wall time `anchor` (both default: now).  Processes
        that share (speed, start, anchor) share one clock: the demo and the CLI steering it."""
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self._real0 = time.monotonic()
        self.anchor = time.time() if anchor is None else anchor
        self.start = self.anchor if start is None else start

    def now(self) -> float:
        return self.start + (time.time() - self.anchor) * self.speed

    def monotonic(self) -> float:
        return (time.monotonic() - self._real0) * self.speed

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.speed)


class SessionClock:
    """Session time for a long-running process: the wall time read once (the anchor) plus the
    monotonic time since.  A step of the system clock (NTP, a wrong RTC, someone setting the
    date) neither skips nor repeats session time; it is noticed, logged and reported in `note`.

    `not_before(t)`: session time must not go back behind `t` (the last stored event).  When the
    anchor is behind it, the clock holds at `t` until the wall clock passes `t`, then follows
    the wall clock again from there.
    """

    def __init__(self, base: Clock, *, step_tolerance_s: float = 2.0) -> None:
        self.base = base
        self.step_tolerance_s = step_tolerance_s
        self._wall0 = base.now()
        self._mono0 = base.monotonic()
        self._offset = self._wall0 - self._mono0
        self._hold_at: float | None = None
        self.last_step_s: float | None = None  # the size of the last wall-clock step seen

    def now(self) -> float:
        mono = self.base.monotonic()
        wall = self.base.now()
        step = (wall - mono) - self._offset
        if abs(step) > self.step_tolerance_s:
            self._offset += step
            self.last_step_s = step
            log.warning(
                "the system clock stepped by %+.1f s; session time keeps to the monotonic clock",
                step,
            )
        if self._hold_at is not None:
            if wall < self._hold_at:
                return self._hold_at
            log.warning("the system clock is plausible again; the session goes on")
            self._hold_at = None
            self._wall0, self._mono0 = wall, mono
            return wall
        return self._wall0 + (mono - self._mono0)

    def not_before(self, t: float) -> bool:
        """Hold at `t` while the clock is behind it; True when it holds."""
        now = self.now()
        if now >= t or self._hold_at is not None:
            return self._hold_at is not None
        self._hold_at = t
        log.warning(
            "the system clock is %.0f s behind the session's last event; holding the room at "
            "its last known point until the clock is plausible",
            t - now,
        )
        return True

    @property
    def note(self) -> str | None:
        """What is wrong with the system clock, for the status; None when nothing is."""
        if self._hold_at is not None:
            behind = self._hold_at - self.base.now()
            return (
                f"the system clock is {behind:.0f} s behind the session's last event: "
                "holding at the last known point until it is plausible"
            )
        if self.last_step_s is not None:
            return (
                f"the system clock stepped by {self.last_step_s:+.0f} s; "
                "session time keeps to the monotonic clock"
            )
        return None

    def monotonic(self) -> float:
        return self.base.monotonic()

    async def sleep(self, seconds: float) -> None:
        await self.base.sleep(seconds)


async def sleep_or_wake(clock: Clock, seconds: float, wake: asyncio.Event) -> bool:
    """Sleep on `clock` until `seconds` pass or `wake` is set; True when woken.  The caller
    clears `wake` before it looks at what to do, so a wake that comes meanwhile is not lost."""
    sleeper = asyncio.ensure_future(clock.sleep(seconds))
    waker = asyncio.ensure_future(wake.wait())
    try:
        await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
    finally:  # never swallow the caller's own cancellation
        sleeper.cancel()
        waker.cancel()
    return waker.done() and not waker.cancelled()
