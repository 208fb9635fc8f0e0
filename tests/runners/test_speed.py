"""The Speed metric follows the paper: batch 1, one device, warm-up excluded, N images.

The routine is checked twice: with a counting model and a clock that the model
advances (so the expected images/s is exact), and through the trial's own metric
function on the smoke Mask R-CNN with a spy on its ``test_step``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from sbr import metrics as M
from sbr.runners.speed import (
    SPEED_CFG_KEY,
    single_image_batches,
    speed_settings,
    time_inference,
)

WARMUP_COST_S = 100.0
TIMED_COST_S = 0.25


class CountingModel(nn.Module):
    """A one-parameter model whose passes advance a fake clock: warm-up ones cost more."""

    def __init__(self, warmup: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(1))
        self.now = 0.0
        self.warmup = warmup
        self.seen: list[tuple[int, int, bool, bool]] = []  # (image id, batch size, grad, train)

    def clock(self) -> float:
        return self.now

    def test_step(self, batch: dict) -> list:
        self.seen.append(
            (int(batch["inputs"][0].sum()), len(batch["inputs"]), torch.is_grad_enabled(),
             self.training)
        )  # fmt: skip
        self.now += WARMUP_COST_S if len(self.seen) <= self.warmup else TIMED_COST_S
        return [None]


def _batches(count: int) -> list[dict]:
    return [{"inputs": [torch.full((1,), float(i))], "data_samples": [None]} for i in range(count)]


@pytest.mark.parametrize(
    ("warmup", "n", "available"),
    [(0, 4, 8), (3, 4, 8), (2, 5, 3)],
    ids=["no-warmup", "warmup-3", "fewer-images-than-n-cycles"],
)
def test_time_inference_excludes_warmup_and_times_n_single_images(warmup, n, available):
    model = CountingModel(warmup)
    model.train()
    timing = time_inference(model, _batches(available), warmup, n, clock=model.clock)
    assert timing.images == n and timing.warmup == warmup and len(timing.seconds) == n
    assert timing.images_per_s == pytest.approx(1 / TIMED_COST_S)  # warm-up cost excluded
    assert [size for _, size, _, _ in model.seen] == [1] * (warmup + n)
    assert [img for img, *_ in model.seen] == [i % available for i in range(warmup)] + [
        i % available for i in range(n)
    ]
    assert not any(grad for _, _, grad, _ in model.seen)  # no autograd
    assert not any(train for *_, train in model.seen)  # eval mode while timed...
    assert model.training  # ...and the caller's mode restored


@pytest.mark.parametrize(
    ("inputs", "warmup", "n", "match"),
    [
        ([{"inputs": [torch.zeros(1), torch.zeros(1)]}], 0, 1, "batch 1"),
        ([], 0, 1, "no inputs"),
        ([{"inputs": [torch.zeros(1)]}], 0, 0, "n >= 1"),
        ([{"inputs": [torch.zeros(1)]}], -1, 1, "warmup >= 0"),
    ],
    ids=["batch-of-two", "empty", "n-zero", "negative-warmup"],
)
def test_time_inference_refuses_what_is_not_the_definition(inputs, warmup, n, match):
    with pytest.raises(ValueError, match=match):
        time_inference(CountingModel(0), inputs, warmup, n)


@pytest.mark.parametrize(
    ("node", "expected"),
    [(None, (50, 5)), ({"images": 4, "warmup": 1}, (4, 1)), ({"images": 7}, (7, 5))],
    ids=["defaults", "smoke", "images-only"],
)
def test_speed_settings(node, expected):
    cfg = {} if node is None else {SPEED_CFG_KEY: node}
    assert speed_settings(cfg) == expected


@pytest.mark.parametrize(
    "node", [{"images": 0}, {"warmup": -1}, {"images": 2.5}, {"images": True}],
    ids=["zero-images", "negative-warmup", "float", "bool"],
)  # fmt: skip
def test_speed_settings_reject_bad_values(node):
    with pytest.raises(ValueError, match=SPEED_CFG_KEY):
        speed_settings({SPEED_CFG_KEY: node})


@pytest.mark.slow
def test_trial_speed_metric_times_n_val_images_at_batch_one(synth_root: Path, tmp_path: Path):
    """The metric a trial logs (``_speed_metric``) on the real smoke model and val set."""
    from sbr.engine.train import build_runner
    from sbr.runners.trial import _speed_metric

    runner = build_runner(
        "smoke/mask-rcnn_r18_fpn_smoke", work_dir=tmp_path, data_root=synth_root,
        options={SPEED_CFG_KEY: {"images": 3, "warmup": 2}},
    )  # fmt: skip
    model = runner.model
    calls: list[tuple[int, str]] = []
    real_step = model.test_step

    def spy(batch):
        calls.append((len(batch["inputs"]), batch["data_samples"][0].img_path))
        return real_step(batch)

    model.test_step = spy
    metric = _speed_metric(runner)
    assert set(metric) == {M.METRIC_IMAGES_PER_S} and metric[M.METRIC_IMAGES_PER_S] > 0
    assert [size for size, _ in calls] == [1] * 5  # 2 warm-up + 3 timed, one image each
    first_val = [single_image_batches(runner.val_dataloader.dataset, 3)[i] for i in range(3)]
    paths = [b["data_samples"][0].img_path for b in first_val]
    assert [path for _, path in calls[2:]] == paths  # the first N val images
