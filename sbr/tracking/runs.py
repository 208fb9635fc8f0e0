"""Read side of the tracking store: MLflow runs -> tidy pandas DataFrame.

The writer (:mod:`sbr.tracking.mlflow`) tags every run with the names in
:mod:`sbr.metrics`; this module reads them back. A run serving several table rows
(``sbr.rows = "table2/row4,table3/row4"``) appears once per row. mlflow is imported
inside the functions that talk to the store; :func:`runs_to_frame` is pure.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from sbr.metrics import (
    ARTIFACT_IOU_DIR,
    TAG_EVAL,
    TAG_KIND,
    TAG_ROWS,
    TAG_SEED,
    TAG_STATUS,
    TAG_TRIAL,
)

_MLFLOW_STATUS = {
    "FINISHED": "finished",
    "FAILED": "failed",
    "KILLED": "failed",
    "RUNNING": "running",
    "SCHEDULED": "running",
}
_PAGE = 1000

#: Columns of the tidy results frame (:func:`runs_to_frame`), the schema the reports
#: (:mod:`sbr.reports.aggregate`) read. It lives here, in the tracking layer, so this
#: layer never imports the reports above it.
TIDY_COLUMNS = (
    "run_id",
    "trial_id",
    "eval_id",
    "kind",
    "status",
    "seed",
    "table",
    "row",
    "metric",
    "value",
    "start_time",
)


def empty_tidy() -> pd.DataFrame:
    """A tidy results frame with no records (an empty tracking store)."""
    return pd.DataFrame({name: pd.Series(dtype=object) for name in TIDY_COLUMNS})


@dataclass(frozen=True)
class RunRecord:
    """What the reports need of one MLflow run.

    Attributes:
        run_id: MLflow run id.
        tags: Run tags (``sbr.*`` names from :mod:`sbr.metrics`).
        metrics: Latest value of every metric.
        status: MLflow's run status (``FINISHED``...), used when ``sbr.status`` is absent.
        start_time: Start time in ms since the epoch.
        experiment_id: The run's MLflow experiment.
    """

    run_id: str
    tags: Mapping[str, str] = field(default_factory=dict)
    metrics: Mapping[str, float] = field(default_factory=dict)
    status: str = "FINISHED"
    start_time: int | None = None
    experiment_id: str = ""


def parse_rows(value: str | None) -> list[tuple[str, str]]:
    """``"table2/row1,table3/row1"`` -> ``[("table2", "row1"), ("table3", "row1")]``."""
    pairs = []
    for item in (value or "").split(","):
        table, sep, row = item.strip().partition("/")
        if sep and table and row:
            pairs.append((table, row))
    return pairs


def _seed(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def runs_to_frame(records: Iterable[RunRecord]) -> pd.DataFrame:
    """Tidy frame, one record per (run, table row, metric); columns :data:`TIDY_COLUMNS`.

    A run without metrics keeps one record with empty ``metric``/``value``, so a
    failed run is visible. A run without ``sbr.rows`` (an evaluation-only run, say)
    inherits the rows of another run of its trial; which of those rows it serves is
    decided by its ``sbr.eval`` tag (:func:`sbr.reports.aggregate.summarize`). Runs
    with no row at all (ablation parents) are left out.
    """
    records = list(records)
    rows_of_trial = {
        r.tags[TAG_TRIAL]: r.tags[TAG_ROWS]
        for r in records
        if r.tags.get(TAG_TRIAL) and r.tags.get(TAG_ROWS)
    }
    out: list[dict[str, Any]] = []
    for run in records:
        rows = run.tags.get(TAG_ROWS) or rows_of_trial.get(run.tags.get(TAG_TRIAL, ""), "")
        base = {
            "run_id": run.run_id,
            "trial_id": run.tags.get(TAG_TRIAL, ""),
            "eval_id": run.tags.get(TAG_EVAL, ""),
            "kind": run.tags.get(TAG_KIND, ""),
            "status": run.tags.get(TAG_STATUS) or _MLFLOW_STATUS.get(run.status, "running"),
            "seed": _seed(run.tags.get(TAG_SEED)),
            "start_time": run.start_time,
        }
        metrics = list(run.metrics.items()) or [(None, None)]
        for table, row in parse_rows(rows):
            out += [
                base | {"table": table, "row": row, "metric": k, "value": v} for k, v in metrics
            ]
    if not out:
        return empty_tidy()
    return pd.DataFrame.from_records(out, columns=list(TIDY_COLUMNS))


def _client(tracking_uri: str | None) -> Any:
    from mlflow.tracking import MlflowClient

    from sbr.tracking.mlflow import resolve_tracking_uri

    return MlflowClient(tracking_uri=resolve_tracking_uri(tracking_uri))


def fetch_runs(
    tracking_uri: str | None = None, *, experiments: Sequence[str] | None = None
) -> list[RunRecord]:
    """Every run of the named experiments (default: all active ones).

    Args:
        tracking_uri: Tracking URI; None: ``$MLFLOW_TRACKING_URI`` or ``./mlflow.db``.
        experiments: Experiment names; unknown names are ignored.
    """
    client = _client(tracking_uri)
    if experiments is None:
        ids = [e.experiment_id for e in client.search_experiments()]
    else:
        found = (client.get_experiment_by_name(name) for name in experiments)
        ids = [e.experiment_id for e in found if e is not None]
    if not ids:
        return []
    records, token = [], None
    while True:
        page = client.search_runs(ids, max_results=_PAGE, page_token=token)
        records += [
            RunRecord(
                run.info.run_id,
                dict(run.data.tags),
                dict(run.data.metrics),
                run.info.status,
                run.info.start_time,
                run.info.experiment_id,
            )
            for run in page
        ]
        token = page.token
        if not token:
            return records


def collect(
    tracking_uri: str | None = None, *, experiments: Sequence[str] | None = None
) -> pd.DataFrame:
    """The tidy results frame of a tracking store (:func:`fetch_runs` + :func:`runs_to_frame`)."""
    return runs_to_frame(fetch_runs(tracking_uri, experiments=experiments))


def _histogram_order(path: str) -> tuple[int, int]:
    """Sort key of ``epoch_N.json`` / ``iter_N.json``: epochs after iterations, then N."""
    stem = Path(path).stem
    kind, _, number = stem.partition("_")
    return (1 if kind == "epoch" else 0, int(number) if number.isdigit() else -1)


def latest_iou_histogram(run_id: str, tracking_uri: str | None = None) -> dict[str, Any] | None:
    """The last IoU-histogram JSON a run logged under :data:`ARTIFACT_IOU_DIR`, or None."""
    client = _client(tracking_uri)
    files = [
        f.path
        for f in client.list_artifacts(run_id, ARTIFACT_IOU_DIR)
        if not f.is_dir and f.path.endswith(".json")
    ]
    if not files:
        return None
    latest = max(files, key=_histogram_order)
    with tempfile.TemporaryDirectory() as tmp:
        local = client.download_artifacts(run_id, latest, tmp)
        return json.loads(Path(local).read_text())


def run_tags(run_id: str, tracking_uri: str | None = None) -> dict[str, str]:
    """The tags of one run."""
    return dict(_client(tracking_uri).get_run(run_id).data.tags)


__all__ = [
    "RunRecord",
    "collect",
    "fetch_runs",
    "latest_iou_histogram",
    "parse_rows",
    "run_tags",
    "runs_to_frame",
]
