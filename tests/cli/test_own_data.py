"""A user's own COCO-format dataset, end to end through the command line (issue 16).

The dataset is the issue's: other classes (car, dog, toothbrush) with sparse ids, PNG
and JPEG files, grayscale images, a crowd RLE, an image without annotations, COCO's
2017 layout. Table 3 under the smoke preset trains its five rows on it on a real local
Ray and evaluates every one; broken variants of it fail before anything launches.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))
from own_dataset import CATEGORIES, write_dataset  # noqa: E402

from sbr import metrics as M  # noqa: E402
from sbr.cli import main as cli  # noqa: E402
from sbr.cli.ablation import EXIT_PREFLIGHT  # noqa: E402


def _run_args(root: Path, data: Path, *extra: str) -> list[str]:
    return [
        "run-ablation", "table3", "--preset", "smoke", "--data", str(data),
        "--storage", str(root / "store"), "--tracking-uri", f"sqlite:///{root}/mlflow.db",
        "--no-params", "--no-calibrate", *extra,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def table3(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Table 3 (5 trainings) under the smoke preset on the own dataset, run once."""
    root = tmp_path_factory.mktemp("own")
    data = write_dataset(root / "pets-and-cars")
    result = CliRunner().invoke(
        cli, _run_args(root, data, "--num-cpus", "2"), catch_exceptions=False
    )
    return {"root": root, "data": data, "result": result}


@pytest.mark.slow
def test_table3_on_own_data_finishes_and_evaluates_every_row(table3: dict) -> None:
    from sbr.tracking.mlflow import Tracker

    result = table3["result"]
    assert result.exit_code == 0, result.output
    assert "5 finished" in result.stdout, result.output
    assert "need at least one array" not in result.output
    tracker = Tracker(f"sqlite:///{table3['root']}/mlflow.db")
    runs = tracker.search({M.TAG_KIND: "training"})
    rows = {row for run in runs for row in run.data.tags[M.TAG_ROWS].split(",")}
    assert {f"table3/row{n}" for n in range(1, 6)} <= rows
    for run in runs:
        tags, metrics = run.data.tags, run.data.metrics
        assert tags[M.TAG_STATUS] == "finished", tags.get(M.TAG_ERROR)
        assert M.BBOX_AP in metrics and M.SEGM_AP in metrics
        assert tags[M.TAG_DATASET_NAME] == "pets-and-cars"
        assert tags[M.TAG_CLASSES] == "3: car,dog,toothbrush"


@pytest.mark.slow
def test_report_of_own_data_names_the_dataset_and_keeps_coco_paper_effects(table3: dict) -> None:
    assert table3["result"].exit_code == 0, table3["result"].output
    out = table3["root"] / "reports"
    uri = f"sqlite:///{table3['root']}/mlflow.db"
    result = CliRunner().invoke(cli, ["report", "table3", "--tracking-uri", uri, "--out", str(out)])
    assert result.exit_code == 0, result.output
    tex = (out / "tables" / "table3.tex").read_text()
    # A small-scale preset: each row's difference to row 1 beside the paper's (COCO) one.
    assert "Reproduced values on pets-and-cars (not COCO), with each row's difference" in tex
    assert "next to the paper's difference (on COCO)" in tex
    assert "paper +2.7" in tex  # row 4 - row 1 of the paper's B_AP: 40.9 - 38.2


MASK_RCNN_SPEC = """\
schema_version: 1
name: mask
title: Mask R-CNN on own data
columns: [Params, B_AP]
rows:
  - id: row1
    label: Mask (1x)
    config: mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py
    paper: {Params: "44,170 K", B_AP: 38.2}
"""


def test_dry_run_counts_parameters_for_the_data_classes_and_notes_coco(tmp_path: Path) -> None:
    """The plan counts the 3-class model; the paper's count is compared with the 80-class one."""
    data = write_dataset(tmp_path / "data")
    spec = tmp_path / "mask.yaml"
    spec.write_text(MASK_RCNN_SPEC, encoding="utf-8")
    args = ["run-ablation", str(spec), "--preset", "paper", "--data", str(data), "--dry-run"]
    result = CliRunner().invoke(cli, [*args, "--json"])
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)["rows"]
    assert row["classes"] == 3
    assert row["params_as_printed"] == "44,170 K"  # with COCO's 80 classes, as printed
    assert 0 < row["params"] < row["params_coco_80"]
    text = CliRunner().invoke(cli, args).stdout
    assert (
        f"params {row['params']:,} (3 classes; with COCO's 80: {row['params_coco_80']:,})" in text
    )


def _remove_val_category_from_train(data: Path) -> None:
    path = data / "annotations" / "instances_val2017.json"
    doc = json.loads(path.read_text())
    doc["categories"] = [*CATEGORIES, {"id": 19, "name": "horse"}]
    path.write_text(json.dumps(doc))


def _empty_the_train_images(data: Path) -> None:
    for image in (data / "train2017").iterdir():
        image.unlink()


@pytest.mark.parametrize(
    ("breakage", "expected"),
    [
        pytest.param(
            _remove_val_category_from_train,
            ["instances_val2017.json (split val)", "'horse' (id 19)", "instances_train2017.json"],
            id="val-category-missing-from-train",
        ),
        pytest.param(
            _empty_the_train_images,
            ["instances_train2017.json (split train)", "train2017 is empty"],
            id="empty-image-folder",
        ),
    ],
)
def test_broken_own_data_fails_before_launch_with_one_line(
    tmp_path: Path, breakage, expected: list[str]
) -> None:
    data = write_dataset(tmp_path / "data")
    breakage(data)
    result = CliRunner().invoke(cli, _run_args(tmp_path, data), catch_exceptions=False)
    assert result.exit_code == EXIT_PREFLIGHT, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for part in expected:
        assert part in lines[0]
    assert not (tmp_path / "mlflow.db").exists()  # nothing recorded
    assert not any((tmp_path / "store").glob("*/resolved_config.py"))  # no trial prepared
