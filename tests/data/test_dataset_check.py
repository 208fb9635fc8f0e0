"""Tests of the COCO dataset checker (``sbr.data.check``) and ``sbr data`` commands."""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sbr.cli import main
from sbr.data import check as check_module
from sbr.data.check import KINDS, check_dataset

Planter = Callable[[dict[str, Any], Path, int], None]
TRAIN_JSON = Path("annotations/instances_train.json")


def _image_file(root: Path, coco: dict, index: int) -> Path:
    return root / "train" / coco["images"][index]["file_name"]


def _set(key: str, value: Any) -> Planter:
    def plant(coco: dict, root: Path, slot: int) -> None:
        coco["annotations"][slot][key] = value

    return plant


def _set_bbox(index: int, value: float) -> Planter:
    def plant(coco: dict, root: Path, slot: int) -> None:
        coco["annotations"][slot]["bbox"][index] = value

    return plant


def _missing_file(coco: dict, root: Path, slot: int) -> None:
    _image_file(root, coco, 0).unlink()


def _corrupt_file(coco: dict, root: Path, slot: int) -> None:
    _image_file(root, coco, 1).write_bytes(b"this is not a JPEG" * 20)


def _truncated_file(coco: dict, root: Path, slot: int) -> None:
    path = _image_file(root, coco, 1)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _size_mismatch(coco: dict, root: Path, slot: int) -> None:
    coco["images"][2]["width"] += 7


def _duplicate_image(coco: dict, root: Path, slot: int) -> None:
    coco["images"].append(dict(coco["images"][3]))


def _duplicate_ann_id(coco: dict, root: Path, slot: int) -> None:
    coco["annotations"][slot]["id"] = coco["annotations"][0]["id"]


def _missing_field(coco: dict, root: Path, slot: int) -> None:
    del coco["annotations"][slot]["bbox"]


def _duplicate_category(coco: dict, root: Path, slot: int) -> None:
    coco["categories"].append({"id": 3, "name": "ellipse-again", "supercategory": "shape"})


def _bbox_outside(coco: dict, root: Path, slot: int) -> None:
    ann = coco["annotations"][slot]
    ann["bbox"][0] = coco["images"][0]["width"] + 5.0


# kind, planter; every planter that touches an annotation uses its own slot.
PLANTED: list[tuple[str, Planter]] = [
    ("missing-image-file", _missing_file),
    ("corrupt-image-file", _corrupt_file),
    ("image-size-mismatch", _size_mismatch),
    ("duplicate-image-id", _duplicate_image),
    ("duplicate-category-id", _duplicate_category),
    ("duplicate-annotation-id", _duplicate_ann_id),
    ("unknown-image-id", _set("image_id", 99999)),
    ("unknown-category-id", _set("category_id", 5)),
    ("missing-fields", _missing_field),
    ("invalid-bbox", _set("bbox", [1.0, 2.0, 3.0])),
    ("bbox-non-positive", _set_bbox(2, 0.0)),
    ("bbox-outside-image", _bbox_outside),
    ("invalid-segmentation", _set("segmentation", [[1.0, 2.0, 3.0, 4.0]])),
    ("empty-segmentation", _set("segmentation", [])),
    ("non-positive-area", _set("area", 0.0)),
]
# More ways to produce one kind, only tested one at a time.
VARIANTS: list[tuple[str, str, Planter]] = [
    ("truncated-jpeg", "corrupt-image-file", _truncated_file),
    ("odd-polygon", "invalid-segmentation", _set("segmentation", [[1, 2, 3, 4, 5, 6, 7]])),
    ("nan-polygon", "invalid-segmentation", _set("segmentation", [[0, 0, 9, math.nan, 9, 9]])),
    ("string-polygon", "invalid-segmentation", _set("segmentation", [[0, 0, "9", "x", 9, 9]])),
    (
        "rle-wrong-size",
        "invalid-segmentation",
        _set("segmentation", {"size": [10, 10], "counts": [100]}),
    ),
    (
        "rle-bad-counts",
        "invalid-segmentation",
        _set("segmentation", {"size": [160, 160], "counts": [5]}),
    ),
    ("zero-area-polygon", "empty-segmentation", _set("segmentation", [[1, 1, 5, 5, 9, 9]])),
    ("nan-bbox", "invalid-bbox", _set_bbox(1, math.nan)),
    ("negative-height", "bbox-non-positive", _set_bbox(3, -2.0)),
    ("negative-area", "non-positive-area", _set("area", -4.0)),
]


