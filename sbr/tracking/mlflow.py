"""MLflow adapter: the only module that imports mlflow to write runs and look up status.

Run layout (one MLflow experiment, :data:`sbr.metrics.DEFAULT_EXPERIMENT` by default):

- one parent run per ``sbr run-ablation`` invocation (``sbr.kind = ablation``);
- one nested run per training trial (``sbr.kind = training``, ``sbr.trial = <trial id>``,
  ``sbr.eval = <trial id>/final``), holding the losses, lr, the training's own COCO
  evaluation, parameters, speed and memory;
- one nested run per evaluation-only variant of a training (Table 4's L_e), child of
  the training run (``sbr.kind = evaluation``, ``sbr.eval = <trial id>/eval-<hash>``),
  holding the COCO metrics under the same ``coco/...`` keys.

The experiment carries MLflow's kind tag of its model-training view
(``mlflow.experimentKind``). Runs are named for readers (:mod:`sbr.tracking.names`:
``R³-CNN L_e=2 · T4 r3 · s1``); nothing looks a run up by its name.

A training run is *finished* when its ``sbr.status`` tag says so; any other run of the
same trial is reused (never duplicated) when the trial is resumed, or replaced by a
fresh run (the old one deleted) when the retry redoes steps it had logged
(:meth:`Tracker.replace_run`), so that a trial's history has one value per step.
"""

from __future__ import annotations

import os
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sbr.metrics import (
    DEFAULT_EXPERIMENT,
    EXPERIMENT_KIND_TRAINING,
    TAG_EXPERIMENT_KIND,
    TAG_GIT_COMMIT,
    TAG_KIND,
    TAG_STATUS,
    TAG_TRIAL,
    TAG_VERSIONS,
)

STATUS_FINISHED = "finished"
STATUS_RUNNING = "running"
STATUS_FAILED = "failed"
#: Its ``run-ablation`` process died (a rerun resumes it).
STATUS_INTERRUPTED = "interrupted"
KIND_ABLATION = "ablation"
KIND_TRAINING = "training"
KIND_EVALUATION = "evaluation"
#: MLflow's own tag linking a nested run to its parent.
PARENT_TAG = "mlflow.parentRunId"
#: MLflow 3 rejects longer parameter values.
MAX_PARAM_CHARS = 6000
_PARAMS_PER_BATCH = 100
_METRICS_PER_BATCH = 1000  # MLflow's log_batch limit
_DISTRIBUTIONS = {"mmdet": "mmdet", "mmcv": "mmcv", "mmengine": "mmengine", "torch": "torch"}


class TrackingError(RuntimeError):
    """The tracking store cannot be used (unreachable server, unwritable database)."""


def default_tracking_uri(cwd: str | Path | None = None) -> str:
    """The embedded store: ``sqlite:///<cwd>/mlflow.db``."""
    return f"sqlite:///{Path(cwd or Path.cwd()).resolve() / 'mlflow.db'}"


def resolve_tracking_uri(uri: str | None = None) -> str:
    """``uri``, else ``$MLFLOW_TRACKING_URI``, else :func:`default_tracking_uri`."""
    return uri or os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri()


def artifact_root(uri: str) -> str | None:
    """Where an embedded store keeps artifacts (``mlruns/`` beside the database), else None."""
    if uri.startswith("sqlite:///"):
        return (Path(uri[len("sqlite:///") :]).parent / "mlruns").resolve().as_uri()
    return None


def _client(uri: str) -> Any:
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def check_tracking(uri: str, *, timeout_s: float = 5.0) -> None:
    """Raise :class:`TrackingError` (one line) if the store at ``uri`` cannot be used."""
    if uri.startswith(("http://", "https://")):
        try:
            with urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=timeout_s) as r:
                r.read()
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise TrackingError(f"tracking server {uri} is unreachable: {reason}") from exc
    elif uri.startswith("sqlite:///"):
        folder = Path(uri[len("sqlite:///") :]).parent
        if not folder.is_dir() or not os.access(folder, os.W_OK):
            raise TrackingError(f"tracking database folder {folder} does not exist or is read-only")
    try:
        _client(uri).search_experiments(max_results=1)
    except Exception as exc:  # noqa: BLE001 - any store error means "cannot track"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TrackingError(f"tracking store {uri} cannot be used: {first}") from exc


def flatten(value: Any, prefix: str = "") -> dict[str, str]:
    """Dotted-key strings of a nested config, each truncated to MLflow's length limit."""
    out: dict[str, str] = {}
    if isinstance(value, Mapping) and value:
        for key, item in value.items():
            out.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
    elif prefix:
        text = repr(value) if not isinstance(value, str) else value
        out[prefix[:250]] = (
            text[: MAX_PARAM_CHARS - 3] + "..." if len(text) > MAX_PARAM_CHARS else text
        )
    return out


