"""`roomctl session record ID [--html FILE] [--json FILE] [--client-copy]` as a user runs it:
`python -m roomctl` in a process with no terminal, on a copy of the example config.  The files
are written 0600 (health data), the client's copy leaves the staff note out, the export is in
the audit log, and an unknown session is one line on stderr."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from roomctl.clock import SystemClock
from roomctl.store.store import Store
from tests.test_cli_sessions import cli, config, db_of  # noqa: F401 - `config` is a fixture

STAFF = "staff only: breathing fast at the peak"
SHARED = "you smiled at the sunrise colours"


@pytest.fixture
def session(config: Path) -> str:  # noqa: F811 - the fixture imported above
    cfg = ("--config", str(config), "--by", "alice")
    started = cli("session", "start", "psilocybin", *cfg, cwd=config.parent)
    assert started.returncode == 0, started.stderr
    sid = started.stdout.split()[1]
    for argv in (
        ("session", "note", *STAFF.split()),
        ("session", "note", *SHARED.split(), "--shareable"),
        ("session", "cue", "talk"),
        ("session", "advance"),
        ("session", "end"),
    ):
        done = cli(*argv, *cfg, cwd=config.parent)
        assert done.returncode == 0, (argv, done.stderr)
    return sid


def test_record_to_html_and_json(config: Path, session: str) -> None:  # noqa: F811
    html, data = config.parent / "record.html", config.parent / "record.json"
    old = os.umask(0o022)
    try:
        done = cli(
            "session", "record", session, "--html", str(html), "--json", str(data),
            "--config", str(config), "--by", "bob", cwd=config.parent,
        )  # fmt: skip
    finally:
        os.umask(old)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"session {session}'s record written to {data} (JSON)",
        f"session {session}'s record written to {html} (HTML)",
    ]
    for path in (html, data):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    record = json.loads(data.read_text(encoding="utf-8"))
    assert record["format"] == "roomctl-record/1" and record["session_id"] == session
    assert [n["text"] for n in record["notes"]] == [STAFF, SHARED]
    assert [(p["name"], p["began"], p["by"]) for p in record["phases"]] == [
        ("settle", "start", "alice"),
        ("pre-onset", "advanced", "alice"),
    ]
    assert [c["cue"] for c in record["cues"]] == ["talk"]
    page = html.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and STAFF in page and "http" not in page
    with Store.open(db_of(config), SystemClock()) as store:
        audit = [(a.who, a.action, a.target) for a in store.audit_log(limit=5)]
    assert audit[0] == ("bob", "export_record", session)


def test_the_client_copy_and_the_text(config: Path, session: str) -> None:  # noqa: F811
    data = config.parent / "client.json"
    done = cli(
        "session", "record", session, "--client-copy", "--json", str(data),
        "--config", str(config), cwd=config.parent,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("the client's copy of session")
    text = data.read_text(encoding="utf-8")
    assert STAFF not in text and SHARED in text
    shown = cli("session", "record", session, "--config", str(config), cwd=config.parent)
    assert shown.returncode == 0, shown.stderr
    assert "phases as they ran" in shown.stdout
    assert "advanced by alice" in shown.stdout
    assert f"note: {STAFF}" in shown.stdout


def test_an_unknown_session_is_one_line(config: Path) -> None:  # noqa: F811
    done = cli("session", "record", "s-nope", "--config", str(config), cwd=config.parent)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == "roomctl: no session 's-nope'\n"
