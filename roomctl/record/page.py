"""The session record as one self-contained, dark HTML page (and as a section for the tablet).

Nothing is loaded from elsewhere: the style and the picture (SVG) are inline, there is no
script, and the page's background is set in its first bytes, so it never flashes white.
Times are shown as the room's local clock time and as time from the dose (T0 ±H:MM).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from html import escape

from roomctl.model.arc import format_hmm
from roomctl.model.library import Library
from roomctl.model.prefs import NO_PREFERENCES, Preferences
from roomctl.record.chart import record_svg
from roomctl.record.describe import track_line
from roomctl.record.model import SessionRecord

__all__ = ["RECORD_CSS", "record_html", "record_section"]

BG, TEXT, MUTED, LINE = "#14161a", "#d8dbe0", "#9aa0a9", "#2a2e35"
RECORD_CSS = f"""
.record {{ max-width: 1240px; margin: 0 auto; padding: 24px 20px 48px; line-height: 1.5;
  font-family: system-ui, -apple-system, 'Segoe UI', 'DejaVu Sans', sans-serif; }}
.record h1 {{ font-size: 1.6rem; font-weight: 600; margin: 0 0 4px; }}
.record h2 {{ font-size: 1.1rem; font-weight: 600; margin: 36px 0 8px; color: {TEXT}; }}
.record .sub, .record .none, .record td.by, .record .foot {{ color: {MUTED}; }}
.record dl {{ display: grid; grid-template-columns: max-content 1fr; gap: 4px 20px; }}
.record dt {{ color: {MUTED}; }}
.record dd {{ margin: 0; }}
.record figure {{ margin: 24px 0 0; }}
.record figure svg {{ width: 100%; height: auto; display: block; border-radius: 6px; }}
.record table {{ border-collapse: collapse; width: 100%; font-size: 0.95rem; }}
.record th {{ text-align: left; font-weight: 600; color: {MUTED}; padding: 6px 10px 6px 0;
  border-bottom: 1px solid {LINE}; }}
