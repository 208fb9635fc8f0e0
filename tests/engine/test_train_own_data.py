"""``sbr train CONFIG --data DIR`` on a user's own dataset: its files and classes are used."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))
from own_dataset import CATEGORIES, num_classes_in, write_dataset  # noqa: E402

SMOKE = "smoke/mask-rcnn_r18_fpn_smoke"
NAMES = tuple(c["name"] for c in CATEGORIES)


@pytest.fixture(scope="module")
def own_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("own2017"))


def test_train_config_reads_layout_and_classes_from_the_data(own_root: Path, tmp_path) -> None:
    from sbr.engine.train import build_runner

    runner = build_runner(SMOKE, work_dir=tmp_path, data_root=own_root)
    cfg = runner.cfg
    for split, folder in (("train", "train2017/"), ("val", "val2017/")):
        dataset = cfg[f"{split}_dataloader"]["dataset"]
        assert dataset["ann_file"] == f"annotations/instances_{split}2017.json"
        assert dataset["data_prefix"]["img"] == folder
        assert tuple(dataset["metainfo"]["classes"]) == NAMES
    assert set(num_classes_in(cfg.to_dict()["model"])) == {len(NAMES)}
    assert cfg["val_evaluator"]["ann_file"] == str(
        own_root.resolve() / "annotations/instances_val2017.json"
    )


@pytest.mark.slow
def test_train_on_own_data_trains_and_evaluates(own_root: Path, tmp_path) -> None:
    from sbr.engine.train import run_training
    from sbr.metrics import BBOX_AP, SEGM_AP

    options = {"train_cfg.max_iters": 2, "train_cfg.val_interval": 2}
    result = run_training(SMOKE, work_dir=tmp_path, data_root=own_root, options=options)
    assert result.end_iter == 2
    assert BBOX_AP in result.metrics and SEGM_AP in result.metrics
