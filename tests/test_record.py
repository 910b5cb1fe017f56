"""The session record: a session driven through SessionControl on a VirtualClock (hold, extend,
advance, cue, emergency, clear, step back, notes shareable and not, tracks, a change by hand)
gives a record that says exactly what happened; the client's copy has no staff note; the HTML
page is dark from its first bytes, self-contained (no URL, no script) and parses."""

from __future__ import annotations

import asyncio
import json
import re
import time
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest

from roomctl.clock import VirtualClock
from roomctl.control.session import SessionControl
from roomctl.errors import SessionError
from roomctl.model.events import (
    Advance,
    CueOff,
    CueOn,
    Dose,
    EmergencyClear,
    EmergencyOn,
    End,
    Event,
    Extend,
    Hold,
    Note,
    Override,
    Resume,
    StepBack,
    Track,
    parse_payload,
)
from roomctl.model.library import Library
from roomctl.record import (
    SessionRecord,
    build_record,
    export_html,
    record_html,
    record_json,
)
from roomctl.store.store import Store

ROOT = Path(__file__).resolve().parent.parent
T = 1_800_000_000.0
MIN = 60.0
STAFF_NOTE = "client spoke about her father; follow up in integration"
SHARED_NOTE = "You said the music felt like the sea."


def later(clock: VirtualClock, minutes: float) -> None:
    asyncio.run(clock.advance(minutes * MIN))


def drive(lib: Library, store: Store, clock: VirtualClock) -> str:
    """A psilocybin session (settle 0:30 from the start, then pre-onset 0:30, onset 0:30,
    building 1:00 ...; T0 is planned 0:30 after the start), steered by alice and bob."""
    c = SessionControl(lib, store, clock)
    row = c.start("psilocybin", by="alice")
    later(clock, 10)  # 0:10 settle
    c.command(Note(text=STAFF_NOTE), by="alice")
    c.command(
        Track(device="speakers", title="Slow Tide", artist="Harbour Lights", album="Coastlines",
              uri="x-file-cifs://nas/slow-tide.flac", source="favorite:Settling In"),
        by="system",
    )  # fmt: skip
    later(clock, 25)  # 0:35: pre-onset began on time at 0:30
    c.command(Hold(), by="bob")
    later(clock, 10)  # 0:45
    c.command(Resume(), by="bob")
    c.command(Extend(minutes=15), by="alice")  # pre-onset now ends at 0:30+0:30+0:10+0:15 = 1:25
    later(clock, 45)  # 1:30: onset began on time at 1:25
    c.command(CueOn(cue="talk"), by="alice")
    later(clock, 5)  # 1:35
    c.command(CueOff(), by="alice")
    later(clock, 5)  # 1:40
    c.command(Advance(), by="alice")  # building
    c.command(Override(device="lamp", channel="brightness_pct", value=30.0), by="carol")
    later(clock, 3)  # 1:43
    c.command(EmergencyOn(), by="bob")
    later(clock, 2)  # 1:45
    c.command(EmergencyClear(), by="alice")
    c.command(Note(text=SHARED_NOTE, shareable=True), by="alice")
    c.command(
        Track(device="speakers", title="Low Cloud", artist="Mira Sand", album="Weather Diary",
              source="favorite:Ascent"),
        by="system",
    )  # fmt: skip
    later(clock, 20)  # 2:05
    c.command(StepBack(), by="alice")  # onset again
    later(clock, 5)  # 2:10
    c.command(End(), by="alice")
    assert row.id
    return row.id


@pytest.fixture
def session_id(lib: Library, store: Store, clock: VirtualClock) -> str:
    return drive(lib, store, clock)


@pytest.fixture
def record(lib: Library, store: Store, session_id: str) -> SessionRecord:
    return build_record(store, lib, session_id)


def at(minutes: float) -> float:
    return T + minutes * MIN


# ------------------------------------------------------------------- the record's content


