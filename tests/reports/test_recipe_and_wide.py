"""Tables say which recipe made them, and the wide CSV has per-metric interval columns."""

from __future__ import annotations

import io
import math

import pandas as pd
import pytest
from report_helpers import PROVENANCE

from sbr.reports import latex
from sbr.reports.aggregate import summarize
from sbr.reports.build import other_preset
from sbr.tracking.runs import runs_to_frame


@pytest.mark.parametrize(
    ("presets", "expected"),
    [
        ({"a": "paper", "b": "paper"}, None),
        ({"a": "mini", "b": "paper"}, "mini"),
        ({"a": "mini", "b": "smoke"}, "mini, smoke"),
        ({}, None),
    ],
    ids=["paper", "mini", "two", "untagged"],
)
def test_other_preset(presets, expected) -> None:
    assert other_preset(["a", "b"], presets) == expected


def test_caption_names_a_small_scale_recipe(layout, records) -> None:
    summary = summarize(runs_to_frame(records), layout)
    paper = latex.table(summary, layout, provenance=PROVENANCE)
    mini = latex.table(summary, layout, provenance=PROVENANCE, preset="mini")
    assert "preset" not in paper.split("\\caption{")[1].split("}")[0]
    assert "Trained with the mini preset: a small-scale recipe" in mini
    assert "not the paper's 12-epoch training" in mini


def test_wide_csv_has_every_metric_with_its_interval_columns(layout, records) -> None:
    summary = summarize(runs_to_frame(records), layout)
    text = latex.wide_csv(summary, layout, provenance=PROVENANCE)
    frame = pd.read_csv(io.StringIO(text), comment="#")
    assert list(frame["row"]) == [row.id for row in layout.rows]  # one record per row
    for metric in ("B_AP", "S_AP", "Speed"):
        for suffix in (*latex.WIDE_SUFFIXES, "significant"):
            assert f"{metric}_{suffix}" in frame.columns
    by_row = frame.set_index("row")
    assert by_row.loc["row2", "B_AP"] == pytest.approx(41.2)
    assert by_row.loc["row2", "B_AP_paper"] == pytest.approx(40.9)
    assert math.isnan(by_row.loc["row4", "B_AP"])  # no run: empty cell, not an error
    # hand-computed from the records fixture: row 1 has two seeds, S_AP 34.5 and 34.9
    assert by_row.loc["row1", "S_AP"] == pytest.approx(34.7)
    assert by_row.loc["row1", "S_AP_paper"] == pytest.approx(34.7)
    assert by_row.loc["row2", "S_AP"] == pytest.approx(37.1)  # one seed: its value
