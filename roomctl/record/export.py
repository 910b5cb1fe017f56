"""The record's exports: JSON, the HTML page, and the preferences its picture is drawn with."""

from __future__ import annotations

import json
import logging

from roomctl.errors import PreferencesError
from roomctl.model.library import Library
from roomctl.model.prefs import NO_PREFERENCES, Preferences
from roomctl.record.build import build_record
from roomctl.record.model import SessionRecord
from roomctl.record.page import record_html
from roomctl.store.store import Store

__all__ = ["export_html", "record_json", "session_prefs"]

log = logging.getLogger(__name__)


def record_json(record: SessionRecord) -> str:
    """The record as JSON text (UTF-8, indented), ending in a newline."""
    return json.dumps(record.to_json(), indent=2, ensure_ascii=False) + "\n"


def session_prefs(store: Store, record: SessionRecord) -> Preferences:
    """The client's preferences the session ran with (none when it ran without them, or when
    the stored version no longer validates: the picture is then drawn without them)."""
    if record.without_preferences or record.client_id is None or record.prefs_version is None:
        return NO_PREFERENCES
    try:
        found = store.preferences(record.client_id, record.prefs_version)
    except PreferencesError as exc:
        log.warning("session %s: drawing the arc without preferences: %s", record.session_id, exc)
        return NO_PREFERENCES
    return NO_PREFERENCES if found is None else found[1]


def export_html(
    store: Store,
    lib: Library,
    session_id: str,
    *,
    client_copy: bool = False,
    now: float | None = None,
) -> str:
    """`build_record` and `record_html` in one call: the page of session `session_id`."""
    record = build_record(store, lib, session_id, client_copy=client_copy, now=now)
    return record_html(record, lib, prefs=session_prefs(store, record))
