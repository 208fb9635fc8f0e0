"""Classes come from the data: composed trial configs, trial identity, pre-flight datasets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from own_dataset import num_classes_in, write_dataset

from sbr.data.layout import DataError
from sbr.data.preflight import check_composed_datasets, dataset_configs
from sbr.specs.compose import compose_trial_config
from sbr.specs.expand import Expansion, expand
from sbr.specs.presets import load_preset
from sbr.specs.schema import load_spec

SPEC = """\
schema_version: 1
name: own
title: own data
columns: [B_AP]
rows:
  - id: mask
    label: Mask
    config: mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py
    paper: {B_AP: 38.2}
  - id: r3
    label: R3
    config: r3_cnn/r3-cnn_r50_fpn_1x_coco.py
    paper: {B_AP: 40.9}
"""
NAMES = ("car", "dog", "toothbrush")


def _expansion(tmp_path: Path, root: Path, preset: str) -> Expansion:
    spec = tmp_path / "own.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    return expand([load_spec(spec)], load_preset(preset), data_root=str(root))


@pytest.fixture(scope="module")
def own_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("own"))


@pytest.mark.parametrize("preset", ["smoke", "paper"])
def test_every_dataset_and_num_classes_gets_the_data_classes(
    tmp_path: Path, own_root: Path, preset: str
) -> None:
    expansion = _expansion(tmp_path, own_root, preset)
    for trial in expansion.trials:
        assert [c.name for c in trial.classes] == list(NAMES)
        assert trial.identity()["classes"] == [[3, "car"], [18, "dog"], [90, "toothbrush"]]
        cfg = compose_trial_config(trial)
        datasets = dataset_configs(cfg)
        assert set(datasets) == {"train", "val", "test"}
        for split, dataset in datasets.items():
            assert tuple(dataset["metainfo"]["classes"]) == NAMES
            year = "train2017" if split == "train" else "val2017"
            assert dataset["ann_file"] == f"annotations/instances_{year}.json"
            assert dataset["data_prefix"]["img"] == f"{year}/"
            assert dataset["data_root"] == f"{own_root.resolve()}/"
        counts = num_classes_in(cfg.model.to_dict())
        assert counts and set(counts) == {3}, counts
        assert cfg.val_evaluator.ann_file == str(own_root.resolve() / datasets["val"]["ann_file"])


def test_the_class_list_is_part_of_the_trial_identity(tmp_path: Path, own_root: Path) -> None:
    other = write_dataset(tmp_path / "relabelled")
    for split in ("train", "val"):
        path = other / "annotations" / f"instances_{split}2017.json"
        doc = json.loads(path.read_text())
        doc["categories"][0]["name"] = "truck"
        path.write_text(json.dumps(doc))
    same = write_dataset(tmp_path / "copy")

    def identity(root: Path) -> dict:  # without the root, which is part of it too
        return {**_expansion(tmp_path, root, "smoke").trials[0].identity(), "data_root": None}

    assert identity(own_root) == identity(same)
    assert identity(own_root) != identity(other)
    assert identity(other)["classes"][0] == [3, "truck"]


def test_without_the_data_the_swapped_config_keeps_its_own_classes(tmp_path: Path) -> None:
    (trial, *_) = _expansion(tmp_path, tmp_path / "not-there", "smoke").trials
    assert trial.classes is None and "classes" not in trial.identity()
    cfg = compose_trial_config(trial)
    assert set(num_classes_in(cfg.model.to_dict())) == {4}  # the synthetic set's 4 names


def test_preflight_builds_the_datasets_and_counts_their_images(
    tmp_path: Path, own_root: Path
) -> None:
    cfg = compose_trial_config(_expansion(tmp_path, own_root, "smoke").trials[0])
    # train: the image without annotations is filtered out; val/test: both images
    assert check_composed_datasets(cfg) == {"train": 4, "val": 2, "test": 2}


def _set_classes(cfg, names: tuple[str, ...]) -> None:
    for key in ("train_dataloader", "val_dataloader", "test_dataloader"):
        cfg[key]["dataset"]["metainfo"] = {"classes": names}


def test_preflight_names_file_split_and_classes_when_no_annotation_is_left(
    tmp_path: Path, own_root: Path
) -> None:
    """The issue's failure: a preset's class names that the data does not use."""
    cfg = compose_trial_config(_expansion(tmp_path, own_root, "smoke").trials[0])
    _set_classes(cfg, ("rectangle", "ellipse", "triangle", "star"))
    with pytest.raises(DataError) as err:
        check_composed_datasets(cfg)
    message = str(err.value)
    assert (
        "instances_train2017.json (split train): no annotation is left for the classes" in message
    )
    assert "'rectangle', 'ellipse', 'triangle', 'star'" in message
    assert "category ids 3, 18, 90" in message and "\n" not in message


def test_preflight_refuses_a_val_split_without_annotations(tmp_path: Path) -> None:
    root = write_dataset(tmp_path / "ds")
    path = root / "annotations" / "instances_val2017.json"
    doc = json.loads(path.read_text())
    doc["annotations"] = []
    path.write_text(json.dumps(doc))
    cfg = compose_trial_config(_expansion(tmp_path, root, "smoke").trials[0])
    with pytest.raises(DataError, match=r"instances_val2017.json \(split val\): the file has no"):
        check_composed_datasets(cfg)