def test_phases_as_they_ran(record: SessionRecord) -> None:
    got = [
        (p.name, p.started_at, p.ended_at, p.began, p.by, p.extended_min, p.held_s)
        for p in record.phases
    ]
    assert got == [
        ("settle", at(0), at(30), "start", "alice", 0.0, 0.0),
        ("pre-onset", at(30), at(85), "on_time", "system", 15.0, 10 * MIN),
        ("onset", at(85), at(100), "on_time", "system", 0.0, 0.0),
        ("building", at(100), at(125), "advanced", "alice", 0.0, 2 * MIN),  # the emergency
        ("onset", at(125), at(130), "stepped_back", "alice", 0.0, 0.0),
    ]
    assert record.phases[1].extended_by == ("alice",)
    assert record.phases[2].how == "on time, after pre-onset extended by 15 min and held 0:10"
    assert [p.ran_s for p in record.phases] == [30 * MIN, 55 * MIN, 15 * MIN, 25 * MIN, 5 * MIN]
    assert record.phases[0].from_t0_s == -30 * MIN  # the arc starts half an hour before T0
    assert (record.t0, record.planned_t0, record.dosed) == (at(30), at(30), False)
    assert (record.started_at, record.ended_at, record.until) == (at(0), at(130), at(130))


def test_cues_emergencies_holds_overrides(record: SessionRecord) -> None:
    assert [(c.cue, c.started_at, c.ended_at, c.phase, c.by, c.ended_by) for c in record.cues] == [
        ("talk", at(90), at(95), "onset", "alice", "alice")
    ]
    assert [
        (e.started_at, e.cleared_at, e.phase, e.by, e.cleared_by) for e in record.emergencies
    ] == [(at(103), at(105), "building", "bob", "alice")]
    assert [(h.started_at, h.resumed_at, h.by, h.resumed_by) for h in record.holds] == [
        (at(35), at(45), "bob", "bob")
    ]
    assert [(o.device, o.channel, o.value, o.by, o.phase) for o in record.overrides] == [
        ("lamp", "brightness_pct", 30.0, "carol", "building")
    ]


def test_notes_tracks_and_who_did_what(record: SessionRecord) -> None:
    assert [(n.text, n.by, n.shareable, n.phase) for n in record.notes] == [
        (STAFF_NOTE, "alice", False, "settle"),
        (SHARED_NOTE, "alice", True, "building"),
    ]
    assert [(t.at, t.title, t.artist, t.album, t.source, t.phase) for t in record.tracks] == [
        (at(10), "Slow Tide", "Harbour Lights", "Coastlines", "favorite:Settling In", "settle"),
        (at(105), "Low Cloud", "Mira Sand", "Weather Diary", "favorite:Ascent", "building"),
    ]
    assert record.people == {
        "alice": {"advance": 1, "cue_off": 1, "cue_on": 1, "emergency_clear": 1, "end": 1,
                  "extend": 1, "note": 2, "start": 1, "step_back": 1},
        "bob": {"emergency_on": 1, "hold": 1, "resume": 1},
        "carol": {"override": 1},
        "system": {"track": 2},
    }  # fmt: skip
    assert len(record.log) == 16  # every stored event, in order
    assert [e.seq for e in record.log] == sorted(e.seq for e in record.log)
    whats = [e.what for e in record.log]
    assert "advanced to building" in whats
    assert "stepped back to onset" in whats
    assert "lamp: brightness set to 30 % by hand, until the end of the phase" in whats
    assert "speakers played Low Cloud — Mira Sand (Weather Diary)" in whats


def test_the_client_copy_has_no_staff_note(lib: Library, store: Store, session_id: str) -> None:
    copy = build_record(store, lib, session_id, client_copy=True)
    assert copy.client_copy
    assert [n.text for n in copy.notes] == [SHARED_NOTE]
    text = record_json(copy) + record_html(copy, lib)
    assert STAFF_NOTE not in text
    assert SHARED_NOTE in text
    assert copy.people["alice"]["note"] == 1
    assert copy.phases == build_record(store, lib, session_id).phases


def test_the_dose_re_anchors_t0(lib: Library, store: Store, clock: VirtualClock) -> None:
    c = SessionControl(lib, store, clock)
    row = c.start("psilocybin", by="alice")
    later(clock, 20)
    c.command(Dose(), by="alice")  # T0 now, 10 minutes before plan: onset's phase is at 0:00
    later(clock, 5)
    record = build_record(store, lib, row.id, now=clock.now())
    assert (record.t0, record.planned_t0, record.dosed) == (at(20), at(30), True)
    assert [(p.name, p.began, p.ended_at) for p in record.phases] == [
        ("settle", "start", at(20)),
        ("pre-onset", "dose", None),
    ]
    assert record.running and record.until == at(25)
    assert record.phases[1].from_t0_s == 0.0


