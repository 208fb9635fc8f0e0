"""Data-parallel trials: DDP across Ray Train workers (gloo on CPU), spanning two nodes."""

from __future__ import annotations

from pathlib import Path

import pytest
from ci_gate import cuda_required, require
from tiny_trials import GOOD_ROW, VARIANT_ROW, tiny_expansion, two_node_cluster

from sbr import metrics as M
from sbr.runners.base import Fault
from sbr.runners.execute import RunSettings, run_expansion


def _config(**fields):
    from mmengine.config import Config

    base = {
        "model": {"type": "MaskRCNN"},
        "val_evaluator": {"type": "CocoMetric", "metric": ["bbox", "segm"]},
        "test_evaluator": [{"type": "CocoMetric"}, {"type": "CocoMetric"}],
    }
    return Config({**base, **fields})


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, {"type": "MMDistributedDataParallel", "find_unused_parameters": False}),
        ({"find_unused_parameters": True}, {"find_unused_parameters": True}),
        (
            {"model_wrapper_cfg": {"type": "MMDistributedDataParallel", "static_graph": True}},
            {"static_graph": True, "broadcast_buffers": False},
        ),
    ],
    ids=["default", "find-unused", "own-wrapper-kept"],
)
def test_data_parallel_config_edits(fields: dict, expected: dict) -> None:
    from sbr.engine.train import _data_parallel

    cfg = _config(**fields)
    _data_parallel(cfg)

    assert cfg.launcher == "pytorch"
    wrapper = cfg.model_wrapper_cfg
    assert wrapper["device_ids"] is None  # CPU processes: DDP refuses device ids
    assert {k: wrapper[k] for k in expected} == expected
    assert cfg.val_evaluator["collect_device"] == "gpu"  # all-gather, no shared tmp folder
    assert [e["collect_device"] for e in cfg.test_evaluator] == ["gpu", "gpu"]


def _two_worker_trial(tmp_path: Path, *rows: str, seed: int, fault: Fault | None = None):
    """(trial id, run settings) of a one-trial expansion trained by 2 workers x 1 CPU."""
    from sbr.data.synth import synthesize
    from sbr.tracking.mlflow import default_tracking_uri

    synthesize(tmp_path / "data", seed=0, images=8, val_images=4)
    expansion = tiny_expansion(tmp_path / "spec", tmp_path / "data", *rows, seed=seed)
    (trial,) = [t.trial_id for t in expansion.trials]
    settings = RunSettings(
        storage=tmp_path / "store",
        tracking_uri=default_tracking_uri(tmp_path),
        cpus_per_trial=2,
        workers_per_trial=2,
        faults={trial: fault} if fault else {},
    )
    return expansion, trial, settings


def _assert_world_size_two(trial_dir: Path) -> None:
    log = sorted((trial_dir / "work").glob("*/*.log"))[-1]
    text = log.read_text()
    assert "Distributed training: True" in text and "GPU number: 2" in text  # world size 2


