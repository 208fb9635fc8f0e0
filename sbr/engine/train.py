"""Train (and evaluate) one MMEngine config: the engine behind ``sbr train``."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sbr.engine.per_image import per_image_hook
from sbr.metrics import ARTIFACT_PER_IMAGE, FINAL_METRICS_FILE


@dataclass(frozen=True)
class TrainResult:
    """Outcome of :func:`run_training`."""

    work_dir: Path
    #: Metrics of the last evaluation (MMEngine keys such as ``coco/bbox_mAP``).
    metrics: dict[str, float] = field(default_factory=dict)
    #: Iteration the run started from (non-zero when it resumed).
    start_iter: int = 0
    #: Iteration the run ended at.
    end_iter: int = 0
    wall_time_s: float = 0.0


def _observer(record: dict[str, Any]) -> Any:
    """A Runner hook recording the start iteration and every validation result."""
    from mmengine.hooks import Hook

    class _RunObserver(Hook):
        priority = "VERY_LOW"

        def before_train(self, runner: Any) -> None:  # runs after a resume has loaded
            record["start_iter"] = runner.iter

        def after_val_epoch(self, runner: Any, metrics: dict | None = None) -> None:
            record["metrics"] = {k: float(v) for k, v in (metrics or {}).items()}

    return _RunObserver()


def _isolate_visualizer(cfg: Any) -> None:
    """Give this Runner its own visualizer instance.

    mmdet's default runtime names its visualizer ``'visualizer'``, and MMEngine
    hands back an existing instance of that name, so a second Runner in the same
    process (tests, calibration, a reused Ray worker) would write into the first
    one's work dir.
    """
    import uuid

    if isinstance(cfg.get("visualizer"), dict):
        cfg.visualizer["name"] = f"sbr-visualizer-{uuid.uuid4().hex[:12]}"


def _data_parallel(cfg: Any) -> None:
    """Make ``cfg`` train and evaluate data-parallel in an initialised process group.

    MMEngine skips its own ``init_dist`` when a default process group exists (Ray Train
    creates it), so only three things change: the ``pytorch`` launcher; the DDP
    wrapper's ``device_ids`` (this process' CUDA device, or None for CPU processes,
    which DDP requires with gloo); and the evaluators gather results through the
    process group (``collect_device='gpu'``, an all-gather that works on gloo too)
    instead of a temporary folder that ranks on different nodes would not share.
    """
    import torch

    cfg.launcher = "pytorch"
    wrapper = dict(cfg.get("model_wrapper_cfg") or {})
    wrapper.setdefault("type", "MMDistributedDataParallel")
    wrapper.setdefault("broadcast_buffers", False)
    wrapper.setdefault("find_unused_parameters", cfg.get("find_unused_parameters", False))
    wrapper["device_ids"] = [torch.cuda.current_device()] if torch.cuda.is_available() else None
    cfg.model_wrapper_cfg = wrapper
    for key in ("val_evaluator", "test_evaluator"):
        evaluators = cfg.get(key)
        for evaluator in evaluators if isinstance(evaluators, list) else [evaluators]:
            if isinstance(evaluator, dict):
                evaluator["collect_device"] = "gpu"


def build_runner(
    config: str | Path,
    *,
    work_dir: str | Path | None = None,
    resume: bool | str = False,
    data_root: str | Path | None = None,
    options: dict[str, Any] | None = None,
    launcher: str = "none",
) -> Any:
    """Build an MMEngine Runner for ``config`` with sbr's modules registered.

    Args:
        config: Config path or name shipped in ``sbr/configs``.
        work_dir: Output folder. Defaults to ``work_dirs/<config name>``.
        resume: ``True``/``"auto"`` resumes from the latest checkpoint in
            ``work_dir``; a path resumes from that checkpoint.
        data_root: Dataset root replacing the config's (COCO layout).
        options: Dotted overrides merged into the config.
        launcher: ``"none"`` (one process) or ``"pytorch"``: one of several data-parallel
            processes of an already initialised ``torch.distributed`` process group.
    """
    from mmdet.utils import register_all_modules
    from mmengine.runner import Runner

    from sbr.engine.checkpoint import install_checkpoint_compat
    from sbr.engine.config import load_config, resolve_config_path, use_data

    register_all_modules(init_default_scope=False)
    install_checkpoint_compat()
    cfg = load_config(config, options=options)
    if data_root is not None:  # its files and classes, read from the data
        use_data(cfg, data_root)
    cfg.work_dir = str(work_dir or Path("work_dirs") / resolve_config_path(config).stem)
    _isolate_visualizer(cfg)
    if launcher != "none":
        _data_parallel(cfg)
    if resume in (True, "auto"):
        cfg.resume, cfg.load_from = True, None
    elif resume:
        cfg.resume, cfg.load_from = True, str(resume)
    return Runner.from_cfg(cfg)


def run_training(
    config: str | Path,
    *,
    work_dir: str | Path | None = None,
    resume: bool | str = False,
    data_root: str | Path | None = None,
    options: dict[str, Any] | None = None,
) -> TrainResult:
    """Train ``config`` to the end of its schedule and return its last metrics.

    Arguments are those of :func:`build_runner`. The metrics of the last
    evaluation are also written to ``<work_dir>/final_metrics.json``.
    """
    start = time.perf_counter()
    runner = build_runner(
        config, work_dir=work_dir, resume=resume, data_root=data_root, options=options
    )
    record: dict[str, Any] = {"start_iter": 0, "metrics": {}}
    runner.register_hook(_observer(record))
    runner.register_hook(per_image_hook(Path(runner.work_dir) / ARTIFACT_PER_IMAGE))
    runner.train()
    result = TrainResult(
        work_dir=Path(runner.work_dir),
        metrics=record["metrics"],
        start_iter=record["start_iter"],
        end_iter=runner.iter,
        wall_time_s=time.perf_counter() - start,
    )
    (result.work_dir / FINAL_METRICS_FILE).write_text(
        json.dumps(
            {
                "metrics": result.metrics,
                "start_iter": result.start_iter,
                "end_iter": result.end_iter,
                "wall_time_s": round(result.wall_time_s, 2),
            },
            indent=2,
            sort_keys=True,
        )
    )
    return result
