"""roomctl.cli.argtypes: a duration on the command line is a finite number of seconds inside its
range, or one usage error naming the option; never a traceback and never silently accepted."""

from __future__ import annotations

import argparse

import pytest

from roomctl.cli.argtypes import seconds


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="roomctl apply")
    parser.add_argument("--transition", type=seconds(0, 3600), metavar="S")
    parser.add_argument("--timeout", type=seconds(0.1, 600), default=15.0, metavar="S")
    return parser


@pytest.mark.parametrize(
    ("argv", "transition", "timeout"),
    [
        ([], None, 15.0),
        (["--transition", "0"], 0.0, 15.0),
        (["--transition", "2.5", "--timeout", "30"], 2.5, 30.0),
        (["--transition", "3600"], 3600.0, 15.0),
        (["--timeout", "0.1"], None, 0.1),
    ],
)
def test_good_durations_are_parsed(
    argv: list[str], transition: float | None, timeout: float
) -> None:
    args = _parser().parse_args(argv)
    assert (args.transition, args.timeout) == (transition, timeout)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--transition", "nan"], "argument --transition: 'nan' is not a finite number"),
        (["--transition", "inf"], "argument --transition: 'inf' is not a finite number"),
        (["--transition=-inf"], "argument --transition: '-inf' is not a finite number"),
        (["--transition", "1e308"], "argument --transition: 1e308 s is outside 0..3600 s"),
        (["--transition", "1e309"], "argument --transition: '1e309' is not a finite number"),
        (["--transition=-5"], "argument --transition: -5 s is outside 0..3600 s"),
        (["--transition", "slow"], "argument --transition: 'slow' is not a number of seconds"),
        (["--timeout=-1"], "argument --timeout: -1 s is outside 0.1..600 s"),
        (["--timeout", "0"], "argument --timeout: 0 s is outside 0.1..600 s"),
        (["--timeout", "601"], "argument --timeout: 601 s is outside 0.1..600 s"),
    ],
)
def test_bad_durations_are_one_usage_error(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        _parser().parse_args(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"roomctl apply: error: {message}"), err


def test_a_bad_range_is_refused_when_the_parser_is_built() -> None:
    with pytest.raises(ValueError, match="bad range"):
        seconds(10, 1)
    with pytest.raises(ValueError, match="bad range"):
        seconds(0, float("inf"))


@pytest.mark.parametrize(
    ("option", "value", "words"),
    [
        ("--transition", "nan", "not a finite number"),
        ("--transition", "1e308", "outside 0..14400 s"),
        ("--transition", "-5", "outside 0..14400 s"),
        ("--timeout", "-1", "outside 0.1..600 s"),
    ],
)
def test_apply_refuses_bad_durations_in_one_line(option: str, value: str, words: str) -> None:
    """Regressions: these were tracebacks (nan, 1e308) or accepted (-5, -1)."""
    import subprocess
    import sys
    from pathlib import Path

    example = Path(__file__).resolve().parent.parent / "config.example.yaml"
    argv = ["apply", "calm", "--config", str(example), option, value]
    cmd = [sys.executable, "-m", "roomctl", *argv]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert f"argument {option}" in lines[0] and words in lines[0]
    assert "Traceback" not in proc.stderr
