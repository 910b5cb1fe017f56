"""Small defects a new user met: `preview --at` with the flag repeated, a list of times and a
time before the dose; `check` printing its notes when it also finds errors; `roomctl init`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from roomctl.cli.init_cli import copy_library
from roomctl.model.library import PACKAGE_SCENES, load_library

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config.example.yaml"


def roomctl(*argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "roomctl", *argv],
        check=False, capture_output=True, text=True, timeout=60, cwd=cwd,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip


def test_preview_takes_repeated_flags_lists_and_times_before_the_dose() -> None:
    result = roomctl("preview", "psilocybin", "--config", str(EXAMPLE),
                     "--at", "-0:20", "0:00", "--at", "0:30", "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert [row["at"] for row in json.loads(result.stdout)] == ["-0:20", "0:00", "0:30"]
    alone = roomctl("preview", "psilocybin", "--config", str(EXAMPLE), "--at", "-0:20")
    assert alone.returncode == 0 and "-0:20" in alone.stdout, alone.stderr
    bad = roomctl("preview", "psilocybin", "--config", str(EXAMPLE), "--at", "half past")
    assert bad.returncode == 2 and "--at half" in bad.stderr and "Traceback" not in bad.stderr


def test_check_prints_its_notes_beside_the_errors(tmp_path: Path) -> None:
    copy_library(tmp_path)
    scenes = tmp_path / "scenes"
    (scenes / "porch.yaml").write_text(  # a zone no device of this room is in: a note
        "name: porch\nlights: {porchlight: {on: true, brightness_pct: 20}}\n", encoding="utf-8"
    )
    (scenes / "broken.yaml").write_text(  # a field that does not exist: an error
        "name: broken\nlights: {lamp: {brightnes_pct: 20}}\n", encoding="utf-8"
    )
    result = roomctl("check", "--config", str(tmp_path / "config.yaml"))
    assert result.returncode == 1
    assert "brightnes_pct" in result.stderr
    assert "note:" in result.stderr and "'porchlight' has no device" in result.stderr
    (scenes / "broken.yaml").unlink()
    ok = roomctl("check", "--config", str(tmp_path / "config.yaml"))
    assert ok.returncode == 0 and "'porchlight' has no device" in ok.stdout, ok.stderr


def test_init_copies_the_packaged_library_and_keeps_what_exists(tmp_path: Path) -> None:
    target = tmp_path / "etc-roomctl"
    result = roomctl("init", str(target), "--storage", "/var/lib/roomctl/roomctl.db")
    assert result.returncode == 0, result.stderr
    shipped = sorted(p.relative_to(PACKAGE_SCENES) for p in PACKAGE_SCENES.rglob("*.yaml"))
    copied = sorted(p.relative_to(target / "scenes") for p in (target / "scenes").rglob("*.yaml"))
    assert copied == shipped and shipped
    lib = load_library(target / "config.yaml")
    assert lib.room.storage.path == "/var/lib/roomctl/roomctl.db"
    assert set(lib.arcs) >= {"psilocybin", "mdma"}

    (target / "config.yaml").write_text("# edited\n" + (target / "config.yaml").read_text())
    (target / "scenes" / "calm.yaml").unlink()
    again = roomctl("init", str(target))
    assert again.returncode == 0 and "1 files written" in again.stdout, again.stdout
    assert (target / "config.yaml").read_text().startswith("# edited")
    assert (target / "scenes" / "calm.yaml").exists()
    not_a_folder = roomctl("init", str(target / "config.yaml"))
    assert not_a_folder.returncode == 2 and "is not a folder" in not_a_folder.stderr
