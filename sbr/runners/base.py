"""Plain-data types shared by the driver, the launchers and the trial process.

Nothing here imports Ray, MLflow or the mm stack: a :class:`TrialTask` travels to a
Ray worker (or runs in-process) as plain data, with every path absolute.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sbr.runners.fault_injection import Fault  # test hook; re-exported for the tests

#: Outcome status of a trial in one invocation.
FINISHED = "finished"
SKIPPED = "skipped"  # finished in an earlier invocation
FAILED = "failed"
#: File a trial writes into its folder with its :class:`TrialOutcome`.
OUTCOME_FILE = "outcome.json"
#: Resolved config of a trial / an evaluation, dumped by the driver.
CONFIG_FILE = "resolved_config.py"


@dataclass(frozen=True)
class EvalTask:
    """An evaluation-only variant of a training (its own config, same checkpoint).

    ``run_name`` is its MLflow run's display name (``R³-CNN L_e=2 · T4 r3 · s1``;
    empty: the evaluation id).
    """

    eval_id: str
    config_file: str
    tags: Mapping[str, str] = field(default_factory=dict)
    run_name: str = ""

    @property
    def display_name(self) -> str:
        """The run name to show: :attr:`run_name`, else the evaluation id."""
        return self.run_name or self.eval_id


def trial_threads(cpus: float, workers: int = 1) -> int:
    """torch threads of each of a trial's ``workers`` processes sharing its ``cpus``."""
    return max(1, int(cpus / max(1, workers)))


@dataclass(frozen=True)
class TrialTask:
    """Everything a trial process needs, as plain data.

    Attributes:
        trial_id: Content hash of the trial (the MLflow ``sbr.trial`` tag).
        trial_dir: Its folder in the shared storage (work dir, lock, outcome).
        config_file: The resolved MMEngine config of the training.
        evaluations: Evaluation-only variants run on the final checkpoint.
        tags: Tags of the training run (tables, rows, preset, dataset, versions...).
        params: Spec fields logged as run parameters besides the flattened config.
        cpus: CPUs of the trial (all its processes; torch threads = cpus / workers).
        tracking_uri: MLflow store.
        experiment_id: MLflow experiment.
        parent_run_id: The invocation's parent run (None: top-level run).
        fault: TEST HOOK (:mod:`sbr.runners.fault_injection`); None in a user's run.
        workers: Data-parallel training processes (1: train in the trial's own process).
        run_name: Display name of its MLflow run (``R³-CNN · T4 r2-r6 · s1``; empty: the
            trial id). Display only: runs are looked up by their tags.
    """

    trial_id: str
    trial_dir: str
    config_file: str
    evaluations: tuple[EvalTask, ...]
    tags: Mapping[str, str]
    params: Mapping[str, str]
    cpus: float
    tracking_uri: str
    experiment_id: str
    parent_run_id: str | None = None
    fault: Fault | None = None
    workers: int = 1
    run_name: str = ""

    @property
    def display_name(self) -> str:
        """The run name to show: :attr:`run_name`, else the trial id."""
        return self.run_name or self.trial_id

    @property
    def threads(self) -> int:
        """torch threads of each training process."""
        return trial_threads(self.cpus, self.workers)


@dataclass(frozen=True)
class TrialWork:
    """What the trial's training process(es) do once the driver side has opened its run.

    Attributes:
        task: The trial.
        run_id: Its MLflow training run (new, reused after an interruption, or finished).
        new_run: The run was just created (its parameters are not logged yet).
        trained: The training finished earlier: only evaluation-only variants may be missing.
        metrics: The finished run's metrics (when ``trained``).
    """

    task: TrialTask
    run_id: str
    new_run: bool = True
    trained: bool = False
    metrics: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class TrialOutcome:
    """What happened to one trial."""

    trial_id: str
    status: str
    run_id: str | None = None
    metrics: Mapping[str, float] = field(default_factory=dict)
    error: str | None = None
    start_iter: int = 0
    end_iter: int = 0

    def to_json(self) -> dict[str, Any]:
        """Plain-data form."""
        return asdict(self)

    def write(self, folder: str | Path) -> None:
        """Store as ``<folder>/outcome.json``."""
        Path(folder, OUTCOME_FILE).write_text(json.dumps(self.to_json(), indent=2))

    @classmethod
    def read(cls, folder: str | Path) -> TrialOutcome | None:
        """The outcome stored in ``folder`` (None if absent)."""
        path = Path(folder, OUTCOME_FILE)
        if not path.is_file():
            return None
        return cls(**json.loads(path.read_text()))


def one_line(exc: BaseException) -> str:
    """``Type: first line of the message`` (what the MLflow error tag and reports show)."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


class Executor(Protocol):
    """Runs a :class:`TrialWork` (in this process, or data-parallel on several workers)."""

    def __call__(self, work: TrialWork, report: Any | None) -> TrialOutcome:
        """Train/evaluate and return the outcome; raises when the work fails."""
        ...


class Launcher(Protocol):
    """Runs trial tasks somewhere and reports every outcome (failures included)."""

    def launch(self, tasks: Sequence[TrialTask]) -> list[TrialOutcome]:
        """Run ``tasks``; one outcome per task, in the same order."""
        ...


__all__ = [
    "CONFIG_FILE",
    "FAILED",
    "FINISHED",
    "OUTCOME_FILE",
    "SKIPPED",
    "EvalTask",
    "Executor",
    "Fault",
    "Launcher",
    "TrialOutcome",
    "TrialTask",
    "TrialWork",
    "one_line",
    "trial_threads",
]
