"""Run ONE trial in the current process: train, evaluate, log to MLflow. Pure of Ray.

Steps: take the trial's lock; stop if MLflow already holds a finished training run of
the trial; otherwise reuse its unfinished run (or create one under the invocation's
parent run); train with MMEngine (resuming from ``last_checkpoint`` in the work dir
when there is one); evaluate (COCO) on the final weights; run the evaluation-only
variants on the same checkpoint, each as a child run; log artifacts; mark finished.
On an error the run is tagged failed with the error and the exception propagates
(launchers retry; the retry resumes the same run from the checkpoint, or replaces
it by a run cut back to the resume point when it holds steps the retry redoes), as a
:class:`~sbr.runners.failures.DeterministicFailure` when a retry would only repeat it.
"""

from __future__ import annotations

import json
import re
import resource
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from sbr.metrics import (
    ARTIFACT_CHECKPOINT_URI,
    ARTIFACT_CONFIG,
    ARTIFACT_IOU_DIR,
    ARTIFACT_LOG_DIR,
    ARTIFACT_PER_IMAGE,
    ARTIFACT_PER_IMAGE_DIR,
    BBOX_AP,
    LOSS_PREFIX,
    METRIC_IMAGES_PER_S,
    METRIC_LR,
    METRIC_PARAMS,
    METRIC_PEAK_MEMORY_MB,
    SEGM_AP,
    TAG_ERROR,
    TAG_EVAL,
    TAG_KIND,
    TAG_STATUS,
    TAG_TRIAL,
    paper_metrics,
    short_names,
)
from sbr.runners.base import (
    FINISHED,
    SKIPPED,
    EvalTask,
    Executor,
    TrialOutcome,
    TrialTask,
    TrialWork,
    one_line,
)
from sbr.runners.failures import iteration_marker_hook, stop_if_deterministic
from sbr.runners.lock import TrialLock

#: ``report(metrics)`` forwards progress to the launcher (Ray Tune's ``tune.report``).
Reporter = Callable[[Mapping[str, Any]], None]


def _is_finished(run: Any) -> bool:
    return run.data.tags.get(TAG_STATUS) == FINISHED


def _peak_memory_mb() -> float:
    import torch

    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _scalar(value: Any) -> float:
    return float(value.detach()) if hasattr(value, "detach") else float(value)


def eta_seconds(elapsed_s: float, done: int, remaining: int) -> float | None:
    """Seconds left at the mean pace so far (None before the first iteration is done)."""
    if done <= 0:
        return None
    return elapsed_s / done * max(0, remaining)


def format_eta(seconds: float | None) -> str:
    """``h:mm:ss`` (``?`` when unknown)."""
    if seconds is None:
        return "?"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def progress_report(
    step: int,
    max_iters: int,
    eta_s: float | None,
    ap: Mapping[str, float],
    loss: float | None = None,
) -> dict[str, Any]:
    """One progress report; the first four (numeric) keys are the live table's columns.

    Ray Tune's table shows the first four numbers of the first report, so every report
    carries iteration, ETA (minutes), bbox and segm AP (NaN until the first evaluation)
    in that order; loss and the text forms (``12/300``, ``0:03:10``) follow.
    """
    nan = float("nan")
    return {
        "iteration": step,
        "eta_min": nan if eta_s is None else round(eta_s / 60, 1),
        "bbox_mAP": ap.get(BBOX_AP, nan),
        "segm_mAP": ap.get(SEGM_AP, nan),
        "loss": nan if loss is None else loss,
        "progress": f"{step}/{max_iters}",
        "eta": format_eta(eta_s),
    }


def _tracking_hook(
    *,
    log: Callable[[dict, int], None],
    report: Reporter | None,
    interval: int,
) -> Any:
    """An MMEngine hook: losses + lr every ``interval`` iterations, the latest validation."""
    from mmengine.hooks import Hook

    class _SBRTrackingHook(Hook):
        priority = "LOW"

        def __init__(self) -> None:
            self.val_metrics: dict[str, float] = {}
            self.val_at = -1
            self.start_iter = 0
            self._t_train = 0.0

        def before_train(self, runner: Any) -> None:  # after a resume has loaded
            self.start_iter = runner.iter
            self._t_train = time.perf_counter()

        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
            step = runner.iter + 1
            if step % interval and step != runner.max_iters:
                return
            values = {f"{LOSS_PREFIX}{k}": _scalar(v) for k, v in (outputs or {}).items()}
            lr = runner.optim_wrapper.get_lr().get("lr")
            if lr:
                values[METRIC_LR] = float(lr[0])
            log(values, step)
            if report is not None:
                loss = values.get(f"{LOSS_PREFIX}loss")
                eta = self.eta(runner, step)
                report(progress_report(step, runner.max_iters, eta, self.val_metrics, loss))

        def eta(self, runner: Any, step: int) -> float | None:
            """Seconds left in training (None outside training or before a step)."""
            if not self._t_train:
                return None
            elapsed = time.perf_counter() - self._t_train
            return eta_seconds(elapsed, step - self.start_iter, runner.max_iters - step)

        def after_val_epoch(self, runner: Any, metrics: dict | None = None) -> None:
            self.val_metrics = {k: float(v) for k, v in (metrics or {}).items()}
            self.val_at = runner.iter
            if report is not None:  # the latest AP in the live table (every rank calls it)
                eta = self.eta(runner, runner.iter)
                report(progress_report(runner.iter, runner.max_iters, eta, self.val_metrics))

    return _SBRTrackingHook()


