"""Resuming a Runner checkpoint on torch >= 2.6 (mmengine 0.10.7 + weights_only)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SMOKE = "smoke/mask-rcnn_r18_fpn_smoke"
# Two tiny iterations per leg keep this test cheap; evaluation only at the end.
TINY = [
    "--cfg-options",
    "train_cfg.val_interval=4",
    "--cfg-options",
    "default_hooks.checkpoint.interval=2",
    "--cfg-options",
    "train_dataloader.batch_size=2",
]


def _sbr_train(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sbr", "train", SMOKE, *args],
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow
def test_stop_and_resume_finishes_the_schedule(synth_root: Path, tmp_path: Path) -> None:
    work = tmp_path / "run"
    common = ["--data", str(synth_root), "--work-dir", str(work), *TINY]

    # Leg 1: a schedule cut after two iterations (the "stop").
    first = _sbr_train(*common, "--cfg-options", "train_cfg.max_iters=2")
    assert first.returncode == 0, first.stderr[-3000:]
    assert (work / "iter_2.pth").is_file()
    assert (work / "last_checkpoint").read_text().strip().endswith("iter_2.pth")

    # Leg 2: the full 4-iteration schedule, resumed from the checkpoint of leg 1.
    second = _sbr_train(*common, "--cfg-options", "train_cfg.max_iters=4", "--resume")
    assert second.returncode == 0, second.stderr[-3000:]
    assert "trained smoke/mask-rcnn_r18_fpn_smoke from iteration 2 to 4" in second.stdout
    assert "resumed" in (second.stdout + second.stderr).lower()
    assert (work / "iter_4.pth").is_file()
    assert "bbox:" in second.stdout and "segm:" in second.stdout


def _state_capture(record: dict) -> object:
    """A hook copying the model and optimizer state when training starts (after a resume)."""
    import copy

    from mmengine.hooks import Hook

    class _Capture(Hook):
        priority = "VERY_LOW"

        def before_train(self, runner) -> None:
            record["iter"] = runner.iter
            record["model"] = {k: v.detach().clone() for k, v in runner.model.state_dict().items()}
            record["optimizer"] = copy.deepcopy(runner.optim_wrapper.state_dict())

    return _Capture()


@pytest.mark.slow
def test_resume_from_explicit_checkpoint(smoke_run, synth_root: Path, tmp_path: Path) -> None:
    """--resume CKPT continues another run's schedule: weights, optimizer state, iteration."""
    import torch

    from sbr.engine.train import build_runner

    ckpt_path = Path(smoke_run.work_dir) / "iter_300.pth"
    saved = torch.load(ckpt_path, map_location="cpu", weights_only=False)
    runner = build_runner(
        SMOKE,
        work_dir=tmp_path / "continued",
        resume=str(ckpt_path),
        data_root=synth_root,
        options={"train_cfg.max_iters": 302, "train_cfg.val_interval": 302},
    )
    record: dict = {}
    runner.register_hook(_state_capture(record))
    runner.train()

    assert (record["iter"], runner.iter) == (300, 302)
    assert (tmp_path / "continued" / "iter_302.pth").is_file()
    # Weights: every tensor of the checkpoint, exactly, when training resumed.
    assert record["model"].keys() == saved["state_dict"].keys()
    for name, value in saved["state_dict"].items():
        torch.testing.assert_close(record["model"][name], value, rtol=0, atol=0, msg=name)
    # Optimizer: AdamW's moments and step of every parameter, and the scheduled lr.
    state, expected = record["optimizer"]["state"], saved["optimizer"]["state"]
    assert state.keys() == expected.keys() and len(state) > 10
    for index, moments in expected.items():
        for key in ("exp_avg", "exp_avg_sq", "step"):
            torch.testing.assert_close(state[index][key], moments[key], rtol=0, atol=0)
    lrs = [group["lr"] for group in record["optimizer"]["param_groups"]]
    assert lrs == [group["lr"] for group in saved["optimizer"]["param_groups"]]
    assert lrs[0] < 1e-3  # past the schedule's milestone: the scheduler state came back too
    # and the two resumed iterations did train: the weights moved from the checkpoint
    moved = runner.model.state_dict()
    assert any(not torch.equal(moved[k], v) for k, v in saved["state_dict"].items())
