"""The command-line tests' shared pieces: `roomctl` in process and as a real process, editing a
copied config, and the config fixtures (registered for every test in tests/conftest.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from roomctl.cli.main import main

ROOT = Path(__file__).resolve().parent.parent


EXAMPLE = ROOT / "config.example.yaml"
DEVICE_IDS = ["lamp", "strip", "ceiling", "speakers", "radiator"]  # the example room's


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def cli(*argv: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m roomctl.cli.main ARGV` as a user would run it (no terminal, no ROOMCTL_CONFIG)."""
    env = {k: v for k, v in os.environ.items() if k != "ROOMCTL_CONFIG"}
    env["PYTHONPATH"] = str(ROOT)  # the code under test, not some other installed copy
    return subprocess.run(  # noqa: PLW1510 - the exit code is asserted by the caller
        [sys.executable, "-m", "roomctl", *argv],
        cwd=cwd,
        env=env,
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        start_new_session=True,  # no controlling terminal: getpass cannot open /dev/tty
    )


def edit(path: Path, old: str, new: str) -> int:
    """Replace the one occurrence of `old`; return the (1-based) line where it was."""
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} should occur once in {path}"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return text.count("\n", 0, text.index(old)) + 1


def one_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got:\n{err}"
    return lines[0]


@pytest.fixture(autouse=True)
def _no_env_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ROOMCTL_CONFIG", raising=False)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A copy of config.example.yaml (scenes come from the package; the db lands in tmp_path)."""
    path = tmp_path / "config.yaml"
    shutil.copy(EXAMPLE, path)
    return path


@pytest.fixture
def quick_config(config: Path) -> Path:
    """The example config with no minimum fades, so `session status` shows a change at once."""
    edit(config, "min_fade: {light_s: 30, audio_s: 5}", "min_fade: {light_s: 0, audio_s: 0}")
    return config