def test_json_round_trips(record: SessionRecord) -> None:
    data = json.loads(record_json(record))
    assert data["format"] == "roomctl-record/1"
    assert SessionRecord.model_validate(data) == record


def test_unknown_session_is_a_clear_error(lib: Library, store: Store) -> None:
    with pytest.raises(SessionError, match="no session 's-nope'"):
        build_record(store, lib, "s-nope")


def test_old_events_without_the_new_fields_still_read() -> None:
    note = parse_payload("note", {"text": "stored before notes could be shared"})
    assert isinstance(note, Note) and note.shareable is False
    assert Event(T, Note(text="x", shareable=True)).data == {"text": "x", "shareable": True}
    assert Event(T, Note(text="x")).data == {"text": "x"}  # defaults are not stored


def test_a_long_session_builds_quickly(lib: Library, store: Store, clock: VirtualClock) -> None:
    """Twelve hours with a track every four minutes and a note every ten: under a second is
    plenty for the tablet (measured ~0.1 s)."""
    c = SessionControl(lib, store, clock)
    row = c.start("psilocybin", by="alice")
    for minute in range(0, 12 * 60, 2):
        later(clock, 2)
        if minute % 4 == 0:
            c.command(Track(device="speakers", title=f"Track {minute}"), by="system")
        if minute % 10 == 0:
            c.command(Note(text=f"note {minute}"), by="alice")
        if minute % 60 == 30:
            c.command(Hold(), by="alice")
        if minute % 60 == 40:
            c.command(Resume(), by="alice")
    began = time.perf_counter()
    record = build_record(store, lib, row.id, now=clock.now())
    page = record_html(record, lib)
    took = time.perf_counter() - began
    assert len(record.tracks) == 180 and len(record.notes) == 72
    assert [p.name for p in record.phases][-1] == "closing"
    assert took < 5.0, f"building and drawing the record took {took:.2f} s"
    assert page.count("<tr>") > 250


# ----------------------------------------------------------------------------- the page


class _Checker(HTMLParser):
    """Every element closed in order (void elements excepted); collects tags and attributes."""

    VOID = frozenset({"meta", "br", "hr", "img", "input", "link", "col", "area", "base", "wbr"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes <{self.stack[-1:]}>"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_the_page_is_dark_self_contained_and_parses(
    lib: Library, store: Store, session_id: str
) -> None:
    page = export_html(store, lib, session_id)
    head = page[:120]
    assert head.startswith("<!DOCTYPE html>")
    assert "background:#14161a" in head  # dark before anything else is read
    assert not re.search(r"https?://", page, re.IGNORECASE)
    assert "<script" not in page.lower()
    assert not re.search(r"""(src|href)\s*=""", page, re.IGNORECASE)
    assert "@import" not in page and "url(http" not in page
    checker = _Checker()
    checker.feed(page)
    checker.close()
    assert checker.stack == [], f"unclosed: {checker.stack}"
    assert {"svg", "table", "main", "style"} <= {t for t, _ in checker.tags}
    svg = page[page.index("<svg") : page.index("</svg>") + len("</svg>")]
    tree = ET.fromstring(svg.replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1))
    assert tree.find(".//{http://www.w3.org/2000/svg}g[@class='overlay']") is not None
    words = " ".join(checker.text)
    for expected in ("Phases as they ran", "advanced by alice", "stepped back by alice",
                     "on time, after pre-onset extended by 15 min", "Emergencies", "talk",
                     STAFF_NOTE, SHARED_NOTE, "Slow Tide — Harbour Lights (Coastlines)",
                     "favourite Settling In", "T0 +1:13", "carol"):  # fmt: skip
        assert expected in words, expected


def test_the_picture_marks_what_happened(lib: Library, record: SessionRecord) -> None:
    page = record_html(record, lib)
    svg = page[page.index("<svg") : page.index("</svg>")]
    overlay = svg[svg.index('<g class="overlay">') :]
    assert overlay.count('fill="#d46a6a"') == 2  # the one emergency: over the lanes, in the strip
    assert overlay.count("<circle") == 2  # the two notes
    for name in ("settle", "pre-onset", "« onset"):
        assert f">{name}</text>" in overlay
    assert ">talk</text>" in overlay
