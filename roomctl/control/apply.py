"""`roomctl apply SCENE`: apply one scene once, wait for every device, report per device."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass

from roomctl.devices.base import Device
from roomctl.engine.steps import apply_state
from roomctl.errors import DeviceError
from roomctl.model.config import RoomConfig
from roomctl.model.prefs import NO_PREFERENCES, Preferences, resolve
from roomctl.model.scene import Scene
from roomctl.model.state import DeviceState
from roomctl.timeline.channels import clamp, device_states, safety_limits, scene_targets

__all__ = ["ApplyResult", "apply_scene", "scene_states"]


@dataclass(frozen=True)
class ApplyResult:
    device_id: str
    ok: bool
    elapsed_s: float
    detail: str


def scene_states(
    room: RoomConfig, scene: Scene, prefs: Preferences = NO_PREFERENCES
) -> dict[str, DeviceState]:
    """What each device shows when `scene` is applied on its own (preferences, then safety):
    the same limits as a session's timeline (`safety_limits`)."""
    limits = safety_limits(room, prefs)
    targets = scene_targets(room, resolve(scene, prefs, room.safety))
    return device_states(room, {k: clamp(k, v, limits) for k, v in targets.items()})


async def _one(
    device: Device, state: DeviceState, transition_s: float, timeout_s: float
) -> ApplyResult:
    began = time.monotonic()
    try:
        async with asyncio.timeout(timeout_s):
            await device.start()
            await apply_state(device, state, transition_s, None)
    except DeviceError as exc:
        return ApplyResult(device.device_id, False, time.monotonic() - began, exc.reason)
    except TimeoutError:
        return ApplyResult(
            device.device_id, False, time.monotonic() - began, f"no answer within {timeout_s:g} s"
        )
    finally:
        await device.close()
    return ApplyResult(device.device_id, True, time.monotonic() - began, _summary(state))


def _summary(state: DeviceState) -> str:
    from roomctl.preview.rows import describe

    return describe(state)


async def apply_scene(
    devices: Mapping[str, Device],
    states: Mapping[str, DeviceState],
    transition_s: float,
    timeout_s: float = 15.0,
) -> list[ApplyResult]:
    """Apply `states` to every device at once; a slow device never delays another."""
    jobs = [_one(devices[d], s, transition_s, timeout_s) for d, s in states.items() if d in devices]
    return list(await asyncio.gather(*jobs))
