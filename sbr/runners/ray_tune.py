"""RayTuneLauncher: every trial is a Ray Tune trial. The only module importing ray.

sbr owns the grid: ``param_space = {"trial": grid_search([<trial ids>])}`` and the
trainable looks its :class:`~sbr.runners.base.TrialTask` up by id. Resources per trial
come from the preset (``tune.with_resources``); a failing trial is restarted up to
``max_retries`` times (``FailureConfig``) and resumes from its MMEngine checkpoint.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sbr.runners.base import FAILED, TrialOutcome, TrialTask

#: File in a trial's folder naming the Ray node that ran it last.
NODE_FILE = "ray_node.txt"


class RayUnavailable(RuntimeError):
    """The Ray cluster at the given address cannot be joined."""


@dataclass(frozen=True)
class RaySettings:
    """How trials are placed on Ray.

    Attributes:
        address: Cluster to join (``ray://``, ``HOST:PORT`` or ``auto``); None starts a
            local Ray for this invocation.
        num_cpus: CPUs of the local Ray (None: all of this machine's).
        cpus_per_trial: CPUs each trial reserves (and its torch threads).
        gpus_per_trial: GPUs each trial reserves.
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
    max_retries: int = 0
    storage: str = "work_dirs/ablations/_ray"
    name: str = "sbr-ablation"
    verbose: int = 1
    worker_logs: bool = False


def sbr_trial(config: Mapping[str, Any], tasks: Mapping[str, TrialTask]) -> None:
    """The Tune trainable: runs the task of ``config["trial"]`` and reports progress."""
    import ray
    from ray import tune

    from sbr.runners.trial import run_trial

    task = tasks[config["trial"]]
    node = ray.get_runtime_context().get_node_id()
    Path(task.trial_dir, NODE_FILE).write_text(node + "\n", encoding="utf-8")
    run_trial(task, report=lambda metrics: tune.report(dict(metrics)))


def connect(settings: RaySettings) -> bool:
    """Start (or join) Ray; True when this call started it. Raises :class:`RayUnavailable`."""
    import ray

    if ray.is_initialized():
        return False
    kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": settings.worker_logs}
    if settings.address is None:
        kwargs["num_cpus"] = settings.num_cpus
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
            tune.with_parameters(sbr_trial, tasks=by_id),
            {"cpu": s.cpus_per_trial, "gpu": s.gpus_per_trial},
        )
        tuner = tune.Tuner(
            trainable,
            param_space={"trial": tune.grid_search(list(by_id))},
            tune_config=tune.TuneConfig(num_samples=1, reuse_actors=False),
            run_config=tune.RunConfig(
                name=s.name,
                storage_path=str(Path(s.storage).resolve()),
                failure_config=tune.FailureConfig(max_failures=s.max_retries),
                verbose=s.verbose,
            ),
        )
        return tuner.fit()

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

    task = tasks[config["trial"]]
    torch.set_num_threads(max(1, int(task.cpus)))
    result = run_training(task.config_file, work_dir=Path(task.trial_dir) / "bare")
    tune.report(
        {"iteration": result.end_iter, **{k.split("/")[-1]: v for k, v in result.metrics.items()}}
    )


def bare_tune_seconds(tasks: Sequence[TrialTask], settings: RaySettings) -> float:
    """Wall time of a bare Ray Tune run training ``tasks`` (Ray must be initialised)."""
    import time

    from ray import tune

    by_id = {t.trial_id: t for t in tasks}
    trainable = tune.with_resources(
        tune.with_parameters(_bare_trainable, tasks=by_id),
        {"cpu": settings.cpus_per_trial, "gpu": settings.gpus_per_trial},
    )
    start = time.perf_counter()
    tune.Tuner(
        trainable,
        param_space={"trial": tune.grid_search(list(by_id))},
        run_config=tune.RunConfig(
            name=f"{settings.name}-bare",
            storage_path=str(Path(settings.storage).resolve()),
            verbose=settings.verbose,
        ),
    ).fit()
    return time.perf_counter() - start


__all__ = [
    "NODE_FILE",
    "RaySettings",
    "RayTuneLauncher",
    "RayUnavailable",
    "bare_tune_seconds",
    "check_address",
    "connect",
    "disconnect",
    "sbr_trial",
]
