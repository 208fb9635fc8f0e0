"""YAML loading with line numbers (PyYAML SafeLoader subclass)."""

from __future__ import annotations

import pytest

from sbr.yamlspec.errors import Loc, SpecError, format_key
from sbr.yamlspec.loader import LocDict, LocList, load_yaml


def test_mappings_and_sequences_remember_lines() -> None:
    doc = load_yaml("a: 1\nrows:\n  - x: 2\n    y: [1, 2]\n  - x: 3\n", source="f.yaml")
    assert isinstance(doc, LocDict)
    assert doc.loc("rows") == Loc("f.yaml", 2)
    rows = doc["rows"]
    assert isinstance(rows, LocList)
    assert [rows.loc(i).line for i in range(2)] == [3, 5]
    assert rows[0].loc("y").line == 4
    assert rows[0] == {"x": 2, "y": [1, 2]}


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        pytest.param(
            "a: 1\nb: 2\na: 3\n", 3, "duplicate key (first given on line 1)", id="duplicate-key"
        ),
        pytest.param("a: [1, 2\nb: 3\n", 2, "invalid YAML", id="syntax-error"),
    ],
)
def test_bad_yaml_is_one_line_with_file_and_line(text: str, line: int, fragment: str) -> None:
    with pytest.raises(SpecError) as info:
        load_yaml(text, source="bad.yaml")
    message = str(info.value)
    assert message.startswith(f"bad.yaml:{line}: ")
    assert fragment in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        pytest.param(("rows", 2, "config"), "rows[2].config", id="index"),
        pytest.param(
            ("rows", 0, "overrides", "model.roi_head.stages"),
            'rows[0].overrides."model.roi_head.stages"',
            id="dotted",
        ),
        pytest.param(("name",), "name", id="top"),
    ],
)
def test_format_key(parts: tuple, expected: str) -> None:
    assert format_key(parts) == expected
