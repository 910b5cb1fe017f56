"""Bad config, scene, arc and preference files, generated: random structures, mutations of the
shipped files, YAML bombs, deep nesting, huge numbers and odd unicode.  Loading one always ends
in roomctl's own ConfigError naming the file (and a line where there is one), never another
exception and never a hang (hypothesis' deadline bounds every example); `roomctl check` on a
bad file says so in one message and exits 1."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from roomctl.errors import ConfigError
from roomctl.model.library import load_library, load_preferences
from tests.cli_support import EXAMPLE, ROOT, cli

PREFS = "volume_max: 30\nbrightness_max_pct: 60\nhue:\n  liked: [amber, blue]\n"
FUZZ = settings(
    max_examples=40,
    deadline=timedelta(seconds=5),  # a hang or a bomb would take far longer
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,  # the same examples in CI every run
)

BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{n}: &{n} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
    for p, n in zip("abcdefgh", "bcdefghi", strict=True)
)
NASTY = [
    BOMB,
    "[" * 5000 + "]" * 5000,
    "a:\n" + "".join(" " * i + f"k{i}:\n" for i in range(1, 400)),
    "room: {id: x, name: 1e999999}\n",
    "volume_max: 99999999999999999999999999999999999999\n",
    'room: {id: "\u202e\u0000\ud7ff", name: "\U0001f600"}\n',
    "\ufeff\u00a0:\t\n",
    "!!python/object/apply:os.system [echo hi]\n",
    "---\n---\n---\n",
    "\x00\x01\x02",
    "a: *nowhere\n",
    "<<: [*x]\n",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
)
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=30,
)


@pytest.fixture(scope="module")
def room(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the example config and the shipped scenes (restored after every example)."""
    where = tmp_path_factory.mktemp("room")
    shutil.copy(EXAMPLE, where / "config.yaml")
    shutil.copytree(ROOT / "scenes", where / "scenes")
    (where / "prefs.yaml").write_text(PREFS, encoding="utf-8")
    return where


TARGETS = {
    "config": "config.yaml",
    "scene": "scenes/calm.yaml",
    "arc": "scenes/arcs/psilocybin.yaml",
    "prefs": "prefs.yaml",
}


class Swapped:
    """One file of the room replaced by `text` while loading, then put back."""

    def __init__(self, room: Path, kind: str) -> None:
        self.room, self.kind = room, kind
        self.path = room / TARGETS[kind]
        self.original = self.path.read_bytes()

    def load(self, data: bytes) -> None:
        self.path.write_bytes(data)
        try:
            if self.kind == "prefs":
                load_preferences(self.path)
            else:
                load_library(self.room / "config.yaml")
        except ConfigError as err:
            check_problems(err, self.path)
        finally:
            self.path.write_bytes(self.original)


def check_problems(err: ConfigError, path: Path) -> None:
    assert err.problems, "a ConfigError without a problem"
    for problem in err.problems:
        assert problem.file, problem
        assert problem.line is None or problem.line >= 1, problem
        assert "Traceback" not in problem.message
    # the broken file is named (others may be named too: an arc missing its scene)
    assert any(Path(p.file).name == path.name for p in err.problems) or any(
        path.name in p.message for p in err.problems
    ), [str(p) for p in err.problems]


def mutations(original: bytes) -> st.SearchStrategy[bytes]:
    """The shipped file with lines dropped, duplicated or swapped, bytes flipped or spliced in."""

    @st.composite
    def mutate(draw: st.DrawFn) -> bytes:
        lines = original.split(b"\n")
        for _ in range(draw(st.integers(1, 4))):
            i = draw(st.integers(0, len(lines) - 1))
            how = draw(st.sampled_from(["drop", "dup", "swap", "splice", "indent", "value"]))
            if how == "drop":
                del lines[i]
            elif how == "dup":
                lines.insert(i, lines[i])
            elif how == "swap":
                j = draw(st.integers(0, len(lines) - 1))
                lines[i], lines[j] = lines[j], lines[i]
            elif how == "splice":
                junk = draw(st.binary(max_size=8) | st.sampled_from([b"{", b"]", b": :", b"&a"]))
                at = draw(st.integers(0, len(lines[i])))
                lines[i] = lines[i][:at] + junk + lines[i][at:]
            elif how == "indent":
                lines[i] = b"   " + lines[i]
            else:
                value = draw(st.sampled_from([b"-1", b"1e308", b"''", b"null", b"[]", b"x" * 300]))
                if b":" in lines[i]:
                    lines[i] = lines[i].split(b":", 1)[0] + b": " + value
            if not lines:
                lines = [b""]
        return b"\n".join(lines)

    return mutate()


@pytest.mark.parametrize("kind", TARGETS)
def test_nasty_documents(room: Path, kind: str) -> None:
    swapped = Swapped(room, kind)
    for text in NASTY:
        swapped.load(text.encode("utf-8", "surrogatepass"))


@pytest.mark.parametrize("kind", TARGETS)
def test_random_structures(room: Path, kind: str) -> None:
    swapped = Swapped(room, kind)

    @FUZZ
    @given(documents)
    def check(doc: object) -> None:
        swapped.load(yaml.safe_dump(doc, allow_unicode=True).encode())

    check()


@pytest.mark.parametrize("kind", TARGETS)
def test_mutated_shipped_files(room: Path, kind: str) -> None:
    swapped = Swapped(room, kind)

    @FUZZ
    @given(mutations(swapped.original))
    def check(data: bytes) -> None:
        swapped.load(data)

    check()


def test_check_on_a_bad_file_is_one_message_and_exit_1(tmp_path: Path) -> None:
    shutil.copy(EXAMPLE, tmp_path / "config.yaml")
    shutil.copytree(ROOT / "scenes", tmp_path / "scenes")
    (tmp_path / "scenes" / "calm.yaml").write_text(BOMB, encoding="utf-8")
    done = cli("check", "--config", str(tmp_path / "config.yaml"), cwd=tmp_path)
    assert done.returncode == 1
    assert "Traceback" not in done.stdout + done.stderr
    problems = [line for line in (done.stdout + done.stderr).splitlines() if "calm.yaml" in line]
    assert len(problems) == 1, done.stdout + done.stderr
