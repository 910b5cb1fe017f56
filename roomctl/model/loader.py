"""Reading YAML files into validated models, with every problem reported at once:
file, line, field path, what is wrong, and a "did you mean" for names that are nearly right."""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from roomctl.errors import Problem

__all__ = [
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_NODES",
    "Source",
    "did_you_mean",
    "load_model",
    "read_yaml",
    "vocabulary",
]

M = TypeVar("M", bound=BaseModel)
PathKey = tuple[str | int, ...]


@dataclass(frozen=True)
class Source:
    """A YAML document with the line of every key and list item."""

    file: str
    data: Any
    lines: dict[PathKey, int]
    duplicates: tuple[Problem, ...] = ()

    def line(self, path: Iterable[str | int]) -> int | None:
        """Line of the deepest part of `path` found in the document."""
        found: int | None = self.lines.get(())
        node: Any = self.data
        walked: list[str | int] = []
        for part in path:
            found_child, node = _child(node, part)
            if not found_child:
                continue  # union tags and other model-only parts of a pydantic location
            walked.append(part)
            found = self.lines.get(tuple(walked), found)
        return found

    def data_path(self, path: Iterable[str | int]) -> PathKey:
        """The parts of a pydantic location that exist in the document."""
        node: Any = self.data
        out: list[str | int] = []
        for part in path:
            found_child, node = _child(node, part)
            if found_child:
                out.append(part)
        return tuple(out)


def _child(node: Any, part: str | int) -> tuple[bool, Any]:
    """(True, child) when `part` names a key or index of `node`, else (False, node)."""
    if isinstance(node, dict) and part in node:
        return True, node[part]
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return True, node[part]
    return False, node


# Limits on what one file may ask of the loader.  A room's largest file (config.yaml) is a few
# kilobytes, a few hundred values and six levels deep; these leave a wide margin and still stop
# a hostile or broken file (billion laughs, self-referencing anchors, endless nesting, huge
# numbers) in well under a second and a few megabytes.
MAX_FILE_BYTES = 1 << 20
MAX_NODES = 100_000  # values in the document, counting every alias expansion
MAX_DEPTH = 64  # nesting of mappings and lists
MAX_NUMBER_CHARS = 100  # digits of an integer or a float in the file


class LimitError(yaml.MarkedYAMLError):
    """A file that is too big, too deep or expands too far (counted while it is read)."""


