"""`roomctl session …`: one subcommand per verb, each with its own help and typed arguments.

Every verb that changes the session becomes a typed event payload (roomctl.model.events), the
same models the HTTP API and MQTT commands use, so a value that does not fit is refused with
the field named.  `list`, `export` and `purge` reach the stored sessions.
"""

from __future__ import annotations

import argparse
import getpass
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from roomctl.cli.output import confirm, export_json, write_private
from roomctl.errors import SessionError
from roomctl.model.events import CHANNELS, EventKind
from roomctl.model.library import Library
from roomctl.store.store import Store

if TYPE_CHECKING:
    from roomctl.control.session import SessionControl

    SubParsers = argparse._SubParsersAction[argparse.ArgumentParser]

__all__ = ["register_session"]

Opener = Callable[[argparse.Namespace], tuple[Library, Store]]

# verb: (event kind, help)
PLAIN_VERBS: dict[str, tuple[EventKind, str]] = {
    "hold": (EventKind.HOLD, "freeze the arc clock (the room stays as it is)"),
    "resume": (EventKind.RESUME, "let the arc clock run again"),
    "advance": (EventKind.ADVANCE, "start the next phase now"),
    "step-back": (EventKind.STEP_BACK, "start the previous phase again now"),
    "dose": (EventKind.DOSE, "record the dose now: the arc clock becomes 0:00"),
    "cue-off": (EventKind.CUE_OFF, "end the cue: back to the arc"),
    "emergency": (EventKind.EMERGENCY_ON, "bright neutral light and music off, at once"),
    "clear-emergency": (EventKind.EMERGENCY_CLEAR, "fade back from the emergency"),
    "end": (EventKind.END, "end the session (the room stays as it is)"),
}


def _minutes(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"minutes must be a number, got {text!r}") from None


def _cue_minutes(text: str) -> float:
    minutes = _minutes(text)
    if not 0 < minutes <= 60:
        raise argparse.ArgumentTypeError(f"minutes must be above 0 and at most 60, got {text!r}")
    return minutes


def _value(text: str) -> bool | float:
    if text in ("true", "false", "on", "off"):
        return text in ("true", "on")
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"value must be a number or true/false, got {text!r}"
        ) from None


def _days(text: str) -> float:
    try:
        days = float(text)
    except ValueError:
        days = -1.0
    if not days >= 0:
        raise argparse.ArgumentTypeError(f"days must be a number >= 0, got {text!r}")
    return days


def _event(args: argparse.Namespace) -> tuple[EventKind, dict[str, Any]]:
    """The event kind and plain payload a steering verb gives (validated by the model)."""
    verb = args.verb
    if verb in PLAIN_VERBS:
        return PLAIN_VERBS[verb][0], {}
    if verb == "extend":
        return EventKind.EXTEND, {"minutes": args.minutes}
    if verb == "jump":
        return EventKind.JUMP, {"phase": args.phase}
    if verb == "cue":
        return EventKind.CUE_ON, {"cue": args.name}
    if verb == "supplemental":
        return EventKind.MARK, {"name": "supplemental"}
    if verb == "mark":
        data: dict[str, Any] = {"name": " ".join(args.name)}
        if args.cue is not None:
            data |= {"cue": args.cue, "cue_s": args.minutes * 60.0}
        return EventKind.MARK, data
    if verb == "note":
        note: dict[str, Any] = {"text": " ".join(args.text)}
        if args.shareable:
            note["shareable"] = True
        return EventKind.NOTE, note
    if verb == "music":
        return (EventKind.MUSIC_PAUSE if args.action == "pause" else EventKind.MUSIC_RESUME), {}
    if verb == "set":
        return EventKind.OVERRIDE, {"device": args.device, "channel": args.channel,
                                    "value": args.value}  # fmt: skip
    raise SessionError(f"unknown session command {verb!r}")  # pragma: no cover - argparse


def _by(args: argparse.Namespace) -> str:
    return str(args.by or getpass.getuser())


def _control(lib: Library, store: Store) -> SessionControl:
    from roomctl.cli.commands import room_clock
    from roomctl.control.session import SessionControl

    return SessionControl(lib, store, room_clock(lib))


