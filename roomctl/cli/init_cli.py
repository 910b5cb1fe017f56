"""`roomctl init DIR`: the packaged example config and scene library, copied out for editing.

A wheel install carries the example config and the shipped scenes and arcs inside the package;
this puts them where a room's config lives (`/etc/roomctl` on a Pi), so they can be edited.
Files that exist are never overwritten (run it again after an upgrade to get new scenes);
`--storage PATH` writes the database path into the new config.
"""

from __future__ import annotations

import argparse
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from roomctl.errors import RoomctlError
from roomctl.model.library import EXAMPLE_CONFIG, PACKAGE_SCENES

if TYPE_CHECKING:
    SubParsers = argparse._SubParsersAction[argparse.ArgumentParser]

__all__ = ["copy_library", "register_init"]

_STORAGE = re.compile(r"^storage:.*$", re.MULTILINE)


def copy_library(target: Path, storage: str | None = None) -> tuple[list[Path], list[Path]]:
    """Copy config.yaml and scenes/ into `target`: (written, kept because they exist)."""
    if target.exists() and not target.is_dir():
        raise RoomctlError(f"{target} is not a folder")
    target.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    kept: list[Path] = []
    config = target / "config.yaml"
    if config.exists():
        kept.append(config)
    else:
        text = EXAMPLE_CONFIG.read_text(encoding="utf-8")
        if storage is not None:
            line = f"storage: {{path: {storage}}}"
            text = _STORAGE.sub(line, text) if _STORAGE.search(text) else f"{text}\n{line}\n"
        config.write_text(text, encoding="utf-8")
        written.append(config)
    for source in sorted(PACKAGE_SCENES.rglob("*.yaml")):
        dest = target / "scenes" / source.relative_to(PACKAGE_SCENES)
        if dest.exists():
            kept.append(dest)
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, dest)
        written.append(dest)
    return written, kept


def cmd_init(args: argparse.Namespace) -> int:
    target = Path(args.dir)
    written, kept = copy_library(target, args.storage)
    print(f"{target}: {len(written)} files written, {len(kept)} kept as they were")
    if target.joinpath("config.yaml") in written:
        print(f"next: edit {target / 'config.yaml'}, then roomctl check --config "
              f"{target / 'config.yaml'}")  # fmt: skip
    return 0


def register_init(sub: SubParsers) -> None:
    p = sub.add_parser(
        "init",
        help="copy the example config and the scene library into DIR for editing",
        description="Copy the packaged example config (config.yaml) and the shipped scenes and "
        "arcs (scenes/) into DIR.  Existing files are kept.",
    )
    p.add_argument("dir", metavar="DIR", help="the folder, e.g. /etc/roomctl")
    p.add_argument("--storage", metavar="PATH", help="the database path for a new config.yaml")
    p.set_defaults(handler=cmd_init)
