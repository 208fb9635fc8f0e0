"""SBRTimingHook: the timed window of `sbr bench overhead`, with a real MMEngine Runner."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn as nn
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.runner import Runner

from sbr.models.hooks import SBRTimingHook
from sbr.models.hooks.sbr_timing_hook import TIMING_FILE


class _Toy(BaseModel):
    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, inputs, data_samples=None, mode: str = "loss"):
        return {"loss": (self.weight - sum(x.sum() for x in inputs)) ** 2}


class _Counted(Hook):
    """Counts its calls, to compare with what the timing hook saw."""

    def __init__(self) -> None:
        self.calls = []

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self.calls.append(runner.iter)


def _runner(tmp_path, max_iters: int, timing: dict, extra: list) -> Runner:
    runner = Runner(
        model=_Toy(),
        work_dir=str(tmp_path),
        experiment_name=f"timing_{tmp_path.name}",
        train_dataloader=dict(
            dataset=[dict(inputs=torch.ones(1)) for _ in range(3)],
            sampler=dict(type="DefaultSampler", shuffle=False),
            batch_size=1,
            num_workers=0,
            collate_fn=dict(type="pseudo_collate"),
        ),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        optim_wrapper=dict(optimizer=dict(type="SGD", lr=0.01)),
        default_hooks=dict(checkpoint=None),
        custom_hooks=[dict(type="SBRTimingHook", **timing)],
        default_scope="mmdet",
        log_level="WARNING",
    )
    for hook in extra:
        runner.register_hook(hook)
    return runner


@pytest.mark.parametrize(
    ("max_iters", "skip", "timed"), [(6, 2, 3), (3, 0, 2), (4, 3, 0)], ids=["2+3", "0+2", "none"]
)
def test_window_holds_the_iterations_between_skip_and_the_last(
    tmp_path, max_iters: int, skip: int, timed: int
) -> None:
    counted = _Counted()
    runner = _runner(tmp_path, max_iters, {"skip": skip}, [counted])
    runner.train()
    path = tmp_path / TIMING_FILE
    if not timed:  # the window never closed: nothing written
        assert not path.exists()
        return
    record = json.loads(path.read_text())
    assert record["iters"] == timed
    assert record["wall_s"] > 0 and record["cpu_s"] >= 0
    assert record["torch_threads"] == torch.get_num_threads()
    assert "_Counted" in record["hooks_s"] and "IterTimerHook" in record["hooks_s"]
    assert "SBRTimingHook" not in record["hooks_s"]
    assert counted.calls == list(range(max_iters))  # wrapped hooks still ran every time


def test_out_file_and_same_named_hooks(tmp_path) -> None:
    out = tmp_path / "elsewhere.json"
    runner = _runner(tmp_path, 4, {"skip": 1, "out_file": str(out)}, [_Counted(), _Counted()])
    runner.train()
    hooks = json.loads(out.read_text())["hooks_s"]
    assert {"_Counted", "_Counted#2"} <= set(hooks)


@pytest.mark.parametrize("skip", [-1, True], ids=["negative", "bool"])
def test_rejects_bad_skip(skip) -> None:
    with pytest.raises(ValueError, match="skip"):
        SBRTimingHook(skip=skip)