def broken_copy(src: Path, dst: Path, planters: list[Planter]) -> Path:
    """Copy the dataset ``src`` to ``dst`` and plant problems into its train split."""
    shutil.copytree(src, dst)
    coco = json.loads((dst / TRAIN_JSON).read_text())
    for slot, plant in enumerate(planters, start=1):
        plant(coco, dst, slot)
    (dst / TRAIN_JSON).write_text(json.dumps(coco))
    return dst


def _counts(report: check_module.CheckReport) -> dict[str, int]:
    return {kind: problem.count for kind, problem in report.problems.items()}


def _run(*args: str) -> Any:
    return CliRunner().invoke(main, ["data", *(str(a) for a in args)])


def test_fresh_synthetic_set_passes(small_synth: tuple[Path, dict]) -> None:
    root, summary = small_synth
    report = check_dataset(root)
    assert report.ok and report.problems == {}
    assert sorted(Path(name).name for name in report.summary) == [
        "instances_train.json",
        "instances_val.json",
    ]
    for split in ("train", "val"):
        stats = report.summary[str(root / "annotations" / f"instances_{split}.json")]
        expected = summary["splits"][split]
        for key in ("images", "empty_images", "instances", "areas"):
            assert stats[key] == expected[key], key


def test_cli_synth_defaults_then_check_passes(tmp_path: Path, synth_root: Path) -> None:
    out = tmp_path / "default"
    result = _run("synth", "--out", out)
    assert result.exit_code == 0, result.output
    assert "train: 128 images" in result.output and "val: 32 images" in result.output
    for split in ("train", "val"):  # the CLI defaults are the library defaults
        name = f"annotations/instances_{split}.json"
        assert (out / name).read_bytes() == (synth_root / name).read_bytes()
    result = _run("check", out)
    assert result.exit_code == 0, result.output
    *lines, layout = result.output.strip().splitlines()
    assert len(lines) == 2 and all(": OK, " in line for line in lines)
    assert "small" in lines[0] and "large" in lines[0] and "without annotations" in lines[0]
    assert layout.startswith("layout coco: train annotations/instances_train.json + train/")
    assert "4 classes: 'rectangle' (id 1), 'ellipse' (id 3)" in layout


def test_single_file_uses_split_folder_or_img_dir(
    small_synth: tuple[Path, dict], tmp_path: Path
) -> None:
    root, summary = small_synth
    ann_file = root / TRAIN_JSON
    assert check_dataset(ann_file).ok
    empty_dir = tmp_path / "no_images"
    empty_dir.mkdir()
    report = check_dataset(ann_file, img_dir=empty_dir)
    assert _counts(report) == {"missing-image-file": summary["splits"]["train"]["images"]}
    result = _run("check", ann_file, "--img-dir", empty_dir)
    assert result.exit_code == 1
    assert f"{ann_file}: missing-image-file: 12 (e.g. image id 1 " in result.output


def test_path_without_annotations_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="instances_<split>.json"):
        check_dataset(tmp_path)
    assert _run("check", tmp_path).exit_code == 2


