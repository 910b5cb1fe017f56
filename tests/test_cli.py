"""The `roomctl` command line: check, preview, session and user, through `roomctl.cli.main()`
and, where it matters that no traceback ever reaches the user, as a real process.

Every test works on copies in tmp_path: the session database lives beside the copied config
(storage.path is relative), so nothing outside tmp_path is written.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from roomctl.cli.main import main
from roomctl.clock import SystemClock
from roomctl.store.store import Store

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config.example.yaml"
DEVICE_IDS = ["lamp", "strip", "ceiling", "speakers", "radiator"]
LIGHT_KEYS = {"on", "brightness_pct", "color_temp_k", "hue", "saturation"}
KEYS = {
    "lamp": LIGHT_KEYS,
    "strip": LIGHT_KEYS,
    "ceiling": LIGHT_KEYS,
    "speakers": {"source", "volume"},
    "radiator": {"setpoint_c"},
}


# ---------------------------------------------------------------------- helpers


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


# ------------------------------------------------------------------------ check


def test_check_the_example_config(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "check", "--config", str(EXAMPLE))
    assert code == 0, err
    assert "ok — room 'room-1', 5 devices" in out
    assert "4 arcs" in out
    assert err == ""


def test_check_lists_every_problem_of_the_config_with_file_and_line(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    driver_line = edit(config, 'driver: kasa, host: "192.168.1.41"', 'driver: kasaa, host: "x"')
    volume_line = edit(config, "max_volume: 60", "max_volume: loud")
    code, out, err = run(capsys, "check", "--config", str(config))
    assert code == 1
    assert out == ""
    assert f"{config}:{driver_line}: devices[1]: unknown driver 'kasaa'" in err
    assert "(did you mean 'kasa'?)" in err
    assert f"{config}:{volume_line}: safety.max_volume:" in err
    assert "2 problems found; nothing was changed." in err


def test_check_lists_problems_across_config_scenes_and_arcs(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    scenes = config.parent / "scenes"
    shutil.copytree(ROOT / "scenes", scenes)
    floor_line = edit(config, "floor_lights: [lamp]", "floor_lights: [lmap]")
    calm = scenes / "calm.yaml"
    zone_line = edit(calm, "  ceiling: {on: false}", "  cieling: {on: false}")
    arc = scenes / "arcs" / "psilocybin.yaml"
    phase_line = edit(arc, "{name: peak, scene: peak,", "{name: peak, scene: peek,")
    code, _, err = run(capsys, "check", "--config", str(config))
    assert code == 1
    problems = [line for line in err.splitlines() if line.strip()][:-1]
    assert len(problems) == 3, err
    assert f"{config}:{floor_line}: safety.floor_lights[0]: 'lmap' is not a light" in err
    assert f"{calm}:{zone_line}: lights.cieling: no zone 'cieling'" in err
    assert f"{arc}:{phase_line}: phases[4].scene: no scene named 'peek'" in err
    assert err.count("did you mean") == 3
    assert "3 problems found" in err


def test_check_of_a_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    code, _, err = run(capsys, "check", "--config", str(missing))
    assert code == 1
    assert f"{missing}: file not found" in err


def test_commands_without_any_config_say_how_to_give_one(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if Path("/etc/roomctl/config.yaml").exists():
        pytest.skip("this machine has /etc/roomctl/config.yaml")
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "preview", "psilocybin")
    assert code == 2
    assert "no configuration found; pass --config FILE" in one_line(err)


def test_preview_with_a_missing_config_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = run(capsys, "preview", "psilocybin", "--config", str(tmp_path / "x.yaml"))
    assert code == 2
    assert out == ""
    assert "x.yaml: file not found" in one_line(err)


# ---------------------------------------------------------------------- preview


def test_preview_json_has_the_documented_structure(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "preview", "psilocybin", "--config", str(EXAMPLE), "--json")
    assert code == 0, err
    rows = json.loads(out)
    assert isinstance(rows, list)
    # every phase boundary and midpoint, then the end: 8 phases → 17 rows
    assert len(rows) == 17
    assert rows[0]["at"] == "-0:30" and rows[0]["phase"] == "settle"
    assert rows[-1]["at"] == "8:00" and rows[-1]["phase"] == "closing"
    for row in rows:
        assert set(row) == {"at", "phase", "devices"}
        assert re.fullmatch(r"-?\d+:\d\d", row["at"])
        assert list(row["devices"]) == DEVICE_IDS
        for dev_id, channels in row["devices"].items():
            assert set(channels) == KEYS[dev_id], (row["at"], dev_id, channels)
    phases = [row["phase"] for row in rows]
    runs = [p for i, p in enumerate(phases) if i == 0 or phases[i - 1] != p]
    assert runs == [
        "settle", "pre-onset", "onset", "building", "peak", "re-entry", "return", "closing",
    ]  # fmt: skip


def test_preview_at_a_time_matches_the_readme_example(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(
        capsys, "preview", "psilocybin", "--config", str(EXAMPLE), "--at", "2:30", "--json"
    )
    assert code == 0
    (row,) = json.loads(out)
    assert (row["at"], row["phase"]) == ("2:30", "peak")
    devices = row["devices"]
    assert devices["lamp"] == {
        "on": True, "brightness_pct": 8.0, "color_temp_k": 2200, "hue": None, "saturation": None,
    }  # fmt: skip
    assert devices["speakers"] == {"source": "favorite:Peak", "volume": 26}
    assert devices["radiator"] == {"setpoint_c": 21.0}
    assert devices["ceiling"]["on"] is False


def test_preview_text_at_several_times(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "preview", "psilocybin", "--config", str(EXAMPLE), "--at", "0:00", "2:30"
    )
    assert code == 0
    assert out.startswith("Psilocybin (15–30 mg)  (times from the dose, T0)")
    assert re.search(r"^\s+0:00\s+pre-onset$", out, re.M)
    assert re.search(r"^\s+2:30\s+peak$", out, re.M)
    assert re.search(r"^\s+lamp\s+8% 2200 K$", out, re.M)
    assert re.search(r"^\s+speakers\s+Peak, volume 26$", out, re.M)


# Regression test for a bug this test found (since fixed): roomctl/cli.py cmd_preview →
# preview.parse_times → arc.parse_hmm raises a bare ValueError that main() does not catch: a
# traceback instead of one line and exit 2
@pytest.mark.parametrize("bad", ["25:99", "soon"])
def test_preview_at_a_bad_time_is_one_clear_error(
    capsys: pytest.CaptureFixture[str], bad: str
) -> None:
    code, out, err = run(capsys, "preview", "psilocybin", "--config", str(EXAMPLE), "--at", bad)
    assert code == 2
    assert out == ""
    line = one_line(err)
    assert line.startswith("roomctl: ") and bad in line


def test_preview_of_an_unknown_arc_says_did_you_mean(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "preview", "psilocibin", "--config", str(EXAMPLE))
    assert code == 2
    assert out == ""
    line = one_line(err)
    assert "no arc named 'psilocibin' (did you mean 'psilocybin'?)" in line
    assert "arcs: ketamine, lsd, mdma, psilocybin" in line


# Regression test for a bug this test found (since fixed): roomctl/library.py Library.arc()/scene()
# raise Problem('', None, '', ...), whose str() starts with ': ', so the CLI prints 'roomctl: : no
# arc named ...'
@pytest.mark.parametrize(("command", "name"), [("preview", "psilocibin"), ("apply", "clam")])
def test_unknown_name_message_has_no_stray_colon(
    capsys: pytest.CaptureFixture[str], command: str, name: str
) -> None:
    code, _, err = run(capsys, command, name, "--config", str(EXAMPLE))
    assert code == 2
    assert re.match(r"roomctl: no (arc|scene) named ", one_line(err)), err


def test_preview_with_preferences(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    prefs = tmp_path / "prefs.yaml"
    prefs.write_text(
        "colors_avoided: [orange]\nbrightness_max_pct: 30\nvolume_max: 20\n", encoding="utf-8"
    )

    def rows(*extra: str) -> list[dict[str, Any]]:
        code, out, err = run(capsys, "preview", "psilocybin", "--config", str(EXAMPLE),
                             "--json", *extra)  # fmt: skip
        assert code == 0, err
        result = json.loads(out)  # with preferences: the rows beside what the limits override
        table: list[dict[str, Any]] = result["rows"] if extra else result
        return table

    def strip_hues(table: list[dict[str, Any]]) -> list[float]:
        return [r["devices"]["strip"]["hue"] for r in table if r["devices"]["strip"]["hue"]]

    plain, adapted = rows(), rows("--prefs", str(prefs))
    # without preferences the accent strip shows amber-orange (hue 35) ...
    assert any(15 <= h <= 40 for h in strip_hues(plain))
    # ... which this client avoids: orange (15–40°) never appears
    assert strip_hues(adapted)
    assert not [h for h in strip_hues(adapted) if 15 <= h <= 40]
    assert max(r["devices"]["speakers"]["volume"] for r in plain) > 20
    assert max(r["devices"]["speakers"]["volume"] for r in adapted) <= 20
    for row in adapted:
        for dev in ("lamp", "strip", "ceiling"):
            bri = row["devices"][dev]["brightness_pct"]
            assert bri is None or bri <= 30


def test_preview_with_broken_preferences_names_file_and_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    prefs = tmp_path / "prefs.yaml"
    prefs.write_text("volume_max: 30\nbrightness_max_pct: 200\n", encoding="utf-8")
    code, _, err = run(
        capsys, "preview", "psilocybin", "--config", str(EXAMPLE), "--prefs", str(prefs)
    )
    assert code == 2
    assert f"roomctl: {prefs}:2: brightness_max_pct:" in one_line(err)


def test_preview_draws_an_svg(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    svg = tmp_path / "arc.svg"
    code, out, _ = run(capsys, "preview", "mdma", "--config", str(EXAMPLE), "--svg", str(svg))
    assert code == 0
    assert f"Arc drawn to {svg}" in out
    text = svg.read_text(encoding="utf-8")
    assert text.startswith("<svg") and text.rstrip().endswith("</svg>")


# ---------------------------------------------------------------------- session


def status(capsys: pytest.CaptureFixture[str], config: Path) -> dict[str, Any]:
    code, out, err = run(capsys, "session", "status", "--json", "--config", str(config))
    assert code == 0, err
    result: dict[str, Any] = json.loads(out)
    return result


def test_session_commands_change_what_status_shows(
    capsys: pytest.CaptureFixture[str], quick_config: Path
) -> None:
    cfg = ("--config", str(quick_config), "--by", "alice")

    def ok(*argv: str) -> str:
        code, out, err = run(capsys, "session", *argv, *cfg)
        assert code == 0, err
        return out

    out = ok("start", "psilocybin")
    session_id = re.fullmatch(r"session (s-\S+) started: arc psilocybin\n", out)
    assert session_id, out
    assert (quick_config.parent / "roomctl.db").exists()  # storage.path is beside the config

    st = status(capsys, quick_config)
    assert st["session"] == session_id.group(1)
    assert (st["phase"], st["held"], st["cue"], st["emergency"], st["ended"]) == (
        "settle", False, None, False, False,
    )  # fmt: skip
    assert st["arc_clock"] == "-0:30"
    assert list(st["devices"]) == DEVICE_IDS

    assert "[HELD]" in ok("hold")
    assert status(capsys, quick_config)["held"] is True
    ok("resume")
    assert status(capsys, quick_config)["held"] is False

    assert "phase pre-onset" in ok("advance")
    assert status(capsys, quick_config)["phase"] == "pre-onset"

    assert "[cue talk]" in ok("cue", "talk")
    assert status(capsys, quick_config)["cue"] == "talk"
    ok("cue-off")
    assert status(capsys, quick_config)["cue"] is None

    ok("set", "lamp", "brightness_pct", "20")
    assert status(capsys, quick_config)["devices"]["lamp"]["brightness_pct"] == 20.0

    assert "[EMERGENCY]" in ok("emergency")
    st = status(capsys, quick_config)
    assert st["emergency"] is True and st["held"] is True
    for light in ("lamp", "strip", "ceiling"):
        assert st["devices"][light] == {
            "on": True, "brightness_pct": 100.0, "color_temp_k": 4000, "hue": None,
            "saturation": None,
        }  # fmt: skip
    assert st["devices"]["speakers"]["source"] == "silence"

    ok("clear-emergency")
    st = status(capsys, quick_config)
    assert st["emergency"] is False and st["held"] is False

    assert "[ended]" in ok("end")
    code, out, _ = run(capsys, "session", "status", *cfg)
    assert (code, out) == (0, "no session running\n")

    # every command is in the database, by whom it was given
    with Store.open(quick_config.parent / "roomctl.db", SystemClock()) as store:
        events = store.events(session_id.group(1))
    assert [e.kind.value for e in events] == [
        "start", "hold", "resume", "advance", "cue_on", "cue_off", "override", "emergency_on",
        "emergency_clear", "end",
    ]  # fmt: skip
    assert {e.by for e in events} == {"alice"}
    assert events[6].data == {"device": "lamp", "channel": "brightness_pct", "value": 20.0}


def test_session_status_without_a_session(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    code, out, err = run(capsys, "session", "status", "--json", "--config", str(config))
    assert (code, out, err) == (0, "no session running\n", "")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["advance"], "roomctl: no session is running; start one first"),
        (["start"], "roomctl: which arc? one of ketamine, lsd, mdma, psilocybin"),
    ],
)
def test_session_errors_without_a_session_are_one_line(
    capsys: pytest.CaptureFixture[str], config: Path, argv: list[str], message: str
) -> None:
    code, out, err = run(capsys, "session", *argv, "--config", str(config))
    assert code == 2
    assert out == ""
    assert one_line(err) == message


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["hold", "hold"], "the arc is already held"),
        (["resume"], "the arc is not held"),
        (["step-back"], "'settle' is the first phase"),
        (["jump", "peek"], "no phase 'peek' in psilocybin; phases: settle, pre-onset"),
        (["cue", "tlak"], "no cue scene 'tlak'; cues: talk, break, check-in"),
        (["cue-off"], "no cue is on"),
        (["clear-emergency"], "there is no emergency to clear"),
        (["set", "lamp", "brightness_pct", "200"], "brightness_pct must be between 0 and 100"),
        (["set", "lamp", "volume", "20"], "lamp: a light has no channel 'volume'"),
        (["set", "lmap", "on", "true"], "no device 'lmap'; devices: lamp, strip"),
        (["start", "mdma"], "a session is already running"),
    ],
)
def test_refused_session_commands_exit_2_and_store_nothing(
    capsys: pytest.CaptureFixture[str], config: Path, argv: list[str], message: str
) -> None:
    cfg = ("--config", str(config))
    assert run(capsys, "session", "start", "psilocybin", *cfg)[0] == 0
    db = config.parent / "roomctl.db"
    with Store.open(db, SystemClock()) as store:
        (session,) = store.list_sessions()
        before = len(store.events(session.id))
    if argv == ["hold", "hold"]:
        assert run(capsys, "session", "hold", *cfg)[0] == 0
        before += 1
        argv = ["hold"]
    code, out, err = run(capsys, "session", *argv, *cfg)
    assert code == 2
    assert out == ""
    line = one_line(err)
    assert line.startswith("roomctl: ") and message in line
    with Store.open(db, SystemClock()) as store:
        assert len(store.events(session.id)) == before
        assert len(store.list_sessions()) == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["extend", "lots"], "argument MIN: minutes must be a number, got 'lots'"),
        (["extend"], "the following arguments are required: MIN"),
        (["set", "lamp", "brightness_pct"], "the following arguments are required: VALUE"),
        (["set", "lamp", "brightness_pct", "dim"], "value must be a number or true/false"),
        (["set", "lamp", "colour", "20"], "argument CHANNEL: invalid choice: 'colour'"),
        (["purge"], "the following arguments are required: --older-than"),
        (["purge", "--older-than", "-3"], "days must be a number >= 0, got '-3'"),
    ],
)
def test_bad_session_arguments_are_one_line_usage_errors(
    capsys: pytest.CaptureFixture[str], config: Path, argv: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["session", *argv, "--config", str(config)])
    assert info.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    line = one_line(err)
    assert line.startswith(f"roomctl session {argv[0]}: ") and message in line
    assert line.endswith(f"(see roomctl session {argv[0]} --help)")


def test_every_session_verb_has_its_own_help(capsys: pytest.CaptureFixture[str]) -> None:
    verbs = [
        "start", "status", "hold", "resume", "extend", "advance", "step-back", "jump", "dose",
        "cue", "cue-off", "set", "emergency", "clear-emergency", "note", "end", "list",
        "export", "purge",
    ]  # fmt: skip
    for verb in verbs:
        with pytest.raises(SystemExit) as info:
            main(["session", verb, "--help"])
        assert info.value.code == 0
        out = capsys.readouterr().out
        assert out.startswith(f"usage: roomctl session {verb} ")
        assert "--config FILE" in out
    with pytest.raises(SystemExit):
        main(["session", "set", "--help"])
    assert "brightness_pct, color_temp_k" in capsys.readouterr().out


def test_unknown_session_verb_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["session", "frobnicate", "--config", str(config)])
    assert info.value.code == 2
    assert "invalid choice: 'frobnicate'" in capsys.readouterr().err


# ------------------------------------------------------------------------- user


def test_user_add_with_password_on_stdin(
    capsys: pytest.CaptureFixture[str], config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("correct horse battery\n"))
    code, out, err = run(
        capsys, "user", "add", "alice", "--role", "admin", "--password-stdin",
        "--config", str(config),
    )  # fmt: skip
    assert code == 0, err
    assert out == "user alice added (admin)\n"
    with Store.open(config.parent / "roomctl.db", SystemClock()) as store:
        assert store.verify_user("alice", "correct horse battery") == "admin"
        assert store.verify_user("alice", "correct horse battery\n") is None


@pytest.mark.parametrize(
    "case",
    [
        ("alice", "short", "password too short: use at least 10 characters"),
        ("Alice", "long enough password", "username 'Alice' is not valid"),
    ],
)
def test_user_add_refuses_bad_input(
    capsys: pytest.CaptureFixture[str],
    config: Path,
    monkeypatch: pytest.MonkeyPatch,
    case: tuple[str, str, str],
) -> None:
    username, password, message = case
    monkeypatch.setattr(sys, "stdin", io.StringIO(password + "\n"))
    code, out, err = run(
        capsys, "user", "add", username, "--password-stdin", "--config", str(config)
    )
    assert code == 2
    assert out == ""
    assert message in one_line(err)
    with Store.open(config.parent / "roomctl.db", SystemClock()) as store:
        assert store.list_users() == []


def test_user_add_twice_is_refused(
    capsys: pytest.CaptureFixture[str], config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    argv = ("user", "add", "bob", "--password-stdin", "--config", str(config))
    monkeypatch.setattr(sys, "stdin", io.StringIO("first password 1\n"))
    assert run(capsys, *argv)[0] == 0
    monkeypatch.setattr(sys, "stdin", io.StringIO("second password 2\n"))
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert "user 'bob' already exists" in one_line(err)


# ------------------------------------------------------------ as a real process


def test_process_check_of_a_broken_config(config: Path) -> None:
    edit(config, "max_volume: 60", "max_volume: loud")
    edit(config, "floor_lights: [lamp]", "floor_lights: [lamp, lamp, 7]")
    done = cli("check", "--config", str(config), cwd=config.parent)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "safety.max_volume" in done.stderr
    assert "problems found; nothing was changed." in done.stderr


def test_process_session_error_is_one_line(config: Path) -> None:
    done = cli("session", "advance", "--config", str(config), cwd=config.parent)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == "roomctl: no session is running; start one first\n"


def test_process_session_start_and_status(config: Path) -> None:
    done = cli("session", "start", "mdma", "--config", str(config), cwd=config.parent)
    assert done.returncode == 0, done.stderr
    assert "started: arc mdma" in done.stdout
    done = cli("session", "status", "--json", "--config", str(config), cwd=config.parent)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["phase"]
    assert "Traceback" not in done.stderr


def test_process_version() -> None:
    done = cli("--version", cwd=ROOT)
    assert done.returncode == 0
    assert done.stdout.startswith("roomctl ")


# Regression test for a bug this test found (since fixed): roomctl/cli.py: ValueError from
# parse_hmm escapes main(); the user sees a Traceback and exit 1
def test_process_bad_time_shows_no_traceback(tmp_path: Path) -> None:
    done = cli("preview", "psilocybin", "--config", str(EXAMPLE), "--at", "25:99", cwd=tmp_path)
    assert "Traceback" not in done.stderr
    assert done.returncode == 2


# Regression test for a bug this test found (since fixed): roomctl/cli_daemon.py cmd_user_add: an
# empty line on stdin with --password-stdin is falsy, so it falls back to getpass(), which without
# a terminal raises EOFError: Traceback, exit 1 (on a terminal it would prompt instead)
def test_process_user_add_with_empty_stdin(config: Path) -> None:
    done = cli(
        "user", "add", "carol", "--password-stdin", "--config", str(config),
        cwd=config.parent, stdin="",
    )  # fmt: skip
    assert "Traceback" not in done.stderr
    assert done.returncode == 2
    assert "password" in done.stderr


# Regression test for a bug this test found (since fixed): roomctl/cli.py main() logs at INFO to
# stderr by default, and SessionControl.refresh logs 'session ...: following (arc ...)' on every
# session command, so a refused command prints a timestamped log line before its one-line error
def test_process_refused_command_prints_only_the_error(config: Path) -> None:
    started = cli("session", "start", "psilocybin", "--config", str(config), cwd=config.parent)
    assert started.returncode == 0
    done = cli("session", "cue", "tlak", "--config", str(config), cwd=config.parent)
    assert done.returncode == 2
    assert done.stderr.splitlines() == ["roomctl: no cue scene 'tlak'; cues: talk, break, check-in"]


def test_preview_json_lists_only_the_channels_each_device_has(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    text = EXAMPLE.read_text(encoding="utf-8").replace(
        "devices:\n",
        "devices:\n"
        '  - {id: reading, driver: kasa, host: "192.168.1.42", zone: lamp, model: dimmer}\n'
        '  - {id: side, driver: kasa, host: "192.168.1.43", zone: lamp, model: white_bulb}\n',
    )
    text = text.replace("scenes_dir: scenes", f"scenes_dir: {ROOT / 'scenes'}")
    config = tmp_path / "config.yaml"
    config.write_text(text, encoding="utf-8")
    code, out, _ = run(
        capsys, "preview", "psilocybin", "--config", str(config), "--at", "2:30", "--json"
    )
    assert code == 0
    devices = json.loads(out)[0]["devices"]
    assert set(devices["reading"]) == {"on", "brightness_pct"}
    assert set(devices["side"]) == {"on", "brightness_pct", "color_temp_k"}
    assert devices["side"]["color_temp_k"] == 2200
