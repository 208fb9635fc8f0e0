"""cluster/presets/paper-1gpu.yaml: the paper's recipe as single-GPU trials."""

from __future__ import annotations

from pathlib import Path

PRESET = Path(__file__).resolve().parents[2] / "cluster" / "presets" / "paper-1gpu.yaml"


def _overrides(items) -> dict:
    return {o.path: o.value for o in items}


def test_single_gpu_preset_scales_the_learning_rate_linearly_with_the_batch() -> None:
    from sbr.specs.presets import PRESETS_DIR, load_preset
    from sbr.specs.schema import trial_workers

    paper = load_preset(PRESETS_DIR / "paper.yaml")
    one = load_preset(PRESET)
    assert one.name == "paper-1gpu"
    assert dict(one.resources)["gpus"] == 1
    assert dict(one.replace_types) == {"SyncBN": "BN"}  # one process per trial
    batch = _overrides(one.overrides)["train_dataloader.batch_size"]
    workers = trial_workers(dict(paper.resources))
    assert workers == 8  # the paper's 8 GPUs, one data-parallel worker each
    paper_batch = _overrides(paper.overrides)["train_dataloader.batch_size"] * workers
    for name, schedule in paper.schedules.items():
        ours = one.schedules[name]
        assert ours.epochs == schedule.epochs
        lr = _overrides(schedule.overrides).get("optim_wrapper.optimizer.lr")
        if lr is not None:
            assert (
                _overrides(ours.overrides)["optim_wrapper.optimizer.lr"] == lr * batch / paper_batch
            )
