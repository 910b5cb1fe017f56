"""Login throttling: repeated failures slow down, per user and per address.

The first few failures are free; after that each one locks its keys (the username and the
client's address, counted apart) for twice as long as the last, up to a cap.  A success clears
the user's count (not the address's: one right password must not unlock guessing others).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

__all__ = ["LoginThrottle"]

FREE_FAILURES = 3
FIRST_LOCK_S = 1.0
MAX_LOCK_S = 300.0
FORGET_S = 3600.0  # a key quiet this long starts over


@dataclass
class _Count:
    failures: int = 0
    locked_until: float = 0.0
    last: float = 0.0


class LoginThrottle:
    def __init__(self, now: Callable[[], float] = time.monotonic) -> None:
        self._now = now
        self._counts: dict[str, _Count] = {}

    def wait_s(self, keys: Iterable[str]) -> float:
        """How long these keys must wait before the next try (0: may try now)."""
        now = self._now()
        self._forget(now)
        return max((c.locked_until - now for k in keys if (c := self._counts.get(k))), default=0.0)

    def failed(self, keys: Iterable[str]) -> None:
        now = self._now()
        for key in keys:
            c = self._counts.setdefault(key, _Count())
            c.failures += 1
            c.last = now
            if c.failures > FREE_FAILURES:
                lock = min(FIRST_LOCK_S * 2 ** (c.failures - FREE_FAILURES - 1), MAX_LOCK_S)
                c.locked_until = now + lock

    def succeeded(self, key: str) -> None:
        self._counts.pop(key, None)

    def _forget(self, now: float) -> None:
        if len(self._counts) < 1000:
            return
        for key in [k for k, c in self._counts.items() if now - c.last > FORGET_S]:
            del self._counts[key]
