"""Where the configuration is looked for.  Light on purpose (standard library only): the command
line's hand-off to a running daemon uses it before anything heavy is imported."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["config_candidates"]


def config_candidates(explicit: str | None) -> list[Path]:
    """The config file to use, in order: --config, $ROOMCTL_CONFIG, ./config.yaml,
    /etc/roomctl/config.yaml (the first two are taken as given, the others if they exist)."""
    if explicit:
        return [Path(explicit)]
    env = os.environ.get("ROOMCTL_CONFIG")
    if env:
        return [Path(env)]
    return [p for p in (Path("config.yaml"), Path("/etc/roomctl/config.yaml")) if p.exists()]
