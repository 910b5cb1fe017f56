"""The volume rise limit (safety.max_volume_rise_per_10s), counted from what the speaker shows.

A token bucket: a rise may take as many steps as there are whole tokens; tokens come back at
one per 10 / limit seconds, up to `burst` (one step, or as many as one command interval holds
when the limit allows more than two steps a second).  The engine spends the tokens when it
*sends* a rise, whether or not the answer comes back, and always counts from the volume the
speaker last showed or acknowledged, never from a target it was asked for.  So an outage, a
hang, a restart or a jump in the desired state can delay a rise but never make it steeper.
"""

from __future__ import annotations

import math

__all__ = ["RiseLimit"]

_EPS = 1e-9


class RiseLimit:
    def __init__(self, per_10s: float, min_interval_s: float) -> None:
        if per_10s <= 0:
            raise ValueError("max_volume_rise_per_10s must be positive")
        self.interval_s = 10.0 / per_10s
        self.burst = max(1, math.floor(min_interval_s / self.interval_s + _EPS))
        self._tokens = float(self.burst)
        self._at: float | None = None

    def tokens(self, now: float) -> float:
        if self._at is None:
            return self._tokens
        return min(float(self.burst), self._tokens + max(0.0, now - self._at) / self.interval_s)

    def cap(self, shown: int, now: float) -> int:
        """The highest volume a command sent now may carry, from `shown`."""
        return shown + math.floor(self.tokens(now) + _EPS)

    def spend(self, steps: int, now: float) -> None:
        """A rise of `steps` is being sent now."""
        self._tokens = self.tokens(now) - steps
        self._at = now

    def next_step_at(self, now: float, spending: int = 0) -> float:
        """When the next single step may go (after `spending` steps are sent now)."""
        missing = 1.0 - (self.tokens(now) - spending)
        return now if missing <= _EPS else now + missing * self.interval_s