def _logger_interval(runner: Any) -> int:
    logger = runner.cfg.get("default_hooks", {}).get("logger") or {}
    return int(logger.get("interval", 50))


def _launcher(task: TrialTask) -> str:
    """MMEngine launcher of the trial's processes (``pytorch``: data-parallel)."""
    return "pytorch" if task.workers > 1 else "none"


def _train(task: TrialTask, tracker: Any, run_id: str, report: Reporter | None):
    """Train (resuming) and evaluate; returns (runner, hook, start_iter, metrics)."""
    import torch

    from sbr.engine.per_image import per_image_hook
    from sbr.engine.train import build_runner

    torch.set_num_threads(task.threads)
    work_dir = Path(task.trial_dir) / "work"
    resume = (work_dir / "last_checkpoint").is_file()
    runner = build_runner(
        task.config_file, work_dir=work_dir, resume=resume, launcher=_launcher(task)
    )
    # The run holds no step past the resume point (run_trial replaced it otherwise).
    hook = _tracking_hook(
        log=lambda values, step: tracker.log_metrics(run_id, values, step),
        report=report,
        interval=_logger_interval(runner),
    )
    runner.register_hook(hook)
    runner.register_hook(iteration_marker_hook(task.trial_dir))  # see sbr.runners.failures
    if task.fault is not None:  # TEST HOOK: set only by the runner tests
        from sbr.runners.fault_injection import fault_injection_hook

        runner.register_hook(fault_injection_hook(task.fault, Path(task.trial_dir)))
    runner.register_hook(per_image_hook(work_dir / ARTIFACT_PER_IMAGE))  # for the CIs
    runner.train()
    start_iter = hook.start_iter
    if hook.val_at != runner.iter or not hook.val_metrics:
        runner.val()
    return runner, hook, start_iter, dict(hook.val_metrics)


def _evaluate_variant(
    evaluation: EvalTask, checkpoint: str, task: TrialTask, tracker: Any, parent: str
) -> dict[str, float]:
    """One evaluation-only variant, as a child run of the training run."""
    from sbr.engine.per_image import per_image_hook
    from sbr.engine.train import build_runner

    runs = tracker.search({TAG_EVAL: evaluation.eval_id, TAG_KIND: "evaluation"})
    if runs and _is_finished(runs[0]):
        return dict(runs[0].data.metrics)
    tags = {**evaluation.tags, TAG_STATUS: "running"}
    run_id = runs[0].info.run_id if runs else None
    name = evaluation.display_name
    run_id = tracker.start_run(tags=tags, parent=parent, name=name, run_id=run_id)
    work_dir = Path(evaluation.config_file).parent / "work"
    try:
        runner = build_runner(
            evaluation.config_file,
            work_dir=work_dir,
            options={"load_from": checkpoint},
            launcher=_launcher(task),
        )
        runner.register_hook(per_image_hook(work_dir / ARTIFACT_PER_IMAGE))  # for the CIs
        metrics = {k: float(v) for k, v in runner.val().items()}
        speed = _speed_metric(runner)
    except BaseException as exc:
        tracker.set_tags(run_id, {TAG_STATUS: "failed", TAG_ERROR: one_line(exc)[:4000]})
        tracker.end_run(run_id, failed=True)
        raise
    final = {**metrics, **speed}
    tracker.log_metrics(run_id, {**final, **paper_metrics(final)}, step=0)
    tracker.log_artifact(run_id, evaluation.config_file, str(Path(ARTIFACT_CONFIG).parent))
    tracker.log_artifact(run_id, work_dir / ARTIFACT_PER_IMAGE, ARTIFACT_PER_IMAGE_DIR)
    tracker.set_tags(run_id, {TAG_STATUS: FINISHED})
    tracker.end_run(run_id)
    return metrics


def _speed_metric(runner: Any) -> dict[str, float]:
    """The paper's Speed of the runner's model: batch 1, one device, after warm-up, on the
    first N validation images (``sbr_speed`` in the config; see :mod:`sbr.runners.speed`)."""
    from sbr.runners.speed import runner_speed

    timing = runner_speed(runner)  # None on data-parallel ranks other than 0
    return {} if timing is None else {METRIC_IMAGES_PER_S: timing.images_per_s}


