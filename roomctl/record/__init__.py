"""The session record: what really happened, for the tablet, export and the client's
integration copy.

    record = build_record(store, lib, session_id)                 # a SessionRecord (pydantic)
    record = build_record(store, lib, session_id, client_copy=True)  # only shareable notes
    text = record_json(record)                                     # JSON text
    page = record_html(record, lib, prefs=session_prefs(store, record))  # one HTML page
    page = export_html(store, lib, session_id, client_copy=True)   # the same in one call
    part = record_section(record, lib)   # <main class="record">…</main>, with RECORD_CSS

`build_record` only reads the store; it raises SessionError (a RoomctlError, with a message fit
to show) for an unknown session or one whose arc is no longer in the library.  For a session
still running pass `now` (the daemon's clock) to draw it up to now.  A `SessionRecord` is a
frozen pydantic model: use it as a FastAPI response model, or `record.to_json()`.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from roomctl.record.build import build_record
    from roomctl.record.export import export_html, record_json, session_prefs
    from roomctl.record.model import (
        RECORD_FORMAT,
        CueRun,
        EmergencyRun,
        HoldRun,
        LogEntry,
        MarkItem,
        NoteItem,
        OverrideItem,
        PhaseRun,
        SessionRecord,
        TrackItem,
    )
    from roomctl.record.page import RECORD_CSS, record_html, record_section

# The parts load on first use: the daemon needs only the model (for the web's response schema)
# to start, and the builders, chart and page cost start-up time nobody is waiting for.
_HOME = {
    "build_record": "build",
    "export_html": "export",
    "record_json": "export",
    "session_prefs": "export",
    "RECORD_CSS": "page",
    "record_html": "page",
    "record_section": "page",
}


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{_HOME.get(name, 'model')}"), name)
    globals()[name] = value
    return value


__all__ = [
    "RECORD_CSS",
    "RECORD_FORMAT",
    "CueRun",
    "EmergencyRun",
    "HoldRun",
    "LogEntry",
    "MarkItem",
    "NoteItem",
    "OverrideItem",
    "PhaseRun",
    "SessionRecord",
    "TrackItem",
    "build_record",
    "export_html",
    "record_html",
    "record_json",
    "record_section",
    "session_prefs",
]
