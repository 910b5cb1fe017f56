"""Helpers for the fault tests (tests/test_faults_*.py): a demo-room config with changes, and a
small real file system (tmpfs) that can be filled or made read-only."""

from __future__ import annotations

import contextlib
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from roomctl.sim.demo import DemoRoom

DEVICE_TIMEOUT_S = 1.0


def write_config(room: DemoRoom, path: Path, **changes: Any) -> Path:
    """The demo room's config with short device timeouts and `changes` merged in (one level)."""
    cfg = room.config()
    for dev in cfg["devices"]:
        if dev["driver"] in ("kasa", "sonos"):
            dev["timeout_s"] = DEVICE_TIMEOUT_S
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(cfg.get(key), dict):
            cfg[key] = {**cfg[key], **value}
        else:
            cfg[key] = value
    path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    return path


class SmallDisk:
    """A tmpfs of its own: `fill()` it (a full disk), `read_only()` it (a read-only disk)."""

    def __init__(self, where: Path) -> None:
        self.path = where

    def fill(self) -> None:
        filler = self.path / "filler"
        with contextlib.suppress(OSError), filler.open("ab") as f:  # its close may fail too
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        with contextlib.suppress(OSError), filler.open("ab") as f:  # the last bytes too
            for _ in range(65536):
                f.write(b"\0")
                f.flush()

    def free(self) -> None:
        (self.path / "filler").unlink(missing_ok=True)

    def read_only(self) -> None:
        _mount("-o", "remount,ro", str(self.path))

    def writable(self) -> None:
        _mount("-o", "remount,rw", str(self.path))


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True)


@contextlib.contextmanager
def small_disk(tmp_path: Path, size_kib: int = 1024) -> Iterator[SmallDisk]:
    """Mount a tmpfs (needs root; the test is skipped otherwise)."""
    where = tmp_path / f"disk-{uuid.uuid4().hex[:6]}"
    where.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small file system needs root")
    try:
        _mount("-t", "tmpfs", "-o", f"size={size_kib}k,mode=0755", "tmpfs", str(where))
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"cannot mount a tmpfs here: {exc}")
    try:
        yield SmallDisk(where)
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False, capture_output=True)


async def start(config: Path, clock: Any, **kwargs: Any) -> Any:
    """A daemon on `config` as tests/daemon_support.py starts one, with Daemon keyword arguments."""
    from tests.daemon_support import start_daemon

    return await start_daemon(config, clock, **kwargs)
