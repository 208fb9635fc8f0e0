"""Dataset layouts (COCO, COCO 2017, dataset.yaml), ``sbr data init``, a dataset's classes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from own_dataset import CATEGORIES, write_dataset, write_split

from sbr.cli.data import data as data_command
from sbr.data.layout import (
    DATASET_FILE,
    Category,
    DataError,
    dataset_classes,
    detect_layout,
    init_dataset_yaml,
    read_categories,
    root_classes,
)

OWN = (Category(3, "car"), Category(18, "dog"), Category(90, "toothbrush"))


def _plain(root: Path) -> None:
    """COCO names without the year: annotations/instances_train.json + train/."""
    for split in ("train", "val"):
        write_split(root, split, ann_file=f"annotations/instances_{split}.json", img_dir=split)


def _declared(root: Path) -> None:
    """Any names, declared in dataset.yaml."""
    write_split(root, "train", ann_file="labels/fit.json", img_dir="pics/a")
    write_split(root, "val", ann_file="labels/check.json", img_dir="pics/b")
    (root / DATASET_FILE).write_text(
        "name: kitchen\ntrain: {ann_file: labels/fit.json, img_dir: pics/a}\n"
        "val:\n  ann_file: labels/check.json\n  img_dir: pics/b/\n",
        encoding="utf-8",
    )


@pytest.mark.parametrize(
    ("build", "source", "train", "val", "name"),
    [
        pytest.param(
            write_dataset, "coco2017", ("annotations/instances_train2017.json", "train2017/"),
            ("annotations/instances_val2017.json", "val2017/"), "ds", id="coco2017",
        ),
        pytest.param(
            _plain, "coco", ("annotations/instances_train.json", "train/"),
            ("annotations/instances_val.json", "val/"), "ds", id="coco",
        ),
        pytest.param(
            _declared, DATASET_FILE, ("labels/fit.json", "pics/a/"),
            ("labels/check.json", "pics/b/"), "kitchen", id="dataset-yaml",
        ),
    ],
)  # fmt: skip
def test_layout_is_detected_and_classes_read_in_id_order(
    tmp_path: Path, build, source: str, train: tuple, val: tuple, name: str
) -> None:
    root = tmp_path / "ds"
    root.mkdir()
    build(root)
    layout = detect_layout(root)
    assert layout.source == source and layout.name == name
    assert (layout.train.ann_file, layout.train.img_dir) == train
    assert (layout.val.ann_file, layout.val.img_dir) == val
    assert dataset_classes(layout) == OWN


def test_a_folder_without_layout_is_one_error_pointing_at_init(tmp_path: Path) -> None:
    (tmp_path / "stuff").mkdir()
    with pytest.raises(DataError, match=r"no dataset.yaml and no COCO layout.*sbr data init"):
        detect_layout(tmp_path)
    assert root_classes(tmp_path / "absent") is None  # a plan before the data exists
    assert root_classes(tmp_path) is None  # a run's pre-flight refuses it (detect_layout)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "train: {ann_file: a.json, img_dir: a}\nval: {ann_file: b.json, imgdir: b}\n",
            "dataset.yaml:2: val.imgdir: unknown key", id="misspelled-key",
        ),
        pytest.param(
            "name: x\ntrain: {ann_file: a.json, img_dir: a}\n",
            "dataset.yaml:1: val: expected a mapping", id="missing-split",
        ),
        pytest.param(
            "train: {ann_file: a.json, img_dir: a}\nval: {ann_file: b, img_dir: b}\nsplit: 3\n",
            "dataset.yaml:3: split: unknown key", id="unknown-top-key",
        ),
    ],
)  # fmt: skip
def test_dataset_yaml_errors_name_file_line_and_key(
    tmp_path: Path, text: str, expected: str
) -> None:
    (tmp_path / DATASET_FILE).write_text(text, encoding="utf-8")
    with pytest.raises(DataError) as err:
        detect_layout(tmp_path)
    assert expected in str(err.value)


def test_init_writes_a_dataset_yaml_for_other_names_and_refuses_to_overwrite(
    tmp_path: Path,
) -> None:
    write_split(tmp_path, "train", ann_file="labels/training.json", img_dir="images/training")
    write_split(tmp_path, "val", ann_file="labels/validation.json", img_dir="images/validation")
    file, layout = init_dataset_yaml(tmp_path)
    assert file == tmp_path / DATASET_FILE and layout.source == DATASET_FILE
    assert (layout.train.ann_file, layout.train.img_dir) == (
        "labels/training.json",
        "images/training/",
    )
    assert (layout.val.ann_file, layout.val.img_dir) == (
        "labels/validation.json",
        "images/validation/",
    )
    with pytest.raises(DataError, match="exists; pass --force"):
        init_dataset_yaml(tmp_path)
    result = CliRunner().invoke(data_command, ["init", str(tmp_path), "--force"])
    assert result.exit_code == 0, result.output
    assert "3 classes: 'car' (id 3), 'dog' (id 18), 'toothbrush' (id 90)" in result.output


def test_init_says_which_split_it_cannot_tell(tmp_path: Path) -> None:
    write_split(tmp_path, "train", ann_file="labels/a.json", img_dir="images/a")
    result = CliRunner().invoke(data_command, ["init", str(tmp_path)])
    assert result.exit_code == 2
    assert "cannot tell the train split's annotation file" in result.output
    assert not (tmp_path / DATASET_FILE).exists()


def test_check_prints_the_layout_and_classes(tmp_path: Path) -> None:
    write_dataset(tmp_path)
    result = CliRunner().invoke(data_command, ["check", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "instances_train2017.json: OK, 5 images (1 without annotations)" in result.output
    assert "layout coco2017" in result.output and "'toothbrush' (id 90)" in result.output


def _with(cats: list[dict]) -> dict:
    return {"val": {"categories": cats}}


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        pytest.param(
            _with([*CATEGORIES, {"id": 19, "name": "horse"}]),
            r"instances_val2017.json \(split val\): categories the train split "
            r"\(.*instances_train2017.json\) lacks: 'horse' \(id 19\)",
            id="val-category-missing-from-train",
        ),
        pytest.param(
            _with([{"id": 3, "name": "car"}, {"id": 18, "name": "cat"}]),
            r"\(split val\): categories the train split .* lacks: 'cat' \(id 18\)",
            id="same-id-other-name",
        ),
        pytest.param(
            _with(list(reversed(CATEGORIES))),
            r"instances_val2017.json \(split val\): categories are not listed in id order",
            id="not-in-id-order",
        ),
        pytest.param(
            _with([{"id": 3, "name": "car"}, {"id": 4, "name": "car"}]),
            r"\(split val\): category name 'car' appears twice",
            id="duplicate-name",
        ),
    ],
)
def test_classes_of_train_and_val_must_agree(
    tmp_path: Path, overrides: dict, expected: str
) -> None:
    write_dataset(tmp_path, **overrides)
    with pytest.raises(DataError, match=expected):
        dataset_classes(detect_layout(tmp_path))


@pytest.mark.parametrize("first", [True, False], ids=["categories-first", "categories-last"])
def test_categories_are_read_without_parsing_the_annotations(tmp_path: Path, first: bool) -> None:
    cats = [{"id": 7, "name": 'a "quoted" [name]'}, {"id": 9, "name": "categories"}]
    body = {"images": [{"id": 1, "file_name": "categories.jpg"}], "annotations": []}
    doc = {"categories": cats, **body} if first else {**body, "categories": cats}
    path = tmp_path / "a.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    assert read_categories(path) == [Category(7, 'a "quoted" [name]'), Category(9, "categories")]
