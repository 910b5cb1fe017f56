"""Hostile or broken input never hangs or crashes the loader: a billion-laughs file, a
self-referencing anchor, endless nesting, huge numbers, non-finite numbers and huge files each
give one problem naming the file and the line, through `load_library()` and through
`roomctl check` in a child process with bounded memory and CPU."""

from __future__ import annotations

import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from roomctl.errors import ConfigError, Problem
from roomctl.model.library import load_library
from roomctl.model.loader import MAX_DEPTH, MAX_FILE_BYTES, MAX_NODES

ROOT = Path(__file__).resolve().parent.parent
CHILD_MEMORY_BYTES = 1 << 30  # `roomctl check` on a good config needs about 60 MB
CHILD_CPU_S = 30


def laughs(levels: int = 9) -> str:
    """Each anchor is ten of the one before: 10**levels values from a few hundred bytes."""
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    return "\n".join(lines) + "\n"


# (name, file content, line of the problem or None, message)
HOSTILE = [
    (
        "billion laughs",
        laughs(),
        5,
        f"not read: more than {MAX_NODES} values in one file (alias *a3 expands to 11111 values)",
    ),
    (
        "self-referencing anchor",
        "room: &r\n  id: *r\n",
        2,
        "not read: alias *r refers to its own anchor &r (a structure that contains itself)",
    ),
    (
        "anchor inside itself, deeper down",
        "room: &r\n  id: demo\n  more:\n    - [1, 2, *r]\n",
        4,
        "not read: alias *r refers to its own anchor &r (a structure that contains itself)",
    ),
    (
        "5000-deep flow nesting",
        "room: " + "[" * 5000 + "]" * 5000 + "\n",
        1,
        f"not read: nested more than {MAX_DEPTH} levels deep",
    ),
    (
        "5000-deep block nesting",
        "- " * 5000 + "x\n",
        1,
        f"not read: nested more than {MAX_DEPTH} levels deep",
    ),
    (
        "5001-digit integer",
        "room: {id: x}\nsafety:\n  max_volume: " + "1" * 5001 + "\n",
        3,
        "not read: an integer of 5001 characters; at most 100 are allowed",
    ),
    (
        "5001-digit float",
        "room: {id: x}\nsafety:\n  max_volume: 1." + "1" * 5001 + "\n",
        3,
        "not read: a number of 5003 characters; at most 100 are allowed",
    ),
    ("infinity", "room: {id: x}\nfade_s: .inf\n", 2, "not read: '.inf' is not a finite number"),
    ("nan", "room: {id: x}\nfade_s: .nan\n", 2, "not read: '.nan' is not a finite number"),
    (
        "overflow",
        "room: {id: x}\nfade_s: 1.0e+999\n",
        2,
        "not read: '1.0e+999' is not a finite number",
    ),
    (
        "file over the size limit",
        "# padding\n" * (MAX_FILE_BYTES // 10 + 1),
        None,
        f"file is larger than {MAX_FILE_BYTES // 1024} KiB; not read",
    ),
]


@pytest.fixture
def room(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "config.example.yaml", tmp_path / "config.yaml")
    shutil.copytree(ROOT / "scenes", tmp_path / "scenes")
    return tmp_path / "config.yaml"


def only_problem(config: Path) -> Problem:
    with pytest.raises(ConfigError) as info:
        load_library(config)
    problems = info.value.problems
    assert len(problems) == 1, "\n".join(str(p) for p in problems)
    return problems[0]


@pytest.mark.parametrize(("content", "line", "message"), [h[1:] for h in HOSTILE],
                         ids=[h[0] for h in HOSTILE])  # fmt: skip
@pytest.mark.parametrize("where", ["config.yaml", "scenes/calm.yaml", "scenes/arcs/lsd.yaml"])
def test_hostile_file_is_one_problem_with_file_and_line(
    room: Path, where: str, content: str, line: int | None, message: str
) -> None:
    target = room.parent / where
    target.write_text(content, encoding="utf-8")
    p = only_problem(room)
    assert (p.file, p.line, p.path, p.message) == (str(target), line, "", message)


def test_anchors_aliases_and_merge_keys_still_load(room: Path) -> None:
    calm = room.parent / "scenes" / "calm.yaml"
    calm.write_text(
        "name: calm\n"
        "fade_s: 60\n"
        "lights:\n"
        "  lamp: &warm {on: true, brightness_pct: 20, color_temp_k: 2700}\n"
        "  ceiling: *warm\n"
        "  accent: {<<: *warm, brightness_pct: 10}\n",
        encoding="utf-8",
    )
    scene = load_library(room).scenes["calm"]
    assert scene.lights["ceiling"] == scene.lights["lamp"]
    assert scene.lights["accent"].brightness_pct == 10
    assert scene.lights["accent"].color_temp_k == 2700


def test_a_file_just_under_the_limits_loads(room: Path) -> None:
    """The limits leave room: a deep-ish structure with many values is read, and then only
    judged by the model (here: an unknown key)."""
    calm = room.parent / "scenes" / "calm.yaml"
    nested = "[" * (MAX_DEPTH - 2) + "1" + "]" * (MAX_DEPTH - 2)
    calm.write_text(f"name: calm\nextra: {nested}\n", encoding="utf-8")
    p = only_problem(room)
    assert (p.line, p.path, p.message) == (2, "extra", "unknown key 'extra'")


def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (CHILD_MEMORY_BYTES, CHILD_MEMORY_BYTES))
    resource.setrlimit(resource.RLIMIT_CPU, (CHILD_CPU_S, CHILD_CPU_S))


def check(config: Path) -> subprocess.CompletedProcess[str]:
    """`roomctl check --config FILE` in a child with bounded memory and CPU time."""
    return subprocess.run(
        [sys.executable, "-m", "roomctl", "check", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=_limits,  # only setrlimit, no locks or threads involved
        check=False,
    )


@pytest.mark.parametrize(("content", "line", "message"), [h[1:] for h in HOSTILE],
                         ids=[h[0] for h in HOSTILE])  # fmt: skip
def test_roomctl_check_reports_one_line_within_bounded_memory(
    tmp_path: Path, content: str, line: int | None, message: str
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(content, encoding="utf-8")
    done = check(config)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
    where = f"{config}:{line}" if line is not None else str(config)
    assert done.stderr.splitlines() == [
        f"{where}: {message}",
        "",
        "1 problem found; nothing was changed.",
    ]


def test_roomctl_check_passes_the_shipped_config_under_the_same_limits() -> None:
    """The limits the child runs under are not what makes the hostile files fail."""
    done = check(ROOT / "config.example.yaml")
    assert done.returncode == 0, done.stderr
    assert " ok — room " in done.stdout
