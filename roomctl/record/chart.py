"""The arc picture with the real session drawn over it.

The picture underneath is the preview's (`preview.svg.render_svg`) of the arc as planned for
this session: its dose time, its room at the start and the client's preferences.  Over it:
where each phase really began (a line across the lanes), the emergencies and cues (shaded over
the lanes), and a strip "as it ran" below the time axis with the phases as they ran, the holds,
emergencies and cues, the notes (numbered as in the record's list) and the tracks.
"""

from __future__ import annotations

import math

from roomctl.model.events import Event, Start
from roomctl.model.library import Library
from roomctl.model.prefs import NO_PREFERENCES, Preferences
from roomctl.preview.draw import (
    FAINT,
    LEFT,
    MARK,
    MUSIC,
    MUTED,
    TEXT,
    Frame,
    labels,
    line,
    rect,
    text,
)
from roomctl.preview.svg import render_svg
from roomctl.record.model import SessionRecord
from roomctl.timeline.fold import Timeline

__all__ = ["STRIP_H", "record_svg"]

STRIP_H = 112.0
EMERGENCY, CUE, HOLD = "#d46a6a", "#b7a6d9", "#7f8fa6"
PHASE_FILLS = ("#243247", "#2b3b52")
PHASE_LINE = "#9fb3d1"
MAX_SAMPLES = 720


def record_svg(record: SessionRecord, lib: Library, prefs: Preferences = NO_PREFERENCES) -> str:
    """The arc as planned for the session, with what really happened drawn over it (SVG)."""
    arc = lib.arc(record.arc)
    planned = Timeline(
        lib.room,
        arc,
        lib.scenes,
        [Event(record.started_at, Start(arc=arc.name, t0=record.planned_t0), by="plan")],
        NO_PREFERENCES if record.without_preferences else prefs,
    )
    nominal = arc.nominal_end
    planned_end = record.planned_t0 + nominal if nominal is not None else record.until
    start, end = record.started_at, max(planned_end, record.until, record.started_at + 600)
    step = max(60.0, math.ceil((end - start) / MAX_SAMPLES))
    title = f"{record.arc_title}: as planned, and as it ran"
    return render_svg(
        planned, start, end, title=title, step_s=step, overlay=_Overlay(record), overlay_h=STRIP_H
    )


class _Overlay:
    def __init__(self, record: SessionRecord) -> None:
        self.r = record

    def __call__(self, fr: Frame) -> list[str]:
        return self.over_lanes(fr) + self.strip(fr)

    def _end(self, t: float | None) -> float:
        return self.r.until if t is None else t

    def over_lanes(self, fr: Frame) -> list[str]:
        out: list[str] = []
        h = fr.bottom - fr.top + 6
        for e in self.r.emergencies:
            a, b = fr.x(e.started_at), fr.x(self._end(e.cleared_at))
            out.append(
                rect(a, fr.top - 6, max(b - a, 1.5), h, f'fill="{EMERGENCY}" fill-opacity="0.16"')
            )
        for c in self.r.cues:
            a, b = fr.x(c.started_at), fr.x(self._end(c.ended_at))
            out.append(rect(a, fr.top - 6, max(b - a, 1.5), h, f'fill="{CUE}" fill-opacity="0.08"'))
        for run in self.r.phases[1:]:
            xx = fr.x(run.started_at)
            dash = "" if run.began == "on_time" else ' stroke-dasharray="5 4"'
            out.append(
                line(
                    xx,
                    fr.top - 44,
                    xx,
                    fr.strip_top,
                    f'stroke="{PHASE_LINE}" stroke-opacity="0.55"{dash}',
                )
            )
        if self.r.running:
            xx = fr.x(self.r.until)
            out.append(
                line(
                    xx,
                    fr.top - 44,
                    xx,
                    fr.strip_top + STRIP_H - 30,
                    f'stroke="{TEXT}" stroke-width="2"',
                )
            )
            out.append(text(xx + 4, fr.top - 34, "now", 11, TEXT))
        return out

    def strip(self, fr: Frame) -> list[str]:
        y = fr.strip_top
        out = [
            text(
                LEFT - 14, y + 17, "as it ran", 13, TEXT, anchor="end", extra=' font-weight="600"'
            ),
            text(LEFT - 14, y + 32, "phases", 10, FAINT, anchor="end"),
            text(LEFT - 14, y + 52, "holds, cues", 10, FAINT, anchor="end"),
            text(LEFT - 14, y + 72, "notes, tracks", 10, FAINT, anchor="end"),
        ]
        names: list[tuple[float, float, str]] = []
        for i, run in enumerate(self.r.phases):
            a, b = fr.x(run.started_at), fr.x(self._end(run.ended_at))
            fill = PHASE_FILLS[i % 2]
            out.append(rect(a, y, max(b - a, 1.0), 24, f'rx="3" fill="{fill}"'))
            mark = {"advanced": "» ", "stepped_back": "« ", "jumped": "→ "}.get(run.began, "")
            names.append((a + 4, y + 16, mark + run.name))
        out += labels(names, 11, TEXT)
        row: list[tuple[float, float, str]] = []
        for h in self.r.holds:
            a, b = fr.x(h.started_at), fr.x(self._end(h.resumed_at))
            out.append(rect(a, y + 32, max(b - a, 2.0), 12, 'rx="2" fill="url(#hatch)"'))
            out.append(rect(a, y + 32, max(b - a, 2.0), 12, f'rx="2" fill="none" stroke="{HOLD}"'))
        for c in self.r.cues:
            a, b = fr.x(c.started_at), fr.x(self._end(c.ended_at))
            out.append(
                rect(a, y + 34, max(b - a, 2.0), 8, f'rx="2" fill="{CUE}" fill-opacity="0.7"')
            )
            row.append((a, y + 56, c.cue))
        for e in self.r.emergencies:
            a, b = fr.x(e.started_at), fr.x(self._end(e.cleared_at))
            out.append(rect(a, y + 30, max(b - a, 3.0), 16, f'rx="2" fill="{EMERGENCY}"'))
            row.append((a, y + 56, "emergency"))
        out += labels(row, 10, MUTED)
        for t in self.r.tracks:
            xx = fr.x(t.at)
            out.append(line(xx, y + 62, xx, y + 76, f'stroke="{MUSIC}" stroke-opacity="0.8"'))
        numbers: list[tuple[float, float, str]] = []
        for n, note in enumerate(self.r.notes, start=1):
            xx = fr.x(note.at)
            out.append(f'<circle cx="{xx:.1f}" cy="{y + 69:.1f}" r="4.5" fill="{MARK}"/>')
            numbers.append((xx - 3, y + 89, str(n)))
        out += labels(numbers, 10, MARK)
        out.append(
            text(
                LEFT,
                y + STRIP_H - 4,
                "Lines across the lanes: where each phase really "
                "began (dashed: by hand).  Red: emergency.  Violet: cue.  Hatched: held.  "
                "Dots: notes (numbered as listed).  Blue ticks: a new track.",
                10,
                FAINT,
            )
        )
        return out
