"""Per-device health, and the guard around every call the engine makes into a driver.

A driver reports failures as DeviceUnreachable or DeviceRejected.  Anything else it raises (an
AttributeError in roomctl's own driver code, a KeyError from a firmware answer the library did
not expect) is a fault of the driver: the guard turns it into :class:`DriverFault`, logged once
per device with its traceback, and the device is treated as failed and retried with backoff.
One device's bug never stops the room.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import TypeVar

from roomctl.errors import DeviceError, DeviceRejected
from roomctl.model.state import DeviceState

__all__ = ["DeviceHealth", "DriverFault", "guarded"]

log = logging.getLogger(__name__)
_T = TypeVar("_T")


class DriverFault(DeviceError):
    """A driver raised something other than a DeviceError."""


async def guarded(device_id: str, operation: str, call: Awaitable[_T]) -> _T:
    """Await a driver call; whatever it raises leaves as a DeviceError."""
    try:
        return await call
    except DeviceError:
        raise
    except Exception as exc:
        reason = f"driver error: {type(exc).__name__}: {exc}"
        raise DriverFault(device_id, operation, reason) from exc


@dataclass
class DeviceHealth:
    """What the engine knows about one device; `available` is true to the device: it turns
    false when a command or a periodic reading gets no answer, and true on the next answer."""

    device_id: str
    connected: bool = False
    available: bool = False
    last_ok_at: float | None = None  # the last answer of any kind (command or reading)
    last_error: str | None = None
    failures: int = 0
    commands: int = 0
    landed: DeviceState | None = None  # what the device last showed or acknowledged
    driver_error: str | None = None  # set while the driver fails with a DriverFault
    _faults_logged: set[str] = field(default_factory=set, repr=False)

    _refused: bool = field(default=False, repr=False)

    def answered(self, now: float, *, command: bool = False) -> None:
        """The device answered (a command landed, or a reading).  A reading does not undo a
        refusal: that stays reported until a command lands."""
        if not self.available:
            log.info("%s: available", self.device_id)
        self.available, self.last_ok_at, self.driver_error = True, now, None
        self._faults_logged.clear()
        if command or not self._refused:
            self.failures, self.last_error, self._refused = 0, None, False

    def still_refused(self, reason: str) -> None:
        """Part of what the device should show was refused and is still wanted."""
        self.last_error, self._refused = reason, True

    def failed(self, exc: DeviceError) -> None:
        """Count a failure and log it: a refusal once per command, an outage once, a driver
        fault once with its traceback."""
        self.failures += 1
        self.last_error = exc.reason
        self._refused = isinstance(exc, DeviceRejected)
        if isinstance(exc, DeviceRejected):
            log.warning("%s: refused: %s", self.device_id, exc)
            return
        if isinstance(exc, DriverFault):
            self.driver_error = exc.reason
            key = f"{exc.operation}: {type(exc.__cause__).__name__}"
            if key not in self._faults_logged:
                self._faults_logged.add(key)
                log.error(
                    "%s: %s failed in the driver; retrying with backoff",
                    self.device_id,
                    exc.operation,
                    exc_info=exc.__cause__ or exc,
                )
        if self.available or self.failures == 1:
            log.warning("%s: unavailable: %s", self.device_id, exc.reason)
        self.available = False
