"""The command line's hand-off to a running daemon, over the daemon's command socket.

`roomctl session emergency` (and the other session commands without a value, `cue NAME`,
`session music pause|resume`, and `status`) are sent to the daemon, which acts at once and
answers with the status line: no waiting for the daemon to notice the store, no device or
pydantic code imported here.  When no daemon answers, `fast()` returns None and the ordinary
command line runs (through the store, then `poke()` tells a daemon that appears meanwhile to
look now).

Light on purpose: only the standard library, PyYAML (to find `storage.path`) and
roomctl.control.paths are imported before a command is handed off.
"""

from __future__ import annotations

import gc
import getpass
import json
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from roomctl.control.paths import config_candidates, socket_paths, store_path

__all__ = [
    "MUSIC_VERBS",
    "NO_VALUE_VERBS",
    "ONE_WORD_VERBS",
    "ask",
    "entry",
    "fast",
    "main",
    "poke",
]

# Session verbs that take no value, and the event kind each gives.
NO_VALUE_VERBS: dict[str, str] = {
    "hold": "hold",
    "resume": "resume",
    "advance": "advance",
    "step-back": "step_back",
    "dose": "dose",
    "emergency": "emergency_on",
    "clear-emergency": "emergency_clear",
    "end": "end",
    "cue-off": "cue_off",
}
# `session music pause|resume`: the event kind each gives.
MUSIC_VERBS: dict[str, str] = {"pause": "music_pause", "resume": "music_resume"}
# Session verbs that take one word (`cue talk`): the event kind and the payload's field.
ONE_WORD_VERBS: dict[str, tuple[str, str]] = {"cue": ("cue_on", "cue")}
CONNECT_TIMEOUT_S = 1.0
ANSWER_TIMEOUT_S = 10.0


def entry() -> int:
    """The `roomctl` command (and `python -m roomctl`).

    No cyclic garbage collection while the command starts: it would pass dozens of times over
    the hundred thousand objects the imports build (a fifth of the daemon's start-up) to find a
    few thousand of garbage.  A one-shot command ends before it matters; the daemon turns the
    collector back on once it serves (Daemon._serve)."""
    gc.disable()
    return main()


def main(argv: Sequence[str] | None = None) -> int:
    """Hand off when a daemon answers, else the full command line."""
    args = list(sys.argv[1:] if argv is None else argv)
    code = fast(args)
    if code is not None:
        return code
    from roomctl.cli.main import main as full

    return full(args)


def _parse(argv: list[str]) -> dict[str, Any] | None:
    """`session VERB [WORD] [--config F] [--by N] [--json]` for the verbs handed off; else
    None."""
    if len(argv) < 2 or argv[0] != "session":
        return None
    verb, rest = argv[1], argv[2:]
    found: dict[str, Any] = {"verb": verb, "kind": NO_VALUE_VERBS.get(verb), "config": None,
                             "by": None, "json": False}  # fmt: skip
    if verb == "music":
        if not rest or rest[0] not in MUSIC_VERBS:
            return None
        found["kind"] = MUSIC_VERBS[rest.pop(0)]
    elif verb in ONE_WORD_VERBS:
        if not rest or rest[0].startswith("-"):
            return None  # no word, or an option first: the full command line says what is wrong
        kind, field = ONE_WORD_VERBS[verb]
        found |= {"kind": kind, "data": {field: rest.pop(0)}}
    elif verb != "status" and found["kind"] is None:
        return None
    while rest:
        arg = rest.pop(0)
        name, eq, value = arg.partition("=")
        if name in ("--config", "--by"):
            if not eq:
                if not rest:
                    return None
                value = rest.pop(0)
            found[name[2:]] = value
        elif arg == "--json":
            found["json"] = True
        else:
            return None  # anything else: the full command line deals with it
    return found


def database(explicit: str | None) -> Path | None:
    """The session database the config names (None: no config, or one not readable here)."""
    candidates = config_candidates(explicit)
    if not candidates:
        return None
    config = candidates[0]
    try:
        import yaml

        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        data = yaml.load(config.read_text(encoding="utf-8"), Loader=loader)
    except (OSError, UnicodeError, yaml.YAMLError):
        return None
    storage = data.get("storage") if isinstance(data, dict) else None
    path = storage.get("path", "roomctl.db") if isinstance(storage, dict) else "roomctl.db"
    return store_path(config, path) if isinstance(path, str) else None


def ask(db: Path, request: dict[str, Any], timeout_s: float = ANSWER_TIMEOUT_S) -> dict[str, Any]:
    """Send one request to the daemon of `db`; its answer.  OSError when none answers."""
    problem: OSError = FileNotFoundError(f"no daemon socket for {db}")
    for path in socket_paths(db):
        if not path.exists():
            continue
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(CONNECT_TIMEOUT_S)
            try:
                sock.connect(str(path))
            except OSError as exc:
                problem = exc
                continue
            sock.settimeout(timeout_s)
            sock.sendall(json.dumps(request).encode() + b"\n")
            answer = b""
            while not answer.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    raise ConnectionError("the daemon closed the connection without an answer")
                answer += chunk
            result = json.loads(answer)
            if not isinstance(result, dict):
                raise ConnectionError("the daemon's answer is not a JSON object")
            return result
    raise problem


def poke(db: Path) -> bool:
    """Tell a running daemon that the store changed (it looks at once).  False: no daemon."""
    try:
        return bool(ask(db, {"op": "refresh"}, timeout_s=2.0).get("ok"))
    except (OSError, ValueError):
        return False


def fast(argv: list[str]) -> int | None:
    """Hand a session command to the running daemon; its exit code, or None (not handed off)."""
    parsed = _parse(argv)
    if parsed is None:
        return None
    db = database(parsed["config"])
    if db is None:
        return None
    if parsed["verb"] == "status":
        request: dict[str, Any] = {"op": "status", "json": parsed["json"]}
    else:
        by = parsed["by"] or getpass.getuser()
        request = {"op": "command", "kind": parsed["kind"], "by": by}
        if "data" in parsed:
            request["data"] = parsed["data"]
    try:
        answer = ask(db, request)
    except TimeoutError:
        print("roomctl: the daemon did not answer in time; using the store", file=sys.stderr)
        return None
    except (OSError, ValueError):
        return None  # no daemon: the full command line
    return report(answer)


def report(answer: dict[str, Any]) -> int:
    """Print a daemon's answer as the command line does; the exit code."""
    if not answer.get("ok"):
        error = answer.get("error") or "the daemon refused the command"
        print(f"roomctl: {error}", file=sys.stderr)
        return 2
    if answer.get("status"):
        print(answer["status"])
    if answer.get("recorded") is False:
        print(
            f"roomctl: done in the room, but not recorded yet: {answer.get('error')}; "
            "the daemon keeps trying",
            file=sys.stderr,
        )
    return 0
