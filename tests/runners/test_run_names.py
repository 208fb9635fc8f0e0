"""Run display names from the shipped specs' expansion (sbr.runners.execute.run_names)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sbr.runners.execute import run_names, users_of, varies
from sbr.specs.expand import expand
from sbr.specs.presets import load_preset
from sbr.specs.schema import Override, Row, load_spec

ABLATIONS = Path(__file__).resolve().parents[2] / "ablations"


@pytest.fixture(scope="module")
def names_by_row() -> dict[tuple[str, str], tuple[str, str | None]]:
    """(table, row) -> (training run name, evaluation run name or None), Tables 2-4, seed 1."""
    specs = [load_spec(ABLATIONS / f"table{n}.yaml") for n in (2, 3, 4)]
    expansion = expand(specs, load_preset("mini"), seeds=[1])
    names = run_names(expansion, users_of(expansion))
    return {(r.table, r.row_id): (names[r.trial_id], names.get(r.eval_id)) for r in expansion.rows}


@pytest.mark.parametrize(
    ("table", "row", "training", "evaluation"),
    [
        ("table2", "row1", "Mask (1x) · T2 r1, T3 r1, T4 r1 · s1", None),
        ("table2", "row4", "R³-CNN (naive) · T2 r4, T3 r4, T4 r2-r6 · s1", None),
        ("table4", "row4", "R³-CNN (naive) · T2 r4, T3 r4, T4 r2-r6 · s1", None),
        (
            "table4",
            "row3",
            "R³-CNN (naive) · T2 r4, T3 r4, T4 r2-r6 · s1",
            "R³-CNN L_e=2 · T4 r3 · s1",
        ),
        (
            "table4",
            "row6",
            "R³-CNN (naive) · T2 r4, T3 r4, T4 r2-r6 · s1",
            "R³-CNN L_e=5 · T4 r6 · s1",
        ),
        ("table3", "row2", "R³-CNN · T3 r2 · s1", None),
    ],
    ids=["shared-mask", "shared-r3cnn", "t4-own-evaluation", "t4-le2", "t4-le5", "one-row"],
)
def test_run_names_of_the_shipped_tables(
    names_by_row: dict, table: str, row: str, training: str, evaluation: str | None
) -> None:
    assert names_by_row[table, row] == (training, evaluation)


def _row(label: str, eval_overrides: dict, paper: dict) -> Row:
    overrides = tuple(Override(path, value) for path, value in eval_overrides.items())
    return Row("r", label, "c.py", eval_overrides=overrides, paper=tuple(paper.items()))


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (_row("R³-CNN", {"model.roi_head.num_stages_test": 2}, {"L_e": 2}), "L_e=2"),
        (_row("Mask", {"model.test_cfg.rcnn.max_per_img": 10}, {}), "max_per_img=10"),
        (_row("Grid (max_per_img=10)", {"model.test_cfg.rcnn.max_per_img": 10}, {}), ""),
        (_row("Mask", {}, {"L_e": 1}), ""),
    ],
    ids=["printed-l_e", "override", "grid-label-says-it", "training-row"],
)
def test_what_an_evaluation_row_varies(row: Row, expected: str) -> None:
    assert varies(row) == expected