def cmd_start(args: argparse.Namespace, opener: Opener) -> int:
    lib, store = opener(args)
    with store:
        if args.arc is None:
            raise SessionError(f"which arc? one of {', '.join(sorted(lib.arcs))}")
        row = _control(lib, store).start(
            args.arc,
            by=_by(args),
            client_id=args.client,
            without_preferences=args.without_preferences,
        )
    print(f"session {row.id} started: arc {row.arc}")
    return 0


def cmd_status(args: argparse.Namespace, opener: Opener) -> int:
    lib, store = opener(args)
    with store:
        control = _control(lib, store)
        control.refresh()
        _print_status(control, args.json)
    return 0


def cmd_steer(args: argparse.Namespace, opener: Opener) -> int:
    lib, store = opener(args)
    with store:
        from roomctl.cli.give import give

        kind, data = _event(args)  # validated by the event's model when given
        return give(_control(lib, store), kind, data, by=_by(args))


def cmd_list(args: argparse.Namespace, opener: Opener) -> int:
    _, store = opener(args)
    with store:
        rows = store.list_sessions(limit=args.limit)
    if args.json:
        print(json.dumps([r.to_json() for r in rows], indent=2))
        return 0
    if not rows:
        print("no sessions stored")
    for r in rows:
        started = time.strftime("%Y-%m-%d %H:%M", time.localtime(r.created_at))
        ended = "running" if r.ended_at is None else "ended"
        print(f"{r.id}  {started}  {r.arc:<12} {r.client_id or '-':<11} {ended}")
    return 0


def cmd_export(args: argparse.Namespace, opener: Opener) -> int:
    _, store = opener(args)
    with store:
        exported = store.export_session(args.id, by=_by(args))
    if export_json(exported, args.out):
        print(f"session {args.id} exported to {args.out} ({len(exported['events'])} events)")
    return 0


def cmd_record(args: argparse.Namespace, opener: Opener) -> int:
    from roomctl.cli.commands import room_clock
    from roomctl.record import build_record, record_html, record_json, session_prefs

    lib, store = opener(args)
    with store:
        record = build_record(
            store, lib, args.id, client_copy=args.client_copy, now=room_clock(lib).now()
        )
        prefs = session_prefs(store, record)  # the picture's arc as planned for the client
        what = {"client_copy": args.client_copy, "html": bool(args.html), "json": bool(args.json)}
        store.audit(_by(args), "export_record", record.session_id, what)
    copy = "the client's copy of " if args.client_copy else ""
    if args.json:
        write_private(Path(args.json), record_json(record))
        print(f"{copy}session {record.session_id}'s record written to {args.json} (JSON)")
    if args.html:
        write_private(Path(args.html), record_html(record, lib, prefs=prefs))
        print(f"{copy}session {record.session_id}'s record written to {args.html} (HTML)")
    if not args.json and not args.html:
        from roomctl.record.text import record_text

        print(record_text(record))
    return 0


def cmd_purge(args: argparse.Namespace, opener: Opener) -> int:
    what = (
        f"every session that ended more than {args.older_than:g} days ago (and sessions "
        "abandoned that long), with their events and notes, for good"
    )
    if not args.yes and not confirm(
        f"Delete {what}?", f"purge deletes {what}; add --yes to confirm"
    ):
        print("nothing deleted")
        return 1
    _, store = opener(args)
    with store:
        ids = store.purge_sessions(args.older_than * 86400.0, by=_by(args))
    print(f"purged {len(ids)} session{'s' if len(ids) != 1 else ''}")
    for sid in ids:
        print(f"  {sid}")
    return 0


def _print_status(control: SessionControl, as_json: bool) -> None:
    from roomctl.control.status import format_status

    print(format_status(control, as_json))


