"""YAML reading for registry files: exact decimals, line numbers per path, every problem reported.

Floats are read as `Decimal` from their text (never through binary floats). `load_yaml` returns
the document and a map from a path such as `departments[3].cloud` to its line in the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

from core.errors import Problem, problem


class _DecimalLoader(yaml.SafeLoader):
    """SafeLoader whose floats are Decimals."""


def _construct_decimal(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    raw = str(loader.construct_scalar(node))
    try:
        value = Decimal(raw.replace("_", ""))
    except InvalidOperation:
        return raw
    return value if value.is_finite() else raw


def _construct_timestamp(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    # An impossible date such as 2026-02-30 stays text, so validation reports it at its path.
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except ValueError:
        return str(loader.construct_scalar(node))


_DecimalLoader.add_constructor("tag:yaml.org,2002:float", _construct_decimal)
_DecimalLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)


def join_path(parent: str, key: str | int) -> str:
    """`parent` + `.key` or `[index]`."""
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else str(key)


@dataclass
class YamlDocument:
    """A parsed document with its line map."""

    data: Any
    file: str
    lines: dict[str, int] = field(default_factory=dict)

    def line(self, path: str) -> int | None:
        """The line of `path`, or of its nearest ancestor that has one."""
        while path:
            if path in self.lines:
                return self.lines[path]
            cut = max(path.rfind("."), path.rfind("["))
            path = path[:cut] if cut > 0 else ""
        return None

    def problem(self, path: str, template: str, /, **params: Any) -> Problem:
        """A Problem at `path`, with file and line filled in."""
        return problem(template, path=path, file=self.file, line=self.line(path), **params)


def _walk(node: yaml.Node, path: str, lines: dict[str, int], problems: list[Problem], file: str) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            child = join_path(path, key)
            if key in seen:
                problems.append(
                    problem("duplicate key '{key}'", path=child, file=file, line=key_node.start_mark.line + 1, key=key)
                )
            seen.add(key)
            lines[child] = key_node.start_mark.line + 1
            _walk(value_node, child, lines, problems, file)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, join_path(path, index), lines, problems, file)


def parse_yaml(text: str, file: str) -> tuple[YamlDocument | None, list[Problem]]:
    """Parse YAML text; problems for syntax errors, duplicate keys or an empty file."""
    if text.startswith("\ufeff"):
        text = text[1:]
    loader = _DecimalLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, [problem("the file is empty", file=file)]
        lines: dict[str, int] = {}
        problems: list[Problem] = []
        _walk(node, "", lines, problems, file)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        return None, [
            problem(
                "YAML syntax error: {detail}",
                file=file,
                line=(mark.line + 1) if mark else None,
                detail=str(exc.problem or exc.context or exc),
            )
        ]
    except yaml.YAMLError as exc:
        return None, [problem("YAML syntax error: {detail}", file=file, detail=str(exc))]

    finally:
        loader.dispose()
    return YamlDocument(data, file, lines), problems


def read_yaml(path: str | Path) -> tuple[YamlDocument | None, list[Problem]]:
    """Read and parse a YAML file (UTF-8, a BOM accepted)."""
    p = Path(path)
    try:
        text = p.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        return None, [problem("file not found", file=str(path))]
    except (OSError, UnicodeDecodeError) as exc:
        return None, [problem("cannot read the file: {reason}", file=str(path), reason=str(exc))]
    return parse_yaml(text, str(path))


def _flow_representer(dumper: yaml.SafeDumper, data: dict[str, Any]) -> yaml.Node:
    return dumper.represent_mapping("tag:yaml.org,2002:map", data.items(), flow_style=True)


class _FlowDumper(yaml.SafeDumper):
    pass


_FlowDumper.add_representer(dict, _flow_representer)
# statuses and kinds (StrEnum) as the plain strings they are
_FlowDumper.add_multi_representer(StrEnum, lambda d, v: d.represent_str(str(v)))
_FlowDumper.add_representer(Decimal, lambda d, v: d.represent_scalar("tag:yaml.org,2002:str", format(v, "f")))


def flow_item(value: dict[str, Any]) -> str:
    """One mapping as a single YAML flow line (keys in the given order)."""
    return yaml.dump(value, Dumper=_FlowDumper, allow_unicode=True, width=10_000, sort_keys=False).strip()


def dump_sections(header: dict[str, dict[str, Any]], sections: list[tuple[str, list[dict[str, Any]]]]) -> str:
    """A document of one-line mappings on top and lists of one-line flow items below."""
    out = [f"{key}: {flow_item(value)}" for key, value in header.items()]
    for name, items in sections:
        out.append(f"{name}:" if items else f"{name}: []")
        out.extend(f"  - {flow_item(item)}" for item in items)
    return "\n".join(out) + "\n"
