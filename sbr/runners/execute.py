"""Driver side of ``sbr run-ablation``: check inputs, prepare trial tasks, launch, summarise.

Every trial's resolved MMEngine config is composed here (the same composition
``sbr validate`` checks) and dumped into ``<storage>/<trial id>/resolved_config.py``,
so the trial processes (any node that sees the storage folder) only read files.
"""

from __future__ import annotations

import hashlib
import os
import socket
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sbr.metrics import (
    DEFAULT_EXPERIMENT,
    TAG_CLASSES,
    TAG_CONFIG,
    TAG_CONFIG_HASH,
    TAG_DATASET,
    TAG_DATASET_NAME,
    TAG_DRIVER,
    TAG_EVAL,
    TAG_KIND,
    TAG_PRESET,
    TAG_PRESET_FILE,
    TAG_ROWS,
    TAG_SEED,
    TAG_STATUS,
    TAG_TABLES,
    TAG_TRIAL,
)
from sbr.runners.base import (
    CONFIG_FILE,
    FINISHED,
    OUTCOME_FILE,
    SKIPPED,
    EvalTask,
    Fault,
    Launcher,
    TrialOutcome,
    TrialTask,
)
from sbr.runners.failures import forget_failures
from sbr.specs.expand import Expansion, TrialSpec, canonical_json
from sbr.specs.schema import Row

#: Default storage of work dirs and checkpoints (one folder per trial id).
DEFAULT_STORAGE = Path("work_dirs/ablations")


class PreflightError(RuntimeError):
    """Bad input found before any trial starts (one-line message)."""


@dataclass(frozen=True)
class RunSettings:
    """Runtime knobs of one ``run-ablation`` invocation.

    Attributes:
        storage: Folder every node can reach: ``<storage>/<trial id>/`` holds the work dir,
            checkpoints, the lock and the outcome.
        tracking_uri: MLflow store (resolved: never None here).
        experiment: MLflow experiment name.
        cpus_per_trial: CPUs per trial (torch threads inside the trial, over its workers).
        workers_per_trial: Data-parallel training processes per trial.
        faults: TEST HOOK (:mod:`sbr.runners.fault_injection`): faults per trial id.
            Only tests set it; no CLI flag, spec or preset does.
    """

    storage: Path = DEFAULT_STORAGE
    tracking_uri: str = ""
    experiment: str = DEFAULT_EXPERIMENT
    cpus_per_trial: float = 1.0
    workers_per_trial: int = 1
    faults: Mapping[str, Fault] = field(default_factory=dict)


@dataclass(frozen=True)
class AblationResult:
    """What one invocation did."""

    parent_run_id: str
    outcomes: tuple[TrialOutcome, ...]

    @property
    def failed(self) -> list[TrialOutcome]:
        """Trials that failed for good."""
        return [o for o in self.outcomes if o.status == "failed"]


def users_of(expansion: Expansion) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """(trial id -> ``table/row`` served, eval id -> ``table/row`` served), deduplicated."""
    trials: dict[str, list[str]] = {}
    evals: dict[str, list[str]] = {}
    for row in expansion.rows:
        name = f"{row.table}/{row.row_id}"
        for store, key in ((trials, row.trial_id), (evals, row.eval_id)):
            if name not in store.setdefault(key, []):
                store[key].append(name)
    return trials, evals


#: Paper columns whose value an evaluation-only override sets (an evaluation run's name says it).
EVAL_COLUMNS = ("L_e",)


def varies(row: Row) -> str:
    """What an evaluation-only row varies, for its run's name: the paper value of an
    evaluation column it prints (``L_e=2``), else its evaluation overrides (``key=value``,
    those its label does not already say: a grid row's label lists its axes)."""
    if not row.eval_overrides:
        return ""
    printed = [f"{c}={row.paper_values[c]}" for c in EVAL_COLUMNS if c in row.paper_values]
    if printed:
        return ", ".join(printed)
    parts = [f"{o.path.rsplit('.', 1)[-1]}={o.value}" for o in row.eval_overrides]
    return ", ".join(part for part in parts if part not in row.label)


