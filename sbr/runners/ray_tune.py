"""RayTuneLauncher: every trial is a Ray Tune trial. The only module importing ray.

sbr owns the grid: ``param_space = {"trial": grid_search([<trial ids>])}`` and the
trainable looks its :class:`~sbr.runners.base.TrialTask` up by id. Resources per trial
come from the preset; a failing trial is restarted up to ``max_retries`` times
(``FailureConfig``) and resumes from its MMEngine checkpoint, unless its failure is
deterministic (:mod:`sbr.runners.failures`): then the trial ends at once, reported failed.

A trial with one worker trains inside its Tune trial process (``tune.with_resources``
reserves its CPUs/GPUs). A trial with ``workers > 1`` trains data-parallel: its Tune
trial only holds the MLflow run and the lock, and starts a Ray Train ``TorchTrainer``
whose workers (one GPU each, or CPUs with gloo) Ray places anywhere in the cluster,
e.g. 8 workers on two 4-GPU nodes. Their progress reaches the Tune table through
``TuneReportCallback``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sbr.runners.base import FAILED, TrialOutcome, TrialTask, TrialWork
from sbr.runners.failures import DeterministicFailure

#: File in a trial's folder naming the Ray node that ran it last.
NODE_FILE = "ray_node.txt"
#: The same for each data-parallel rank (``rank`` filled in).
RANK_NODE_FILE = "ray_node.rank{rank}.txt"


class RayUnavailable(RuntimeError):
    """The Ray cluster at the given address cannot be joined."""


@dataclass(frozen=True)
class RaySettings:
    """How trials are placed on Ray.

    Attributes:
        address: Cluster to join (``ray://``, ``HOST:PORT`` or ``auto``); None starts a
            local Ray for this invocation.
        num_cpus: CPUs of the local Ray (None: all of this machine's).
        cpus_per_trial: CPUs each trial reserves (all its workers together).
        gpus_per_trial: GPUs each trial reserves (all its workers together).
        workers_per_trial: Data-parallel training processes of a trial; each takes
            ``cpus_per_trial / workers`` CPUs and ``gpus_per_trial / workers`` GPUs.
        max_retries: Restarts of a failing trial before it is reported failed.
        storage: Folder of Ray's own experiment state (results, errors).
        name: Ray experiment name.
        verbose: Ray's reporter verbosity (1: the live trial table).
        worker_logs: Forward the trials' own output (MMEngine logs) to the console;
            off by default, the logs are in each work dir and in MLflow.
    """

    address: str | None = None
    num_cpus: int | None = None
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    workers_per_trial: int = 1
    max_retries: int = 0
    storage: str = "work_dirs/ablations/_ray"
    name: str = "sbr-ablation"
    verbose: int = 1
    worker_logs: bool = False


def sbr_trial(
    config: Mapping[str, Any], tasks: Mapping[str, TrialTask], settings: RaySettings
) -> None:
    """The Tune trainable: runs the task of ``config["trial"]`` and reports progress."""
    import ray
    from ray import tune

    from sbr.runners.trial import run_trial

    task = tasks[config["trial"]]
    node = ray.get_runtime_context().get_node_id()
    Path(task.trial_dir, NODE_FILE).write_text(node + "\n", encoding="utf-8")
    executor = DataParallelExecutor(settings) if task.workers > 1 else None
    try:
        run_trial(task, report=lambda metrics: tune.report(dict(metrics)), executor=executor)
    except DeterministicFailure:
        return  # the failed outcome is in the trial folder; ending normally: no retry


def _data_parallel_worker(config: Mapping[str, Any]) -> None:
    """Ray Train's per-worker loop: one rank of a data-parallel trial."""
    import ray.train
    import torch

    from sbr.runners.trial import execute_work

    context = ray.train.get_context()
    rank = context.get_world_rank()
    if torch.cuda.is_available():
        torch.cuda.set_device(ray.train.torch.get_device())
    work: TrialWork = config["work"]
    node = ray.get_runtime_context().get_node_id()
    Path(work.task.trial_dir, RANK_NODE_FILE.format(rank=rank)).write_text(node + "\n")
    execute_work(work, report=lambda metrics: ray.train.report(dict(metrics)), rank=rank)


class DataParallelExecutor:
    """Runs a trial's training on ``workers_per_trial`` Ray Train workers (DDP).

    Ray Train starts the workers in a placement group (``PACK``: as few nodes as the
    workers fit on), sets up the ``torch.distributed`` process group (NCCL on GPUs,
    gloo on CPUs) and the ``RANK``/``LOCAL_RANK``/``WORLD_SIZE`` variables; MMEngine's
    Runner then trains with its ``pytorch`` launcher inside that group. Rank 0 logs to
    MLflow and writes the outcome into the trial folder, which is read back here. A
    worker failure fails the fit (no Ray Train restarts): the Tune trial is retried as
    a whole and resumes from the MMEngine checkpoint.
    """

    def __init__(self, settings: RaySettings) -> None:
        self.settings = settings

    def resources_per_worker(self) -> dict[str, float]:
        """Ray resources of one worker."""
        s = self.settings
        per_worker = {"CPU": s.cpus_per_trial / s.workers_per_trial}
        if s.gpus_per_trial:
            per_worker["GPU"] = s.gpus_per_trial / s.workers_per_trial
        return per_worker

    def __call__(self, work: TrialWork, report: Any | None) -> TrialOutcome:
        """Fit the workers; the outcome rank 0 wrote (raises when the fit fails)."""
        import uuid

        from ray import train
        from ray.train.torch import TorchConfig, TorchTrainer
        from ray.tune.integration.ray_train import TuneReportCallback

        s = self.settings
        gpus = bool(s.gpus_per_trial)
        trainer = TorchTrainer(
            _data_parallel_worker,
            train_loop_config={"work": work},
            torch_config=TorchConfig(backend="nccl" if gpus else "gloo"),
            scaling_config=train.ScalingConfig(
                num_workers=s.workers_per_trial,
                use_gpu=gpus,
                resources_per_worker=self.resources_per_worker(),
                placement_strategy="PACK",
            ),
            run_config=train.RunConfig(
                name=f"{work.task.trial_id}-{uuid.uuid4().hex[:8]}",
                storage_path=str(Path(s.storage, "train").resolve()),
                failure_config=train.FailureConfig(max_failures=0),
                callbacks=[TuneReportCallback()] if report is not None else [],
            ),
        )
        trainer.fit()
        outcome = TrialOutcome.read(work.task.trial_dir)
        if outcome is None:
            raise RuntimeError(f"data-parallel workers of {work.task.trial_id} wrote no outcome")
        return outcome


def connect(settings: RaySettings) -> bool:
    """Start (or join) Ray; True when this call started it. Raises :class:`RayUnavailable`."""
    import ray

    if ray.is_initialized():
        return False
    kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": settings.worker_logs}
    if settings.address is None:
        kwargs["num_cpus"] = settings.num_cpus
        # Ray starts its workers at niceness 15: next to any other busy process (a test, a
        # second run, a neighbour on a shared machine) a trial then gets a fraction of the
        # CPUs it reserved. A trial is the work here; it runs at the driver's priority.
        os.environ.setdefault("RAY_worker_niceness", "0")
    try:  # "local": a fresh Ray even when another cluster runs on this machine
        ray.init(address=settings.address or "local", **kwargs)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise RayUnavailable(f"cannot join Ray at {settings.address}: {first}") from exc
    return True


def disconnect() -> None:
    """Shut this process' Ray connection down (a local Ray stops with it)."""
    import ray

    ray.shutdown()


def check_address(address: str, *, timeout_s: float = 5.0) -> None:
    """Raise :class:`RayUnavailable` unless a Ray GCS answers at ``HOST:PORT``."""
    import socket

    host, _, port = address.removeprefix("ray://").rpartition(":")
    if address == "auto":
        return
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout_s):
            pass
    except (OSError, ValueError) as exc:
        raise RayUnavailable(f"Ray address {address} is unreachable: {exc}") from exc


class RayTuneLauncher:
    """Runs trial tasks as Ray Tune trials (see the module docstring)."""

    def __init__(self, settings: RaySettings) -> None:
        self.settings = settings

    def launch(self, tasks: Sequence[TrialTask]) -> list[TrialOutcome]:
        """One Tune trial per task; outcomes in task order, failures included."""
        import ray
        from ray import tune

        if not tasks:
            return []
        started = connect(self.settings)
        try:
            self._check_fits(local=self.settings.address is None)
            grid = self._fit(tasks, tune)
        finally:
            if started:
                ray.shutdown()
        errors = {}
        for result in grid:
            if result.error is not None:
                errors[result.config["trial"]] = result.error
        return [self._outcome(task, errors.get(task.trial_id)) for task in tasks]

    def _fit(self, tasks: Sequence[TrialTask], tune: Any) -> Any:
        s = self.settings
        by_id = {t.trial_id: t for t in tasks}
        trainable = tune.with_resources(
            tune.with_parameters(sbr_trial, tasks=by_id, settings=s), self._trial_resources()
        )
        tuner = tune.Tuner(
            trainable,
            param_space={"trial": tune.grid_search(list(by_id))},
            tune_config=tune.TuneConfig(
                num_samples=1, reuse_actors=False, max_concurrent_trials=self._concurrency()
            ),
            run_config=tune.RunConfig(
                name=s.name,
                storage_path=str(Path(s.storage).resolve()),
                failure_config=tune.FailureConfig(max_failures=s.max_retries),
                verbose=s.verbose,
            ),
        )
        return tuner.fit()

    def _check_fits(self, *, local: bool) -> None:
        """Refuse (local Ray) or warn (a cluster, which may still grow) when one trial needs
        more CPUs or GPUs than the whole cluster has: Tune would wait for them forever."""
        import ray

        s = self.settings
        total = ray.cluster_resources()
        need = {"CPU": s.cpus_per_trial, "GPU": s.gpus_per_trial}
        short = {k: v for k, v in need.items() if v > total.get(k, 0.0) + 1e-9}
        if not short:
            return
        have = ", ".join(f"{total.get(k, 0.0):g} {k}s" for k in short)
        message = (
            "a trial needs " + ", ".join(f"{v:g} {k}s" for k, v in short.items())
            + f" but this Ray cluster has {have} (see the preset's `resources`)"
        )  # fmt: skip
        if local:
            raise RayUnavailable(message)
        import warnings

        warnings.warn(message + "; trials wait until the cluster grows", stacklevel=2)

    def _trial_resources(self) -> dict[str, float]:
        """What the Tune trial itself reserves: everything, or nothing for data-parallel.

        A data-parallel trial's workers reserve its CPUs and GPUs through Ray Train; its
        Tune trial process only waits for them, so it holds no resource of its own (a
        CPU held there would be missing from a node the workers exactly fill).
        """
        s = self.settings
        if s.workers_per_trial > 1:
            return {"cpu": 0, "memory": 2**20}  # Ray refuses an all-zero request
        return {"cpu": s.cpus_per_trial, "gpu": s.gpus_per_trial}

    def _concurrency(self) -> int | None:
        """Data-parallel trials at once: as many as the cluster's CPUs/GPUs can hold.

        Their Tune trials reserve nothing, so without this cap every trial would start
        and wait for workers while holding its lock and an MLflow run marked running.
        """
        import ray

        s = self.settings
        if s.workers_per_trial <= 1:
            return None
        total = ray.cluster_resources()
        fits = [int(total.get("CPU", 0) // s.cpus_per_trial)] if s.cpus_per_trial else []
        if s.gpus_per_trial:
            fits.append(int(total.get("GPU", 0) // s.gpus_per_trial))
        return max(1, min(fits or [1]))

    @staticmethod
    def _outcome(task: TrialTask, error: BaseException | None) -> TrialOutcome:
        from sbr.runners.base import one_line

        stored = TrialOutcome.read(task.trial_dir)
        if error is None and stored is not None:
            return stored
        cause = getattr(error, "cause", None) or error
        message = one_line(cause) if cause is not None else "no outcome recorded"
        return TrialOutcome(task.trial_id, FAILED, error=message)


def _bare_trainable(config: Mapping[str, Any], tasks: Mapping[str, TrialTask]) -> None:
    """The same training as :func:`sbr_trial`, without sbr's lock, MLflow or evaluations."""
    import torch
    from ray import tune

    from sbr.engine.train import run_training
    from sbr.metrics import short_names

    task = tasks[config["trial"]]
    torch.set_num_threads(task.threads)
    result = run_training(task.config_file, work_dir=Path(task.trial_dir) / "bare")
    tune.report({"iteration": result.end_iter, **short_names(result.metrics)})


def bare_tune_seconds(tasks: Sequence[TrialTask], settings: RaySettings) -> float:
    """Wall time of a bare Ray Tune run training ``tasks`` (Ray must be initialised)."""
    import time

    from ray import tune

    from sbr.runners.base import one_line

    by_id = {t.trial_id: t for t in tasks}
    trainable = tune.with_resources(
        tune.with_parameters(_bare_trainable, tasks=by_id),
        {"cpu": settings.cpus_per_trial, "gpu": settings.gpus_per_trial},
    )
    start = time.perf_counter()
    grid = tune.Tuner(
        trainable,
        param_space={"trial": tune.grid_search(list(by_id))},
        run_config=tune.RunConfig(
            name=f"{settings.name}-bare",
            storage_path=str(Path(settings.storage).resolve()),
            verbose=settings.verbose,
        ),
    ).fit()
    seconds = time.perf_counter() - start
    if grid.errors:  # a failed training would time nothing worth comparing
        raise RuntimeError(f"the bare Ray Tune run failed: {one_line(grid.errors[0])}")
    return seconds


__all__ = [
    "NODE_FILE",
    "RANK_NODE_FILE",
    "DataParallelExecutor",
    "RaySettings",
    "RayTuneLauncher",
    "RayUnavailable",
    "bare_tune_seconds",
    "check_address",
    "connect",
    "disconnect",
    "sbr_trial",
]
