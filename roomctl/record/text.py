"""The session record as plain text, for a terminal (`roomctl session record ID`)."""

from __future__ import annotations

import time

from roomctl.model.arc import format_hmm
from roomctl.record.model import SessionRecord

__all__ = ["record_text"]


def _clock(t: float) -> str:
    return time.strftime("%H:%M", time.localtime(t))


def _t0(seconds: float) -> str:
    text = format_hmm(seconds)
    return text if text.startswith("-") else f"+{text}"


def record_text(r: SessionRecord) -> str:
    """Who, what and when: the phases as they ran, then every event in order."""
    day = time.strftime("%Y-%m-%d %H:%M", time.localtime(r.started_at))
    state = "running" if r.ended_at is None else f"ended {_clock(r.ended_at)}"
    lines = [
        f"session {r.session_id}  {r.arc_title}  {r.room_name}",
        f"client {r.client_id or '-'}  started {day} by {r.started_by}  {state}  "
        f"length {format_hmm(r.until - r.started_at)}"
        + ("  (the client's copy: shareable notes only)" if r.client_copy else ""),
        "",
        "phases as they ran (time, T0, phase, how, ran):",
    ]
    for p in r.phases:
        ran = "running" if p.ran_s is None else format_hmm(p.ran_s)
        lines.append(
            f"  {_clock(p.started_at)}  {_t0(p.from_t0_s):>6}  {p.name:<12} {p.how}  ({ran})"
        )
    lines += ["", "everything, in order (time, T0, who, what):"]
    width = max((len(e.by) for e in r.log), default=6)
    for e in r.log:
        lines.append(f"  {_clock(e.at)}  {_t0(e.from_t0_s):>6}  {e.by:<{width}}  {e.what}")
    return "\n".join(lines)
