"""The `roomctl` command line.  Every failure is one readable message and a non-zero exit."""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from roomctl import __version__
from roomctl.cli.client_cli import preview_preferences
from roomctl.cli.commands import register
from roomctl.cli.init_cli import register_init
from roomctl.errors import ConfigError, RoomctlError
from roomctl.model.library import Library, find_config, load_library, load_preferences
from roomctl.model.prefs import NO_PREFERENCES
from roomctl.model.prefs_report import overrides

__all__ = ["main"]

Handler = Callable[[argparse.Namespace], int]
_NEGATIVE_TIME = re.compile(r"^-\d+(:\d\d)?$|^-\d*\.\d+$")
log = logging.getLogger("roomctl")


def _library(args: argparse.Namespace) -> Library:
    return load_library(find_config(args.config))


def cmd_check(args: argparse.Namespace) -> int:
    path = find_config(args.config)
    try:
        lib = load_library(path)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        for note in exc.notes:  # worth knowing, with the errors too
            print(f"note: {note}", file=sys.stderr)
        n = len(exc.problems)
        print(f"\n{n} problem{'s' if n != 1 else ''} found; nothing was changed.", file=sys.stderr)
        return 1
    for note in lib.notes:
        print(f"note: {note}")
    print(
        f"{path}: ok — room {lib.room.room.id!r}, {len(lib.room.devices)} devices, "
        f"{len(lib.scenes)} scenes, {len(lib.arcs)} arcs"
    )
    return 0


def cmd_preview(args: argparse.Namespace) -> int:
    from roomctl.preview import rows as pv
    from roomctl.timeline.fold import Timeline

    lib = _library(args)
    arc = lib.arc(args.arc)
    prefs = load_preferences(Path(args.prefs)) if args.prefs else NO_PREFERENCES
    client, version = None, None
    if args.client:
        client, version, prefs = preview_preferences(args)
    found = overrides(prefs, lib.room.safety, arc)
    timeline = Timeline(lib.room, arc, lib.scenes, pv.start_events(arc), prefs)
    times = pv.parse_times(args.at) if args.at else pv.default_times(arc)
    rows = pv.preview(timeline, times)
    if args.svg:
        from roomctl.preview.svg import render_svg

        end = arc.nominal_end if arc.nominal_end is not None else times[-1]
        svg = render_svg(
            timeline,
            pv.PREVIEW_T0 + arc.starts_at,
            pv.PREVIEW_T0 + end,
            title=arc.title or arc.name,
        )
        Path(args.svg).write_text(svg, encoding="utf-8")
    table = pv.as_json(lib.room, rows)
    if args.json and (args.prefs or args.client):  # with preferences: what the limits override
        print(json.dumps({"client": client, "preferences_version": version,
                          "overrides": found, "rows": table}, indent=2))  # fmt: skip
    elif args.json:
        print(json.dumps(table, indent=2))
    else:
        print(pv.as_text(arc, rows))
        if found:
            print("\nThe room's limits override some of the client's choices:")
            print("\n".join(f"  - {sentence}" for sentence in found))
        if args.svg:
            print(f"\nArc drawn to {args.svg}")
    return 0


class Parser(argparse.ArgumentParser):
    """argparse, with a usage error as one line that says where to find help."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = Parser(
        prog="roomctl", description="Session-room controller: light, music and temperature."
    )
    # --config for every command, given after the command: roomctl session hold --config FILE
    config = argparse.ArgumentParser(add_help=False)
    config.add_argument(
        "--config", metavar="FILE", help="the room's config file (default: $ROOMCTL_CONFIG, "
        "./config.yaml or /etc/roomctl/config.yaml)"
    )
    parser.add_argument("--version", action="version", version=f"roomctl {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text, parents=[config])
        p.set_defaults(handler=handler)
        return p

    add("check", cmd_check, "validate the configuration, every scene and every arc")

    pre = add("preview", cmd_preview, "show what the room would be like through an arc")
    pre.add_argument("arc", metavar="ARC", help="arc name, e.g. psilocybin")
    who = pre.add_mutually_exclusive_group()
    who.add_argument("--prefs", metavar="FILE", help="client preferences (YAML)")
    who.add_argument("--client", metavar="ID", help="a stored client's latest preferences")
    pre.add_argument(
        "--at", metavar="H:MM", nargs="+", action="extend",
        help="times from the dose (repeat the flag or list them; -0:30 is before the dose)",
    )  # fmt: skip
    # "-0:20" is a time, not an option (argparse only knows negative numbers)
    pre._negative_number_matcher = _NEGATIVE_TIME
    pre.add_argument("--json", action="store_true", help="print JSON")
    pre.add_argument("--svg", metavar="FILE", help="draw the arc to an SVG file")

    register(sub, config)  # run, demo, apply, session, user
    register_init(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        # The daemon logs what it does; one-shot commands speak only through their output.
        level=logging.DEBUG
        if args.verbose
        else logging.INFO
        if args.command == "run"
        else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        code: int = args.handler(args)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"roomctl: {problem}", file=sys.stderr)
        return 2
    except RoomctlError as exc:
        print(f"roomctl: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stderr.close()
        return 0
    except OSError as exc:
        print(f"roomctl: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
