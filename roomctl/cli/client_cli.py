"""`roomctl client …`: clients (pseudonymous ids) and their preferences from the command line.

The work is done by the store (`Store.create_client`, `save_preferences` with a `Consent`,
`preference_history`, `export_client`, `delete_client`) and the model (`load_preferences`,
`prefs_report.overrides`), which the web pages call too; this module asks, confirms and prints.
"""

from __future__ import annotations

import argparse
import getpass
import json
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from roomctl.cli.output import confirm, export_json
from roomctl.errors import RoomctlError
from roomctl.model.library import Library, load_preferences
from roomctl.model.prefs import Preferences
from roomctl.model.prefs_report import overrides_for_arcs, summary
from roomctl.store.clients import DEFAULT_CONSENT_SCOPE, Consent, PreferenceVersion
from roomctl.store.store import Store

if TYPE_CHECKING:

    SubParsers = argparse._SubParsersAction[argparse.ArgumentParser]

__all__ = ["preview_preferences", "register_clients"]

Opener = Callable[[argparse.Namespace], tuple[Library, Store]]

MAX_LABEL_LEN = 80
# "Jane Doe", "Anne-Marie O'Neil": two or more capitalised words read like a person's name.
_NAME_LIKE = re.compile(r"[A-ZÀ-Þ][a-zà-ÿ'’]+(?:[ -][A-ZÀ-Þ][a-zà-ÿ'’]+)+")
LABEL_WARNING = (
    "the label is seen by staff and kept in the database: never a client's real name; use "
    "initials, a room or a booking code"
)


def _by(args: argparse.Namespace) -> str:
    return str(args.by or getpass.getuser())


def _when(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(t))


def _live(store: Store, client_id: str) -> str | None:
    """The client's label; StoreError if there is no such client (or it was deleted)."""
    return store.live_client(client_id).label


def _print_overrides(found: list[str]) -> None:
    if not found:
        return
    print("The room's limits override some of these choices:")
    for sentence in found:
        print(f"  - {sentence}")


# -------------------------------------------------------------------------------- commands


def cmd_add(args: argparse.Namespace, opener: Opener) -> int:
    label = args.label
    if label is not None:
        label = " ".join(label.split())
        if not label:
            raise RoomctlError("--label is empty; leave it out for no label")
        if len(label) > MAX_LABEL_LEN:
            raise RoomctlError(f"--label is {len(label)} characters; keep it to {MAX_LABEL_LEN}")
    _, store = opener(args)
    with store:
        cid = store.create_client(label, by=_by(args))
    print(cid)
    if label is not None and _NAME_LIKE.search(label):
        print(f"warning: label {label!r} looks like a name; {LABEL_WARNING}", file=sys.stderr)
    return 0


def cmd_list(args: argparse.Namespace, opener: Opener) -> int:
    _, store = opener(args)
    with store:
        rows = [(c, store.preference_versions(c.id)) for c in store.list_clients()]
    if args.json:
        print(json.dumps([
            {"id": c.id, "label": c.label, "created_at": c.created_at,
             "preferences_version": v[-1].version if v else None}
            for c, v in rows
        ], indent=2, ensure_ascii=False))  # fmt: skip
        return 0
    if not rows:
        print("no clients stored")
    for c, versions in rows:
        version = f"v{versions[-1].version}" if versions else "-"
        print(f"{c.id}  {_when(c.created_at)}  prefs {version:<4} {c.label or ''}".rstrip())
    return 0


def _history_line(h: PreferenceVersion) -> str:
    line = f"  v{h.version:<3} {_when(h.created_at)}  by {h.created_by}"
    if h.consent is None:
        return line + "; no consent recorded"
    return line + f"; consent recorded by {h.consent.recorded_by}: {h.consent.scope}"


def cmd_prefs(args: argparse.Namespace, opener: Opener) -> int:
    if args.set is not None:
        return _set_prefs(args, opener)
    if args.consent is not None:
        raise RoomctlError("--consent goes with --set FILE")
    lib, store = opener(args)
    with store:
        _live(store, args.id)
        current = store.preferences(args.id)
        history = store.preference_history(args.id)
    arcs = [lib.arc(args.arc)] if args.arc else list(lib.arcs.values())
    found = [] if current is None else overrides_for_arcs(current[1], lib.room.safety, arcs)
    if args.json:
        print(json.dumps({
            "client": args.id,
            "version": None if current is None else current[0],
            "preferences": None if current is None
            else current[1].model_dump(mode="json", exclude_defaults=True),
            "overrides": found,
            "history": [
                {"version": h.version, "created_at": h.created_at, "created_by": h.created_by,
                 "consent": None if h.consent is None else h.consent.to_json()}
                for h in history
            ],
        }, indent=2, ensure_ascii=False))  # fmt: skip
        return 0
    if current is None:
        print(f"client {args.id} has no preferences stored "
              f"(set them with: roomctl client prefs {args.id} --set FILE)")  # fmt: skip
        return 0
    version, prefs = current
    print(f"client {args.id}: preferences v{version} in use")
    print("  " + ("; ".join(summary(prefs)) or "no choices (the scenes as they are)"))
    if prefs.notes:
        print(f"  notes: {prefs.notes}")
    _print_overrides(found)
    print("history:")
    for h in history:
        print(_history_line(h))
    return 0


