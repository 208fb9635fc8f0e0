"""Bootstrap intervals of a table: per-image artifacts of the chosen runs -> CI frame.

For every row whose runs (one per seed, as :func:`sbr.reports.aggregate.summarize`
chose them) logged the per-image evaluation data (:data:`sbr.metrics.ARTIFACT_PER_IMAGE`),
each COCO column gets the row's 95% interval and the paired interval of its difference
to the table's reference row (:mod:`sbr.reports.bootstrap`). Rows without the artifact
(runs made before it existed) get NaN and ``ci_status = no_per_image``: a dash and a
footnote in the tables, never an error.
"""

from __future__ import annotations

import math
import tempfile
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sbr.metrics import ARTIFACT_PER_IMAGE, COCO_PREFIX
from sbr.reports.bootstrap import (
    DEFAULT_B,
    DEFAULT_SEED,
    Interval,
    Samples,
    holm,
    interval_of,
    row_samples,
    same_training,
)
from sbr.reports.tables import Column, TableLayout, paper_number

#: Columns of :func:`table_intervals`' frame.
CI_COLUMNS = (
    "row", "column", "ci_low", "ci_high", "delta", "delta_ci_low", "delta_ci_high",
    "significant", "same_training", "ci_status",
)  # fmt: skip
CI_OK = "ok"
CI_NO_DATA = "no_per_image"  # a run of the row has no per-image artifact
CI_NO_VALUE = "no_value"  # the row has no reproduced value
CI_REFERENCE = "reference"  # the reference row itself (delta 0)

#: ``run_id -> ({iou_type: MatchTable}, meta)`` or None when the run has no artifact.
Loader = Callable[[str], Any]


def is_true(value: Any) -> bool:
    """True for a real True (``bool`` or numpy's), False for False, NaN or None."""
    return isinstance(value, (bool, np.bool_)) and bool(value)


def coco_stat(column: Column) -> tuple[str, str] | None:
    """``(iou_type, stat)`` of a COCO column (``coco/bbox_mAP_50`` -> ``("bbox", "mAP_50")``)."""
    if not column.metric or not column.metric.startswith(COCO_PREFIX + "/"):
        return None
    iou_type, _, stat = column.metric.split("/", 1)[1].partition("_")
    return iou_type, stat


