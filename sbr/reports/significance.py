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
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sbr.metrics import ARTIFACT_PER_IMAGE, COCO_PREFIX
from sbr.reports.bootstrap import DEFAULT_B, DEFAULT_SEED, row_intervals
from sbr.reports.tables import Column, TableLayout

#: Columns of :func:`table_intervals`' frame.
CI_COLUMNS = (
    "row", "column", "ci_low", "ci_high", "delta", "delta_ci_low", "delta_ci_high",
    "significant", "ci_status",
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


def _row_runs(summary: pd.DataFrame) -> dict[str, list[str]]:
    runs: dict[str, list[str]] = {}
    for record in summary.to_dict("records"):
        if record["status"] == "ok" and record["row"] not in runs:
            runs[record["row"]] = [r for r in str(record["run_ids"]).split(",") if r]
    return runs


def table_intervals(
    summary: pd.DataFrame,
    layout: TableLayout,
    loader: Loader,
    *,
    n_boot: int = DEFAULT_B,
    seed: int = DEFAULT_SEED,
) -> pd.DataFrame:
    """One record per (row, COCO column) with :data:`CI_COLUMNS`, in the column's unit.

    Args:
        summary: :func:`sbr.reports.aggregate.summarize`'s frame.
        layout: The table (its ``reference`` row is the baseline of the deltas).
        loader: Per-image data of a run id (:func:`mlflow_loader`).
        n_boot: Bootstrap resamples.
        seed: Seed of the resamples.

    ``delta`` is the difference of the reproduced values (as printed); its interval is
    the paired bootstrap one.
    """
    columns = [(c, coco_stat(c)) for c in layout.columns]
    columns = [(c, s) for c, s in columns if s is not None]
    if not columns:
        return pd.DataFrame(columns=list(CI_COLUMNS))
    reference = layout.reference_row
    means = {(r["row"], r["column"]): r for r in summary.to_dict("records")}
    data: dict[str, list[Mapping[str, Any]] | None] = {}
    for row, run_ids in _row_runs(summary).items():
        loaded = [loader(run_id) for run_id in run_ids]
        data[row] = None if not loaded or any(x is None for x in loaded) else [x[0] for x in loaded]
    intervals: dict[tuple[str, str, str], Any] = {}
    for iou_type in sorted({s[0] for _, s in columns}):
        stats = sorted({s[1] for _, s in columns if s[0] == iou_type})
        tables = {
            row: [t[iou_type] for t in per_seed]
            for row, per_seed in data.items()
            if per_seed and all(iou_type in t for t in per_seed)
        }
        found = row_intervals(tables, reference, stats, n_boot=n_boot, seed=seed)
        intervals.update({(row, iou_type, stat): v for (row, stat), v in found.items()})
    records = []
    for row in layout.rows:
        for column, (iou_type, stat) in columns:
            cell = means.get((row.id, column.name), {})
            ref_cell = means.get((reference, column.name), {})
            mean = cell.get("mean", math.nan) if cell.get("status") == "ok" else math.nan
            ref = ref_cell.get("mean", math.nan) if ref_cell.get("status") == "ok" else math.nan
            found = intervals.get((row.id, iou_type, stat))
            record = {
                "row": row.id, "column": column.name, "ci_low": math.nan, "ci_high": math.nan,
                "delta": mean - ref, "delta_ci_low": math.nan, "delta_ci_high": math.nan,
                "significant": False,
            }  # fmt: skip
            if math.isnan(mean):
                record["ci_status"] = CI_NO_VALUE
            elif found is None:
                record["ci_status"] = CI_NO_DATA
            else:
                scale = column.scale
                record.update(ci_low=found.low * scale, ci_high=found.high * scale)
                record["ci_status"] = CI_REFERENCE if row.id == reference else CI_OK
                if row.id != reference and not math.isnan(found.delta_low):
                    record.update(
                        delta_ci_low=found.delta_low * scale,
                        delta_ci_high=found.delta_high * scale,
                        significant=found.significant,
                    )
            records.append(record)
    return pd.DataFrame.from_records(records, columns=list(CI_COLUMNS))


def with_intervals(
    summary: pd.DataFrame,
    layout: TableLayout,
    loader: Loader,
    *,
    show_ci: bool = False,
    n_boot: int = DEFAULT_B,
    seed: int = DEFAULT_SEED,
) -> pd.DataFrame:
    """``summary`` with :func:`table_intervals`' columns merged in (NaN for other columns).

    ``show_ci`` (``sbr report --ci``) asks the LaTeX to print the intervals in the cells.
    """
    intervals = table_intervals(summary, layout, loader, n_boot=n_boot, seed=seed)
    merged = summary.merge(intervals, on=["row", "column"], how="left")
    merged["show_ci"] = show_ci
    return merged


def ci_points(summary: pd.DataFrame, layout: TableLayout) -> list[dict[str, Any]]:
    """Reproduced-vs-paper points of the COCO columns (for the figure): one per cell."""
    from sbr.reports.latex import paper_number

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


__all__ = [
    "CI_COLUMNS",
    "CI_NO_DATA",
    "CI_NO_VALUE",
    "CI_OK",
    "CI_REFERENCE",
    "ci_points",
    "coco_stat",
    "mlflow_loader",
    "table_intervals",
    "with_intervals",
]
