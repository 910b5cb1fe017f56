"""What the engine keeps per device between looks, and small questions about it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from roomctl.devices.base import Device
from roomctl.engine.health import DeviceHealth
from roomctl.engine.readings import SentLog
from roomctl.engine.steps import Caps
from roomctl.engine.volume import RiseLimit
from roomctl.model.scene import Source
from roomctl.model.state import DeviceState, PlayerState

__all__ = ["Link", "rising", "uneven", "unrefused"]


@dataclass
class Link:
    """One device as the engine knows it: its health, what it was sent, when to look again."""

    device: Device
    health: DeviceHealth
    rise: RiseLimit
    caps: Caps = field(default_factory=Caps)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    sent: SentLog = field(default_factory=SentLog)
    stale: bool = True  # read the device before the next command (first contact, failure)
    landed_at: float = 0.0
    landed_before: float = float("-inf")  # when the command before the last one landed
    settles_at: float = 0.0  # when the last native transition ends
    plan_at: float = float("-inf")  # when the current plan runs out
    last_read_at: float = float("-inf")
    last_contact: float = float("-inf")  # the last answer of any kind
    rejected: DeviceState | None = None  # the last command the device refused; not re-sent
    rejected_source: Source | None = None  # a source a speaker refused; not re-sent
    refusal: str | None = None  # why
    uneven: bool = False  # the members of a speaker group show different volumes


def rising(link: Link, command: DeviceState | None) -> bool:
    landed = link.health.landed
    return (
        isinstance(command, PlayerState)
        and isinstance(landed, PlayerState)
        and command.volume is not None
        and landed.volume is not None
        and command.volume > landed.volume
    )


def uneven(link: Link, command: DeviceState) -> bool:
    """A group whose members show different volumes gets its volume set again."""
    return link.uneven and isinstance(command, PlayerState) and command.volume is not None


def unrefused(link: Link, command: DeviceState | None) -> DeviceState | None:
    """`command` without a source the speaker refused (until the desired source changes)."""
    if not isinstance(command, PlayerState) or link.rejected_source is None:
        return command
    if command.source != link.rejected_source:
        link.rejected_source = link.refusal = None
        return command
    landed = link.health.landed
    source = landed.source if isinstance(landed, PlayerState) else None
    return PlayerState(source, command.volume)