def run_names(
    expansion: Expansion, users: tuple[Mapping[str, list[str]], Mapping[str, list[str]]]
) -> dict[str, str]:
    """Trial id / evaluation id -> its run's display name (:mod:`sbr.tracking.names`).

    A training is named by the label of the first row that uses it and every row it serves
    (``users``, :func:`users_of`); an evaluation-only variant by its row's label, what it
    varies (:func:`varies`) and the rows it serves.
    """
    from sbr.tracking.names import run_name

    trial_rows, eval_rows = users
    names: dict[str, str] = {}
    for planned in expansion.rows:
        if planned.trial_id not in names:
            rows = trial_rows.get(planned.trial_id, [])
            names[planned.trial_id] = run_name(planned.row.label, rows, planned.seed)
        if planned.eval_id not in names and planned.row.eval_overrides:
            label = " ".join(p for p in (planned.row.label, varies(planned.row)) if p)
            rows = eval_rows.get(planned.eval_id, [])
            names[planned.eval_id] = run_name(label, rows, planned.seed)
    return names


def _row_tags(rows: Sequence[str]) -> dict[str, str]:
    tables = dict.fromkeys(r.split("/", 1)[0] for r in rows)
    return {TAG_TABLES: ",".join(tables), TAG_ROWS: ",".join(rows)}


def check_data(expansion: Expansion) -> None:
    """Raise :class:`PreflightError` (one line) for a dataset no trial could train on.

    Per data root: its layout and files (``sbr.data.layout``, ``sbr data check``). Then,
    for one trial per distinct dataset configuration, the composed dataloaders' datasets
    are built with MMDetection as training will build them: a split without images,
    without annotations of the classes, or empty after filtering is refused here.
    """
    from sbr.data.check import check_dataset
    from sbr.data.layout import DataError, detect_layout
    from sbr.data.preflight import check_composed_datasets, check_split_files, dataset_key
    from sbr.specs.compose import ConfigCache, compose_trial_config

    for root in dict.fromkeys(t.data_root for t in expansion.trials):
        if root is None:
            continue
        if not Path(root).is_dir():
            raise PreflightError(f"dataset folder {root} does not exist (see `sbr data synth`)")
        try:
            check_split_files(detect_layout(root))
            report = check_dataset(Path(root))
        except DataError as exc:  # its message names the files
            raise PreflightError(str(exc)) from exc
        except ValueError as exc:
            raise PreflightError(f"dataset {root}: {exc}") from exc
        if not report.ok:
            first = next((line for line in report.lines() if line.strip()), "problems found")
            raise PreflightError(f"dataset {root} fails `sbr data check`: {first.strip()}")
    cache, seen = ConfigCache(), set()
    for trial in _one_per_data_setup(expansion):
        cfg = compose_trial_config(trial, cache=cache)
        key = dataset_key(cfg)
        if key in seen:
            continue
        seen.add(key)
        try:
            check_composed_datasets(cfg)
        except DataError as exc:  # its message names the file, the split and the classes
            raise PreflightError(str(exc)) from exc


def _one_per_data_setup(expansion: Expansion) -> list[TrialSpec]:
    """One trial per (data root, classes, schedule, data-touching row overrides)."""
    chosen: dict[str, TrialSpec] = {}
    for trial in expansion.trials:
        if trial.data_root is None:
            continue
        touching = [
            [o.path, o.value]
            for o in trial.overrides
            if o.path.split(".", 1)[0].endswith(("_dataloader", "_evaluator"))
        ]
        classes = None if trial.classes is None else [[c.id, c.name] for c in trial.classes]
        key = canonical_json([trial.data_root, classes, trial.schedule, touching])
        chosen.setdefault(key, trial)
    return list(chosen.values())