@pytest.mark.slow
def test_data_parallel_trial_spans_two_nodes_retries_and_resumes(tmp_path: Path) -> None:
    """A 2-worker trial on a head + worker node (1 CPU each): both ranks must be placed,
    on different nodes; a failure before iteration 1 is retried from the checkpoint;
    rank 0 alone logs (no duplicate steps); the evaluation-only variant runs too."""
    require("ray")
    from sbr.runners.ray_tune import RANK_NODE_FILE, RaySettings, RayTuneLauncher
    from sbr.tracking.mlflow import Tracker

    expansion, trial, settings = _two_worker_trial(
        tmp_path, GOOD_ROW, VARIANT_ROW, seed=5, fault=Fault(at_iter=1)
    )
    with two_node_cluster() as address:
        launcher = RayTuneLauncher(
            RaySettings(
                address=address,
                cpus_per_trial=2,
                workers_per_trial=2,
                max_retries=1,
                storage=str(tmp_path / "ray"),
                verbose=0,
            )
        )
        result = run_expansion(expansion, settings=settings, launcher=launcher)

    (outcome,) = result.outcomes
    assert outcome.status == "finished", outcome.error
    assert (outcome.start_iter, outcome.end_iter) == (1, 2)  # resumed after the failure
    trial_dir = settings.storage / trial
    ranks = [(trial_dir / RANK_NODE_FILE.format(rank=r)).read_text().strip() for r in (0, 1)]
    assert len(set(ranks)) == 2  # one rank on each node
    _assert_world_size_two(trial_dir)

    tracker = Tracker(settings.tracking_uri)
    (run,) = tracker.search({M.TAG_TRIAL: trial, M.TAG_KIND: "training"})
    assert run.data.tags[M.TAG_STATUS] == "finished"
    steps = [s for s, _ in tracker.metric_history(run.info.run_id, f"{M.LOSS_PREFIX}loss")]
    assert steps == [1, 2]  # one logging rank, no gap across the retry
    assert M.BBOX_AP in run.data.metrics
    (variant,) = tracker.search({M.TAG_KIND: "evaluation"})
    assert variant.data.tags[M.TAG_STATUS] == "finished"
    assert M.BBOX_AP in variant.data.metrics


@pytest.mark.parametrize(("rank", "written"), [(0, True), (1, False)], ids=["rank0", "rank1"])
def test_trained_work_outcome_is_written_by_rank_zero_only(
    tmp_path: Path, rank: int, written: bool
) -> None:
    """A trained trial whose variants a data-parallel group evaluates: the launcher reads
    the outcome back from the trial folder, so rank 0 must write it (and only rank 0)."""
    from sbr.runners.base import TrialOutcome, TrialTask, TrialWork
    from sbr.runners.trial import execute_work
    from sbr.tracking.mlflow import default_tracking_uri

    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "last_checkpoint").write_text(str(tmp_path / "work" / "iter_2.pth"))
    task = TrialTask(
        trial_id="t1", trial_dir=str(tmp_path), config_file="unused.py", evaluations=(),
        tags={}, params={}, cpus=2, tracking_uri=default_tracking_uri(tmp_path),
        experiment_id="0", workers=2,
    )  # fmt: skip
    work = TrialWork(task, "run-1", new_run=False, trained=True, metrics={M.BBOX_AP: 0.5})

    outcome = execute_work(work, rank=rank)

    assert (outcome.status, outcome.metrics) == ("skipped", {M.BBOX_AP: 0.5})
    assert (TrialOutcome.read(tmp_path) == outcome) is written
    assert task.threads == 1  # 2 CPUs over 2 workers


REQUIRE_CUDA = cuda_required()


def _cuda_devices() -> int:
    import torch

    return torch.cuda.device_count()


@pytest.mark.slow
@pytest.mark.skipif(
    _cuda_devices() < 2 and not REQUIRE_CUDA,
    reason="needs 2 CUDA GPUs for NCCL data-parallel (SBR_REQUIRE_CUDA=1 makes this a failure)",
)
def test_data_parallel_trial_on_two_gpus_with_nccl(tmp_path: Path) -> None:
    """The GPU path: one Ray Train worker per GPU, NCCL, CUDA DDP, rank 0 logging."""
    from sbr.runners.ray_tune import RaySettings, RayTuneLauncher
    from sbr.tracking.mlflow import Tracker

    expansion, trial, settings = _two_worker_trial(tmp_path, GOOD_ROW, seed=6)
    launcher = RayTuneLauncher(
        RaySettings(
            cpus_per_trial=2, gpus_per_trial=2, workers_per_trial=2,
            storage=str(tmp_path / "ray"), verbose=0,
        )
    )  # fmt: skip
    (outcome,) = run_expansion(expansion, settings=settings, launcher=launcher).outcomes

    assert outcome.status == "finished", outcome.error
    _assert_world_size_two(settings.storage / trial)
    (run,) = Tracker(settings.tracking_uri).search({M.TAG_TRIAL: trial, M.TAG_KIND: "training"})
    assert run.data.metrics[M.METRIC_PEAK_MEMORY_MB] > 0  # torch.cuda.max_memory_allocated