.record td {{ padding: 6px 10px 6px 0; border-bottom: 1px solid {LINE}; vertical-align: top; }}
.record td.t {{ white-space: nowrap; font-variant-numeric: tabular-nums; }}
.record .alert {{ color: #f0a3a3; font-weight: 600; }}
.record .wrap {{ overflow-x: auto; }}
"""

_HEAD = (
    '<!DOCTYPE html>\n<html lang="en" style="background:{bg};color:{text}">\n<head>\n'
    '<meta charset="utf-8">\n<meta name="color-scheme" content="dark">\n'
    '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
    "<title>{title}</title>\n<style>\nhtml, body {{ background: {bg}; color: {text}; margin: 0; }}"
    "{css}</style>\n</head>\n<body>\n"
)


def record_html(record: SessionRecord, lib: Library, *, prefs: Preferences = NO_PREFERENCES) -> str:
    """The whole page.  `prefs`: the client's preferences the session ran with (they shape the
    arc as planned in the picture; `session_prefs()` reads them from the store)."""
    title = f"Session record {record.session_id}"
    head = _HEAD.format(bg=BG, text=TEXT, title=escape(title), css=RECORD_CSS)
    return head + record_section(record, lib, prefs=prefs) + "\n</body>\n</html>\n"


def record_section(
    record: SessionRecord, lib: Library, *, prefs: Preferences = NO_PREFERENCES
) -> str:
    """The record as a `<main class="record">` element, for a page that has `RECORD_CSS`."""
    r = record
    svg = record_svg(r, lib, prefs).replace(' xmlns="http://www.w3.org/2000/svg"', "", 1)
    parts = [
        '<main class="record">',
        f"<h1>{'Your session' if r.client_copy else 'Session record'}</h1>",
        f'<p class="sub">{escape(r.arc_title)} · {escape(r.room_name)} · '
        f"{escape(_day(r.started_at))}</p>",
        _summary(r),
        f'<figure aria-label="The arc as planned, with the session as it ran">{svg}</figure>',
        *_sections(r),
        f'<p class="foot">{escape(_foot(r))}</p>',
        "</main>",
    ]
    return "\n".join(parts)


# ------------------------------------------------------------------------------- parts


def _summary(r: SessionRecord) -> str:
    if r.without_preferences:
        prefs = "not used (started without them)"
    elif r.prefs_version is not None:
        prefs = f"version {r.prefs_version}"
    else:
        prefs = "none"
    ended = (
        f"{_clock(r.ended_at)} ({_t0(r.ended_at - r.t0)})"
        if r.ended_at is not None
        else f"still running (this record runs to {_clock(r.until)})"
    )
    dose = (
        f"given at {_clock(r.t0)}"
        + (f" (planned {_clock(r.planned_t0)})" if abs(r.t0 - r.planned_t0) >= 60 else "")
        if r.dosed
        else f"planned at {_clock(r.t0)}"
    )
    rows = [
        ("Session", r.session_id),
        ("Arc", f"{r.arc_title} ({r.arc})"),
        ("Client", r.client_id or "none recorded"),
        ("Preferences", prefs),
        ("Started", f"{_clock(r.started_at)} by {r.started_by}"),
        ("Dose (T0)", dose),
        ("Ended", ended),
        ("Length", format_hmm(r.until - r.started_at)),
    ]
    items = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in rows)
    return f"<dl>{items}</dl>"


def _sections(r: SessionRecord) -> list[str]:
    return [
        _table(
            "Phases as they ran",
            ("", "Phase", "Began", "T0", "How", "Ran", "Planned", "Extended", "Held"),
            [
                (
                    str(i),
                    f"{p.name} ({p.scene})",
                    _clock(p.started_at),
                    _t0(p.from_t0_s),
                    p.how,
                    "running" if p.ran_s is None else format_hmm(p.ran_s),
                    "open" if p.planned_s is None else format_hmm(p.planned_s),
                    f"+{p.extended_min:g} min by {', '.join(sorted(set(p.extended_by)))}"
                    if p.extended_min
                    else "",
                    format_hmm(p.held_s) if p.held_s >= 30 else "",
                )
                for i, p in enumerate(r.phases, start=1)
            ],
        ),
        _table(
            "Emergencies",
            ("On", "T0", "In phase", "By", "Cleared", "Cleared by", "Lasted"),
            [
                (
                    _clock(e.started_at),
                    _t0(e.from_t0_s),
                    e.phase,
                    e.by,
                    _clock(e.cleared_at) if e.cleared_at is not None else "not cleared",
                    e.cleared_by or "",
                    _span(e.started_at, e.cleared_at),
                )
                for e in r.emergencies
            ],
            alert=True,
        ),
        _table(
            "Cues",
            ("Cue", "From", "T0", "In phase", "By", "Until", "Ended by", "Lasted"),
            [
                (
                    c.cue,
                    _clock(c.started_at),
                    _t0(c.from_t0_s),
                    c.phase,
                    c.by,
                    _clock(c.ended_at) if c.ended_at is not None else "the end",
                    c.ended_by or "",
                    _span(c.started_at, c.ended_at),
                )
                for c in r.cues
            ],
        ),
        _table(
            "Holds",
            ("Held", "T0", "In phase", "By", "Resumed", "Resumed by", "Lasted"),
            [
                (
                    _clock(h.started_at),
                    _t0(h.from_t0_s),
                    h.phase,
                    h.by,
                    _clock(h.resumed_at) if h.resumed_at is not None else "not resumed",
                    h.resumed_by or "",
                    _span(h.started_at, h.resumed_at),
                )
                for h in r.holds
            ],
        ),
        _table(
            "Changes by hand",
            ("At", "T0", "In phase", "By", "Change"),
            [
                (
                    _clock(o.at),
                    _t0(o.from_t0_s),
                    o.phase,
                    o.by,
                    _override(o.device, o.channel, o.value, o.until),
                )
                for o in r.overrides
            ],
        ),
        _table(
            "Notes shared with you" if r.client_copy else "Notes",
            ("", "At", "T0", "In phase", "By", "Note", "Shareable"),
            [
                (
                    str(i),
                    _clock(n.at),
                    _t0(n.from_t0_s),
                    n.phase,
                    n.by,
                    n.text,
                    "yes" if n.shareable else "no",
                )
                for i, n in enumerate(r.notes, start=1)
            ],
        ),
        _table(
            "Music played",
            ("At", "T0", "In phase", "Track", "Source", "Speaker"),
            [
                (
                    _clock(t.at),
                    _t0(t.from_t0_s),
                    t.phase,
                    track_line(t.title, t.artist, t.album),
                    _source(t.source),
                    t.device,
                )
                for t in r.tracks
            ],
        ),
        _table(
            "Moments marked",
            ("At", "T0", "In phase", "By", "Mark"),
            [(_clock(m.at), _t0(m.from_t0_s), m.phase, m.by, m.name) for m in r.marks],
        ),
        _table(
            "Who did what",
            ("Who", "What"),
            [
                (who, ", ".join(f"{kind.replace('_', ' ')} ×{n}" for kind, n in kinds.items()))
                for who, kinds in r.people.items()
            ],
        ),
        _table(
            "Everything, in order",
            ("At", "T0", "Phase", "By", "What"),
            [(_clock(e.at), _t0(e.from_t0_s), e.phase, e.by, e.what) for e in r.log],
        ),
    ]


def _table(
    heading: str, columns: Sequence[str], rows: Iterable[Sequence[str]], *, alert: bool = False
) -> str:
    body = list(rows)
    if not body:
        return f'<section><h2>{escape(heading)}</h2><p class="none">None.</p></section>'
    head = "".join(f'<th scope="col">{escape(c)}</th>' for c in columns)
    cls = ' class="alert"' if alert else ""
    lines = [
        "<tr>" + "".join(_cell(columns[i], v) for i, v in enumerate(row)) + "</tr>" for row in body
    ]
    return (
        f"<section><h2{cls}>{escape(heading)}</h2>"
        f'<div class="wrap"><table><thead><tr>{head}</tr></thead><tbody>'
        + "".join(lines)
        + "</tbody></table></div></section>"
    )


def _cell(column: str, value: str) -> str:
    cls = ' class="t"' if column in ("At", "T0", "Began", "From", "On", "Until", "Held") else ""
    return f"<td{cls}>{escape(value)}</td>"


# ------------------------------------------------------------------------------ words


def _clock(t: float) -> str:
    return time.strftime("%H:%M", time.localtime(t))


def _day(t: float) -> str:
    return time.strftime("%A %d %B %Y, %H:%M", time.localtime(t))


def _t0(seconds: float) -> str:
    text = format_hmm(seconds)
    return f"T0 {text}" if text.startswith("-") else f"T0 +{text}"


def _span(a: float, b: float | None) -> str:
    return "" if b is None else format_hmm(b - a) if b - a >= 60 else f"{b - a:.0f} s"


def _source(source: str | None) -> str:
    if not source:
        return ""
    kind, _, name = source.partition(":")
    return {"favorite": "favourite", "playlist": "playlist"}.get(kind, kind) + f" {name}"


def _override(
    device: str | None, channel: str | None, value: bool | float | None, until: str | None
) -> str:
    if channel is None:
        return f"{device}: back to the arc" if device else "every device back to the arc"
    shown = ("on" if value else "off") if isinstance(value, bool) else f"{value:g}"
    return f"{device}: {channel.replace('_', ' ')} {shown} (until the {until} ends)"


def _foot(r: SessionRecord) -> str:
    made = time.strftime("%Y-%m-%d %H:%M", time.localtime(r.until))
    if r.client_copy:
        return (
            f"Your copy of session {r.session_id}, made by roomctl; it holds the notes the "
            "facilitators marked to share with you."
        )
    return (
        f"Session record {r.session_id} as of {made}, made by roomctl.  Health data: keep it "
        "on the device or with the client's file, never in e-mail or shared folders."
    )
