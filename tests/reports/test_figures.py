"""Fig. 1 (anchor coverage) and Fig. 3 (IoU distribution) data and figure structure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from ci_gate import require

from sbr.reports import fig1
from sbr.reports.fig3 import fig3_figure, loop_series
from sbr.reports.plots import anchor_coverage_figure, iou_distribution_figure
from sbr.runners.bench_fig1 import dense_bins

BINS = [round(0.05 * k, 2) for k in range(21)]


def _hist(loops: int, passes: int = 2) -> dict:
    counts = {
        f"loop{t}/pass{p}": [float((k + 1) * (t + 1) + p) for k in range(20)]
        for t in range(loops)
        for p in range(passes)
    }
    return {"bins": BINS, "loops": counts}


def test_loop_series_keeps_one_pass_per_loop_in_order():
    series = loop_series(_hist(3), pass_index=1)
    assert list(series) == ["loop 1", "loop 2", "loop 3"]
    assert series["loop 2"][0] == 3.0


@pytest.mark.parametrize(
    ("hist", "match"),
    [({"loops": {}}, "'bins' and 'loops'"), ({"bins": BINS, "loops": {"x": []}}, "no loop")],
    ids=["no-bins", "no-loop"],
)
def test_loop_series_rejects_bad_histograms(hist, match):
    with pytest.raises(ValueError, match=match):
        loop_series(hist)


def test_fig3_has_one_axes_per_model_and_one_line_per_loop():
    fig = fig3_figure({"Mask R-CNN (3x)": _hist(1), "R³-CNN": _hist(3)})
    mask_ax, r3_ax = fig.axes
    assert [len(ax.get_lines()) for ax in fig.axes] == [1, 3]
    assert mask_ax.get_title() == "(a) Mask R-CNN (3x)" and r3_ax.get_title() == "(b) R³-CNN"
    labels = [t.get_text() for t in r3_ax.get_legend().get_texts()]
    assert [label.split(" (")[0] for label in labels] == ["loop 1", "loop 2", "loop 3"]
    assert r3_ax.get_xlabel() == "IoU with the ground truth"
    assert mask_ax.get_ylabel() == "% of training RoIs"
    assert sum(r3_ax.get_lines()[0].get_ydata()) == pytest.approx(100.0)


def test_iou_distribution_rejects_mismatched_bins():
    with pytest.raises(ValueError, match="expected 20 counts"):
        iou_distribution_figure({"m": {"loop 1": [1.0] * 19}}, BINS)


def test_anchor_coverage_figure_has_one_bar_per_bin():
    fig = anchor_coverage_figure(BINS, [float(k * 5) for k in range(20)])
    (ax,) = fig.axes
    assert len(ax.patches) == 20 and ax.get_ylim() == (0.0, 100.0)
    assert "no anchor" in ax.get_ylabel()


# --- Fig. 1 data -----------------------------------------------------------------------


def test_bins_with_anchor_hand_made_case():
    anchors = torch.tensor([[0.0, 0.0, 10.0, 10.0], [100.0, 100.0, 110.0, 110.0]])
    gts = torch.tensor([[0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 10.0, 20.0], [0.0, 0.0, 10.0, 11.0]])
    present = dense_bins(gts, anchors, n_bins=20, chunk_elements=2)
    # IoU 1 -> last bin; 0.5 -> bin 10; 10/11 = 0.909 -> bin 18; the far anchor -> bin 0.
    assert present.nonzero().tolist() == [[0, 0], [0, 19], [1, 0], [1, 10], [2, 0], [2, 18]]


def test_resized_shape_matches_mmcv_keep_ratio():
    assert fig1.resized_shape(480, 640) == (800, 1067)
    assert fig1.resized_shape(427, 640) == (800, 1199)
    assert fig1.resized_shape(200, 1000) == (267, 1333)


@pytest.fixture(scope="module")
def generator():
    require("mmdet")
    return fig1.default_anchor_generator()


@pytest.mark.parametrize("allowed_border", [-1, 0], ids=["all-anchors", "inside-only"])
def test_windowed_equals_dense(generator, allowed_border):
    torch.manual_seed(0)
    shape = (800, 1199)
    xy = torch.rand(200, 2) * torch.tensor([1100.0, 700.0])
    wh = torch.rand(200, 2) ** 3 * torch.tensor([600.0, 500.0]) + 1
    boxes = torch.cat([xy, xy + wh], 1)
    dense = dense_bins(
        boxes, fig1.anchors_for_shape(generator, shape, allowed_border=allowed_border)
    )
    windowed = fig1.windowed_bins_with_anchor(
        boxes, generator, shape, allowed_border=allowed_border, chunk_elements=1 << 16
    )
    assert torch.equal(dense, windowed)


@pytest.mark.parametrize("allowed_border", [-1, 0, 8], ids=["all", "inside", "border-8"])
def test_anchor_count_matches_generated_anchors(generator, allowed_border):
    for shape in ((800, 1199), (267, 1333)):
        anchors = fig1.anchors_for_shape(generator, shape, allowed_border=allowed_border)
        count = fig1.anchor_count(generator, shape, allowed_border=allowed_border)
        assert count == anchors.shape[0]


def test_windowed_handles_several_image_shapes_at_once(generator):
    boxes = torch.tensor([[10.0, 20.0, 90.0, 70.0], [500.0, 100.0, 900.0, 700.0]])
    shapes = [(800, 1199), (800, 1067)]
    together = fig1.windowed_bins_with_anchor(boxes, generator, torch.tensor(shapes))
    for box, shape, row in zip(boxes, shapes, together, strict=True):
        dense = dense_bins(box[None], fig1.anchors_for_shape(generator, shape))
        assert torch.equal(dense[0], row)


def test_anchor_coverage_on_synthetic_set(generator, tmp_path):
    from sbr.data.synth import synthesize

    summary = synthesize(tmp_path / "synth", images=12, val_images=0)
    coco = json.loads(Path(summary["splits"]["train"]["ann_file"]).read_text())
    result = fig1.anchor_coverage(coco, generator)
    assert result.n_boxes == sum(1 for a in coco["annotations"] if not a.get("iscrowd"))
    assert len(result.percent_missing) == 20 and len(result.bins) == 21
    assert result.percent_missing[0] == 0.0  # far anchors always give IoU ~ 0
    assert all(0.0 <= p <= 100.0 for p in result.percent_missing)
    assert result.percent_missing[19] > result.percent_missing[10]  # EVGT: high IoUs are rare
