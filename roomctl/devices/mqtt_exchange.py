"""Request and answer over MQTT for the device drivers: wait for the message that answers a
command, and turn a missing answer or a broker failure into an error naming the device.

MQTT has no replies: a driver publishes a command and watches the device's state or answer
topic.  `Waiters` turns those callbacks into awaitables; `device_call` is the error edge.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from roomctl.errors import DeviceUnreachable
from roomctl.mqtt.bus import BrokerUnavailableError

__all__ = ["Waiters", "device_call"]

T = TypeVar("T")


class Waiters(Generic[T]):
    """Turn callbacks into awaitables: futures waiting for the next value a predicate accepts.

    Drivers register with `expect()` *before* sending a command, so a fast answer is not missed;
    the future is always removed when the `with` block ends.
    """

    def __init__(self) -> None:
        self._waiting: list[tuple[Callable[[T], bool], asyncio.Future[T]]] = []

    def feed(self, value: T) -> None:
        for accepts, fut in list(self._waiting):
            if not fut.done() and accepts(value):
                fut.set_result(value)

    def fail(self, exc: Exception) -> None:
        for _, fut in list(self._waiting):
            if not fut.done():
                fut.set_exception(exc)

    @contextlib.contextmanager
    def expect(self, accepts: Callable[[T], bool] = lambda _: True) -> Iterator[asyncio.Future[T]]:
        entry = (accepts, asyncio.get_running_loop().create_future())
        self._waiting.append(entry)
        try:
            yield entry[1]
        finally:
            self._waiting.remove(entry)
            if entry[1].done() and not entry[1].cancelled():
                entry[1].exception()  # retrieved: no "exception never retrieved" warning
            entry[1].cancel()


@contextlib.contextmanager
def device_call(device_id: str, operation: str, timeout_s: float) -> Iterator[None]:
    """Translate an MQTT device operation's failures into DeviceUnreachable naming the device.

    Use around `async with asyncio.timeout(timeout_s)`: a timeout means the device did not
    acknowledge; a broker failure means the command could not be sent.
    """
    try:
        yield
    except TimeoutError:
        raise DeviceUnreachable(device_id, operation, f"no answer within {timeout_s:g} s") from None
    except BrokerUnavailableError as exc:
        raise DeviceUnreachable(device_id, operation, str(exc)) from None
