"""Clocks, injected everywhere time matters: the system clock, and a virtual one for tests,
previews and benchmarks.  Nothing in roomctl reads time or sleeps except through a Clock."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from typing import Protocol

__all__ = ["Clock", "ScaledClock", "SystemClock", "VirtualClock", "sleep_or_wake"]


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
    each woken task run before time moves on.
    """

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._now = start
        self._start = start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._now

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