def _trial_tags(trial: TrialSpec, rows: Sequence[str]) -> dict[str, str]:
    from sbr.tracking.mlflow import KIND_TRAINING, environment_tags

    return {
        **environment_tags(),
        **_row_tags(rows),
        TAG_TRIAL: trial.trial_id,
        TAG_KIND: KIND_TRAINING,
        TAG_EVAL: f"{trial.trial_id}/final",
        TAG_PRESET: trial.preset.name,
        TAG_DATASET: str(Path(trial.data_root).resolve()) if trial.data_root else "config",
        TAG_CONFIG: trial.config,
        TAG_SEED: str(trial.seed),
        **_dataset_tags(trial),
    }


def dataset_name(trial: TrialSpec) -> str | None:
    """``COCO`` for COCO's 80 classes, else the dataset's name; None when not read from data."""
    if trial.classes is None or trial.data_root is None:
        return None
    from mmdet.datasets import CocoDataset

    from sbr.data.layout import detect_layout

    if tuple(c.name for c in trial.classes) == tuple(CocoDataset.METAINFO["classes"]):
        return "COCO"
    return detect_layout(trial.data_root).name


def _dataset_tags(trial: TrialSpec) -> dict[str, str]:
    """Dataset name (``COCO`` for COCO's 80 classes) and classes, when read from the data."""
    label = dataset_name(trial)
    if label is None or trial.classes is None:
        return {}
    names = [c.name for c in trial.classes]
    return {
        TAG_DATASET_NAME: label,
        TAG_CLASSES: f"{len(names)}: {','.join(names)}"[:4000],
    }


def _spec_params(trial: TrialSpec) -> dict[str, str]:
    params = {
        "sbr.config": trial.config,
        "sbr.schedule": trial.schedule,
        "sbr.seed": str(trial.seed),
        "sbr.data_root": str(trial.data_root),
    }
    for override in trial.overrides:
        params[f"sbr.override.{override.path}"[:250]] = canonical_json(override.value)[:6000]
    return params


def prepare_task(
    trial: TrialSpec,
    expansion: Expansion,
    *,
    settings: RunSettings,
    users: tuple[Mapping[str, list[str]], Mapping[str, list[str]]],
    experiment_id: str,
    parent_run_id: str | None,
    names: Mapping[str, str] | None = None,
) -> TrialTask:
    """Compose and dump the trial's (and its evaluations') configs; build its task.

    ``names``: run display names by trial / evaluation id (default: :func:`run_names`
    of ``expansion`` and ``users``).
    """
    from sbr.specs.compose import compose_trial_config

    trial_dir = (Path(settings.storage) / trial.trial_id).resolve()
    trial_dir.mkdir(parents=True, exist_ok=True)
    (trial_dir / OUTCOME_FILE).unlink(missing_ok=True)
    forget_failures(trial_dir)  # "failed twice the same way" counts within one invocation
    cfg = compose_trial_config(trial)
    cfg.dump(str(trial_dir / CONFIG_FILE))
    names = run_names(expansion, users) if names is None else names
    tags = _trial_tags(trial, users[0].get(trial.trial_id, []))
    tags[TAG_CONFIG_HASH] = hashlib.sha256((trial_dir / CONFIG_FILE).read_bytes()).hexdigest()[:12]
    evaluations = _eval_tasks(trial, expansion, cfg, trial_dir, tags, users[1], names)
    return TrialTask(
        trial_id=trial.trial_id,
        trial_dir=str(trial_dir),
        config_file=str(trial_dir / CONFIG_FILE),
        evaluations=tuple(evaluations),
        tags=tags,
        params=_spec_params(trial),
        cpus=settings.cpus_per_trial,
        workers=settings.workers_per_trial,
        tracking_uri=settings.tracking_uri,
        experiment_id=experiment_id,
        parent_run_id=parent_run_id,
        fault=settings.faults.get(trial.trial_id),
        run_name=names.get(trial.trial_id, ""),
    )


