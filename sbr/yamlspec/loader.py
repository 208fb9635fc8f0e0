"""YAML loading with line numbers.

PyYAML's ``SafeLoader`` is subclassed so that every mapping and sequence it builds
remembers the line of each key/item (from ``node.start_mark``). Duplicate keys,
which PyYAML silently overwrites, are rejected.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from sbr.yamlspec.errors import Loc, SpecError


class LocDict(dict):
    """A ``dict`` that knows its own line and the line of each key."""

    file: str = "<string>"
    line: int = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.key_lines: dict[Any, int] = {}

    def loc(self, key: Any = None) -> Loc:
        """Location of ``key`` (or of the mapping itself when ``key`` is None/absent)."""
        return Loc(self.file, self.key_lines.get(key, self.line))


class LocList(list):
    """A ``list`` that knows its own line and the line of each item."""

    file: str = "<string>"
    line: int = 0

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.item_lines: list[int] = []

    def loc(self, index: int | None = None) -> Loc:
        """Location of item ``index`` (or of the sequence itself)."""
        if index is not None and 0 <= index < len(self.item_lines):
            return Loc(self.file, self.item_lines[index])
        return Loc(self.file, self.line)


class _LineLoader(yaml.SafeLoader):
    """SafeLoader whose mappings/sequences are :class:`LocDict`/:class:`LocList`."""

    source: str = "<string>"


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LocDict:
    loader.flatten_mapping(node)
    data = LocDict()
    data.file, data.line = loader.source, node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if not isinstance(key, (str, int, float, bool)) and key is not None:
            raise SpecError(Loc(loader.source, line), str(key), "keys must be plain scalars")
        if key in data:
            raise SpecError(
                Loc(loader.source, line),
                str(key),
                f"duplicate key (first given on line {data.key_lines[key]})",
            )
        data[key] = loader.construct_object(value_node, deep=True)
        data.key_lines[key] = line
    return data


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> LocList:
    data = LocList(loader.construct_object(child, deep=True) for child in node.value)
    data.file, data.line = loader.source, node.start_mark.line + 1
    data.item_lines = [child.start_mark.line + 1 for child in node.value]
    return data


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def load_yaml(text: str, *, source: str = "<string>") -> Any:
    """Parse YAML ``text``; mappings/sequences carry line numbers.

    Raises:
        SpecError: On a YAML syntax error or a duplicate key (with ``source:line``).
    """
    loader = _LineLoader(text)
    loader.source = source
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        raise SpecError(Loc(source, line), "", f"invalid YAML: {exc.problem}") from None
    finally:
        loader.dispose()


def load_yaml_file(path: str | Path) -> Any:
    """Read and parse a YAML file (see :func:`load_yaml`)."""
    path = Path(path)
    return load_yaml(path.read_text(encoding="utf-8"), source=str(path))