def mlflow_loader(tracking_uri: str | None) -> Loader:
    """A cached loader of runs' per-image artifacts from an MLflow store."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    from sbr.engine.per_image import read_match_tables
    from sbr.tracking.mlflow import resolve_tracking_uri

    client = MlflowClient(tracking_uri=resolve_tracking_uri(tracking_uri))
    cache: dict[str, Any] = {}
    folder, name = ARTIFACT_PER_IMAGE.rsplit("/", 1)

    def load(run_id: str) -> Any:
        if run_id not in cache:
            cache[run_id] = None
            try:
                listed = {f.path for f in client.list_artifacts(run_id, folder)}
                if f"{folder}/{name}" in listed:
                    with tempfile.TemporaryDirectory() as tmp:
                        local = client.download_artifacts(run_id, ARTIFACT_PER_IMAGE, tmp)
                        cache[run_id] = read_match_tables(Path(local))
            except (MlflowException, OSError, ValueError, KeyError) as exc:
                # unreadable or unreachable: reported like a run without the artifact
                warnings.warn(f"per-image data of run {run_id}: {exc}", stacklevel=2)
        return cache[run_id]

    return load


@dataclass(frozen=True)
class RowRuns:
    """The runs chosen for one row, one per seed, with their seed and training (trial)."""

    run_ids: tuple[str, ...]
    seeds: tuple[str, ...]
    trials: tuple[str, ...]


def _split(value: Any, n: int) -> tuple[str, ...]:
    parts = tuple(str(value).split(",")) if isinstance(value, str) and value else ()
    return parts if len(parts) == n else ("",) * n


def row_runs(summary: pd.DataFrame) -> dict[str, RowRuns]:
    """Row id -> its chosen runs (rows whose runs finished)."""
    runs: dict[str, RowRuns] = {}
    for record in summary.to_dict("records"):
        if record["status"] == "ok" and record["row"] not in runs:
            ids = tuple(r for r in str(record["run_ids"]).split(",") if r)
            seeds = _split(record.get("seeds"), len(ids))
            runs[record["row"]] = RowRuns(ids, seeds, _split(record.get("trial_ids"), len(ids)))
    return runs


def load_samples(
    summary: pd.DataFrame,
    layout: TableLayout,
    loader: Loader,
    *,
    n_boot: int = DEFAULT_B,
    seed: int = DEFAULT_SEED,
) -> dict[tuple[str, str], Samples]:
    """``(row, column) -> Samples`` of every COCO column of the rows with per-image data.

    Rows whose runs (any seed) lack the artifact are left out. The image weights are
    those of each row's validation set (:func:`sbr.reports.bootstrap.shared_weights`).
    """
    columns = [(c.name, coco_stat(c)) for c in layout.columns]
    columns = [(name, s) for name, s in columns if s is not None]
    found: dict[tuple[str, str], Samples] = {}
    for row, runs in row_runs(summary).items():
        loaded = [loader(run_id) for run_id in runs.run_ids]
        if not loaded or any(x is None for x in loaded):
            continue
        for iou_type in sorted({s[0] for _, s in columns}):
            if not all(iou_type in tables for tables, _ in loaded):
                continue
            stats = sorted({s[1] for _, s in columns if s[0] == iou_type})
            samples = row_samples(
                [tables[iou_type] for tables, _ in loaded], stats, key=f"{layout.name}:{row}",
                seeds=runs.seeds, trials=runs.trials, n_boot=n_boot, seed=seed,
            )  # fmt: skip
            for name, (kind, stat) in columns:
                if kind == iou_type:
                    found[(row, name)] = samples[stat]
    return found


def may_test(a: Samples, b: Samples, min_seeds: int) -> bool:
    """The seeds rule: one training from one seed; two trainings with ``min_seeds`` each."""
    return same_training(a, b) or min(len(a.seeds), len(b.seeds)) >= min_seeds


def compute_intervals(
    samples: Mapping[tuple[str, str], Samples],
    reference: str,
    min_seeds: int,
    seed: int = DEFAULT_SEED,
) -> dict[tuple[str, str], tuple[Interval, bool]]:
    """``(row, column) -> (interval, significant)``: the dagger is Holm-corrected.

    Every difference to the reference that the seeds rule allows (:func:`may_test`) is
    one test of the table's family; Holm's step-down procedure keeps the family-wise
    error at 5%.
    """
    intervals = {
        (row, column): interval_of(value, samples.get((reference, column)), seed)
        for (row, column), value in samples.items()
    }
    tested = [
        key for key, value in samples.items()
        if key[0] != reference and (reference, key[1]) in samples
        and not math.isnan(intervals[key].p)
        and may_test(value, samples[(reference, key[1])], min_seeds)
    ]  # fmt: skip
    rejected = dict(zip(tested, holm([intervals[k].p for k in tested]), strict=True))
    return {key: (value, rejected.get(key, False)) for key, value in intervals.items()}


def _cell_record(
    row: str, column: Column, means: Mapping[tuple[str, str], Any], reference: str,
    found: tuple[Interval, bool] | None,
) -> dict[str, Any]:  # fmt: skip
    """One record of :data:`CI_COLUMNS` (values in the column's unit)."""
    cell = means.get((row, column.name), {})
    ref_cell = means.get((reference, column.name), {})
    mean = cell.get("mean", math.nan) if cell.get("status") == "ok" else math.nan
    ref = ref_cell.get("mean", math.nan) if ref_cell.get("status") == "ok" else math.nan
    record = {
        "row": row, "column": column.name, "ci_low": math.nan, "ci_high": math.nan,
        "delta": mean - ref, "delta_ci_low": math.nan, "delta_ci_high": math.nan,
        "significant": False, "same_training": False,
    }  # fmt: skip
    if math.isnan(mean):
        return record | {"ci_status": CI_NO_VALUE}
    if found is None:
        return record | {"ci_status": CI_NO_DATA}
    interval, significant = found
    scale = column.scale
    record.update(ci_low=interval.low * scale, ci_high=interval.high * scale)
    record["ci_status"] = CI_REFERENCE if row == reference else CI_OK
    if row != reference and not math.isnan(interval.delta_low):
        record.update(
            delta_ci_low=interval.delta_low * scale, delta_ci_high=interval.delta_high * scale,
            significant=significant, same_training=interval.same_training,
        )  # fmt: skip
    return record


class TableSamples:
    """Each table's :func:`load_samples`, computed once and shared by its users.

    One report run reads one tracking store: its tables and its claims ask for the same
    table's samples (the per-image data, the resamples, the jackknife), which this cache
    computes the first time only. Keyed by table name: use one instance per results frame.
    """

    def __init__(self, loader: Loader, *, n_boot: int = DEFAULT_B, seed: int = DEFAULT_SEED):
        self.loader = loader
        self.n_boot = n_boot
        self.seed = seed
        self._tables: dict[str, dict[tuple[str, str], Samples]] = {}

    def __call__(
        self, summary: pd.DataFrame, layout: TableLayout
    ) -> dict[tuple[str, str], Samples]:
        """``(row, column) -> Samples`` of ``layout``'s table (:func:`load_samples`)."""
        if layout.name not in self._tables:
            self._tables[layout.name] = load_samples(
                summary, layout, self.loader, n_boot=self.n_boot, seed=self.seed
            )
        return self._tables[layout.name]


def table_intervals(
    summary: pd.DataFrame, layout: TableLayout, samples_of: TableSamples
) -> pd.DataFrame:
    """One record per (row, COCO column) with :data:`CI_COLUMNS`, in the column's unit.

    Args:
        summary: :func:`sbr.reports.aggregate.summarize`'s frame.
        layout: The table (its ``reference`` row is the baseline of the deltas, its
            ``min_seeds`` the seeds rule of the daggers).
        samples_of: The table's resampled per-image data (its seed seeds the seed draws).

    ``delta`` is the difference of the reproduced values (as printed); its interval is
    the paired bootstrap one; ``significant`` is the Holm-corrected dagger.
    """
    columns = [c for c in layout.columns if coco_stat(c) is not None]
    if not columns:
        return pd.DataFrame(columns=list(CI_COLUMNS))
    samples = samples_of(summary, layout)
    found = compute_intervals(samples, layout.reference_row, layout.min_seeds, samples_of.seed)
    means = {(r["row"], r["column"]): r for r in summary.to_dict("records")}
    records = [
        _cell_record(row.id, column, means, layout.reference_row, found.get((row.id, column.name)))
        for row in layout.rows
        for column in columns
    ]
    return pd.DataFrame.from_records(records, columns=list(CI_COLUMNS))


def with_intervals(
    summary: pd.DataFrame, layout: TableLayout, samples_of: TableSamples, *, show_ci: bool = False
) -> pd.DataFrame:
    """``summary`` with :func:`table_intervals`' columns merged in (NaN for other columns).

    ``show_ci`` (``sbr report --ci``) asks the LaTeX to print the intervals in the cells.
    """
    intervals = table_intervals(summary, layout, samples_of)
    merged = summary.merge(intervals, on=["row", "column"], how="left")
    merged["show_ci"] = show_ci
    return merged


def ci_points(summary: pd.DataFrame, layout: TableLayout) -> list[dict[str, Any]]:
    """Reproduced-vs-paper points of the COCO columns (for the figure): one per cell."""
    cells = {(r["row"], r["column"]): r for r in summary.to_dict("records")}
    points = []
    for row in layout.rows:
        for column in layout.columns:
            cell = cells.get((row.id, column.name))
            paper = paper_number(row.paper.get(column.name))
            if coco_stat(column) is None or cell is None or cell["status"] != "ok":
                continue
            if paper is None:
                continue
            points.append(
                {
                    "row": row.number, "label": row.label, "column": column.name,
                    "paper": paper, "reproduced": float(cell["mean"]),
                    "low": float(cell.get("ci_low", math.nan)),
                    "high": float(cell.get("ci_high", math.nan)),
                    "significant": is_true(cell.get("significant")),
                }
            )  # fmt: skip
    return points


def effect_points(summary: pd.DataFrame, layout: TableLayout) -> list[dict[str, Any]]:
    """Reproduced vs paper differences to the reference row (for the effects figure)."""
    cells = {(r["row"], r["column"]): r for r in summary.to_dict("records")}
    reference = next((r for r in layout.rows if r.id == layout.reference_row), None)
    points = []
    for row in layout.rows:
        for column in layout.columns:
            cell = cells.get((row.id, column.name))
            if reference is None or row.id == reference.id or coco_stat(column) is None:
                continue
            pa, pb = (paper_number(r.paper.get(column.name)) for r in (row, reference))
            delta = float(cell.get("delta", math.nan)) if cell else math.nan
            if pa is None or pb is None or math.isnan(delta) or cell["status"] != "ok":
                continue
            points.append(
                {
                    "row": row.number, "label": row.label, "column": column.name,
                    "paper": pa - pb, "reproduced": delta,
                    "low": float(cell.get("delta_ci_low", math.nan)),
                    "high": float(cell.get("delta_ci_high", math.nan)),
                    "significant": is_true(cell.get("significant")),
                }
            )  # fmt: skip
    return points


__all__ = [
    "TableSamples",
    "CI_COLUMNS",
    "CI_NO_DATA",
    "CI_NO_VALUE",
    "CI_OK",
    "CI_REFERENCE",
    "RowRuns",
    "ci_points",
    "coco_stat",
    "compute_intervals",
    "effect_points",
    "load_samples",
    "may_test",
    "mlflow_loader",
    "row_runs",
    "table_intervals",
    "with_intervals",
]