def _eval_tasks(
    trial: TrialSpec,
    expansion: Expansion,
    cfg: Any,
    trial_dir: Path,
    tags: Mapping[str, str],
    eval_rows: Mapping[str, list[str]],
    names: Mapping[str, str],
) -> list[EvalTask]:
    """The trial's evaluation-only variants: configs dumped under ``<trial>/evals/``."""
    from sbr.specs.compose import compose_eval_config
    from sbr.tracking.mlflow import KIND_EVALUATION

    evaluations = []
    for evaluation in expansion.evaluations:
        if evaluation.trial_id != trial.trial_id or not evaluation.overrides:
            continue
        folder = trial_dir / "evals" / evaluation.eval_id.split("/", 1)[1]
        folder.mkdir(parents=True, exist_ok=True)
        compose_eval_config(cfg, evaluation).dump(str(folder / CONFIG_FILE))
        eval_tags = {
            **tags,
            **_row_tags(eval_rows.get(evaluation.eval_id, [])),
            TAG_KIND: KIND_EVALUATION,
            TAG_EVAL: evaluation.eval_id,
        }
        name = names.get(evaluation.eval_id, "")
        evaluations.append(EvalTask(evaluation.eval_id, str(folder / CONFIG_FILE), eval_tags, name))
    return evaluations


def driver_died(run: Any) -> bool:
    """True for an ablation run still RUNNING whose ``run-ablation`` process (on this
    host) is gone; False when alive or when it cannot be told (another host, no tag)."""
    from sbr.runners.lock import pid_alive

    owner, _, pid = run.data.tags.get(TAG_DRIVER, "").rpartition(":")
    if run.info.status != "RUNNING" or owner != socket.gethostname() or not pid.isdigit():
        return False
    return not pid_alive(int(pid))


def close_orphaned_runs(tracker: Any) -> list[str]:
    """Close the runs of ``run-ablation`` processes of this host that died (SIGKILL, node loss).

    An ablation run still RUNNING whose driver pid is gone is marked KILLED, and so are
    its training runs still RUNNING (tag ``sbr.status = interrupted``): ``sbr status``
    and the MLflow UI then tell a dead run from a live one. Rerunning the command
    reopens the interrupted training runs and resumes them. Returns the closed run ids.
    """
    from sbr.tracking.mlflow import (
        KIND_ABLATION,
        KIND_TRAINING,
        PARENT_TAG,
        STATUS_INTERRUPTED,
        STATUS_RUNNING,
    )

    closed = []
    for run in tracker.search({TAG_KIND: KIND_ABLATION}):
        if not driver_died(run):
            continue
        children = tracker.search({TAG_KIND: KIND_TRAINING, PARENT_TAG: run.info.run_id})
        for child in [c for c in children if c.info.status == "RUNNING"] + [run]:
            if child.data.tags.get(TAG_STATUS, STATUS_RUNNING) == STATUS_RUNNING:
                tracker.set_tags(child.info.run_id, {TAG_STATUS: STATUS_INTERRUPTED})
            tracker.end_run(child.info.run_id, killed=True)
            closed.append(child.info.run_id)
    return closed


def _start_parent(tracker: Any, expansion: Expansion) -> str:
    """The ablation run (parent of the trials' runs) of ``expansion``: its id."""
    from sbr.tracking.mlflow import KIND_ABLATION, environment_tags
    from sbr.tracking.names import parent_name

    tables = dict.fromkeys(r.table for r in expansion.rows)
    presets = dict.fromkeys(t.preset.name for t in expansion.trials)
    preset_files = dict.fromkeys(str(Path(t.preset.file).resolve()) for t in expansion.trials)
    one_per_root = {t.data_root: t for t in expansion.trials}.values()
    datasets = dict.fromkeys(n for n in map(dataset_name, one_per_root) if n)
    name = parent_name(list(tables), list(presets), list(datasets), date.today().isoformat())
    return tracker.start_run(
        tags={
            **environment_tags(),
            TAG_KIND: KIND_ABLATION,
            TAG_TABLES: ",".join(tables),
            TAG_PRESET: ",".join(presets),
            TAG_PRESET_FILE: ",".join(preset_files),
            TAG_DRIVER: f"{socket.gethostname()}:{os.getpid()}",
        },
        name=name,
    )


