"""One stored event in plain words, for the record's log (the tablet and the exported page)."""

from __future__ import annotations

from roomctl.model.events import (
    Advance,
    CueOff,
    CueOn,
    Dose,
    EmergencyClear,
    EmergencyOn,
    End,
    Extend,
    HeatAlert,
    HeatClear,
    Hold,
    Jump,
    Mark,
    MusicPause,
    MusicResume,
    Note,
    Override,
    OverrideClear,
    Payload,
    Resume,
    Start,
    StepBack,
    Track,
)

__all__ = ["describe", "track_line"]

_CHANNEL_WORDS = {
    "on": "on/off",
    "brightness_pct": "brightness",
    "color_temp_k": "colour temperature",
    "hue": "hue",
    "saturation": "saturation",
    "volume": "volume",
    "setpoint_c": "temperature setpoint",
}
_UNITS = {"brightness_pct": " %", "color_temp_k": " K", "hue": "°", "saturation": " %",
          "setpoint_c": " °C"}  # fmt: skip


def track_line(title: str, artist: str, album: str) -> str:
    """ "Title — Artist (Album)", leaving out what is not known."""
    line = title or "(untitled)"
    if artist:
        line += f" — {artist}"
    if album and album != title:
        line += f" ({album})"
    return line


def describe(p: Payload, phase: str) -> str:  # noqa: PLR0912 - one answer per kind
    """What the event did, in plain words; `phase` is the phase after it."""
    if isinstance(p, Start):
        words = f"session started: arc {p.arc}, in {phase}"
        return words + (" (without the client's preferences)" if p.without_preferences else "")
    if isinstance(p, Dose):
        return "dose given: T0 is now"
    if isinstance(p, Hold):
        return "arc held"
    if isinstance(p, Resume):
        return "arc resumed"
    if isinstance(p, Extend):
        return f"{phase} extended by {p.minutes:g} min"
    if isinstance(p, Advance):
        return f"advanced to {phase}"
    if isinstance(p, StepBack):
        return f"stepped back to {phase}"
    if isinstance(p, Jump):
        return f"jumped to {p.phase}"
    if isinstance(p, CueOn):
        return f"cue: {p.cue}"
    if isinstance(p, CueOff):
        return "cue off: back to the arc"
    if isinstance(p, Override):
        channel = _CHANNEL_WORDS.get(p.channel, p.channel)
        if isinstance(p.value, bool):
            value = "on" if p.value else "off"
        else:
            value = f"{p.value:g}{_UNITS.get(p.channel, '')}"
        until = "the end of the session" if p.until == "session" else "the end of the phase"
        return f"{p.device}: {channel} set to {value} by hand, until {until}"
    if isinstance(p, OverrideClear):
        return f"{p.device}: back to the arc" if p.device else "every device back to the arc"
    if isinstance(p, EmergencyOn):
        return "EMERGENCY: bright light, music off, arc held"
    if isinstance(p, EmergencyClear):
        return "emergency cleared: fading back"
    if isinstance(p, Note):
        return ("note (shareable): " if p.shareable else "note: ") + p.text
    if isinstance(p, Mark):
        minutes = f" for {p.cue_s / 60:g} min" if p.cue_s is not None else ""
        cue = f" ({p.cue}{minutes})" if p.cue is not None else ""
        return f"mark: {p.name}{cue}"
    if isinstance(p, HeatAlert):
        reading = f" at {p.temperature_c:.1f} °C" if p.temperature_c is not None else ""
        limit = f", over {p.limit_c:g} °C" if p.limit_c is not None else ""
        return f"the room is too hot{reading}{limit}: cooling on"
    if isinstance(p, HeatClear):
        return "the room is cool again: cooling off"
    if isinstance(p, MusicPause) and p.reason == "power cut":
        return "music paused: the room came back after a power cut (until a facilitator resumes it)"
    if isinstance(p, MusicPause):
        return "music paused (faded down, until resumed)"
    if isinstance(p, MusicResume):
        return "music resumed: its volume rising from silence"
    if isinstance(p, End):
        return "session ended"
    if isinstance(p, Track):
        return f"{p.device} played {track_line(p.title, p.artist, p.album)}"
    return p.kind  # pragma: no cover - every kind is described above
