"""The session's status as the CLI prints it (and the daemon returns it to a handed-off command):
one line, or JSON with every device."""

from __future__ import annotations

import json
from typing import Any

from roomctl.control.session import SessionControl
from roomctl.model.arc import format_hmm
from roomctl.model.prefs_report import overrides, summary
from roomctl.timeline.music import MusicPauseStatus

__all__ = ["client_status", "format_status"]


def format_status(control: SessionControl, as_json: bool = False) -> str:
    snap = control.snapshot()
    st = snap.status
    notes = _notes(control)
    if st is None and not control.room_emergency.on_now and not notes:
        return "no session running"
    if as_json:
        out: dict[str, Any] = {
            "session": control.session.id if control.session else None,
            "emergency": control.emergency_on,
            "notes": notes,
        }
        if st is not None:
            from roomctl.preview.rows import device_json

            out |= {
                "phase": st.phase,
                "arc_clock": format_hmm(st.arc_clock_s),
                "held": st.held,
                "cue": st.cue,
                "cue_ends_at": st.cue_ends_at,
                "cooling": st.cooling,
                "music_paused": None if st.music_paused is None else st.music_paused.reason,
                "emergency": st.emergency or control.room_emergency.on_now,
                "ended": st.ended,
                "devices": {
                    k: device_json(v, control.lib.room.device(k)) for k, v in snap.devices.items()
                },
                **client_status(control)[1],
            }
        return json.dumps(out, indent=2)
    if st is None:
        line = "no session running"
        if control.room_emergency.on_now:
            line += "  [EMERGENCY]"
    else:
        flags = [
            f
            for f, on in (
                ("HELD", st.held and not st.emergency),
                ("EMERGENCY", st.emergency or control.room_emergency.on_now),
                (f"cue {st.cue}{_ends(st.cue_ends_at, snap.t)}", st.cue is not None),
                ("COOLING", st.cooling),
                (f"music paused ({_paused(st.music_paused)})", st.music_paused is not None),
                ("ended", st.ended),
            )
            if on
        ]
        line = f"{st.arc} {format_hmm(st.arc_clock_s)}  phase {st.phase}" + (
            f"  [{', '.join(flags)}]" if flags else ""
        )
    client_line = client_status(control)[0] if st is not None else None
    lines = [line, *([client_line] if client_line else []), *(f"note: {n}" for n in notes)]
    return "\n".join(lines)


def _ends(at: float | None, now: float) -> str:
    """The end of a timed cue, as ", ends in 8 min"."""
    return "" if at is None else f", ends in {max(0, round((at - now) / 60))} min"


def _paused(paused: MusicPauseStatus | None) -> str:
    if paused is None:
        return ""
    return "after a power cut" if paused.reason == "power cut" else f"by {paused.by}"


def _notes(control: SessionControl) -> list[str]:
    notes: list[str] = []
    if control.clock_note:
        notes.append(control.clock_note)
    notes += [f"alert: {a}" for a in control.alerts]
    if control.pending:
        kinds = ", ".join(e.kind.value for _, e in control.pending)
        notes.append(f"not recorded yet ({kinds}): {control.record_error}; retrying")
    return notes


def client_status(control: SessionControl) -> tuple[str | None, dict[str, Any]]:
    """The running session's client and preferences in force: a line for the status text
    (None without a client) and the fields for its JSON."""
    row = control.session
    if row is None or row.client_id is None:
        return None, {"client": None}
    start = control.events[0].payload if control.events else None
    without = bool(getattr(start, "without_preferences", False))
    data: dict[str, Any] = {
        "client": row.client_id,
        "preferences_version": None if without else row.prefs_version,
        "without_preferences": without,
        "preferences": control.prefs.model_dump(mode="json", exclude_defaults=True),
    }
    if without:
        return f"client {row.client_id}: running without their preferences", data
    if row.prefs_version is None:
        return f"client {row.client_id}: no preferences stored", data
    arc = control.lib.arcs.get(row.arc)
    data["overrides"] = overrides(control.prefs, control.lib.room.safety, arc)
    words = "; ".join(summary(control.prefs)) or "no choices"
    return f"client {row.client_id}: preferences v{row.prefs_version} ({words})", data
