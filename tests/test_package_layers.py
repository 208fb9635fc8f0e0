"""The package's layers: no module imports from a layer above its own.

Bottom to top: yamlspec/metrics -> data -> engine/tracking -> models -> specs -> reports
-> runners -> cli. A lower layer that needs something of a higher one means the thing is
in the wrong place.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import sbr

LAYER = {
    "yamlspec": 0, "metrics": 0, "data": 1, "engine": 2, "tracking": 2, "models": 3,
    "specs": 4, "reports": 5, "runners": 6, "cli": 7, "__main__": 8,
}  # fmt: skip
PACKAGE = Path(sbr.__file__).parent


def sbr_imports(source: str) -> list[str]:
    """Every ``sbr.*`` module a source imports (at any depth, lazy imports included)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("sbr."):
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith("sbr.")]
    return found


def upward(path: Path) -> list[str]:
    own = LAYER[path.relative_to(PACKAGE).parts[0].removesuffix(".py")]
    return [m for m in sbr_imports(path.read_text()) if LAYER.get(m.split(".")[1], -1) > own]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from sbr.cli.ablation import run", ["sbr.cli.ablation"]),
        ("def f():\n    import sbr.reports.build\n", ["sbr.reports.build"]),
        ("import os\nfrom . import x\n", []),
    ],
    ids=["from-import", "lazy-import", "no-sbr"],
)
def test_sbr_imports_finds_lazy_and_plain_imports(source: str, expected: list[str]) -> None:
    assert sbr_imports(source) == expected


def test_every_top_level_module_has_a_layer() -> None:
    names = {p.name.removesuffix(".py") for p in PACKAGE.iterdir() if not p.name.startswith("_")}
    names -= {"configs"}  # MMEngine config files, not imported as modules
    assert names <= set(LAYER), f"put {sorted(names - set(LAYER))} into LAYER"


def test_no_module_imports_from_a_higher_layer() -> None:
    offenders = {
        str(p.relative_to(PACKAGE)): up
        for p in sorted(PACKAGE.rglob("*.py"))
        if p.relative_to(PACKAGE).parts[0] not in ("configs", "__init__.py", "_ablations")
        and (up := upward(p))
    }
    assert not offenders, offenders
