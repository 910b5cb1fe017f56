"""Helpers shared by the tests.

`until()` is the one way a test waits for something that happens over real I/O (an emulator
answering, a driver noticing): it polls, gives a busy machine plenty of time, looks once more
after the deadline (a starved event loop may only get to run just then), and fails with a
sentence saying what did not happen.  Waiting on time itself is done with VirtualClock instead.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

__all__ = ["POLL_S", "UNTIL_TIMEOUT_S", "until"]

UNTIL_TIMEOUT_S = 10.0  # generous: five engineers' test runs may share two cores
POLL_S = 0.01


async def until(
    condition: Callable[[], bool],
    timeout_s: float = UNTIL_TIMEOUT_S,
    what: Callable[[], object] | str = "",
) -> float:
    """Poll (real time) until `condition()` holds; return the seconds it took.  After
    `timeout_s` fail the test, naming `what` (a string, or a callable describing the state)."""
    began = time.monotonic()
    deadline = began + timeout_s
    while not condition():
        if time.monotonic() >= deadline:
            await asyncio.sleep(0)  # one more turn of the loop, then a last look
            if condition():
                break
            detail = what() if callable(what) else what
            pytest.fail(f"not within {timeout_s:g} s{': ' if detail else ''}{detail}")
        await asyncio.sleep(POLL_S)
    return time.monotonic() - began
