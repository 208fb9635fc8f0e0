"""IoU histograms for the paper's Fig. 3: helper, recording assigner and runner hook."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmdet.models.task_modules.assigners import MaxIoUAssigner
from mmdet.registry import TASK_UTILS
from mmengine.model import BaseModel
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmengine.structures import InstanceData

import sbr.models.hooks  # noqa: F401  (registers the hook)
import sbr.models.task_modules  # noqa: F401  (registers the assigner)
from sbr.models.functional import iou_bin_edges, iou_histogram, iou_histogram_boundaries
from sbr.models.hooks import SBRIoUHistogramHook, find_recording_assigners
from sbr.models.task_modules import SBRRecordingMaxIoUAssigner

GT = torch.tensor([[0.0, 0.0, 10.0, 10.0]])
# Proposals whose IoU with GT is exact in binary floating point: 1, 0.75, 0.5, 0.5, 0.25, 0.
PROPOSALS = torch.tensor(
    [
        [0.0, 0.0, 10.0, 10.0],
        [0.0, 0.0, 10.0, 7.5],
        [0.0, 0.0, 10.0, 5.0],
        [0.0, 5.0, 10.0, 10.0],
        [0.0, 0.0, 2.5, 10.0],
        [20.0, 20.0, 30.0, 30.0],
    ]
)
EXPECTED_BINS = {19: 1, 15: 1, 10: 2, 5: 1, 0: 1}


def _expected(bins: dict[int, int], scale: int = 1) -> list[int]:
    return [scale * bins.get(i, 0) for i in range(20)]


@pytest.fixture(autouse=True)
def _mmdet_scope() -> None:
    init_default_scope("mmdet")


def _assigner(**kwargs) -> SBRRecordingMaxIoUAssigner:
    cfg = dict(type="SBRRecordingMaxIoUAssigner", pos_iou_thr=0.5, neg_iou_thr=0.5, min_pos_iou=0.5)
    cfg.update(kwargs)
    return TASK_UTILS.build(cfg)


def _assign(assigner, proposals=PROPOSALS, gt=GT):
    gt_instances = InstanceData(bboxes=gt, labels=torch.zeros(len(gt), dtype=torch.long))
    return assigner.assign(InstanceData(priors=proposals), gt_instances)


# --------------------------------------------------------------------- helper


def test_bin_edges_are_twenty_bins_of_width_0_05() -> None:
    edges = iou_bin_edges()
    assert len(edges) == 21 and edges[0] == 0.0 and edges[-1] == 1.0
    assert edges[1] == 0.05 and edges[10] == 0.5


@pytest.mark.parametrize(
    "values, expected",
    [
        ([0.0, 0.049, 0.05, 0.35, 0.5, 0.999, 1.0], {0: 2, 1: 1, 7: 1, 10: 1, 19: 2}),
        ([-1.0, 1.5, math.nan, 0.3], {6: 1}),
        ([], {}),
    ],
    ids=["edges", "out-of-range-dropped", "empty"],
)
def test_iou_histogram_counts_per_bin(values: list[float], expected: dict[int, int]) -> None:
    counts = iou_histogram(torch.tensor(values, dtype=torch.float32))
    assert counts.dtype == torch.long and counts.shape == (20,)
    assert counts.tolist() == _expected(expected)


@pytest.mark.parametrize(
    "kwargs", [dict(num_bins=0), dict(num_bins=2.5)], ids=["zero-bins", "float-bins"]
)
def test_iou_histogram_rejects_bad_bins(kwargs: dict) -> None:
    with pytest.raises(ValueError, match="num_bins"):
        iou_histogram(torch.zeros(3), **kwargs)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
def test_cpu_histogram_bins_as_torch_bucketize(dtype: torch.dtype) -> None:
    edges = iou_histogram_boundaries(20, dtype)
    special = [-1.0, 0.0, 1.0, 1.5, math.nan, *edges[:-1].tolist(), *(edges[1:-1] - 1e-7).tolist()]
    generator = torch.Generator().manual_seed(0)
    values = torch.cat([torch.tensor(special), torch.rand(5000, generator=generator)]).to(dtype)
    index = torch.bucketize(values, edges, right=True)  # the device path, as reference
    expected = torch.zeros(22, dtype=torch.long).scatter_add_(0, index, torch.ones_like(index))
    counts = iou_histogram(values.reshape(4, -1), 20, edges)
    assert counts.dtype == torch.long
    assert counts.tolist() == expected[1:21].tolist()
    assert int(counts.sum()) == len(values) - 3  # -1, 1.5 and NaN dropped


def test_iou_histogram_rejects_integer_input_and_bad_boundaries() -> None:
    with pytest.raises(ValueError, match="ious"):
        iou_histogram(torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="boundaries"):
        iou_histogram(torch.zeros(3), 20, iou_histogram_boundaries(10))


def test_iou_histogram_reuses_boundaries_in_float64() -> None:
    ious = torch.tensor([0.0, 0.35, 0.95, 1.0], dtype=torch.float64)
    boundaries = iou_histogram_boundaries(20, torch.float64)
    assert boundaries.shape == (21,) and boundaries[-1] > 1.0
    assert iou_histogram(ious, 20, boundaries).tolist() == _expected({0: 1, 7: 1, 19: 2})


# ------------------------------------------------------------------- assigner


def test_assigner_records_known_ious_per_key() -> None:
    assigner = _assigner()
    result = _assign(assigner)
    torch.testing.assert_close(result.max_overlaps, torch.tensor([1.0, 0.75, 0.5, 0.5, 0.25, 0.0]))
    assigner.set_record_key("pass1")
    _assign(assigner, PROPOSALS[:3])
    _assign(assigner)  # pass1 again: accumulates
    hist = assigner.histograms()
    assert sorted(hist) == ["pass0", "pass1"]
    assert hist["pass0"].dtype == np.int64
    assert hist["pass0"].tolist() == _expected(EXPECTED_BINS)
    assert hist["pass1"].tolist() == _expected({19: 2, 15: 2, 10: 3, 5: 1, 0: 1})


def test_assigner_result_is_unchanged_by_recording() -> None:
    reference = MaxIoUAssigner(pos_iou_thr=0.5, neg_iou_thr=0.5, min_pos_iou=0.5)
    expected, got = _assign(reference), _assign(_assigner())
    assert torch.equal(expected.gt_inds, got.gt_inds)
    assert torch.equal(expected.labels, got.labels)


def test_assigner_without_recording_and_reset() -> None:
    silent = _assigner(record=False)
    _assign(silent)
    assert silent.histograms() == {}
    assigner = _assigner()
    _assign(assigner)
    assigner.set_record_key("pass1")
    assigner.reset_histograms()
    assert assigner.histograms() == {} and assigner.record_key == "pass1"


def test_assigner_counts_nothing_for_zero_proposals() -> None:
    assigner = _assigner()
    result = _assign(assigner, proposals=torch.zeros(0, 4))
    assert result.gt_inds.numel() == 0
    assert assigner.histograms()["pass0"].tolist() == [0] * 20


def test_assigner_skips_images_without_ground_truth() -> None:
    assigner = _assigner()
    result = _assign(assigner, gt=torch.zeros(0, 4))
    assert (result.gt_inds == 0).all()
    assert assigner.histograms() == {}


@pytest.mark.parametrize("key", ["", None], ids=["empty", "none"])
def test_assigner_rejects_bad_record_keys(key) -> None:
    with pytest.raises(ValueError, match="key"):
        _assigner().set_record_key(key)


# ----------------------------------------------------------------------- hook


class _RoIHead(nn.Module):
    def __init__(self, assigners) -> None:
        super().__init__()
        self.bbox_assigner = assigners


class _ToyDetector(BaseModel):
    """Calls its roi_head assigners like StandardRoIHead (one) or an R3 head (list, 2 passes)."""

    def __init__(self, cascade: bool) -> None:
        super().__init__()
        self.cascade = cascade
        assigners = [_assigner(), _assigner(pos_iou_thr=0.6)] if cascade else _assigner()
        self.roi_head = _RoIHead(assigners)
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, inputs, data_samples=None, mode: str = "loss"):
        for proposals in inputs:
            if self.cascade:
                for assigner in self.roi_head.bbox_assigner:
                    for key in ("pass0", "pass1"):
                        assigner.set_record_key(key)
                        _assign(assigner, proposals)
            else:
                _assign(self.roi_head.bbox_assigner, proposals)
        return {"loss": (self.weight**2).sum()}


def _runner(tmp_path, model, train_cfg: dict, hook: dict) -> Runner:
    dataset = [dict(inputs=PROPOSALS.clone()) for _ in range(3)]
    return Runner(
        model=model,
        work_dir=str(tmp_path),
        experiment_name=f"iou_hist_{tmp_path.name}",
        train_dataloader=dict(
            dataset=dataset,
            sampler=dict(type="DefaultSampler", shuffle=False),
            batch_size=1,
            num_workers=0,
            collate_fn=dict(type="pseudo_collate"),
        ),
        train_cfg=train_cfg,
        optim_wrapper=dict(optimizer=dict(type="SGD", lr=0.0)),
        default_hooks=dict(checkpoint=None, logger=None),
        custom_hooks=[hook],
        default_scope="mmdet",
        log_level="WARNING",
    )


def test_hook_writes_one_json_per_epoch_with_a_real_runner(tmp_path) -> None:
    runner = _runner(
        tmp_path,
        _ToyDetector(cascade=False),
        dict(by_epoch=True, max_epochs=2),
        dict(type="SBRIoUHistogramHook"),
    )
    runner.train()
    out = tmp_path / "iou_histograms"
    assert sorted(p.name for p in out.iterdir()) == ["epoch_1.json", "epoch_2.json"]
    payload = json.loads((out / "epoch_2.json").read_text())
    assert payload["bins"] == iou_bin_edges()
    # 3 images per epoch, counters reset between epochs
    assert payload["loops"] == {"loop0/pass0": _expected(EXPECTED_BINS, scale=3)}
    assert runner.message_hub.get_info("sbr/iou_histograms") == payload


def test_hook_flushes_every_interval_for_iteration_loops(tmp_path) -> None:
    runner = _runner(
        tmp_path,
        _ToyDetector(cascade=True),
        dict(by_epoch=False, max_iters=5),
        dict(type="SBRIoUHistogramHook", interval=2),
    )
    runner.train()
    out = tmp_path / "iou_histograms"
    # iters 2 and 4 by interval, iter 5 from the end-of-training flush
    assert sorted(p.name for p in out.iterdir()) == ["iter_2.json", "iter_4.json", "iter_5.json"]
    loops = json.loads((out / "iter_4.json").read_text())["loops"]
    keys = ["loop0/pass0", "loop0/pass1", "loop1/pass0", "loop1/pass1"]
    assert sorted(loops) == keys
    assert all(loops[key] == _expected(EXPECTED_BINS, scale=2) for key in keys)
    last = json.loads((out / "iter_5.json").read_text())["loops"]
    assert last["loop1/pass1"] == _expected(EXPECTED_BINS)


def test_find_recording_assigners_ignores_other_assigners() -> None:
    plain = MaxIoUAssigner(pos_iou_thr=0.5, neg_iou_thr=0.5)
    recording = _assigner()
    model = nn.Module()
    model.roi_head = _RoIHead([plain, recording])
    assert find_recording_assigners(model) == [(1, recording)]
    assert find_recording_assigners(nn.Module()) == []


@pytest.mark.parametrize("interval", [0, -3, True], ids=["zero", "negative", "bool"])
def test_hook_rejects_bad_intervals(interval) -> None:
    with pytest.raises(ValueError, match="interval"):
        SBRIoUHistogramHook(interval=interval)
