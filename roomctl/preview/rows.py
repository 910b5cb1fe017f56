"""`roomctl preview`: the desired room at chosen times of an arc, as text or JSON."""

from __future__ import annotations

from typing import Any

from roomctl.errors import RoomctlError
from roomctl.model.arc import Arc, format_hmm, parse_hmm
from roomctl.model.config import DeviceConfig, RoomConfig
from roomctl.model.events import Event, Start
from roomctl.model.state import DeviceState, LightState, PlayerState, SwitchState, ThermostatState
from roomctl.timeline.fold import Snapshot, Timeline

__all__ = ["PREVIEW_T0", "default_times", "device_json", "preview", "start_events"]

PREVIEW_T0 = 1_800_000_000.0  # any wall time works: previews are about arc time


def start_events(arc: Arc) -> list[Event]:
    """A session that starts at the arc's first phase, with the dose planned at PREVIEW_T0."""
    return [Event(PREVIEW_T0 + arc.starts_at, Start(arc=arc.name, t0=PREVIEW_T0))]


def default_times(arc: Arc) -> list[float]:
    """Every phase boundary and midpoint (arc seconds from T0)."""
    times: list[float] = []
    for start, phase in zip(arc.nominal_starts(), arc.phases, strict=True):
        times.append(start)
        length = phase.duration if phase.duration is not None else 3600.0
        times.append(start + length / 2)
    end = arc.nominal_end
    times.append(end if end is not None else times[-1] + 1800.0)
    return times


def parse_times(values: list[str]) -> list[float]:
    times = []
    for value in values:
        try:
            times.append(parse_hmm(value))
        except ValueError as exc:
            raise RoomctlError(f"--at {value}: {exc}") from None
    return times


def device_json(state: DeviceState, device: DeviceConfig | None = None) -> dict[str, Any]:
    """A device's channels as JSON: only the channels the device has."""
    if isinstance(state, LightState):
        out: dict[str, Any] = {"on": state.on, "brightness_pct": state.brightness_pct}
        if device is None or device.has_color_temp:
            out["color_temp_k"] = state.color_temp_k
        if device is None or device.has_hue:
            out["hue"] = state.hue
            out["saturation"] = state.saturation
        return out
    if isinstance(state, SwitchState):
        return {"on": state.on}
    if isinstance(state, PlayerState):
        return {
            "source": None if state.source is None else str(state.source),
            "volume": state.volume,
        }
    return {"setpoint_c": state.setpoint_c}


def describe(state: DeviceState) -> str:
    if isinstance(state, LightState):
        if not state.on:
            return "off"
        colour = ""
        if state.color_temp_k is not None:
            colour = f" {state.color_temp_k} K"
        elif state.hue is not None:
            colour = f" hue {state.hue:.0f}° sat {state.saturation or 0:.0f}%"
        return f"{state.brightness_pct:.0f}%{colour}"
    if isinstance(state, SwitchState):
        return "on" if state.on else "off"
    if isinstance(state, PlayerState):
        src = "" if state.source is None else str(state.source).replace("favorite:", "") + ", "
        return f"{src}volume {state.volume}"
    if isinstance(state, ThermostatState):
        return f"{state.setpoint_c:.1f} °C"
    return ""


def preview(timeline: Timeline, times: list[float]) -> list[tuple[float, Snapshot]]:
    return [(t, timeline.at(PREVIEW_T0 + t)) for t in times]


def as_json(room: RoomConfig, rows: list[tuple[float, Snapshot]]) -> list[dict[str, Any]]:
    return [
        {
            "at": format_hmm(t),
            "phase": snap.status.phase if snap.status else None,
            "devices": {
                dev: device_json(state, room.device(dev)) for dev, state in snap.devices.items()
            },
        }
        for t, snap in rows
    ]


def as_text(arc: Arc, rows: list[tuple[float, Snapshot]]) -> str:
    lines = [f"{arc.title or arc.name}  (times from the dose, T0)"]
    for t, snap in rows:
        phase = snap.status.phase if snap.status else "-"
        lines.append(f"\n{format_hmm(t):>6}  {phase}")
        for marker in snap.status.markers if snap.status else ():
            if marker.state == "now":
                lines.append(
                    f"        ◆ {marker.name}" + (f": {marker.note}" if marker.note else "")
                )
        for dev, state in snap.devices.items():
            lines.append(f"        {dev:<12} {describe(state)}")
    return "\n".join(lines)
