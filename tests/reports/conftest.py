"""Fixtures of the report tests: a hand-made table layout and tidy results."""

from __future__ import annotations

import pytest
from report_helpers import run

from sbr.metrics import BBOX_AP, METRIC_IMAGES_PER_S, SEGM_AP
from sbr.reports.tables import Column, RowLayout, TableLayout, column_for
from sbr.tracking.runs import RunRecord


@pytest.fixture
def layout() -> TableLayout:
    """Four rows, two descriptive columns, two AP columns and a speed column."""
    columns = (
        column_for("L_t"),
        column_for("H"),
        column_for("B_AP"),
        column_for("S_AP"),
        Column("Speed", "Speed", METRIC_IMAGES_PER_S),
    )
    rows = (
        RowLayout("row1", "Mask", {"L_t": 1, "H": 1, "B_AP": 38.2, "S_AP": 34.7, "Speed": 11.6}),
        RowLayout("row2", "R³-CNN", {"L_t": 3, "H": 1, "B_AP": 40.9, "S_AP": 37.2, "Speed": 3.4}),
        RowLayout("row3", "R³-CNN 7×7", {"L_t": 4, "H": 2, "B_AP": 42.9, "S_AP": None}),
        RowLayout("row4", "HTC & co", {"L_t": 3, "H": 3, "B_AP": 41.7, "S_AP": 36.9}),
        RowLayout("row5", "R³-CNN L_e=2", {"L_t": 3, "H": 1, "B_AP": 40.5}, eval_suffix="eval-x"),
    )
    return TableLayout("table99", "A test table", columns, rows, spec_hash="0123456789ab")


@pytest.fixture
def records() -> list[RunRecord]:
    """Row 1: two seeds; row 2: best; row 3: failed; row 4: no run; row 5: evaluation."""
    return [
        run("r1a", "table99/row1", {BBOX_AP: 0.380, SEGM_AP: 0.345, METRIC_IMAGES_PER_S: 11.0}),
        run("r1b", "table99/row1", {BBOX_AP: 0.386, SEGM_AP: 0.349}, seed=1),
        run("r2", "table99/row2,table98/row7", {BBOX_AP: 0.412, SEGM_AP: 0.371}),
        run("r3", "table99/row3", {}, status="failed"),
        run("r5t", "table99/row5", {BBOX_AP: 0.409}),
        run("r5e", "table99/row5", {BBOX_AP: 0.401}, kind="evaluation", eval_id="trial-r5t/eval-x"),
    ]
