"""``sbr validate`` and ``sbr run-ablation`` end to end (CliRunner).

Only Tables 2 and 10 are dry-run with model builds; ``all`` is planned without them.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from sbr.cli.ablation import EXIT_PREFLIGHT, EXIT_SPEC_ERROR, run_ablation, validate
from sbr.specs.plan import UNKNOWN_STATUS

# The lead adds both commands to `sbr.cli.main`; a local group keeps these tests independent of it.
cli = click.Group(commands={"validate": validate, "run-ablation": run_ablation})

TABLE2_PARAMS = [44_170_992, 44_170_992, 77_230_846, 43_912_884, 60_604_761]


@pytest.fixture
def runner(tmp_path_factory: pytest.TempPathFactory) -> CliRunner:
    cache = tmp_path_factory.mktemp("param-cache")
    # A store of our own that does not exist: a ./mlflow.db left by `make demo` must not leak in.
    store = f"sqlite:///{cache / 'no-store.db'}"
    return CliRunner(env={"SBR_CACHE_DIR": str(cache), "MLFLOW_TRACKING_URI": store})


def test_table2_dry_run_json_lists_paper_rows_with_exact_params(runner: CliRunner) -> None:
    result = runner.invoke(
        cli, ["run-ablation", "table2", "--dry-run", "--json"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    rows = plan["rows"]
    assert [r["label"] for r in rows] == [
        "Mask (1x)", "Mask (3x)", "HTC", "R³-CNN (naive)", "R³-CNN (deeper)",
    ]  # fmt: skip
    assert [r["params"] for r in rows] == TABLE2_PARAMS
    assert [r["paper"]["Params"] for r in rows] == [
        "44,170 K",
        "44,170 K",
        "77,230 K",
        "43,912 K",
        "60,604 K",
    ]
    assert [r["paper"]["B_AP"] for r in rows] == [38.2, 39.2, 41.7, 40.9, 41.8]
    assert {r["status"] for r in rows} == {UNKNOWN_STATUS}
    assert (plan["trainings"], plan["evaluations"], plan["preset"]) == (5, 5, "paper")
    assert plan["estimate"]["unit"] == "gpu_hours" and plan["estimate"]["total"] > 0


def test_table10_dry_run_text(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["run-ablation", "table10", "--dry-run"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "== table10 (preset paper)"
    row_lines = [line for line in lines if line.startswith("  row")]
    assert [line.split()[1] for line in row_lines] == ["baseline", "GRoIE"]
    assert "params 41,527,712" in row_lines[0]  # Faster R-CNN R50-FPN, reference Sec. 10.3
    assert "paper: AP=39.3 AP50=59.8 AP75=43.0 AP_s=23.0 AP_m=42.7 AP_l=50.8" in result.stdout
    assert "2 rows -> 2 unique trainings, 2 evaluations" in result.stdout


def test_all_tables_plan_without_model_builds(runner: CliRunner) -> None:
    result = runner.invoke(
        cli, ["run-ablation", "all", "--dry-run", "--json", "--no-params"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert (len(plan["rows"]), plan["trainings"], plan["evaluations"]) == (74, 56, 60)
    assert plan["tables"] == [f"table{n}" for n in range(2, 12)]
    assert {r["params"] for r in plan["rows"]} == {None}
    assert plan["estimate"]["saved"] > 0


def test_run_without_data_fails_preflight_before_launching(
    runner: CliRunner, tmp_path: Path
) -> None:
    """A real run checks the dataset first: one error line, nothing started or recorded."""
    missing = tmp_path / "no-such-data"
    result = runner.invoke(
        cli,
        ["run-ablation", "table10", "--no-params", "--data", str(missing)],
        catch_exceptions=False,
    )
    assert result.exit_code == EXIT_PREFLIGHT
    assert "does not exist" in result.stderr and str(missing) in result.stderr
    assert not missing.exists()


BROKEN = """\
schema_version: 1
name: broken
rows:
  - id: r1
    label: R³-CNN
    config: r3_cnn/r3-cnn_r50_fpn_h2-aab_1x_coco.py
    overrides:
      model.roi_head.stages: abz
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            BROKEN,
            'broken.yaml:8: rows[r1].overrides."model.roi_head.stages": alternation',
            id="alternation",
        ),
        pytest.param(
            BROKEN.replace("label:", "lable:"),
            "broken.yaml:5: rows[0].lable: unknown key",
            id="misspelled",
        ),
    ],
)
def test_validate_broken_spec_is_one_line_and_records_nothing(
    tmp_path: Path, text: str, expected: str
) -> None:
    cache = tmp_path / "cache"
    runner = CliRunner(env={"SBR_CACHE_DIR": str(cache)})
    with runner.isolated_filesystem(temp_dir=tmp_path) as cwd:
        Path("broken.yaml").write_text(text, encoding="utf-8")
        result = runner.invoke(cli, ["validate", "broken.yaml"])
        assert result.exit_code == EXIT_SPEC_ERROR
        assert result.stdout == ""
        assert len(result.stderr.splitlines()) == 1
        assert result.stderr.startswith(f"error: {expected}")
        assert sorted(p.name for p in Path(cwd).iterdir()) == ["broken.yaml"]
    assert not cache.exists()