def _set_prefs(args: argparse.Namespace, opener: Opener) -> int:
    path = Path(args.set)
    prefs = load_preferences(path)  # ConfigError: file, line and field
    if prefs.client is not None and prefs.client != args.id:
        raise RoomctlError(
            f"{path}: client: the file is for {prefs.client!r}, not {args.id}; "
            "fix it or leave the field out"
        )
    by = _by(args)
    lib, store = opener(args)
    with store:
        _live(store, args.id)
        arcs = [lib.arc(args.arc)] if args.arc else list(lib.arcs.values())
        found = overrides_for_arcs(prefs, lib.room.safety, arcs)
        scope = args.consent
        if scope is None:
            if sys.stdin.isatty():  # the client hears what will not be followed, then agrees
                _print_overrides(found)
                found = []
            question = (
                f"Has client {args.id} consented to: {DEFAULT_CONSENT_SCOPE}?\n"
                f"(recorded by {by}; give another scope with --consent TEXT)"
            )
            refusal = (
                f"client prefs --set needs the client's consent: add --consent (or --consent "
                f"TEXT saying what {args.id} agreed to), or run it at a terminal to confirm"
            )
            if not confirm(question, refusal):
                print("nothing saved: no consent")
                return 1
            scope = DEFAULT_CONSENT_SCOPE
        version = store.save_preferences(args.id, prefs, by, consent=Consent(by, scope))
        (saved,) = [h for h in store.preference_history(args.id) if h.version == version]
    assert saved.consent is not None
    print(f"client {args.id}: preferences v{version} saved")
    print(f"  consent recorded by {saved.consent.recorded_by}: {saved.consent.scope}")
    _print_overrides(found)
    return 0


def cmd_export(args: argparse.Namespace, opener: Opener) -> int:
    _, store = opener(args)
    with store:
        exported = store.export_client(args.id, by=_by(args))
    if not export_json(exported, args.out):
        return 0
    n = len(exported["preferences"])
    print(f"client {args.id} exported to {args.out} ({n} preference version{'s' * (n != 1)})")
    return 0


def cmd_delete(args: argparse.Namespace, opener: Opener) -> int:
    _, store = opener(args)
    with store:
        label = _live(store, args.id)
        n = len(store.preference_versions(args.id))
        what = (
            f"client {args.id}{f' ({label})' if label else ''}: its label and {n} preference "
            f"version{'s' * (n != 1)} with their consent records, for good (sessions and the "
            "audit log keep the id only)"
        )
        if not args.yes and not confirm(
            f"Delete {what}?", f"client delete removes {what}; add --yes to confirm"
        ):
            print("nothing deleted")
            return 1
        store.delete_client(args.id, by=_by(args))
    print(f"client {args.id} deleted")
    return 0


# ------------------------------------------------------- used by preview and session status


def preview_preferences(args: argparse.Namespace) -> tuple[str, int, Preferences]:
    """(client id, version, preferences): the latest stored for `args.client`."""
    from roomctl.cli.commands import _open

    _, store = _open(args)
    with store:
        _live(store, args.client)
        found = store.preferences(args.client)
    if found is None:
        raise RoomctlError(f"client {args.client} has no preferences stored")
    return args.client, found[0], found[1]


# ------------------------------------------------------------------------------ arguments


def register_clients(sub: SubParsers, config: argparse.ArgumentParser, opener: Opener) -> None:
    """`roomctl client VERB …`; `config` is the shared parent parser with --config."""
    by = argparse.ArgumentParser(add_help=False)
    by.add_argument("--by", metavar="NAME", help="the staff member acting (default: your login)")
    client = sub.add_parser(
        "client",
        help="add, list, export or delete clients; set and show their preferences",
        description="Clients are pseudonymous ids; their preferences are stored as versions, "
        "each with the client's consent.  Each command has its own help: "
        "roomctl client COMMAND --help.",
    )
    verbs = client.add_subparsers(dest="verb", required=True, metavar="COMMAND")

    def verb(name: str, help_text: str, handler: Callable[..., int]) -> argparse.ArgumentParser:
        p = verbs.add_parser(name, help=help_text, description=help_text, parents=[config, by])
        p.set_defaults(handler=lambda a: handler(a, opener))
        return p

    add = verb("add", "add a client and print their new pseudonymous id", cmd_add)
    add.add_argument("--label", metavar="TEXT", help=f"a note for staff: {LABEL_WARNING}")
    lst = verb("list", "list clients, oldest first", cmd_list)
    lst.add_argument("--json", action="store_true", help="print JSON")

    prefs = verb("prefs", "show a client's preferences and their history, or set new ones",
                 cmd_prefs)  # fmt: skip
    prefs.add_argument("id", metavar="ID", help="client id (see client list)")
    prefs.add_argument("--set", metavar="FILE", help="store FILE (YAML) as the next version")
    prefs.add_argument(
        "--consent", metavar="TEXT", nargs="?", const=DEFAULT_CONSENT_SCOPE,
        help="the client has consented (with --set); TEXT says to what (default: "
        f"{DEFAULT_CONSENT_SCOPE!r}).  Without it roomctl asks at a terminal",
    )  # fmt: skip
    prefs.add_argument(
        "--arc", metavar="ARC", help="say what the limits override in this arc (default: any)"
    )
    prefs.add_argument("--json", action="store_true", help="print JSON (when showing)")

    export = verb("export", "print everything stored about a client as JSON", cmd_export)
    export.add_argument("id", metavar="ID", help="client id")
    export.add_argument("--out", metavar="FILE", help="write to FILE (0600) instead of stdout")

    delete = verb("delete", "delete a client's label and preferences (asks first)", cmd_delete)
    delete.add_argument("id", metavar="ID", help="client id")
    delete.add_argument("--yes", action="store_true", help="do not ask for confirmation")
