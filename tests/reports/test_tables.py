"""Layouts of Tables 2-11 built from the ablation specs, and run selection per row."""

from __future__ import annotations

import pytest
from report_helpers import run

from sbr.metrics import BBOX_AP, METRIC_PARAMS, SEGM_AP, TAG_TRIAL
from sbr.reports.aggregate import summarize
from sbr.reports.tables import TABLE_NAMES, column_for, load_layout
from sbr.tracking.runs import parse_rows, runs_to_frame


@pytest.mark.parametrize("name", TABLE_NAMES, ids=TABLE_NAMES)
def test_every_table_has_a_layout_with_paper_values(name):
    layout = load_layout(name)
    assert layout.rows and layout.columns
    assert layout.spec_file == f"ablations/{name}.yaml" and len(layout.spec_hash) == 12
    ranked = [c for c in layout.columns if c.rank]
    assert ranked and all(c.metric.startswith("coco/") and c.scale == 100 for c in ranked)
    assert all(r.paper for r in layout.rows)


def test_table2_params_in_thousands_and_table6_in_millions():
    params2 = next(c for c in load_layout("table2").columns if c.name == "Params")
    params6 = next(c for c in load_layout("table6").columns if c.name == "Params")
    assert (params2.metric, params2.scale, params2.unit) == (METRIC_PARAMS, 1e-3, " K")
    assert (params6.scale, params6.unit, params6.decimals) == (1e-6, " M", 1)


def test_table4_evaluation_rows_name_their_evaluation():
    suffixes = [r.eval_suffix for r in load_layout("table4").rows]
    assert suffixes[0] == suffixes[3] == "final"
    assert all(s.startswith("eval-") for s in (suffixes[1], suffixes[2], suffixes[4], suffixes[5]))
    assert len(set(suffixes)) == 5


def test_unknown_column_is_rejected():
    with pytest.raises(ValueError, match="column 'Bogus' of table2"):
        column_for("Bogus", table="table2")


def test_parse_rows():
    assert parse_rows("table2/row1, table3/row1,junk,") == [("table2", "row1"), ("table3", "row1")]


def test_deduplicated_trial_serves_every_table():
    record = run("b0", "table2/row4,table3/row4,table6/row2", {BBOX_AP: 0.41, SEGM_AP: 0.372})
    tidy = runs_to_frame([record])
    for table, row in (("table2", "row4"), ("table3", "row4"), ("table6", "row2")):
        summary = summarize(tidy, load_layout(table))
        cell = summary[(summary["row"] == row) & (summary["column"] == "B_AP")].iloc[0]
        assert cell["status"] == "ok" and cell["mean"] == pytest.approx(41.0)
        assert cell["run_ids"] == "b0"


def test_newest_finished_run_wins_and_failed_retry_is_ignored(layout):
    records = [
        run("old", "table99/row1", {BBOX_AP: 0.30}, start=1),
        run("new", "table99/row1", {BBOX_AP: 0.31}, start=2),
        run("crash", "table99/row1", {}, status="failed", start=3),
        run("parent", "table99/row1", {BBOX_AP: 0.99}, kind="ablation", start=4),
    ]
    summary = summarize(runs_to_frame(records), layout)
    cell = summary[(summary["row"] == "row1") & (summary["column"] == "B_AP")].iloc[0]
    assert cell["mean"] == pytest.approx(31.0) and cell["run_ids"] == "new"


def test_training_run_does_not_serve_an_evaluation_row(layout):
    summary = summarize(runs_to_frame([run("t", "table99/row5", {BBOX_AP: 0.4})]), layout)
    assert set(summary[summary["row"] == "row5"]["status"]) == {"missing"}


def test_evaluation_run_without_rows_inherits_its_trials_rows(layout):
    training = run("t", "table99/row5", {BBOX_AP: 0.4})
    evaluation = run("e", "", {BBOX_AP: 0.38}, kind="evaluation", eval_id="trial-t/eval-x")
    evaluation.tags[TAG_TRIAL] = "trial-t"
    summary = summarize(runs_to_frame([training, evaluation]), layout)
    cell = summary[(summary["row"] == "row5") & (summary["column"] == "B_AP")].iloc[0]
    assert (cell["run_ids"], cell["mean"]) == ("e", pytest.approx(38.0))


def test_running_row_is_reported_as_running(layout):
    tidy = runs_to_frame([run("r", "table99/row2", {}, status="running")])
    summary = summarize(tidy, layout)
    assert set(summary[summary["row"] == "row2"]["status"]) == {"running"}


def test_pure_report_modules_import_no_heavy_stack():
    import subprocess
    import sys

    code = (
        "import sys, sbr.reports, sbr.reports.latex, sbr.reports.tables, sbr.tracking.runs;"
        "heavy = [m for m in ('mlflow', 'torch', 'mmdet', 'matplotlib') if m in sys.modules];"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
