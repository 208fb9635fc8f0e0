"""The tracking layer sits below the reports: it never imports them, even lazily."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import sbr

TRACKING = Path(sbr.__file__).parent / "tracking"


def _imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside a function."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", sorted(TRACKING.glob("*.py")), ids=lambda p: p.name)
def test_tracking_does_not_import_reports(path: Path) -> None:
    upward = sorted(m for m in _imported_modules(path) if m.split(".")[:2] == ["sbr", "reports"])
    assert not upward, f"{path.name} imports {upward}"


def test_an_empty_store_gives_a_frame_with_the_tidy_schema() -> None:
    from sbr.tracking import runs

    assert list(runs.empty_tidy().columns) == list(runs.TIDY_COLUMNS)
    assert list(runs.runs_to_frame([]).columns) == list(runs.TIDY_COLUMNS)
    parent_only = runs.RunRecord("p", {"sbr.kind": "ablation"}, {"x": 1.0})  # serves no row
    assert runs.runs_to_frame([parent_only]).empty