def _finished_trials(
    tracker: Any, expansion: Expansion, runs: Mapping[str, Any]
) -> dict[str, TrialOutcome]:
    """Trials of ``expansion`` already trained and evaluated: their skipped outcomes.

    ``runs``: trial id -> its training run (``Tracker.training_runs``).
    """
    from sbr.tracking.mlflow import KIND_EVALUATION

    evaluated = {
        r.data.tags.get(TAG_EVAL)
        for r in tracker.search({TAG_KIND: KIND_EVALUATION, TAG_STATUS: FINISHED})
    }
    pending = {  # trained trials may still miss evaluation-only variants of other tables
        e.trial_id for e in expansion.evaluations if e.overrides and e.eval_id not in evaluated
    }
    done = {}
    for trial in expansion.trials:
        run = runs.get(trial.trial_id)
        finished = run is not None and run.data.tags.get(TAG_STATUS) == FINISHED
        if finished and trial.trial_id not in pending:
            metrics = dict(run.data.metrics)
            done[trial.trial_id] = TrialOutcome(trial.trial_id, SKIPPED, run.info.run_id, metrics)
    return done


def _rename_finished(
    tracker: Any, runs: Mapping[str, Any], skipped: Iterable[str], names: Mapping[str, str]
) -> None:
    """Give the finished training runs this invocation skips their readable names (runs
    logged before sbr named them carry their trial id). Display only."""
    for trial_id in skipped:
        run, name = runs[trial_id], names.get(trial_id)
        if name and run.info.run_name != name:
            tracker.rename_run(run.info.run_id, name)


def run_expansion(
    expansion: Expansion,
    *,
    settings: RunSettings,
    launcher: Launcher,
    sharing: Expansion | None = None,
) -> AblationResult:
    """Run every not-yet-finished training of ``expansion``; finished ones are skipped.

    Args:
        expansion: The trials to run.
        settings: Storage, tracking and per-trial knobs.
        launcher: Where trials run (:class:`~sbr.runners.ray_tune.RayTuneLauncher`...).
        sharing: A wider expansion (every shipped table) whose rows are tagged as users.
    """
    from sbr.tracking.mlflow import Tracker

    tracker = Tracker(settings.tracking_uri, settings.experiment)
    close_orphaned_runs(tracker)
    users = users_of(sharing or expansion)
    names = run_names(sharing or expansion, users)
    runs = tracker.training_runs()
    skipped = _finished_trials(tracker, expansion, runs)
    _rename_finished(tracker, runs, skipped, names)
    parent = _start_parent(tracker, expansion)
    tasks = [
        prepare_task(
            trial, expansion, settings=settings, users=users,
            experiment_id=tracker.experiment_id, parent_run_id=parent, names=names,
        )
        for trial in expansion.trials
        if trial.trial_id not in skipped
    ]  # fmt: skip
    try:
        outcomes = launcher.launch(tasks)
    except BaseException:
        tracker.end_run(parent, failed=True)
        raise
    tracker.end_run(parent, failed=any(o.status == "failed" for o in outcomes))
    return AblationResult(parent, tuple(list(skipped.values()) + list(outcomes)))


def summary_lines(result: AblationResult) -> list[str]:
    """One line per trial: status, AP and the error of failed ones."""
    from sbr.metrics import BBOX_AP, SEGM_AP

    lines = []
    for o in result.outcomes:
        aps = " ".join(
            f"{k.split('/')[-1]}={o.metrics[k]:.3f}" for k in (BBOX_AP, SEGM_AP) if k in o.metrics
        )
        line = f"{o.trial_id}  {o.status:<8} {aps}".rstrip()
        if o.error:
            line += f"  error: {o.error}"
        lines.append(line)
    counts: dict[str, int] = {}
    for o in result.outcomes:
        counts[o.status] = counts.get(o.status, 0) + 1
    lines.append(", ".join(f"{n} {status}" for status, n in counts.items()) or "nothing to run")
    return lines


__all__ = [
    "DEFAULT_STORAGE",
    "AblationResult",
    "PreflightError",
    "RunSettings",
    "check_data",
    "close_orphaned_runs",
    "dataset_name",
    "driver_died",
    "prepare_task",
    "run_expansion",
    "run_names",
    "summary_lines",
    "users_of",
    "varies",
]