def _log_results(
    task: TrialTask, tracker: Any, run_id: str, runner: Any, hook: Any, checkpoint: str
) -> None:
    """Final metrics and artifacts of the training run."""
    params = sum(p.numel() for p in runner.model.parameters() if p.requires_grad)
    final = dict(hook.val_metrics)
    final[METRIC_PARAMS] = params
    final[METRIC_PEAK_MEMORY_MB] = _peak_memory_mb()
    final.update(_speed_metric(runner))
    final.update(paper_metrics(final))  # B_AP, S_AP50, Speed...: the paper's columns
    logged = {step for step, _ in tracker.metric_history(run_id, METRIC_PARAMS)}
    if runner.iter not in logged:  # else an attempt killed before the finished tag did
        tracker.log_metrics(run_id, final, step=runner.iter)
    work_dir = Path(runner.work_dir)
    tracker.log_artifact(run_id, task.config_file, str(Path(ARTIFACT_CONFIG).parent))
    for log_file in sorted(work_dir.glob("*/*.log")):
        tracker.log_artifact(run_id, log_file, ARTIFACT_LOG_DIR)
    tracker.log_artifact(run_id, work_dir / "iou_histograms", ARTIFACT_IOU_DIR)
    tracker.log_artifact(run_id, work_dir / ARTIFACT_PER_IMAGE, ARTIFACT_PER_IMAGE_DIR)
    tracker.log_text(run_id, Path(checkpoint).resolve().as_uri() + "\n", ARTIFACT_CHECKPOINT_URI)


def resume_point(trial_dir: str | Path) -> int:
    """The iteration a new attempt of the trial resumes from (0: it starts over).

    MMEngine resumes from the checkpoint that ``work/last_checkpoint`` names; an
    iteration-based checkpoint is ``iter_<N>.pth``, any other is read for its ``meta``.
    """
    pointer = Path(trial_dir) / "work" / "last_checkpoint"
    if not pointer.is_file():
        return 0
    checkpoint = Path(pointer.read_text().strip())
    match = re.fullmatch(r"iter_(\d+)\.pth", checkpoint.name)
    if match:
        return int(match.group(1))
    from sbr.engine.checkpoint import load_from_local_safe

    return int(load_from_local_safe(str(checkpoint), map_location="cpu")["meta"]["iter"])


def _open_attempt(task: TrialTask, tracker: Any, reuse: str | None) -> tuple[str, bool]:
    """(the run this attempt logs into, whether it is new: its parameters are not logged).

    An aborted attempt may have logged steps that the attempt now starting redoes: all
    of them when there is no checkpoint (it starts over, maybe on another node), those
    past the checkpoint otherwise. Its run is then replaced by a fresh one that keeps
    the history up to the resume point (see ``Tracker.replace_run``): every step of
    the trial holds one value, from the attempt whose weights carried on.
    """
    tags = {**task.tags, TAG_STATUS: "running"}
    where = {"parent": task.parent_run_id, "name": task.display_name}
    if reuse is not None:
        start = resume_point(task.trial_dir)
        if tracker.last_step(reuse) > start:
            return tracker.replace_run(reuse, keep_through=start, tags=tags, **where), True
    return tracker.start_run(tags=tags, run_id=reuse, **where), reuse is None


def _open_run(task: TrialTask, tracker: Any) -> tuple[str | None, Any]:
    """(id of the run to reuse or None, the finished run if the trial is done).

    A trial has one unfinished run at most, unless an attempt died while replacing it
    (``Tracker.replace_run`` copies into the new run, then deletes the old one): the
    oldest then holds the whole history, and the newer, partial copies are deleted.
    """
    runs = tracker.search({TAG_TRIAL: task.trial_id, TAG_KIND: "training"})
    done = next((r for r in runs if _is_finished(r)), None)
    if done is not None or not runs:
        return None, done
    for partial in runs[:-1]:  # newest first
        tracker.delete_run(partial.info.run_id)
    return runs[-1].info.run_id, None


class _RankZeroWrites:
    """A tracker for data-parallel ranks other than 0: reads go through, writes are dropped.

    Every rank makes the same read decisions (which evaluation variants still miss a
    finished run), so all of them join the same collective evaluations.
    """

    _WRITES = frozenset(
        {"start_run", "set_tags", "log_params", "log_metrics", "log_artifact", "log_text",
         "end_run"}
    )  # fmt: skip

    def __init__(self, tracker: Any) -> None:
        self._tracker = tracker

    def __getattr__(self, name: str) -> Any:
        if name in self._WRITES:
            return lambda *args, **kwargs: None
        return getattr(self._tracker, name)