def register_session(
    sub: SubParsers, config: argparse.ArgumentParser, opener: Opener
) -> None:
    """`roomctl session VERB …`; `config` is the shared parent parser with --config."""
    by = argparse.ArgumentParser(add_help=False)
    by.add_argument("--by", metavar="NAME", help="who gives the command (default: your login)")
    sess = sub.add_parser(
        "session",
        help="start, steer, show, list or export the room's sessions",
        description="Start, steer and show the room's session; list, export or purge stored "
        "sessions.  Each command has its own help: roomctl session COMMAND --help.",
    )
    verbs = sess.add_subparsers(dest="verb", required=True, metavar="COMMAND")

    def verb(name: str, help_text: str, handler: Callable[..., int]) -> argparse.ArgumentParser:
        p = verbs.add_parser(name, help=help_text, description=help_text, parents=[config, by])
        p.set_defaults(handler=lambda a: handler(a, opener))
        return p

    start = verb("start", "start a session of an arc in the room", cmd_start)
    start.add_argument("arc", metavar="ARC", nargs="?", help="arc name, e.g. psilocybin")
    start.add_argument("--client", metavar="ID", help="client id (uses their latest preferences)")
    start.add_argument(
        "--without-preferences",
        action="store_true",
        help="run without the client's preferences, e.g. when the stored ones do not "
        "validate (recorded in the session)",
    )
    status = verb("status", "show where the session is and what the room should show", cmd_status)
    status.add_argument("--json", action="store_true", help="print JSON")
    for name, (_, help_text) in PLAIN_VERBS.items():
        verb(name, help_text, cmd_steer)
    verb("extend", "make the current phase longer", cmd_steer).add_argument(
        "minutes", metavar="MIN", type=_minutes, help="minutes to add (1-240)"
    )
    verb("jump", "start a named phase now", cmd_steer).add_argument(
        "phase", metavar="PHASE", help="phase name"
    )
    verb("cue", "put a cue scene (talk, break, check-in, …) over the arc", cmd_steer).add_argument(
        "name", metavar="NAME", help="cue scene name"
    )
    verb(
        "supplemental",
        "record the supplemental dose given now (MDMA): a short, gentle cue runs and ends by "
        "itself; the arc and the music carry on",
        cmd_steer,
    )
    mark = verb(
        "mark",
        "record a named moment now; a marker of the arc with a cue runs that cue",
        cmd_steer,
    )
    mark.add_argument("name", metavar="NAME", nargs="+", help="the moment (words are joined)")
    mark.add_argument("--cue", metavar="SCENE", help="run this cue scene for --minutes")
    mark.add_argument(
        "--minutes", type=_cue_minutes, default=10.0, metavar="MIN",
        help="how long --cue runs before it ends by itself (default 10)",
    )  # fmt: skip
    verb(
        "music",
        "pause the room's music (its volume fades down first) until it is resumed; resume it "
        "(the scene's music, its volume rising from silence); an emergency's clear never "
        "resumes paused music",
        cmd_steer,
    ).add_argument("action", choices=("pause", "resume"), help="pause or resume")
    note = verb("note", "add a note to the session record", cmd_steer)
    note.add_argument("text", metavar="TEXT", nargs="+", help="the note (words are joined)")
    note.add_argument(
        "--shareable",
        action="store_true",
        help="the client's own copy of the record may show it (staff notes stay out otherwise)",
    )
    set_ = verb("set", "set one channel of a device by hand (until the phase ends)", cmd_steer)
    set_.add_argument("device", metavar="DEVICE", help="device id")
    set_.add_argument("channel", metavar="CHANNEL", choices=CHANNELS, help=", ".join(CHANNELS))
    set_.add_argument("value", metavar="VALUE", type=_value, help="a number, or true/false")

    lst = verb("list", "list stored sessions, newest first", cmd_list)
    lst.add_argument("--limit", type=int, default=50, metavar="N", help="at most N (default 50)")
    lst.add_argument("--json", action="store_true", help="print JSON")
    export = verb("export", "export a session and its events as JSON", cmd_export)
    export.add_argument("id", metavar="ID", help="session id (see session list)")
    export.add_argument("--out", metavar="FILE", help="write to FILE (0600) instead of stdout")
    record = verb(
        "record",
        "a session's record: phases as they ran, cues, emergencies, notes, tracks, who did what",
        cmd_record,
    )
    record.add_argument("id", metavar="ID", help="session id (see session list)")
    record.add_argument("--html", metavar="FILE", help="write one self-contained page (0600)")
    record.add_argument("--json", metavar="FILE", help="write the record as JSON (0600)")
    record.add_argument(
        "--client-copy",
        action="store_true",
        help="the client's integration copy: only the notes marked shareable",
    )
    purge = verb("purge", "delete old sessions and their events for good", cmd_purge)
    purge.add_argument(
        "--older-than", type=_days, required=True, metavar="DAYS",
        help="sessions that ended more than DAYS days ago",
    )  # fmt: skip
    purge.add_argument("--yes", action="store_true", help="do not ask for confirmation")
