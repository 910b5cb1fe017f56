"""`roomctl session …` on the command line: every verb changes what `status` shows, errors are one
line, refused commands store nothing, each verb has its own help."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from roomctl.cli.main import main
from roomctl.clock import SystemClock
from roomctl.store.store import Store
from tests.cli_support import DEVICE_IDS, one_line, run


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
