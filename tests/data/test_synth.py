"""Tests of the synthetic COCO dataset generator (``sbr.data.synth``)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sbr.data.synth import (
    CATEGORIES,
    CLASS_NAMES,
    SPLITS,
    area_bucket,
    mask_to_polygons,
    synthesize,
)

TINY = {"images": 5, "val_images": 3, "size": 96}


def _load(root: Path, split: str) -> dict[str, Any]:
    return json.loads((root / "annotations" / f"instances_{split}.json").read_text())


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    synthesize(tmp_path / "a", seed=5, **TINY)
    synthesize(tmp_path / "b", seed=5, **TINY)
    first, second = _tree(tmp_path / "a"), _tree(tmp_path / "b")
    assert sorted(first) == sorted(second)
    assert len(first) == 2 + TINY["images"] + TINY["val_images"]
    assert first == second


def test_other_seed_gives_other_data(tmp_path: Path) -> None:
    synthesize(tmp_path / "a", seed=5, **TINY)
    synthesize(tmp_path / "b", seed=6, **TINY)
    for split in SPLITS:
        name = f"annotations/instances_{split}.json"
        assert (tmp_path / "a" / name).read_bytes() != (tmp_path / "b" / name).read_bytes()
    assert (tmp_path / "a/train/000000.jpg").read_bytes() != (
        tmp_path / "b/train/000000.jpg"
    ).read_bytes()


def test_train_and_val_differ(small_synth: tuple[Path, dict]) -> None:
    root, _ = small_synth
    assert (root / "train/000000.jpg").read_bytes() != (root / "val/000000.jpg").read_bytes()


def test_layout_and_image_entries(small_synth: tuple[Path, dict]) -> None:
    root, summary = small_synth
    for split, count in zip(SPLITS, (12, 8), strict=True):
        coco = _load(root, split)
        assert set(coco) == {"info", "licenses", "images", "annotations", "categories"}
        assert [img["file_name"] for img in coco["images"]] == [
            f"{i:06d}.jpg" for i in range(count)
        ]
        assert all((root / split / img["file_name"]).is_file() for img in coco["images"])
        assert {(img["width"], img["height"]) for img in coco["images"]} == {(160, 160)}
        assert summary["splits"][split]["images"] == count


def test_categories_are_coco_like_and_non_contiguous(small_synth: tuple[Path, dict]) -> None:
    root, _ = small_synth
    assert CLASS_NAMES == ("rectangle", "ellipse", "triangle", "star")
    assert [c["id"] for c in CATEGORIES] == [1, 3, 7, 12]
    for split in SPLITS:
        assert _load(root, split)["categories"] == [dict(c) for c in CATEGORIES]


@pytest.mark.parametrize("split", SPLITS, ids=SPLITS)
def test_annotations_are_valid_coco(small_synth: tuple[Path, dict], split: str) -> None:
    root, _ = small_synth
    coco = _load(root, split)
    anns = coco["annotations"]
    assert anns, "every split must have instances"
    assert len({a["id"] for a in anns}) == len(anns)
    assert {a["image_id"] for a in anns} <= {img["id"] for img in coco["images"]}
    assert {a["category_id"] for a in anns} == {1, 3, 7, 12}
    for ann in anns:
        assert ann["iscrowd"] == 0
        assert ann["area"] > 0
        x, y, w, h = ann["bbox"]
        assert w > 0 and h > 0 and x >= 0 and y >= 0 and x + w <= 160 and y + h <= 160
        assert ann["segmentation"] and all(
            len(p) >= 6 and len(p) % 2 == 0 for p in ann["segmentation"]
        )


@pytest.mark.parametrize("split", SPLITS, ids=SPLITS)
def test_some_images_have_no_annotations(small_synth: tuple[Path, dict], split: str) -> None:
    root, summary = small_synth
    coco = _load(root, split)
    used = {a["image_id"] for a in coco["annotations"]}
    empty = [img["id"] for img in coco["images"] if img["id"] not in used]
    assert 1 <= len(empty) <= len(coco["images"]) // 4
    assert summary["splits"][split]["empty_images"] == len(empty)


def test_objects_cover_all_coco_area_ranges(small_synth: tuple[Path, dict]) -> None:
    root, summary = small_synth
    buckets = [area_bucket(a["area"]) for a in _load(root, "train")["annotations"]]
    assert {b: buckets.count(b) for b in ("small", "medium", "large")} == summary["splits"][
        "train"
    ]["areas"]
    assert min(buckets.count(b) for b in ("small", "medium", "large")) >= 1


def test_default_arguments(synth_root: Path) -> None:
    for split, count in zip(SPLITS, (128, 32), strict=True):
        coco = _load(synth_root, split)
        assert len(coco["images"]) == count
        used = {a["image_id"] for a in coco["annotations"]}
        assert any(img["id"] not in used for img in coco["images"])
        assert {area_bucket(a["area"]) for a in coco["annotations"]} == {"small", "medium", "large"}


@pytest.mark.parametrize("split", SPLITS, ids=SPLITS)
def test_polygons_round_trip_through_pycocotools(small_synth: tuple[Path, dict], split: str):
    from pycocotools.coco import COCO

    root, _ = small_synth
    coco = COCO(str(root / "annotations" / f"instances_{split}.json"))
    for ann in coco.loadAnns(coco.getAnnIds()):
        mask = coco.annToMask(ann)
        assert abs(int(mask.sum()) - ann["area"]) <= 1
        ys, xs = np.nonzero(mask)
        tight = [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]
        assert np.allclose(ann["bbox"], tight)


def _masks(size: int = 64) -> dict[str, np.ndarray]:
    yy, xx = np.mgrid[0:size, 0:size]
    disk = (xx - 30) ** 2 + (yy - 28) ** 2 <= 17**2
    two = np.zeros((size, size), bool)
    two[5:15, 5:25] = True
    two[40:60, 30:38] = True
    tilted = np.abs(xx - yy) + np.abs(xx + yy - 64) <= 24
    return {
        "block": (yy >= 10) & (yy < 20) & (xx >= 5) & (xx < 15),
        "disk": disk,
        "two-parts": two,
        "diamond": tilted,
    }


@pytest.mark.parametrize(
    ("name", "parts"),
    [("block", 1), ("disk", 1), ("two-parts", 2), ("diamond", 1)],
    ids=["block", "disk", "two-parts", "diamond"],
)
def test_mask_to_polygons_follows_pixel_edges(name: str, parts: int) -> None:
    from pycocotools import mask as mask_utils

    mask = _masks()[name]
    polys = mask_to_polygons(mask)
    assert len(polys) == parts
    assert all(len(p) >= 6 and len(p) % 2 == 0 for p in polys)
    back = mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects(polys, 64, 64))).astype(bool)
    iou = (back & mask).sum() / (back | mask).sum()
    assert iou >= (1.0 if name in ("block", "two-parts") else 0.97)


def test_mask_to_polygons_can_drop_slivers() -> None:
    mask = np.zeros((32, 32), bool)
    mask[4:20, 4:20] = True
    mask[25, 2:30] = True  # a 1 px line, as an occluder can leave behind
    assert len(mask_to_polygons(mask)) == 2
    assert len(mask_to_polygons(mask, open_slivers=True)) == 1
    assert mask_to_polygons(np.zeros((8, 8), bool)) == []


def test_occluded_instances_keep_only_their_visible_part(small_synth: tuple[Path, dict]) -> None:
    """Boxes of instances overlap, yet their masks do not: the masks are the visible parts."""
    from pycocotools.coco import COCO

    root, summary = small_synth
    coco = COCO(str(root / "annotations" / "instances_train.json"))
    overlapping_boxes = 0
    for image_id in coco.getImgIds():
        anns = coco.loadAnns(coco.getAnnIds(imgIds=image_id))
        masks = [coco.annToMask(a).astype(bool) for a in anns]
        for (a, ma), (b, mb) in itertools.combinations(zip(anns, masks, strict=True), 2):
            ax, ay, aw, ah = a["bbox"]
            bx, by, bw, bh = b["bbox"]
            if min(ax + aw, bx + bw) > max(ax, bx) and min(ay + ah, by + bh) > max(ay, by):
                overlapping_boxes += 1
            assert (ma & mb).sum() <= 0.02 * min(ma.sum(), mb.sum())
    assert overlapping_boxes >= 3
    assert sum(s["multi_polygon"] for s in summary["splits"].values()) >= 1


def test_loads_with_mmdet_coco_dataset(small_synth: tuple[Path, dict]) -> None:
    from mmdet.datasets import CocoDataset

    root, _ = small_synth
    coco = _load(root, "train")
    dataset = CocoDataset(
        data_root=str(root),
        ann_file="annotations/instances_train.json",
        data_prefix={"img": "train/"},
        metainfo={"classes": CLASS_NAMES},
        pipeline=[],
        lazy_init=True,
    )
    dataset.full_init()
    assert len(dataset) == len(coco["images"])
    assert dataset.cat_ids == [1, 3, 7, 12]
    first = coco["annotations"][0]
    item = dataset.get_data_info(first["image_id"] - 1)
    assert item["img_path"] == str(root / "train" / "000000.jpg")
    expected = [a for a in coco["annotations"] if a["image_id"] == first["image_id"]]
    assert len(item["instances"]) == len(expected)
    x, y, w, h = first["bbox"]
    assert item["instances"][0]["bbox"] == pytest.approx([x, y, x + w, y + h])
    assert item["instances"][0]["bbox_label"] == [1, 3, 7, 12].index(first["category_id"])
    assert item["instances"][0]["mask"] == first["segmentation"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"size": 16}, "size"), ({"images": -1}, "images"), ({"seed": -3}, "seed")],
    ids=["tiny-size", "negative-images", "negative-seed"],
)
def test_rejects_bad_arguments(tmp_path: Path, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        synthesize(tmp_path, **kwargs)
