"""`roomctl apply SCENE`: apply one scene once, wait for every device, report per device.

With a session running, a scene is not sent to the devices: it becomes manual overrides in the
session (`override_commands`), so the session's floor, caps, rise limit and minimum fades apply.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from roomctl.devices.base import Device
from roomctl.engine.health import guarded
from roomctl.engine.steps import apply_state
from roomctl.errors import DeviceError
from roomctl.model.config import RoomConfig
from roomctl.model.prefs import NO_PREFERENCES, Preferences, resolve
from roomctl.model.scene import Scene
from roomctl.model.state import DeviceState, LightState, PlayerState, SwitchState, ThermostatState
from roomctl.timeline.channels import clamp, device_states, safety_limits, scene_targets

__all__ = ["ApplyResult", "apply_scene", "override_commands", "scene_states"]


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
    targets = scene_targets(room, resolve(scene, prefs, room.safety, music=room.music))
    return device_states(room, {k: clamp(k, v, limits) for k, v in targets.items()})


def override_commands(
    room: RoomConfig, states: Mapping[str, DeviceState], fade_s: float
) -> list[dict[str, Any]]:
    """The manual overrides (event payloads) that ask a session for `states`, with `fade_s`
    as the requested fade (the session stretches it to its minimum fades and rise limit).
    A speaker's source is not something a session may be overridden with: only its volume."""
    out: list[dict[str, Any]] = []

    def add(device: str, channel: str, value: Any) -> None:
        out.append({"device": device, "channel": channel, "value": value, "fade_s": fade_s})

    for dev in room.devices:
        state = states.get(dev.id)
        if isinstance(state, LightState):
            if not state.on or state.brightness_pct is None:
                add(dev.id, "on", state.on)
                continue
            add(dev.id, "brightness_pct", state.brightness_pct)
            if state.color_temp_k is not None and dev.has_color_temp:
                add(dev.id, "color_temp_k", state.color_temp_k)
            elif state.hue is not None and dev.has_hue:
                add(dev.id, "hue", state.hue)
                add(dev.id, "saturation", state.saturation or 0.0)
        elif isinstance(state, SwitchState):
            add(dev.id, "on", state.on)
        elif isinstance(state, PlayerState) and state.volume is not None:
            add(dev.id, "volume", state.volume)
        elif isinstance(state, ThermostatState):
            add(dev.id, "setpoint_c", state.setpoint_c)
    return out


async def _one(
    device: Device, state: DeviceState, transition_s: float, timeout_s: float
) -> ApplyResult:
    began = time.monotonic()
    try:
        async with asyncio.timeout(timeout_s):
            await guarded(device.device_id, "connect", device.start())
            await guarded(device.device_id, "apply", apply_state(device, state, transition_s, None))
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