class _Loader(yaml.SafeLoader):
    """YAML 1.2 booleans (only true/false are booleans, so `on:` and `off:` stay keys), and
    bounded: nesting, alias expansion, number size and non-finite numbers are checked while the
    document is composed and constructed, before anything grows."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._nodes = 0  # values composed so far, an alias counting as everything it stands for
        self._sizes: dict[str, int] = {}  # anchor -> values under it, once it is complete

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event: Any = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent):
            anchor = str(event.anchor)
            mark: Any = event.start_mark
            if anchor in self.anchors and anchor not in self._sizes:
                raise LimitError(
                    None,
                    None,
                    f"alias *{anchor} refers to its own anchor &{anchor} "
                    "(a structure that contains itself)",
                    mark,
                )
            node = super().compose_node(parent, index)
            self._count(self._sizes.get(anchor, 1), mark, alias=anchor)
            return node
        self._count(1, event.start_mark)
        before = self._nodes - 1
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise LimitError(
                None, None, f"nested more than {MAX_DEPTH} levels deep", event.start_mark
            )
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if event.anchor is not None:
            self._sizes[event.anchor] = self._nodes - before
        return node

    def _count(self, n: int, mark: Any, alias: str | None = None) -> None:
        self._nodes += n
        if self._nodes > MAX_NODES:
            how = f" (alias *{alias} expands to {n} values)" if alias is not None else ""
            raise LimitError(None, None, f"more than {MAX_NODES} values in one file{how}", mark)


def _number(loader: _Loader, node: yaml.ScalarNode, kind: str) -> None:
    if len(node.value) > MAX_NUMBER_CHARS:
        raise LimitError(
            None,
            None,
            f"{kind} of {len(node.value)} characters; at most {MAX_NUMBER_CHARS} are allowed",
            node.start_mark,
        )


def _construct_int(loader: _Loader, node: yaml.Node) -> Any:
    assert isinstance(node, yaml.ScalarNode)
    _number(loader, node, "an integer")
    return yaml.SafeLoader.construct_yaml_int(loader, node)


def _construct_float(loader: _Loader, node: yaml.Node) -> Any:
    assert isinstance(node, yaml.ScalarNode)
    _number(loader, node, "a number")
    value = yaml.SafeLoader.construct_yaml_float(loader, node)
    if not math.isfinite(value):
        raise LimitError(None, None, f"{node.value!r} is not a finite number", node.start_mark)
    return value


_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_Loader.add_constructor("tag:yaml.org,2002:float", _construct_float)
_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


Duplicate = tuple[int, str, str]  # line, where, message


def _walk(
    node: yaml.Node, path: PathKey, lines: dict[PathKey, int], dupes: list[Duplicate]
) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                line = key.start_mark.line + 1
                if key.value in seen:
                    where = ".".join(str(p) for p in path)
                    message = (
                        f"key {key.value!r} appears twice (lines {seen[key.value]} and {line})"
                    )
                    dupes.append((line, where, message))
                seen[key.value] = line
                sub = (*path, key.value)
                _walk(value, sub, lines, dupes)
                lines[sub] = line
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, (*path, i), lines, dupes)


def read_yaml(path: Path) -> Source | Problem:
    """Parse one YAML file, or say why it cannot be read (one problem, with its line)."""
    name = str(path)
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)
        text = raw.decode("utf-8")
    except FileNotFoundError:
        return Problem(name, None, "", "file not found")
    except (OSError, UnicodeDecodeError) as exc:
        return Problem(name, None, "", f"cannot read the file: {exc}")
    if len(raw) > MAX_FILE_BYTES:
        return Problem(
            name, None, "", f"file is larger than {MAX_FILE_BYTES // 1024} KiB; not read"
        )
    try:
        loader = _Loader(text)  # the reader refuses control characters (a NUL) at once
    except yaml.reader.ReaderError as exc:
        at = text.count("\n", 0, max(0, exc.position)) + 1
        return Problem(
            name, at, "", f"not valid YAML: character #x{exc.character:04x} is not allowed"
        )
    lines: dict[PathKey, int] = {}
    dupes: list[Duplicate] = []
    try:
        node = loader.get_single_node()
        if node is not None:  # walked before construction, which flattens merge keys (<<)
            _walk(node, (), lines, dupes)
        data = loader.construct_document(node) if node is not None else None
    except LimitError as exc:
        mark = exc.problem_mark
        return Problem(name, mark.line + 1 if mark else None, "", f"not read: {exc.problem}")
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        what = " ".join(s for s in (exc.context, exc.problem) if s)
        return Problem(name, line, "", f"not valid YAML: {what}")
    except (yaml.YAMLError, ValueError) as exc:
        return Problem(name, None, "", f"not valid YAML: {exc}")
    except RecursionError:
        return Problem(name, None, "", "not read: nested too deeply")
    finally:
        loader.dispose()
    problems = [Problem(name, at, where, message) for at, where, message in dupes]
    return Source(name, data, lines, tuple(problems))


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    match = difflib.get_close_matches(word, sorted(set(choices)), n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


def vocabulary(*models: type[BaseModel]) -> set[str]:
    """Every field name reachable from `models`, for "did you mean" on unknown keys."""
    seen: set[type[BaseModel]] = set()
    names: set[str] = set()
    todo = list(models)
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, info in model.model_fields.items():
            names.add(name)
            todo.extend(_models_in(info.annotation))
    return names


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    out: list[type[BaseModel]] = []
    for arg in getattr(annotation, "__args__", ()) or ():
        out.extend(_models_in(arg))
    origin = getattr(annotation, "__origin__", None)
    if origin is not None and origin is not annotation:
        out.extend(_models_in(origin))
    return out


def _message(err: Any, words: set[str]) -> str:
    kind = err["type"]
    loc = err["loc"]
    if kind == "extra_forbidden":
        key = str(loc[-1]) if loc else "?"
        return f"unknown key {key!r}{did_you_mean(key, words)}"
    if kind == "missing":
        return f"{str(loc[-1])!r} is required but missing" if loc else "required but missing"
    if kind == "union_tag_invalid":
        expected = err.get("ctx", {}).get("expected_tags", "")
        tag = err.get("ctx", {}).get("tag", "")
        return f"unknown driver {tag!r}; one of {expected}{did_you_mean(str(tag), _tags(expected))}"
    msg = str(err["msg"])
    msg = msg.removeprefix("Value error, ")
    given = err.get("input")
    if kind not in ("value_error", "assertion_error") and not isinstance(given, dict | list):
        msg += f" (got {given!r})"
    return msg


def _tags(expected: str) -> list[str]:
    return [t.strip().strip("'") for t in expected.split(",")]


def load_model(model: type[M], source: Source, words: set[str] | None = None) -> M | list[Problem]:
    """Validate `source` against `model`, or return every problem with its line and path."""
    vocab = words if words is not None else vocabulary(model)
    if source.duplicates:
        return list(source.duplicates)
    if not isinstance(source.data, dict):
        got = "an empty file" if source.data is None else type(source.data).__name__
        return [Problem(source.file, source.line(()), "", f"expected a mapping of keys, got {got}")]
    try:
        return model.model_validate(source.data)
    except ValidationError as exc:
        problems: list[Problem] = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            path = source.data_path(loc)
            if err["type"] in ("extra_forbidden", "missing") and loc and loc[-1] not in path:
                path = (*path, loc[-1])
            dotted = ".".join(str(p) if isinstance(p, str) else f"[{p}]" for p in path)
            dotted = dotted.replace(".[", "[")
            problem = Problem(source.file, source.line(loc), dotted, _message(err, vocab))
            if not any(p.path == problem.path and p.line == problem.line for p in problems):
                problems.append(problem)  # one problem per place (a union reports each branch)
        return problems
