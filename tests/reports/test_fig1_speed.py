"""Fig. 1 at COCO scale: the exact algorithm vs brute-force IoU (the oracle,
``bench_fig1.dense_bins``), the generator, ``sbr bench fig1``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from sbr.reports import fig1
from sbr.runners.bench_fig1 import coco_like, compare_on_sample, dense_bins


@pytest.fixture(scope="module")
def generator():
    return fig1.default_anchor_generator()


@pytest.fixture(scope="module")
def small_coco():
    return coco_like(seed=3, images=400, annotations=3000, polygons=False)


def _reference_boxes(coco):
    """The per-annotation computation (Python floats) that the vectorised one replaces."""
    images = {img["id"]: img for img in coco["images"]}
    boxes, shapes = [], []
    for ann in coco["annotations"]:
        x, y, w, h = ann["bbox"]
        if ann.get("iscrowd", 0) or w < 1 or h < 1 or ann["image_id"] not in images:
            continue
        img = images[ann["image_id"]]
        new_h, new_w = fig1.resized_shape(img["height"], img["width"])
        sx, sy = new_w / img["width"], new_h / img["height"]
        boxes.append([x * sx, y * sy, (x + w) * sx, (y + h) * sy])
        shapes.append([new_h, new_w])
    return torch.tensor(boxes, dtype=torch.float32), torch.tensor(shapes)


def test_boxes_and_shapes_equals_the_per_annotation_computation(small_coco):
    coco = dict(small_coco)
    coco["annotations"] = small_coco["annotations"] + [
        {"bbox": [1, 1, 0.5, 9], "image_id": 1, "iscrowd": 0},  # too thin: dropped
        {"bbox": [1, 1, 5, 5], "image_id": 10**9, "iscrowd": 0},  # unknown image: dropped
    ]
    boxes, shapes = fig1.boxes_and_shapes(coco)
    ref_boxes, ref_shapes = _reference_boxes(coco)
    assert torch.equal(boxes, ref_boxes) and torch.equal(shapes, ref_shapes)
    groups = fig1.boxes_by_shape(coco)
    assert sum(b.shape[0] for b in groups.values()) == boxes.shape[0]
    for (h, w), group in list(groups.items())[:5]:
        mask = (shapes[:, 0] == h) & (shapes[:, 1] == w)
        assert torch.equal(group, boxes[mask])


@pytest.mark.parametrize("allowed_border", [-1, 0], ids=["all-anchors", "inside-only"])
def test_windowed_equals_brute_force_on_a_coco_like_sample(small_coco, generator, allowed_border):
    boxes, shapes = fig1.boxes_and_shapes(small_coco)
    pick = torch.randperm(boxes.shape[0], generator=torch.Generator().manual_seed(0))[:300]
    boxes, shapes = boxes[pick], shapes[pick]
    fast = fig1.windowed_bins_with_anchor(boxes, generator, shapes, allowed_border=allowed_border)
    for shape in torch.unique(shapes, dim=0).tolist():
        mask = (shapes[:, 0] == shape[0]) & (shapes[:, 1] == shape[1])
        anchors = fig1.anchors_for_shape(generator, tuple(shape), allowed_border=allowed_border)
        assert torch.equal(dense_bins(boxes[mask], anchors), fast[mask]), shape


@pytest.mark.parametrize(
    "boxes",
    [
        [[0.0, 0.0, 1199.0, 800.0], [3.0, 5.0, 1100.0, 790.0]],  # far larger than most anchors
        [[100.0, 100.0, 101.5, 102.0], [7.3, 9.1, 10.0, 12.5]],  # inside every anchor
        [[512.0, 256.0, 768.0, 512.0], [500.25, 0.0, 501.25, 800.0]],  # on the grid; thin
    ],
    ids=["huge", "tiny", "aligned-and-thin"],
)
def test_plateau_skipping_keeps_every_bin(generator, boxes):
    boxes = torch.tensor(boxes)
    shape = (800, 1199)
    dense = dense_bins(boxes, fig1.anchors_for_shape(generator, shape))
    assert torch.equal(fig1.windowed_bins_with_anchor(boxes, generator, shape), dense)


@pytest.mark.parametrize("allowed_border", [-1, 0, 8], ids=["all", "inside", "border-8"])
def test_exact_on_grid_aligned_boxes(generator, allowed_border):
    """Boxes on the anchors' grid and of anchor-like sizes: IoU values that fall exactly on
    bin edges (0.5, 0.25, 1) and plateaus that touch the image border."""
    g = torch.Generator().manual_seed(1)
    xy = torch.randint(0, 280, (400, 2), generator=g) * 4.0
    wh = torch.tensor([8.0, 16.0, 22.0, 32.0, 45.0, 64.0, 90.5, 128.0, 181.0, 256.0, 512.0])
    size = wh[torch.randint(0, wh.numel(), (400, 2), generator=g)]
    boxes = torch.cat([xy, xy + size], 1)
    shape = (800, 1199)
    dense = dense_bins(
        boxes, fig1.anchors_for_shape(generator, shape, allowed_border=allowed_border)
    )
    fast = fig1.windowed_bins_with_anchor(boxes, generator, shape, allowed_border=allowed_border)
    assert torch.equal(fast, dense)
    assert dense[:, 19].any() and dense[:, 10].any()  # exact hits of the high bins occur


def test_coco_like_has_train2017_counts_and_box_size_mix():
    coco = coco_like(seed=0, images=20_000, annotations=145_000, polygons=False)
    assert len(coco["images"]) == 20_000 and len(coco["annotations"]) == 145_000
    areas = torch.tensor([a["bbox"][2] * a["bbox"][3] for a in coco["annotations"]])
    small = float((areas < 32**2).double().mean())
    large = float((areas >= 96**2).double().mean())
    assert 0.37 < small < 0.45 and 0.20 < large < 0.28  # COCO: 41 % small, 24 % large
    crowd = sum(a["iscrowd"] for a in coco["annotations"]) / len(coco["annotations"])
    assert 0.005 < crowd < 0.02
    shapes = {(i["height"], i["width"]) for i in coco["images"]}
    assert (480, 640) in shapes and (640, 480) in shapes and len(shapes) > 100
    again = coco_like(seed=0, images=50, annotations=300, polygons=False)
    assert again == coco_like(seed=0, images=50, annotations=300, polygons=False)


@pytest.mark.parametrize("separators", [(",", ":"), (", ", ": ")], ids=["compact", "spaced"])
def test_load_annotations_drops_only_the_segmentations(tmp_path: Path, small_coco, separators):
    coco = json.loads(json.dumps(small_coco))
    coco["annotations"][0]["segmentation"] = [[1.5, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]]
    coco["annotations"][1].update(iscrowd=1, segmentation={"counts": [3, 4, 5], "size": [9, 9]})
    coco["annotations"][2]["segmentation"] = {"counts": "ab]c[d", "size": [9, 9]}
    coco["info"]["note"] = 'a "segmentation" word in a string stays'
    path = tmp_path / "ann.json"
    path.write_text(json.dumps(coco, separators=separators))
    assert fig1.load_annotations(path, segmentation=True) == coco
    lean = fig1.load_annotations(path)
    assert all(a["segmentation"] == 0 for a in lean["annotations"])
    for ann in coco["annotations"]:
        ann["segmentation"] = 0
    assert lean == coco


def test_compare_on_sample_reports_identical_bins(small_coco, generator):
    groups = fig1.boxes_by_shape(small_coco)
    sample = dict(list(groups.items())[:3])
    brute, windowed, same = compare_on_sample(sample, generator)
    assert same and brute > 0 and windowed > 0


def test_bench_fig1_cli_on_a_small_file(tmp_path: Path):
    from sbr.cli import main

    path = tmp_path / "ann.json"
    path.write_text(json.dumps(coco_like(seed=1, images=200, annotations=1500)))
    result = CliRunner().invoke(
        main, ["bench", "fig1", "--data", str(path), "--sample", "300", "--json"]
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["identical"] and payload["sample_boxes"] == 300
    expected = sum(1 for a in json.loads(path.read_text())["annotations"] if not a["iscrowd"])
    assert payload["n_boxes"] == expected and payload["n_images"] == 200
    assert payload["speedup"] > 0 and payload["end_to_end_s"] > 0