def test_validate_good_spec(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["validate", "table4", "--no-build"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "ok: 6 rows, 2 trainings and 6 evaluations composed"


def test_unknown_table_and_preset_suggest_names(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["run-ablation", "tabel2", "--dry-run"])
    assert result.exit_code == EXIT_SPEC_ERROR and "did you mean 'table2'" in result.stderr
    result = runner.invoke(cli, ["run-ablation", "table2", "--preset", "smok", "--dry-run"])
    assert result.exit_code == EXIT_SPEC_ERROR and "did you mean 'smoke'" in result.stderr


def _fast_smoke_preset(tmp_path: Path) -> Path:
    """The shipped smoke preset with a one-iteration calibration (a preset passed by path)."""
    from sbr.specs.presets import PRESETS_DIR

    text = (PRESETS_DIR / "smoke.yaml").read_text(encoding="utf-8")
    path = tmp_path / "quick-smoke.yaml"
    path.write_text(text.replace("calibration_iters: 2", "calibration_iters: 1"), encoding="utf-8")
    return path


def test_smoke_dry_run_calibrates_on_the_synthetic_data(
    runner: CliRunner, synth_root: Path, tmp_path: Path
) -> None:
    args = ["run-ablation", "table10", "--dry-run", "--json", "--no-params", "--preset"]
    result = runner.invoke(
        cli,
        [*args, str(_fast_smoke_preset(tmp_path)), "--data", str(synth_root)],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    estimate = json.loads(result.stdout)["estimate"]
    assert estimate["unit"] == "cpu_minutes"
    assert estimate["total"] > 0 and estimate["note"] == ""


def test_smoke_dry_run_without_data_says_it_could_not_calibrate(
    runner: CliRunner, tmp_path: Path
) -> None:
    args = [
        "run-ablation",
        "table10",
        "--preset",
        "smoke",
        "--data",
        str(tmp_path),
        "--dry-run",
        "--no-params",
    ]
    result = runner.invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "estimate: unavailable (could not calibrate" in result.stdout


def test_single_table_plan_names_rows_of_other_tables_sharing_a_training(
    runner: CliRunner,
) -> None:
    result = runner.invoke(
        cli,
        ["run-ablation", "table3", "--dry-run", "--json", "--no-params", "--no-calibrate"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    rows = {r["row"]: r for r in json.loads(result.stdout)["rows"]}
    # Mask R-CNN 1x (row 1) is also Table 2, 4 and 11's first row; B0 (row 4) serves Table 4.
    assert {"table2/row1", "table4/row1", "table11/row1"} <= set(rows["row1"]["shared_with"])
    assert "table4/row4" in rows["row4"]["shared_with"]
    assert all(not s.startswith("table3/") for s in rows["row2"]["shared_with"])
