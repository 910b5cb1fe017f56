"""The `roomctl` command line: check, preview, session and user, through `roomctl.cli.main()`
and, where it matters that no traceback ever reaches the user, as a real process.

Every test works on copies in tmp_path: the session database lives beside the copied config
(storage.path is relative), so nothing outside tmp_path is written.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from roomctl.clock import SystemClock
from roomctl.store.store import Store
from tests.cli_support import DEVICE_IDS, EXAMPLE, ROOT, cli, edit, one_line, run

LIGHT_KEYS = {"on", "brightness_pct", "color_temp_k", "hue", "saturation"}
KEYS = {
    "lamp": LIGHT_KEYS,
    "strip": LIGHT_KEYS,
    "ceiling": LIGHT_KEYS,
    "speakers": {"source", "volume"},
    "radiator": {"setpoint_c"},
}


# ---------------------------------------------------------------------- helpers


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
