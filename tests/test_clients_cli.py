"""`roomctl client …`, `preview --client` and a client's session, end to end: every command as a
real `python -m roomctl` process (with and without a terminal), checked against the store."""

from __future__ import annotations

import json
import os
import pty
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from roomctl.clock import SystemClock
from roomctl.store.clients import DEFAULT_CONSENT_SCOPE
from roomctl.store.store import Store

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config.example.yaml"
MDMA_TEMP = (
    "Temperature 23.5 °C is outside MDMA's 20–22 °C band: the room will keep to 22 °C at most, "
    "no phase warmer than its own temperature (MDMA runs cool: offer a blanket rather than heat)."
)
VOLUME = "Volume up to 80 is above the room's cap of 60: music will stay at or below 60."


def cli(*argv: str, cwd: Path, answer: str | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m roomctl ARGV` as a user runs it: without a terminal, or (`answer` given) at
    one, typing `answer` when asked."""
    env = {k: v for k, v in os.environ.items() if k != "ROOMCTL_CONFIG"}
    env["PYTHONPATH"] = str(ROOT)
    if answer is None:
        return subprocess.run(  # noqa: PLW1510 - the exit code is asserted by the caller
            [sys.executable, "-m", "roomctl", *argv], cwd=cwd, env=env,
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
            start_new_session=True,
        )  # fmt: skip
    master, slave = pty.openpty()
    try:
        os.write(master, answer.encode() + b"\n")
        return subprocess.run(  # noqa: PLW1510
            [sys.executable, "-m", "roomctl", *argv], cwd=cwd, env=env,
            stdin=slave, capture_output=True, text=True, timeout=60, start_new_session=True,
        )  # fmt: skip
    finally:
        os.close(slave)
        os.close(master)


def ok(*argv: str, cwd: Path, answer: str | None = None) -> str:
    done = cli(*argv, cwd=cwd, answer=answer)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    return done.stdout


def refused(*argv: str, cwd: Path, code: int = 2) -> str:
    """The command fails with `code` and one line on stderr, which is returned."""
    done = cli(*argv, cwd=cwd)
    assert done.returncode == code, (done.stdout, done.stderr)
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


@pytest.fixture
def room(tmp_path: Path) -> Path:
    """A directory with the example config as config.yaml (found without --config)."""
    shutil.copy(EXAMPLE, tmp_path / "config.yaml")
    return tmp_path


def store(room: Path) -> Store:
    return Store.open(room / "roomctl.db", SystemClock())


def prefs_file(room: Path, text: str, name: str = "prefs.yaml") -> str:
    (room / name).write_text(text, encoding="utf-8")
    return name


WISHES = "temperature_c: 23.5\nvolume_max: 80\ncolors_liked: [amber]\n"


def test_a_client_from_add_to_a_session_with_their_preferences(room: Path) -> None:
    cid = ok("client", "add", "--label", "R2 tue", "--by", "ana", cwd=room).strip()
    assert cid.startswith("c-") and len(cid) == 10
    out = ok("client", "prefs", cid, "--set", prefs_file(room, WISHES), "--consent",
             "--by", "ana", cwd=room)  # fmt: skip
    assert out.splitlines() == [
        f"client {cid}: preferences v1 saved",
        f"  consent recorded by ana: {DEFAULT_CONSENT_SCOPE}",
        "The room's limits override some of these choices:",
        f"  - {VOLUME}",
        f"  - {MDMA_TEMP}",
    ]
    out = ok("session", "start", "mdma", "--client", cid, "--by", "ana", cwd=room)
    sid = out.split()[1]
    status = ok("session", "status", cwd=room).splitlines()
    assert status[1] == (
        f"client {cid}: preferences v1 (likes amber; volume up to 80; temperature 23.5 °C)"
    )
    data = json.loads(ok("session", "status", "--json", cwd=room))
    assert (data["client"], data["preferences_version"]) == (cid, 1)
    assert data["preferences"] == {"colors_liked": ["amber"], "volume_max": 80,
                                   "temperature_c": 23.5}  # fmt: skip
    assert data["overrides"] == [MDMA_TEMP, VOLUME]
    assert data["devices"]["radiator"]["setpoint_c"] == 22.0  # the band, not the wish
    # the session record says it once, by "system", right after the start
    ok("session", "note", "settled", cwd=room)
    events = json.loads(ok("session", "export", sid, cwd=room))["events"]
    assert [(e["kind"], e["by"]) for e in events] == [
        ("start", "ana"), ("note", "system"), ("note", os.environ.get("USER") or events[2]["by"])
    ]  # fmt: skip
    assert events[1]["data"]["text"] == (
        f"The room's limits override some of the client's preferences: {MDMA_TEMP} {VOLUME}"
    )
    with store(room) as s:
        (row,) = s.list_sessions()
    assert (row.client_id, row.prefs_version) == (cid, 1)


def test_a_session_for_a_client_without_overrides_has_no_note(room: Path) -> None:
    cid = ok("client", "add", cwd=room).strip()
    ok("client", "prefs", cid, "--set", prefs_file(room, "volume_max: 30\n"), "--consent",
       cwd=room)  # fmt: skip
    sid = ok("session", "start", "psilocybin", "--client", cid, cwd=room).split()[1]
    events = json.loads(ok("session", "export", sid, cwd=room))["events"]
    assert [e["kind"] for e in events] == ["start"]


def test_a_session_for_a_client_with_no_preferences_says_so(room: Path) -> None:
    cid = ok("client", "add", cwd=room).strip()
    ok("session", "start", "psilocybin", "--client", cid, cwd=room)
    assert ok("session", "status", cwd=room).splitlines()[1] == (
        f"client {cid}: no preferences stored"
    )


def test_add_warns_when_the_label_looks_like_a_name(room: Path) -> None:
    done = cli("client", "add", "--label", "Jane Doe", cwd=room)
    assert done.returncode == 0
    cid = done.stdout.strip()
    assert done.stderr.startswith("warning: label 'Jane Doe' looks like a name;")
    assert "never a client's real name" in done.stderr
    quiet = cli("client", "add", "--label", "JD room 2", cwd=room)
    assert (quiet.returncode, quiet.stderr) == (0, "")
    assert refused("client", "add", "--label", "  ", cwd=room) == (
        "roomctl: --label is empty; leave it out for no label"
    )
    with store(room) as s:
        assert [c.id for c in s.list_clients()] == [cid, quiet.stdout.strip()]
        assert "Jane Doe" not in json.dumps([a.detail for a in s.audit_log()])


def test_list_shows_clients_and_their_latest_version(room: Path) -> None:
    assert ok("client", "list", cwd=room) == "no clients stored\n"
    first = ok("client", "add", "--label", "R1", cwd=room).strip()
    second = ok("client", "add", cwd=room).strip()
    for _ in range(2):
        ok("client", "prefs", first, "--set", prefs_file(room, "volume_max: 30\n"),
           "--consent", cwd=room)  # fmt: skip
    lines = ok("client", "list", cwd=room).splitlines()
    assert [line.split()[0] for line in lines] == [first, second]
    assert lines[0].endswith("prefs v2   R1") and lines[1].endswith("prefs -")
    listed = json.loads(ok("client", "list", "--json", cwd=room))
    assert [(c["id"], c["label"], c["preferences_version"]) for c in listed] == [
        (first, "R1", 2), (second, None, None),
    ]  # fmt: skip


def test_set_without_consent_and_without_a_terminal_is_refused(room: Path) -> None:
    cid = ok("client", "add", cwd=room).strip()
    line = refused("client", "prefs", cid, "--set", prefs_file(room, WISHES), cwd=room)
    assert line.startswith("roomctl: client prefs --set needs the client's consent: add --consent")
    with store(room) as s:
        assert s.preference_history(cid) == []


def test_set_asks_for_consent_at_a_terminal(room: Path) -> None:
    cid = ok("client", "add", cwd=room).strip()
    name = prefs_file(room, WISHES)
    done = cli("client", "prefs", cid, "--set", name, "--arc", "mdma", cwd=room, answer="n")
    assert done.returncode == 1, done.stderr
    # the client hears what the limits override before agreeing
    assert done.stdout.index(MDMA_TEMP) < done.stdout.index("Has client")
    assert done.stdout.rstrip().endswith("nothing saved: no consent")
    with store(room) as s:
        assert s.preference_history(cid) == []
    out = ok("client", "prefs", cid, "--set", name, "--by", "bo", cwd=room, answer="yes")
    assert f"client {cid}: preferences v1 saved" in out
    with store(room) as s:
        (v1,) = s.preference_history(cid)
    assert v1.consent is not None
    assert (v1.consent.given_by, v1.consent.recorded_by, v1.consent.scope) == (
        cid, "bo", DEFAULT_CONSENT_SCOPE,
    )  # fmt: skip


def test_set_refuses_bad_files_naming_file_line_and_field(room: Path) -> None:
    cid = ok("client", "add", cwd=room).strip()
    name = prefs_file(room, "volume_max: 30\nbrightness_max_pct: 200\n")
    line = refused("client", "prefs", cid, "--set", name, "--consent", cwd=room)
    assert line.startswith(f"roomctl: {name}:2: brightness_max_pct:")
    other = prefs_file(room, "client: c-00000000\n", "other.yaml")
    assert refused("client", "prefs", cid, "--set", other, "--consent", cwd=room) == (
        f"roomctl: {other}: client: the file is for 'c-00000000', not {cid}; fix it or "
        "leave the field out"
    )
    assert refused("client", "prefs", "c-nobody", "--set", prefs_file(room, "{}\n"),
                   "--consent", cwd=room) == "roomctl: no client 'c-nobody'"  # fmt: skip
    assert refused("client", "prefs", cid, "--set", "missing.yaml", "--consent", cwd=room) \
        .endswith("missing.yaml: file not found")  # fmt: skip
    with store(room) as s:
        assert s.preference_history(cid) == []


def test_prefs_shows_the_current_version_and_its_history(room: Path) -> None:
    cid = ok("client", "add", cwd=room).strip()
    assert "has no preferences stored" in ok("client", "prefs", cid, cwd=room)
    ok("client", "prefs", cid, "--set", prefs_file(room, "volume_max: 30\n"), "--consent",
       "--by", "ana", cwd=room)  # fmt: skip
    ok("client", "prefs", cid, "--set", prefs_file(room, WISHES + "notes: blanket\n"),
       "--consent", "talking and room use only", "--by", "bo", cwd=room)  # fmt: skip
    lines = ok("client", "prefs", cid, cwd=room).splitlines()
    assert lines[:3] == [
        f"client {cid}: preferences v2 in use",
        "  likes amber; volume up to 80; temperature 23.5 °C",
        "  notes: blanket",
    ]
    assert f"  - {MDMA_TEMP}" in lines
    history = lines[lines.index("history:") + 1 :]
    assert len(history) == 2
    assert history[0].startswith("  v1 ") and history[0].endswith(
        f"by ana; consent recorded by ana: {DEFAULT_CONSENT_SCOPE}"
    )
    assert history[1].endswith("by bo; consent recorded by bo: talking and room use only")
    shown: dict[str, Any] = json.loads(ok("client", "prefs", cid, "--json", cwd=room))
    assert shown["version"] == 2 and shown["preferences"]["notes"] == "blanket"
    assert [h["consent"]["recorded_by"] for h in shown["history"]] == ["ana", "bo"]
    psilocybin = json.loads(ok("client", "prefs", cid, "--json", "--arc", "psilocybin", cwd=room))
    assert psilocybin["overrides"] == [VOLUME]  # 23.5 °C is inside 18–24


def test_export_to_stdout_and_to_a_private_file(room: Path) -> None:
    cid = ok("client", "add", "--label", "R2", cwd=room).strip()
    ok("client", "prefs", cid, "--set", prefs_file(room, WISHES), "--consent", "--by", "ana",
       cwd=room)  # fmt: skip
    exported = json.loads(ok("client", "export", cid, cwd=room))
    assert exported["client"]["id"] == cid and exported["client"]["label"] == "R2"
    (v1,) = exported["preferences"]
    assert v1["preferences"] == {"colors_liked": ["amber"], "volume_max": 80,
                                 "temperature_c": 23.5}  # fmt: skip
    assert v1["consent"]["scope"] == DEFAULT_CONSENT_SCOPE
    old = os.umask(0o022)
    try:
        out = ok("client", "export", cid, "--out", "client.json", cwd=room)
    finally:
        os.umask(old)
    assert out == f"client {cid} exported to client.json (1 preference version)\n"
    assert stat.S_IMODE((room / "client.json").stat().st_mode) == 0o600
    assert json.loads((room / "client.json").read_text(encoding="utf-8"))["preferences"] == [v1]
    assert refused("client", "export", "c-nobody", cwd=room) == "roomctl: no client 'c-nobody'"


def test_delete_asks_first_and_keeps_only_ids(room: Path) -> None:
    cid = ok("client", "add", "--label", "R2 tue", cwd=room).strip()
    ok("client", "prefs", cid, "--set", prefs_file(room, WISHES), "--consent", cwd=room)
    line = refused("client", "delete", cid, cwd=room)
    assert line.startswith(f"roomctl: client delete removes client {cid} (R2 tue): its label")
    assert line.endswith("add --yes to confirm")
    done = cli("client", "delete", cid, cwd=room, answer="no")
    assert done.returncode == 1 and done.stdout.endswith("? [y/N] nothing deleted\n")
    with store(room) as s:
        assert s.get_client(cid) is not None
    assert ok("client", "delete", cid, cwd=room, answer="y").endswith(f"client {cid} deleted\n")
    with store(room) as s:
        assert s.get_client(cid) is None and s.preference_history(cid) == []
        audit = s.audit_log()
    assert audit[0].action == "delete_client" and audit[0].target == cid
    assert "R2 tue" not in json.dumps([(a.target, a.detail) for a in audit])
    assert refused("client", "export", cid, cwd=room) == f"roomctl: client {cid} has been deleted"
    assert refused("client", "delete", cid, "--yes", cwd=room) == (
        f"roomctl: client {cid} has been deleted"
    )
    other = ok("client", "add", cwd=room).strip()
    assert ok("client", "delete", other, "--yes", cwd=room) == f"client {other} deleted\n"


def test_preview_rehearses_with_a_stored_clients_preferences(room: Path) -> None:
    cid = ok("client", "add", cwd=room).strip()
    assert refused("preview", "mdma", "--client", cid, cwd=room) == (
        f"roomctl: client {cid} has no preferences stored"
    )
    ok("client", "prefs", cid, "--set", prefs_file(room, WISHES), "--consent", cwd=room)
    text = ok("preview", "mdma", "--client", cid, "--at", "1:00", cwd=room)
    assert "radiator     20.0 °C" in text  # MDMA's cool peak: the wish for 23.5 °C is a blanket
    assert text.endswith(
        f"The room's limits override some of the client's choices:\n  - {MDMA_TEMP}\n  - {VOLUME}\n"
    )
    data = json.loads(ok("preview", "mdma", "--client", cid, "--json", "--at", "1:00", cwd=room))
    assert (data["client"], data["preferences_version"]) == (cid, 1)
    assert data["overrides"] == [MDMA_TEMP, VOLUME]
    assert data["rows"][0]["devices"]["radiator"] == {"setpoint_c": 20.0}
    # a preferences file says the same
    from_file = json.loads(ok("preview", "mdma", "--prefs", "prefs.yaml", "--json", "--at",
                              "1:00", cwd=room))  # fmt: skip
    assert from_file == {**data, "client": None, "preferences_version": None}
    # without preferences: the documented list of rows, and nothing overridden
    plain = json.loads(ok("preview", "mdma", "--json", "--at", "1:00", cwd=room))
    assert isinstance(plain, list) and plain[0]["devices"]["radiator"] == {"setpoint_c": 20.0}
    assert "override" not in ok("preview", "mdma", "--at", "1:00", cwd=room)
    done = cli("preview", "mdma", "--client", cid, "--prefs", "prefs.yaml", cwd=room)
    assert done.returncode == 2 and "not allowed with argument" in done.stderr
