"""What the command line writes and asks: health data written owner-only, and a confirmation
that refuses (never guesses) without a terminal."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from roomctl.errors import RoomctlError

__all__ = ["confirm", "export_json", "write_private"]


def write_private(path: Path, text: str) -> None:
    """Write health data owner-only (0600), whatever the umask."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


def confirm(question: str, refusal: str) -> bool:
    """Ask `question` at a terminal; without one raise RoomctlError(`refusal`)."""
    if not sys.stdin.isatty():
        raise RoomctlError(refusal)
    try:
        answer = input(f"{question} [y/N] ")
    except EOFError:
        answer = ""
    return answer.strip().lower() in ("y", "yes")


def export_json(data: object, out: str | None) -> bool:
    """Health data as JSON: to stdout (False), or to the file `out`, owner-only (True)."""
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if out is None:
        sys.stdout.write(text)
        return False
    write_private(Path(out), text)
    return True
