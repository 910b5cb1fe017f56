"""A picture of a session: what the room's lights, music and temperature do across the arc.

`render_svg()` samples a Timeline and draws one self-contained SVG (no fonts, scripts or links):
phases as soft bands, markers, one lane per device.  A light's lane is a filled area whose height
is its perceived brightness (CIE L*) and whose colour is the light's own colour.

The x axis is wall time, labelled as time from the dose (T0).  That equals the arc clock unless
the arc was held (a hold or an emergency stops the arc clock); held stretches are shaded, so
markers (timed from the dose) stay where they happened.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import accumulate
from xml.sax.saxutils import escape

from roomctl.model.arc import format_hmm
from roomctl.model.color import RGB8, hs_to_rgb, kelvin_to_rgb, lightness, rgb8
from roomctl.model.config import DeviceConfig, DeviceKind
from roomctl.model.state import DeviceState, LightState, PlayerState, SwitchState, ThermostatState
from roomctl.preview.draw import (
    BG,
    CLIMATE,
    FAINT,
    FONT,
    GRID,
    LEFT,
    MARK,
    MUSIC,
    MUTED,
    NEUTRAL,
    PANEL,
    PANEL_ALT,
    RIGHT,
    TEXT,
    TOP,
    WIDTH,
    Frame,
    Overlay,
    attr,
    hex_colour,
    labels,
    line,
    rect,
    runs,
    settled,
    text,
    text_width,
)
from roomctl.timeline.fold import Snapshot, Timeline

__all__ = ["Frame", "Overlay", "light_rgb", "render_svg"]

LANE_H = {
    DeviceKind.LIGHT: 100,
    DeviceKind.PLAYER: 90,
    DeviceKind.THERMOSTAT: 76,
    DeviceKind.SWITCH: 36,
}
GAP = 12


def light_rgb(state: LightState) -> RGB8:
    """The colour a light shows: its colour temperature, its hue/saturation, or neutral white."""
    if state.color_temp_k is not None:
        return rgb8(kelvin_to_rgb(state.color_temp_k))
    if state.hue is not None:
        sat = state.saturation if state.saturation is not None else 100.0
        return rgb8(hs_to_rgb(state.hue, sat))
    return NEUTRAL


def _playing(s: DeviceState | None) -> tuple[str, int] | None:
    """(source name, volume) of a player that plays, None for silence or no music."""
    if not isinstance(s, PlayerState) or not s.source or s.source.is_silence or s.volume is None:
        return None
    name = s.source.name.rsplit("/", 1)[-1] if s.source.kind == "uri" else s.source.name
    return name or str(s.source), s.volume


def _interruption(snap: Snapshot) -> str | None:
    """What interrupts the arc: the emergency, a hold (the arc clock stands still) or a cue."""
    st = snap.status
    if st is None or not (st.held or st.cue):
        return None
    if st.held:
        return "emergency" if st.emergency else f"held at {format_hmm(st.arc_clock_s)}"
    return f"cue: {st.cue}"


class _Chart:
    def __init__(self, timeline: Timeline, start: float, end: float, step_s: float) -> None:
        self.tl, self.start, self.end = timeline, start, max(end, start + step_s)
        self.x0, self.x1 = float(LEFT), float(WIDTH - RIGHT)
        n = max(1, math.ceil((self.end - start) / step_s))
        times = [min(start + i * step_s, self.end) for i in range(n + 1)]
        self.xs = [self.x(t) for t in times]
        self.snaps = [timeline.at(t) for t in times]
        self.steady = max(2, math.ceil(600.0 / step_s))  # samples: a value held for 10 minutes
        statuses = [s.status for s in self.snaps if s.status is not None]
        self.t0: float | None = statuses[-1].t0 if statuses else None
        devices = timeline.room.devices
        tops = list(accumulate((LANE_H[d.kind] + GAP for d in devices), initial=float(TOP)))
        self.lanes = [(d, tops[i], float(LANE_H[d.kind])) for i, d in enumerate(devices)]
        self.bottom = tops[-1] - GAP
        self.height = round(self.bottom + 66)

    def x(self, t: float) -> float:
        return self.x0 + (t - self.start) / (self.end - self.start) * (self.x1 - self.x0)

    # ------------------------------------------------------------- backdrop

    def phases(self) -> list[str]:
        out: list[str] = []
        phase_runs = runs(
            self.xs, [s.status.phase if s.status else None for s in self.snaps], self.x1
        )
        for i, (_, a, b) in enumerate(phase_runs):
            fill = PANEL if i % 2 == 0 else PANEL_ALT
            out.append(rect(a, TOP - 44, b - a, self.bottom - TOP + 44, f'fill="{fill}"'))
        out += labels([(a + 4, TOP - 27, name) for name, a, _ in phase_runs], 12, TEXT, rows=2)
        for what, a, b in runs(self.xs, [_interruption(s) for s in self.snaps], self.x1):
            colour = "#d46a6a" if what == "emergency" else "#7f8fa6"
            if not what.startswith("cue"):  # the arc clock stands still: shade the lanes
                fill = (
                    f'fill="{colour}" fill-opacity="0.13"'
                    if what == "emergency"
                    else 'fill="url(#hatch)"'
                )
                out.append(rect(a, TOP - 6, b - a, self.bottom - TOP + 6, fill))
            out.append(rect(a, self.bottom + 3, b - a, 4, f'rx="2" fill="{colour}"'))
            out += labels(
                [(a + 3, self.bottom + 17, what)], 10, "#c98b8b" if what == "emergency" else MUTED
            )
        return out

    def grid(self) -> list[str]:
        if self.t0 is None:
            return []
        out: list[str] = []
        first = math.ceil((self.start - self.t0) / 1800.0)
        last = math.floor((self.end - self.t0) / 1800.0)
        hour_px = 3600.0 / (self.end - self.start) * (self.x1 - self.x0)
        every = 1 if hour_px >= 60 else 2 if hour_px >= 30 else 4
        for k in range(first, last + 1):
            xx = self.x(self.t0 + k * 1800.0)
            if k % 2 and hour_px < 120:
                continue
            hour = k % 2 == 0
            stroke = ("#4a4f58" if k == 0 else GRID) if hour else "#202329"
            out.append(line(xx, TOP - 6, xx, self.bottom, f'stroke="{stroke}"'))
            if not hour or (k // 2) % every == 0:
                label = "T0" if k == 0 else format_hmm(k * 1800.0)
                out.append(
                    text(
                        xx, self.bottom + 34, label, 11, TEXT if k == 0 else MUTED, anchor="middle"
                    )
                )
        return out

    def markers(self) -> list[str]:
        if self.t0 is None:
            return []
        out: list[str] = []
        ends = [-1e9, -1e9]  # two rows of marker labels; a marker takes the first with room
        for m in sorted(self.tl.arc.markers, key=lambda m: m.at):
            a, b = self.t0 + m.at, self.t0 + (m.until if m.until is not None else m.at)
            if b < self.start or a > self.end:
                continue
            xa, xb = self.x(max(a, self.start)), self.x(min(b, self.end))
            row = 0 if xa >= ends[0] else 1
            ends[row] = max(xb, xa + text_width(m.name, 11)) + 8
            y = TOP - 49 - 22 * row
            if m.until is not None:
                out.append(
                    rect(
                        xa,
                        TOP - 6,
                        xb - xa,
                        self.bottom - TOP + 6,
                        f'fill="{MARK}" fill-opacity="0.045"',
                    )
                )
                out.append(
                    line(xa, y, xb, y, f'stroke="{MARK}" stroke-width="2" stroke-opacity="0.7"')
                )
            else:
                out.append(
                    line(
                        xa,
                        y - 14,
                        xa,
                        self.bottom,
                        f'stroke="{MARK}" stroke-opacity="0.7" stroke-dasharray="4 4"',
                    )
                )
            out.append(text(min(xa + 3, self.x1 - text_width(m.name, 11)), y - 5, m.name, 11, MARK))
        return out

    # ---------------------------------------------------------------- lanes

    def lane(self, dev: DeviceConfig, top: float, h: float) -> list[str]:
        out = [line(self.x0, top + h, self.x1, top + h, f'stroke="{GRID}"')]
        name = dev.name or dev.id
        out.append(
            text(LEFT - 14, top + 16, name, 13, TEXT, anchor="end", extra=' font-weight="600"')
        )
        out.append(
            text(
                LEFT - 14,
                top + 31,
                f"{dev.id} · zone {dev.zone}" if dev.name else f"zone {dev.zone}",
                11,
                MUTED,
                anchor="end",
            )
        )
        out.append(text(LEFT - 14, top + 45, dev.kind.value, 10, FAINT, anchor="end"))
        states = [s.devices.get(dev.id) for s in self.snaps]
        if dev.kind is DeviceKind.LIGHT:
            return out + self.light(dev.id, states, top + 6, h - 6)
        if dev.kind is DeviceKind.PLAYER:
            return out + self.player(states, top + 8, h - 8)
        if dev.kind is DeviceKind.THERMOSTAT:
            return out + self.thermostat(states, top + 8, h - 16)
        on = ["on" if isinstance(s, SwitchState) and s.on else None for s in states]
        white = hex_colour(NEUTRAL)
        return out + [
            rect(a, top + h / 2 - 5, b - a, 10, f'rx="3" fill="{white}" fill-opacity="0.5"')
            for _, a, b in runs(self.xs, on, self.x1)
        ]

    def light(
        self, dev_id: str, states: Sequence[DeviceState | None], top: float, h: float
    ) -> list[str]:
        base = top + h
        lit = [
            s if isinstance(s, LightState) and s.on and s.brightness_pct else None for s in states
        ]
        ys = [base - h * lightness(s.brightness_pct or 0.0) / 100.0 if s else base for s in lit]
        colours = [light_rgb(s) for s in lit if s is not None][:1] or [NEUTRAL]
        for s in lit:  # an unlit stretch keeps the colour before it (its area is flat anyway)
            colours.append(light_rgb(s) if s is not None else colours[-1])
        colours = colours[1:]
        gid = f"light-{attr(dev_id)}"
        stops = [
            f'<stop offset="{(x - self.x0) / (self.x1 - self.x0):.4f}" '
            f'stop-color="{hex_colour(c)}"/>'
            for i, (x, c) in enumerate(zip(self.xs, colours, strict=True))
            if i in (0, len(colours) - 1) or not c == colours[i - 1] == colours[i + 1]
        ]
        out = [
            f'<linearGradient id="{gid}" gradientUnits="userSpaceOnUse" x1="{self.x0}" '
            f'y1="0" x2="{self.x1}" y2="0">{"".join(stops)}</linearGradient>'
        ]
        pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(self.xs, ys, strict=True))
        area = f"M{self.x0:.1f},{base:.1f} L{pts} L{self.xs[-1]:.1f},{base:.1f} Z"
        out.append(f'<path d="{area}" fill="url(#{gid})" fill-opacity="0.62"/>')
        out.append(f'<path d="{area}" fill="url(#shade)"/>')
        out.append(
            f'<polyline points="{pts}" fill="none" stroke="url(#{gid})" '
            f'stroke-width="1.6" stroke-linejoin="round"/>'
        )
        for pct in (10, 50, 100):
            y = base - h * lightness(pct) / 100.0
            out.append(text(self.x1 + 4, y + 3, f"{pct}%", 9, FAINT))
        if dev_id in self.tl.limits.floor_lights:
            y = base - h * lightness(self.tl.limits.floor_pct) / 100.0
            out.append(
                line(
                    self.x0,
                    y,
                    self.x1,
                    y,
                    f'stroke="{MUTED}" stroke-opacity="0.5" stroke-dasharray="2 5"',
                )
            )
            out.append(
                text(
                    LEFT - 14,
                    top + h - 4,
                    f"floor {self.tl.limits.floor_pct:g}%",
                    10,
                    FAINT,
                    anchor="end",
                )
            )
        names = [
            f"{s.brightness_pct or 0:.0f}%"
            if s
            else "off"
            if isinstance(states[i], LightState)
            else None
            for i, s in enumerate(lit)
        ]
        items = [(self.xs[i] + 2, ys[i] - 5, names[i] or "") for i in settled(names, self.steady)]
        return out + labels(items, 10, TEXT)

    def player(self, states: Sequence[DeviceState | None], top: float, h: float) -> list[str]:
        base, playing = top + h, [_playing(s) for s in states]
        vmax = 1.25 * max([8.0] + [float(p[1]) for p in playing if p is not None])
        segs: list[list[tuple[float, float]]] = [[]]
        sources: list[tuple[float, float, str]] = []
        last: str | None = None
        for x, s, p in zip(self.xs, states, playing, strict=True):
            name = p[0] if p is not None else "silence" if isinstance(s, PlayerState) else None
            if name is not None and name != last:
                sources.append((x + 2, top + 4, name))
            last = name
            if p is not None:
                segs[-1].append((x, base - h * 0.75 * p[1] / vmax))
            elif segs[-1]:
                segs.append([])
        out = [
            text(
                LEFT - 14,
                top + h - 4,
                f"volume (max {self.tl.limits.volume_max:g})",
                10,
                FAINT,
                anchor="end",
            )
        ]
        for seg in (s for s in segs if s):
            pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in seg)
            out.append(
                f'<path d="M{seg[0][0]:.1f},{base:.1f} L{pts} L{seg[-1][0]:.1f},'
                f'{base:.1f} Z" fill="{MUSIC}" fill-opacity="0.10"/>'
            )
            out.append(
                f'<polyline points="{pts}" fill="none" stroke="{MUSIC}" '
                f'stroke-width="1.8" stroke-linejoin="round"/>'
            )
        vols = [str(p[1]) if p is not None else None for p in playing]
        items = [
            (self.xs[i] + 2, base - h * 0.75 * p[1] / vmax - 5, str(p[1]))
            for i in settled(vols, self.steady)
            if (p := playing[i]) is not None
        ]
        return out + labels(sources, 11, MUSIC, rows=2) + labels(items, 10, TEXT)

    def thermostat(
        self,
        states: Sequence[DeviceState | None],
        top: float,
        h: float,
    ) -> list[str]:
        lo, hi = self.tl.limits.setpoint_c
        vals = [s.setpoint_c if isinstance(s, ThermostatState) else None for s in states]
        known = [v for v in vals if v is not None]
        vlo, vhi = min([lo, *known]) - 0.5, max([hi, *known]) + 0.5

        def y(v: float) -> float:
            return top + h - (v - vlo) / (vhi - vlo) * h

        out = [
            rect(
                self.x0,
                y(hi),
                self.x1 - self.x0,
                y(lo) - y(hi),
                f'fill="{CLIMATE}" fill-opacity="0.07"',
            ),
            text(self.x1 + 4, y(hi) + 3, f"{hi:g}°", 9, FAINT),
            text(self.x1 + 4, y(lo) + 3, f"{lo:g}°", 9, FAINT),
            text(LEFT - 14, top + h + 4, f"band {lo:g}–{hi:g} °C", 10, FAINT, anchor="end"),
        ]
        pts = [f"{x:.1f},{y(v):.1f}" for x, v in zip(self.xs, vals, strict=True) if v is not None]
        out.append(
            f'<polyline points="{" ".join(pts)}" fill="none" stroke="{CLIMATE}" '
            f'stroke-width="1.8" stroke-linejoin="round"/>'
        )
        names = [f"{v:.1f} °C" if v is not None else None for v in vals]
        items = [
            (self.xs[i] + 2, y(v) - 6, names[i] or "")
            for i in settled(names, self.steady)
            if (v := vals[i]) is not None
        ]
        return out + labels(items, 10, CLIMATE)


def render_svg(
    timeline: Timeline,
    start: float,
    end: float,
    *,
    title: str | None = None,
    step_s: float = 60,
    overlay: Overlay | None = None,
    overlay_h: float = 0.0,
) -> str:
    """Draw what `timeline` does to the room between wall times `start` and `end` (sampled
    every `step_s` seconds) as a self-contained SVG document.  `overlay`, if given, adds its
    elements over the lanes and in a strip `overlay_h` high below the time axis."""
    if step_s <= 0:
        raise ValueError(f"step_s must be positive, got {step_s}")
    c = _Chart(timeline, start, end, step_s)
    strip_top = c.bottom + 44
    c.height += round(max(0.0, overlay_h))
    arc, room = timeline.arc, timeline.room
    heading = title if title is not None else arc.title or arc.name
    span = (
        f"{format_hmm(c.start - c.t0)} to {format_hmm(c.end - c.t0)} from the dose"
        if c.t0 is not None
        else "no session in this window"
    )
    body = [
        rect(0, 0, WIDTH, c.height, f'fill="{BG}"'),
        text(24, 34, heading, 20, TEXT, extra=' font-weight="600"'),
        text(24, 54, f"{room.room.name} · arc {arc.name} · {span}", 12, MUTED),
    ]
    body += c.phases() + c.grid() + c.markers()
    for dev, top, h in c.lanes:
        body += [f'<g class="lane" id="lane-{attr(dev.id)}">', *c.lane(dev, top, h), "</g>"]
    if overlay is not None:
        frame = Frame(c.start, c.end, c.x0, c.x1, float(TOP), c.bottom, strip_top, c.t0)
        body += ['<g class="overlay">', *overlay(frame), "</g>"]
    body.append(
        text(
            24,
            c.height - 12,
            "Light: height = perceived brightness, colour = the "
            "light's colour.  Music: volume; a gap is silence.  Time from the dose "
            "(H:MM).",
            10,
            FAINT,
        )
    )
    defs = (
        '<defs><linearGradient id="shade" x1="0" y1="0" x2="0" y2="1">'
        f'<stop offset="0" stop-color="{BG}" stop-opacity="0"/>'
        f'<stop offset="1" stop-color="{BG}" stop-opacity="0.55"/></linearGradient>'
        '<pattern id="hatch" width="7" height="7" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><line x1="0" y1="0" x2="0" y2="7" stroke="#8d939c" '
        'stroke-opacity="0.22" stroke-width="2"/></pattern></defs>'
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{c.height}" '
        f'viewBox="0 0 {WIDTH} {c.height}" font-family="{attr(FONT)}">\n'
        f"<title>{escape(heading)}</title>\n{defs}\n" + "\n".join(body) + "\n</svg>\n"
    )
