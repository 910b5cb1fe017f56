"""The install script as far as a container allows: `--dry-run` prints every step and changes
nothing; a real run under `--root DIR` builds the virtual environment from the wheel, puts the
config and scenes in DIR/etc/roomctl and the units in place, and only prints what needs the real
system (apt, useradd, chown, systemctl).  Run again it keeps the config, reuses the environment,
and backs the database up before the upgrade.  The unit files pass systemd's own checks."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from roomctl.clock import SystemClock
from roomctl.store.store import Store

ROOT = Path(__file__).resolve().parent.parent
INSTALL = ROOT / "systemd" / "install.sh"


def sh(
    *argv: str | Path, timeout: float = 600, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in argv], check=False, capture_output=True, text=True, timeout=timeout,
        cwd=cwd,
    )  # fmt: skip


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    out = tmp_path_factory.mktemp("dist")
    built = sh(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", out, ROOT)
    assert built.returncode == 0, built.stderr
    (found,) = out.glob("roomctl-*.whl")
    yield found


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*")) if folder.exists() else []


def test_the_units_pass_systemd_analyze_verify_and_security() -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not on this machine")
    result = sh(ROOT / "systemd" / "check-units.sh", timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("verify clean") == 2, result.stdout


def test_bad_arguments_are_one_clear_line(tmp_path: Path) -> None:
    no_wheel = sh(INSTALL, "--dry-run")
    assert no_wheel.returncode == 2 and "which wheel?" in no_wheel.stderr
    missing = sh(INSTALL, "--wheel", tmp_path / "nope.whl", "--dry-run")
    assert missing.returncode == 2 and "no wheel at" in missing.stderr
    odd = sh(INSTALL, "--wheel", tmp_path / "nope.whl", "--frobnicate")
    assert odd.returncode == 2 and "unknown option --frobnicate" in odd.stderr


def test_a_dry_run_prints_every_step_and_changes_nothing(wheel: Path, tmp_path: Path) -> None:
    root = tmp_path / "pi"
    result = sh(INSTALL, "--wheel", wheel, "--root", root, "--dry-run", "--room", "room-2")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    steps = [
        "venv", f"pip install -q --disable-pip-version-check --upgrade {wheel}", "roomctl init",
        "roomctl@.service", "systemd-time-wait-sync", "enable --now roomctl@room-2.service",
        "dry run: nothing was changed",
    ]  # fmt: skip
    for step in steps:
        assert step in out, (step, out)
    assert files_under(root) == []


def test_a_real_install_under_a_root_and_an_upgrade_that_keeps_the_database(
    wheel: Path, tmp_path: Path
) -> None:
    root = tmp_path / "pi"
    first = sh(INSTALL, "--wheel", wheel, "--root", root)
    assert first.returncode == 0, first.stdout + first.stderr
    venv = root / "opt/roomctl/venv"
    assert (venv / "bin/roomctl").exists()
    where = "import roomctl; print(roomctl.__file__)"
    installed = sh(venv / "bin/python", "-c", where, cwd=tmp_path)
    assert str(venv) in installed.stdout  # from the wheel, not this checkout
    config = root / "etc/roomctl/config.yaml"
    assert "storage: {path: /var/lib/roomctl/roomctl.db}" in config.read_text()
    assert (root / "etc/roomctl/scenes/arcs/psilocybin.yaml").exists()
    units = root / "etc/systemd/system"
    assert (units / "roomctl.service").read_text() == (ROOT / "systemd/roomctl.service").read_text()
    assert (units / "roomctl@.service").exists()
    assert "(--root: not run) systemctl enable --now roomctl.service" in first.stdout
    assert "ok — room" in first.stdout

    # the room runs for a while: a database with a session in it; the config is edited
    state = root / "var/lib/roomctl"
    with Store.open(state / "roomctl.db", SystemClock()) as store:
        session = store.create_session("room-1", "psilocybin", by="ana")
    config.write_text(config.read_text() + "# edited by the clinic\n")

    second = sh(INSTALL, "--wheel", wheel, "--root", root)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "exists already" in second.stdout  # the environment is reused
    assert config.read_text().endswith("# edited by the clinic\n")
    (backup,) = (state / "backups").glob("roomctl-*.db")
    assert backup.stat().st_mode & 0o777 == 0o600
    with sqlite3.connect(backup) as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM sessions")]
    assert ids == [session]
    assert "(--root: not run) systemctl restart roomctl.service" in second.stdout
