"""The one exception family roomctl raises.

Every error a user can meet is a :class:`RoomctlError` whose message is a readable sentence:
what is wrong, and where.  Library exceptions (python-kasa, SoCo, MQTT) are translated into these
at the edge, in roomctl/devices/.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ConfigError",
    "DeviceError",
    "DeviceRejected",
    "DeviceUnreachable",
    "PreferencesError",
    "Problem",
    "RoomctlError",
    "SessionError",
    "StoreBusyError",
    "StoreCorruptError",
    "StoreError",
    "StoreFullError",
    "StoreReadOnlyError",
]


class RoomctlError(Exception):
    """Base of every error roomctl reports to a user."""


@dataclass(frozen=True)
class Problem:
    """One problem found in a file: where it is and what is wrong."""

    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        field = f" {self.path}:" if self.path else ""
        if not where:
            return f"{self.path}: {self.message}" if self.path else self.message
        return f"{where}:{field} {self.message}"


class ConfigError(RoomctlError):
    """Configuration, scene, arc or preference files that do not validate.

    Carries every problem found, not just the first.
    """

    def __init__(self, problems: list[Problem], notes: list[str] | None = None) -> None:
        self.problems = problems
        self.notes = notes or []  # worth knowing, not wrong (e.g. a zone with no device)
        super().__init__("\n".join(str(p) for p in problems))


class StoreError(RoomctlError):
    """The session database cannot be opened, read or written."""


class StoreFullError(StoreError):
    """The disk (or the database's size limit) is full: nothing new can be written.  Reads
    still work; the room can go on from what is already stored."""


class StoreReadOnlyError(StoreError):
    """The database cannot be written: a read-only file system, a file or directory without
    write permission, or a store opened read-only.  Reads still work."""


class StoreBusyError(StoreError):
    """Another process held the database locked for longer than the store waits."""


class StoreCorruptError(StoreError):
    """The file is damaged or not a database: restore it from a backup."""


class PreferencesError(RoomctlError):
    """A client's preferences do not validate (given to be saved, or as stored).

    `client_id` names the client and `field` the first field that is wrong.
    """

    def __init__(self, client_id: str, field: str, message: str) -> None:
        self.client_id = client_id
        self.field = field
        super().__init__(message)


class SessionError(RoomctlError):
    """A session command that does not fit the session's state (e.g. advance after the end)."""


class DeviceError(RoomctlError):
    """A device operation failed; the message names the device and the operation."""

    def __init__(self, device_id: str, operation: str, reason: str) -> None:
        self.device_id = device_id
        self.operation = operation
        self.reason = reason
        super().__init__(f"{device_id}: {operation} failed: {reason}")


class DeviceUnreachable(DeviceError):
    """The device did not answer (timeout, refused connection, broker offline). Retried."""


class DeviceRejected(DeviceError):
    """The device answered with an error (bad value, unsupported command). Not retried as is."""