@pytest.mark.parametrize(
    ("kind", "plant"), [(k, p) for k, p in PLANTED], ids=[k for k, _ in PLANTED]
)
def test_each_planted_problem_is_reported_once(
    small_synth: tuple[Path, dict], tmp_path: Path, kind: str, plant: Planter
) -> None:
    root = broken_copy(small_synth[0], tmp_path / "broken", [plant])
    report = check_dataset(root)
    assert _counts(report) == {kind: 1}
    assert len(report.problems[kind].examples) == 1
    result = _run("check", root)
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"{root / TRAIN_JSON}: {kind}: 1 (e.g. {report.problems[kind].examples[0]})"
    ]


@pytest.mark.parametrize(
    ("kind", "plant"), [(k, p) for _, k, p in VARIANTS], ids=[name for name, _, _ in VARIANTS]
)
def test_problem_variants(
    small_synth: tuple[Path, dict], tmp_path: Path, kind: str, plant: Planter
) -> None:
    root = broken_copy(small_synth[0], tmp_path / "broken", [plant])
    assert _counts(check_dataset(root, decode=True)) == {kind: 1}


def test_header_only_mode_misses_truncation_but_not_garbage(
    small_synth: tuple[Path, dict], tmp_path: Path
) -> None:
    root = broken_copy(small_synth[0], tmp_path / "truncated", [_truncated_file])
    assert check_dataset(root, decode=False).ok
    root = broken_copy(small_synth[0], tmp_path / "garbage", [_corrupt_file])
    assert _counts(check_dataset(root, decode=False)) == {"corrupt-image-file": 1}


def test_all_planted_problems_together(small_synth: tuple[Path, dict], tmp_path: Path) -> None:
    root = broken_copy(small_synth[0], tmp_path / "broken", [p for _, p in PLANTED])
    report = check_dataset(root)
    assert not report.ok
    assert _counts(report) == {kind: 1 for kind, _ in PLANTED}
    assert list(report.problems) == [k for k in KINDS if k in dict(PLANTED)]
    val_file = str(root / "annotations" / "instances_val.json")
    assert report.files[val_file] == {}
    result = _run("check", root)
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == len(PLANTED)
    for line, kind in zip(lines, report.problems, strict=True):
        assert line.startswith(f"{root / TRAIN_JSON}: {kind}: 1 (e.g. ")


@pytest.mark.parametrize(
    ("content", "kind"),
    [
        ("{not json", "malformed-json"),
        ("[1, 2]", "malformed-json"),
        ('{"images": [], "annotations": []}', "missing-keys"),
    ],
    ids=["syntax-error", "not-an-object", "no-categories"],
)
def test_unreadable_annotation_file(
    small_synth: tuple[Path, dict], tmp_path: Path, content: str, kind: str
) -> None:
    root = broken_copy(small_synth[0], tmp_path / "broken", [])
    (root / TRAIN_JSON).write_text(content)
    assert _counts(check_dataset(root)) == {kind: 1}
    assert _run("check", root).exit_code == 1


@pytest.mark.parametrize("chunk", [7, 40, 10_000_000], ids=["7-coords", "40-coords", "default"])
def test_polygon_chunking_does_not_change_results(
    small_synth: tuple[Path, dict], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    """Bad polygons late in the file are found whatever the chunk boundaries are."""
    root = broken_copy(small_synth[0], tmp_path / "broken", [])
    coco = json.loads((root / TRAIN_JSON).read_text())
    coco["annotations"][-1]["segmentation"].append([0, 0, math.inf, 1, 2, 2])
    coco["annotations"][-2]["segmentation"] = [[3, 3, 3, 3, 3, 3]]
    (root / TRAIN_JSON).write_text(json.dumps(coco))
    monkeypatch.setattr(check_module, "_CHUNK_COORDS", chunk)
    report = check_dataset(root)
    assert _counts(report) == {"invalid-segmentation": 1, "empty-segmentation": 1}
    assert report.problems["invalid-segmentation"].examples == [
        f"ann id {coco['annotations'][-1]['id']}"
    ]
