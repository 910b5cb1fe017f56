"""Shared fixtures.  Device tests run the real python-kasa, SoCo and MQTT client code against the
loopback emulators in roomctl/sim/ and a real Mosquitto started per test session."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest

from roomctl.clock import VirtualClock
from roomctl.model.library import Library, load_library
from roomctl.sim.broker import Broker
from roomctl.store.store import Store

# The command line's config fixtures, for every test that names them.
pytest_plugins = ["tests.cli_support"]

ROOT = Path(__file__).resolve().parent.parent
T0 = 1_800_000_000.0  # the tests' usual moment: 2027-01-15 08:00 UTC


@pytest.fixture
def repo_root() -> Path:
    return ROOT


def run_outside_tests(coro: Coroutine[Any, Any, None]) -> None:
    """Run `coro` on a private loop that never becomes the thread's current loop."""
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(coro)
    finally:
        loop.close()


@pytest.fixture(scope="session")
def broker() -> Iterator[Broker]:
    """One Mosquitto for the whole test session (tests use their own topics).

    The broker is a plain child process, so it can be started outside any event loop and
    used from every test's own loop."""
    instance = Broker()
    run_outside_tests(instance.launch())
    try:
        yield instance
    finally:
        run_outside_tests(instance.close())


@pytest.fixture
async def private_broker() -> AsyncIterator[Broker]:
    """A broker of this test's own, for tests that stop or restart it."""
    async with Broker.start() as instance:
        yield instance


@pytest.fixture(scope="module")
def lib() -> Library:
    """The shipped example room and its scene library (a test module may define its own)."""
    return load_library(Path(__file__).resolve().parent.parent / "config.example.yaml")


@pytest.fixture
def clock() -> VirtualClock:
    """A virtual clock at T0 (a test module may define its own)."""
    return VirtualClock(T0)


@pytest.fixture
def store(tmp_path: Path, clock: VirtualClock) -> Iterator[Store]:
    """A room database in the test's own directory, on the test's clock."""
    with Store.open(tmp_path / "roomctl.db", clock) as s:
        yield s