def git_commit(cwd: str | Path | None = None) -> str:
    """The checkout's commit (``unknown`` outside git)."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return done.stdout.strip() if done.returncode == 0 else "unknown"


def environment_tags() -> dict[str, str]:
    """Git commit and the versions of sbr and the mm stack, as run tags."""
    from importlib.metadata import PackageNotFoundError, version

    from sbr import __version__

    tags = {TAG_GIT_COMMIT: git_commit(Path(__file__).parent), TAG_VERSIONS["sbr"]: __version__}
    for name, dist in _DISTRIBUTIONS.items():
        try:
            tags[TAG_VERSIONS[name]] = version(dist)
        except PackageNotFoundError:
            tags[TAG_VERSIONS[name]] = "absent"
    return tags


def needs_kind_tag(tags: Mapping[str, str]) -> bool:
    """True when an experiment's tags do not choose its UI view: no kind tag, or one the
    MLflow UI inferred itself (``genai_development_inferred``, ``no_inferred_type``...).
    A kind someone chose (``genai_development``...) is left as it is."""
    kind = tags.get(TAG_EXPERIMENT_KIND, "")
    return not kind or kind.endswith("_inferred") or kind == "no_inferred_type"


def _tag_filter(tags: Mapping[str, str]) -> str:
    return " and ".join(f"tags.`{k}` = '{v}'" for k, v in tags.items())


class Tracker:
    """Runs of one MLflow experiment in one tracking store.

    Args:
        uri: Tracking URI (see :func:`resolve_tracking_uri`).
        experiment: Experiment name; created on first use.
        experiment_id: Known id (trial workers get it from the driver).
    """

    def __init__(
        self, uri: str, experiment: str = DEFAULT_EXPERIMENT, experiment_id: str | None = None
    ) -> None:
        self.uri = uri
        self.experiment = experiment
        self._experiment_id = experiment_id
        self.client = _client(uri)

    @property
    def experiment_id(self) -> str:
        """The experiment's id (created, with its artifact root, when missing).

        The experiment carries MLflow's kind tag of the model-training view
        (:func:`needs_kind_tag`): set at creation, and added to an existing one that lacks it.
        """
        if self._experiment_id is None:
            found = self.client.get_experiment_by_name(self.experiment)
            if found is not None:
                self._experiment_id = found.experiment_id
                if needs_kind_tag(found.tags):
                    self.client.set_experiment_tag(
                        found.experiment_id, TAG_EXPERIMENT_KIND, EXPERIMENT_KIND_TRAINING
                    )
            else:
                self._experiment_id = self.client.create_experiment(
                    self.experiment,
                    artifact_location=artifact_root(self.uri),
                    tags={TAG_EXPERIMENT_KIND: EXPERIMENT_KIND_TRAINING},
                )
        return self._experiment_id

    def find_experiment_id(self) -> str | None:
        """The experiment's id if it exists (nothing is created), else None."""
        if self._experiment_id is None:
            found = self.client.get_experiment_by_name(self.experiment)
            return None if found is None else found.experiment_id
        return self._experiment_id

    def search(self, tags: Mapping[str, str]) -> list[Any]:
        """Every run of the experiment carrying ``tags``, newest first."""
        if (
            self._experiment_id is None
            and self.client.get_experiment_by_name(self.experiment) is None
        ):
            return []
        runs: list[Any] = []
        token = None
        while True:
            page = self.client.search_runs(
                [self.experiment_id],
                filter_string=_tag_filter(tags),
                max_results=1000,
                order_by=["attributes.start_time DESC"],
                page_token=token,
            )
            runs.extend(page)
            token = page.token
            if not token:
                return runs

    def training_runs(self) -> dict[str, Any]:
        """trial id -> its training run (the finished one if any, else the newest)."""
        best: dict[str, Any] = {}
        for run in self.search({TAG_KIND: KIND_TRAINING}):
            trial = run.data.tags.get(TAG_TRIAL)
            current = best.get(trial)
            if current is None or (
                run.data.tags.get(TAG_STATUS) == STATUS_FINISHED
                and current.data.tags.get(TAG_STATUS) != STATUS_FINISHED
            ):
                best[trial] = run
        return best

    def statuses(self, trial_ids: Iterable[str] | None = None) -> dict[str, str]:
        """trial id -> ``finished`` / ``running`` / ``failed`` for trials with a run."""
        runs = self.training_runs()
        wanted = runs.keys() if trial_ids is None else set(trial_ids) & runs.keys()
        return {t: runs[t].data.tags.get(TAG_STATUS, STATUS_RUNNING) for t in wanted}

    def start_run(
        self,
        *,
        tags: Mapping[str, str],
        parent: str | None = None,
        name: str | None = None,
        run_id: str | None = None,
    ) -> str:
        """Create a run (nested under ``parent``), or reopen ``run_id``; returns its id.

        ``name`` is the run's display name; a reopened run takes it too (when given).
        """
        if run_id is not None:
            self.client.update_run(run_id, status="RUNNING", name=name)
            self.set_tags(run_id, tags)
            return run_id
        all_tags = dict(tags)
        if parent:
            all_tags[PARENT_TAG] = parent
        return self.client.create_run(self.experiment_id, tags=all_tags, run_name=name).info.run_id

    def rename_run(self, run_id: str, name: str) -> None:
        """Change a run's display name (its status and tags stay)."""
        self.client.update_run(run_id, name=name)

    def set_tags(self, run_id: str, tags: Mapping[str, Any]) -> None:
        """Set (or overwrite) tags of a run."""
        from mlflow.entities import RunTag

        self.client.log_batch(run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])

    def log_params(self, run_id: str, params: Mapping[str, str]) -> None:
        """Log parameters in batches (MLflow takes 100 per call)."""
        from mlflow.entities import Param

        items = list(params.items())
        for start in range(0, len(items), _PARAMS_PER_BATCH):
            chunk = items[start : start + _PARAMS_PER_BATCH]
            self.client.log_batch(run_id, params=[Param(k, v) for k, v in chunk])

    def log_metrics(self, run_id: str, metrics: Mapping[str, float], step: int = 0) -> None:
        """Log metrics at ``step`` in one call."""
        import time

        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        batch = [Metric(k, float(v), now, step) for k, v in metrics.items()]
        if batch:
            self.client.log_batch(run_id, metrics=batch)

    def log_artifact(self, run_id: str, path: str | Path, artifact_path: str | None = None) -> None:
        """Upload a file or a folder."""
        path = Path(path)
        if path.is_dir():
            self.client.log_artifacts(run_id, str(path), artifact_path)
        elif path.is_file():
            self.client.log_artifact(run_id, str(path), artifact_path)

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        """Store ``text`` as an artifact file."""
        self.client.log_text(run_id, text, artifact_file)

    def end_run(self, run_id: str, *, failed: bool = False, killed: bool = False) -> None:
        """Mark a run FINISHED (or FAILED, or KILLED: its process died without a word)."""
        status = "KILLED" if killed else "FAILED" if failed else "FINISHED"
        self.client.set_terminated(run_id, status=status)

    def metric_history(self, run_id: str, key: str) -> list[tuple[int, float]]:
        """``(step, value)`` of every logged value of ``key``, by step."""
        return sorted((m.step, m.value) for m in self.client.get_metric_history(run_id, key))

    def _histories(self, run_id: str) -> dict[str, list[Any]]:
        """Metric key -> every logged value (MLflow ``Metric``) of the run."""
        keys = self.client.get_run(run_id).data.metrics
        return {key: list(self.client.get_metric_history(run_id, key)) for key in keys}

    def last_step(self, run_id: str) -> int:
        """The highest step at which the run logged any metric (0: none)."""
        steps = (m.step for history in self._histories(run_id).values() for m in history)
        return max(steps, default=0)

    def replace_run(
        self,
        run_id: str,
        *,
        keep_through: int,
        tags: Mapping[str, str],
        parent: str | None = None,
        name: str | None = None,
    ) -> str:
        """A fresh run holding ``run_id``'s metric values up to step ``keep_through``;
        ``run_id`` is deleted (hidden from every search). Returns the new run's id.

        MLflow only appends to a metric's history. A retried attempt that redoes steps
        an aborted one had logged (after a restart from zero, or past the checkpoint it
        resumes from) would otherwise leave two values at those steps.
        """
        from mlflow.entities import Metric

        kept = [
            Metric(m.key, m.value, m.timestamp, m.step)
            for history in self._histories(run_id).values()
            for m in history
            if m.step <= keep_through
        ]
        new_id = self.start_run(tags=tags, parent=parent, name=name)
        for start in range(0, len(kept), _METRICS_PER_BATCH):
            self.client.log_batch(new_id, metrics=kept[start : start + _METRICS_PER_BATCH])
        self.delete_run(run_id)
        return new_id

    def delete_run(self, run_id: str) -> None:
        """Delete a run: hidden from every search (MLflow keeps it until garbage collection)."""
        self.client.delete_run(run_id)


__all__ = [
    "KIND_ABLATION",
    "KIND_EVALUATION",
    "KIND_TRAINING",
    "MAX_PARAM_CHARS",
    "PARENT_TAG",
    "STATUS_FAILED",
    "STATUS_INTERRUPTED",
    "STATUS_FINISHED",
    "STATUS_RUNNING",
    "Tracker",
    "TrackingError",
    "artifact_root",
    "check_tracking",
    "default_tracking_uri",
    "environment_tags",
    "flatten",
    "git_commit",
    "needs_kind_tag",
    "resolve_tracking_uri",
]