def _checkpoint(task: TrialTask) -> str:
    return (Path(task.trial_dir) / "work" / "last_checkpoint").read_text().strip()


def execute_work(work: TrialWork, report: Reporter | None = None, *, rank: int = 0) -> TrialOutcome:
    """The training side of a trial, in one process of it (rank 0 logs, every rank computes).

    With ``task.workers > 1`` every data-parallel process calls this with its rank
    (the process group is already initialised); otherwise the trial's only process does.

    Args:
        work: What to run (see :class:`~sbr.runners.base.TrialWork`).
        report: Progress callback, called at the same points on every rank.
        rank: This process' rank.

    Returns:
        The outcome (``skipped`` when the training had finished earlier).
    """
    from sbr.tracking.mlflow import Tracker

    task = work.task
    tracker: Any = Tracker(task.tracking_uri, experiment_id=task.experiment_id)
    if rank:
        tracker = _RankZeroWrites(tracker)
    if work.trained:  # only evaluation-only variants may be missing
        checkpoint = _checkpoint(task)
        for evaluation in task.evaluations:
            _evaluate_variant(evaluation, checkpoint, task, tracker, work.run_id)
        outcome = TrialOutcome(task.trial_id, SKIPPED, work.run_id, dict(work.metrics))
    else:
        outcome = _train_and_log(task, tracker, work.run_id, report, new_run=work.new_run)
    if not rank:  # the outcome is what a data-parallel launcher reads back
        outcome.write(task.trial_dir)
        if outcome.status == FINISHED:
            Path(task.trial_dir, "metrics.json").write_text(json.dumps(outcome.metrics, indent=2))
    return outcome


def run_trial(
    task: TrialTask, *, report: Reporter | None = None, executor: Executor | None = None
) -> TrialOutcome:
    """Run one trial to the end (see the module docstring); raises on failure.

    Args:
        task: The trial.
        report: Progress callback (iteration, loss; then AP at the end).
        executor: Runs the training side (default: :func:`execute_work` in this
            process; the Ray launcher passes a data-parallel one for multi-worker trials).

    Returns:
        Its outcome (``skipped`` when a finished run already exists), also written to
        ``<trial_dir>/outcome.json``.
    """
    from sbr.tracking.mlflow import Tracker

    trial_dir = Path(task.trial_dir)
    with TrialLock(trial_dir / ".lock") as lock, lock.heartbeat():
        tracker = Tracker(task.tracking_uri, experiment_id=task.experiment_id)
        reuse, done = _open_run(task, tracker)
        if done is not None:
            if task.run_name and done.info.run_name != task.run_name:  # named by its trial id
                tracker.rename_run(done.info.run_id, task.run_name)
            work = TrialWork(
                task, done.info.run_id, new_run=False, trained=True, metrics=done.data.metrics
            )
        else:
            run_id, new_run = _open_attempt(task, tracker, reuse)
            work = TrialWork(task, run_id, new_run=new_run)
        try:
            outcome = (executor or execute_work)(work, report)
        except BaseException as exc:
            if not work.trained:  # a failed variant marks its own run failed
                tracker.set_tags(
                    work.run_id, {TAG_STATUS: "failed", TAG_ERROR: one_line(exc)[:4000]}
                )
                tracker.end_run(work.run_id, failed=True)
            stop_if_deterministic(trial_dir, task.trial_id, work.run_id, exc)  # else: retry
            raise
    return outcome  # execute_work (rank 0) wrote it into the trial folder


def _train_and_log(task, tracker, run_id, report, *, new_run: bool) -> TrialOutcome:
    from mmengine.config import Config

    from sbr.tracking.mlflow import flatten

    if new_run:  # a reused run has them already (MLflow refuses to change one)
        cfg = Config.fromfile(task.config_file)
        tracker.log_params(run_id, {**flatten(cfg.to_dict()), **task.params})
    runner, hook, start_iter, metrics = _train(task, tracker, run_id, report)
    checkpoint = _checkpoint(task)
    _log_results(task, tracker, run_id, runner, hook, checkpoint)
    for evaluation in task.evaluations:
        _evaluate_variant(evaluation, checkpoint, task, tracker, run_id)
    tracker.set_tags(run_id, {TAG_STATUS: FINISHED})
    tracker.end_run(run_id)
    if report is not None:
        final = progress_report(runner.iter, runner.max_iters, 0.0, metrics)
        report({**final, **short_names(metrics)})
    return TrialOutcome(
        task.trial_id, FINISHED, run_id, metrics, None, start_iter, int(runner.iter)
    )


__all__ = [
    "Reporter",
    "eta_seconds",
    "execute_work",
    "format_eta",
    "progress_report",
    "resume_point",
    "run_trial",
]
