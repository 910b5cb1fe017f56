"""The shared test helpers behave as the tests rely on."""

from __future__ import annotations

import asyncio

import pytest

from tests.helpers import until


async def test_until_returns_once_the_condition_holds() -> None:
    flag = asyncio.Event()
    asyncio.get_running_loop().call_later(0.05, flag.set)
    took = await until(flag.is_set, timeout_s=30.0)
    assert flag.is_set()
    assert took >= 0.04


async def test_until_does_not_fail_when_the_condition_already_holds() -> None:
    assert await until(lambda: True, timeout_s=0.0) >= 0.0


async def test_until_fails_naming_what_did_not_happen() -> None:
    with pytest.raises(pytest.fail.Exception, match=r"not within 0\.05 s: lamp at 40 %"):
        await until(lambda: False, timeout_s=0.05, what=lambda: "lamp at 40 %")
    with pytest.raises(pytest.fail.Exception, match=r"^not within 0\.05 s$"):
        await until(lambda: False, timeout_s=0.05)


async def test_until_takes_a_last_look_after_the_deadline() -> None:
    """A condition that turns true while the loop was starved past the deadline still passes."""
    looks = 0

    def condition() -> bool:
        nonlocal looks
        looks += 1
        return looks > 1  # false at the first look, which comes after a zero deadline

    await until(condition, timeout_s=0.0)
    assert looks == 2
