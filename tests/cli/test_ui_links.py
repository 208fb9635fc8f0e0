"""``sbr ui TABLE``'s links: the compare-runs page of a table's final runs (real sqlite store,
runs written through Tracker, no server); bad input exits 2 before any server starts."""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path

import pytest
from click.testing import CliRunner
from ui_store import write_runs

from sbr.cli import main
from sbr.cli.ui import compare_url, runs_url, table_runs


@pytest.mark.parametrize(
    ("base", "runs", "experiments", "expected"),
    [
        (
            "http://127.0.0.1:5000",
            ["a1", "b2"],
            ["3", "1", "3"],
            'http://127.0.0.1:5000/#/compare-runs?runs=["a1","b2"]&experiments=["1","3"]'
            "&workflowType=machine_learning",
        ),
        (
            "https://mlflow.example/",
            ["a1"],
            ["7"],
            'https://mlflow.example/#/compare-runs?runs=["a1"]&experiments=["7"]'
            "&workflowType=machine_learning",
        ),
    ],
    ids=["local-server", "remote-trailing-slash"],
)
def test_compare_url(base: str, runs: list, experiments: list, expected: str) -> None:
    """MLflow 3.x's route: ``#/compare-runs?runs=<JSON list>&experiments=<sorted JSON list>``."""
    assert urllib.parse.unquote(compare_url(base, runs, experiments)) == expected
    assert '"' not in compare_url(base, runs, experiments)  # pastes whole from a terminal


def test_runs_url_opens_the_model_training_view() -> None:
    url = runs_url("http://h:1/", "4")
    assert url == "http://h:1/#/experiments/4/runs?workflowType=machine_learning"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list[str], str]:
    """Table 4 with two seeds (and Table 3 sharing two trainings): uri, Table 4's final
    runs in row and seed order, experiment id."""
    from sbr.tracking.mlflow import Tracker, default_tracking_uri

    uri = default_tracking_uri(tmp_path_factory.mktemp("ui_links"))
    tracker = Tracker(uri)
    parent = tracker.start_run(tags={"sbr.kind": "ablation"})
    _, _, table4 = write_runs(tracker, parent, ("table3", "table4"), [1, 2])
    return uri, table4, tracker.experiment_id


def test_table_runs_are_one_per_row_and_seed(store: tuple[str, list[str], str]) -> None:
    from sbr.reports.tables import load_layout

    uri, table4, experiment_id = store
    run_ids, experiments = table_runs(uri, load_layout("table4"))
    assert len(run_ids) == 12 == len(set(run_ids))  # 6 rows x 2 seeds, no run twice
    assert run_ids == table4 and experiments == [experiment_id]


def test_sbr_ui_table_refuses_an_unreachable_server() -> None:
    """(A reachable one: tests/cli/test_ui_browser.py, on its real server.)"""
    result = CliRunner().invoke(main, ["ui", "table4", "--tracking-uri", "http://127.0.0.1:9"])
    assert result.exit_code == 2 and "unreachable" in result.output


@pytest.mark.parametrize(
    ("table", "message"),
    [("table99", "no such spec"), ("tabel4", "did you mean 'table4'")],
    ids=["unknown", "misspelt"],
)
def test_unknown_table_exits_2_before_reading_the_store(
    table: str, message: str, tmp_path: Path
) -> None:
    store = tmp_path / "missing" / "mlflow.db"  # not even its folder exists
    result = CliRunner().invoke(main, ["ui", table, "--tracking-uri", f"sqlite:///{store}"])
    assert result.exit_code == 2, result.output
    assert message in result.output and "MLflow UI" not in result.output


def test_the_compare_link_names_the_runs(store: tuple[str, list[str], str]) -> None:
    from sbr.cli.ui import _compare_line
    from sbr.reports.tables import load_layout

    uri, table4, experiment_id = store
    line = _compare_line(uri, load_layout("table4"), "http://127.0.0.1:5000")
    head, _, link = line.partition(": ")
    assert head == "compare table4 (12 runs, one per row and seed)"
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(link.split("#", 1)[1]).query)
    assert json.loads(query["runs"][0]) == table4
    assert json.loads(query["experiments"][0]) == [experiment_id]
