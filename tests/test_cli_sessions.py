"""`roomctl session list | export | purge` and starting with or without a client's preferences,
through the command line (in-process and as a real process)."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from roomctl.cli.main import main
from roomctl.clock import SystemClock
from roomctl.store.store import Store

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config.example.yaml"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def cli(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`python -m roomctl ARGV` as a user would run it, without a terminal."""
    env = {k: v for k, v in os.environ.items() if k != "ROOMCTL_CONFIG"}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(  # noqa: PLW1510 - the exit code is asserted by the caller
        [sys.executable, "-m", "roomctl", *argv],
        cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=60, start_new_session=True,
    )  # fmt: skip


@pytest.fixture(autouse=True)
def _no_env_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ROOMCTL_CONFIG", raising=False)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    shutil.copy(EXAMPLE, path)
    return path


def db_of(config: Path) -> Path:
    return config.parent / "roomctl.db"


def ended_session(capsys: pytest.CaptureFixture[str], config: Path) -> str:
    cfg = ("--config", str(config), "--by", "alice")
    code, out, err = run(capsys, "session", "start", "psilocybin", *cfg)
    assert code == 0, err
    sid = out.split()[1]
    assert run(capsys, "session", "note", "client", "resting", *cfg)[0] == 0
    assert run(capsys, "session", "end", *cfg)[0] == 0
    return sid


def test_list_and_export_a_session(
    capsys: pytest.CaptureFixture[str], config: Path, tmp_path: Path
) -> None:
    sid = ended_session(capsys, config)
    code, out, _ = run(capsys, "session", "list", "--config", str(config))
    assert code == 0
    (line,) = out.splitlines()
    assert line.startswith(sid) and "psilocybin" in line and line.endswith("ended")
    code, out, _ = run(capsys, "session", "list", "--json", "--config", str(config))
    assert [s["id"] for s in json.loads(out)] == [sid]

    target = tmp_path / "export.json"
    old = os.umask(0o022)
    try:
        code, out, err = run(
            capsys, "session", "export", sid, "--out", str(target), "--config", str(config)
        )
    finally:
        os.umask(old)
    assert code == 0, err
    assert out == f"session {sid} exported to {target} (3 events)\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600  # health data
    exported = json.loads(target.read_text(encoding="utf-8"))
    assert exported["format"] == "roomctl-session/1"
    assert exported["session"]["id"] == sid
    assert [(e["kind"], e["data"]) for e in exported["events"]] == [
        ("start", {"arc": "psilocybin"}),
        ("note", {"text": "client resting"}),
        ("end", {}),
    ]


def test_export_to_stdout_as_a_process(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    sid = ended_session(capsys, config)
    done = cli("session", "export", sid, "--config", str(config), cwd=config.parent)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["events"][1]["data"] == {"text": "client resting"}
    done = cli("session", "export", "s-nope", "--config", str(config), cwd=config.parent)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == "roomctl: no session 's-nope'\n"


def test_purge_asks_for_confirmation_then_deletes(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    sid = ended_session(capsys, config)
    cfg = ("--config", str(config))
    done = cli("session", "purge", "--older-than", "0", *cfg, cwd=config.parent)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "add --yes to confirm" in done.stderr
    with Store.open(db_of(config), SystemClock()) as store:
        assert [s.id for s in store.list_sessions()] == [sid]
    done = cli("session", "purge", "--older-than", "0", "--yes", *cfg, cwd=config.parent)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"purged 1 session\n  {sid}\n"
    code, out, _ = run(capsys, "session", "list", *cfg)
    assert (code, out) == (0, "no sessions stored\n")


def test_start_refuses_invalid_stored_preferences_unless_told_to_go_without(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    with Store.open(db_of(config), SystemClock()) as store:
        cid = store.create_client()
    conn = sqlite3.connect(db_of(config), isolation_level=None)
    conn.execute(  # a record written behind roomctl's back: one misspelt key
        "INSERT INTO preferences VALUES (?, 1, '{\"volum_max\": 30}', 0, 'shell')", (cid,)
    )
    conn.close()
    cfg = ("--config", str(config))
    code, out, err = run(capsys, "session", "start", "psilocybin", "--client", cid, *cfg)
    assert (code, out) == (2, "")
    assert err == (
        f"roomctl: client {cid}: stored preferences v1 do not validate: unknown field "
        "'volum_max'; fix them, or start without preferences (--without-preferences)\n"
    )
    code, out, err = run(
        capsys, "session", "start", "psilocybin", "--client", cid, "--without-preferences", *cfg
    )
    assert code == 0, err
    with Store.open(db_of(config), SystemClock()) as store:
        (row,) = store.list_sessions()
        (start,) = store.events(row.id)
    assert row.client_id == cid
    assert start.data == {"arc": "psilocybin", "without_preferences": True}
