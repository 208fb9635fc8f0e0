"""Tidy run results -> one value per (table row, column): seeds averaged, runs chosen.

The tidy frame (:data:`sbr.tracking.runs.TIDY_COLUMNS`, the tracking layer's schema,
re-exported here) has one record per (run, table row, metric), as
:func:`sbr.tracking.runs.runs_to_frame` builds it. A run with no metric (a failed
training) still has one record with ``metric`` and ``value`` empty, so that a failed
row is reported as failed rather than missing.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from sbr.reports.tables import TableLayout
from sbr.tracking.runs import TIDY_COLUMNS, empty_tidy

#: Columns of :func:`summarize`'s frame.
SUMMARY_COLUMNS = (
    "row", "column", "mean", "std", "n", "status", "run_ids", "seeds", "trial_ids",
)  # fmt: skip

#: Row/cell states; every state but "ok" prints a dash with a footnote.
STATUS_OK = "ok"
STATUS_MISSING = "missing"  # no run serves the row
STATUS_FAILED = "failed"  # only failed runs serve the row
STATUS_RUNNING = "running"  # only unfinished runs serve the row
STATUS_NOT_RECORDED = "not_recorded"  # finished runs, but this metric was not logged


def _serves(eval_ids: pd.Series, suffix: str) -> pd.Series:
    """Runs whose ``sbr.eval`` tag names the row's evaluation (untagged runs: ``final``)."""
    eval_ids = eval_ids.fillna("").astype(str)
    matches = eval_ids.str.endswith("/" + suffix) | (eval_ids == suffix)
    return matches | ((eval_ids == "") & (suffix == "final"))


def _pick_runs(
    records: pd.DataFrame, eval_suffix: str = "final"
) -> tuple[str, list[tuple[str, str, str]]]:
    """Row status and the ``(run id, seed, trial id)`` chosen for each seed (finished,
    evaluation first, newest)."""
    runs = records.drop_duplicates("run_id")
    runs = runs[(runs["kind"].fillna("") != "ablation") & _serves(runs["eval_id"], eval_suffix)]
    if runs.empty:
        return STATUS_MISSING, []
    chosen = []
    for seed, per_seed in runs.groupby(runs["seed"].fillna(-1).astype(str), sort=True):
        finished = per_seed[per_seed["status"] == "finished"]
        if finished.empty:
            continue
        order = finished.assign(_eval=(finished["kind"] == "evaluation").astype(int))
        order = order.sort_values(["_eval", "start_time"], ascending=False, na_position="last")
        first = order.iloc[0]
        trial = first.get("trial_id")
        chosen.append((str(first["run_id"]), str(seed), "" if pd.isna(trial) else str(trial)))
    if chosen:
        return STATUS_OK, chosen
    if (runs["status"] == "failed").any():
        return STATUS_FAILED, []
    return STATUS_RUNNING, []


def _stats(values: pd.Series) -> tuple[float, float, int]:
    numbers = pd.to_numeric(values, errors="coerce").dropna()
    n = int(numbers.size)
    mean = float(numbers.mean()) if n else math.nan
    std = float(numbers.std(ddof=1)) if n > 1 else math.nan
    return mean, std, n


def summarize(tidy: pd.DataFrame, layout: TableLayout) -> pd.DataFrame:
    """One record per (row, metric column) of ``layout`` with the reproduced value.

    Args:
        tidy: Results frame with :data:`TIDY_COLUMNS` (any tables).
        layout: The table.

    Returns:
        Frame with :data:`SUMMARY_COLUMNS`: ``mean``/``std`` over seeds in the column's
        unit (scale applied), ``n`` seeds with a value, ``status`` (``ok``, ``missing``,
        ``failed``, ``running``, ``not_recorded``), ``run_ids`` (comma-separated) and,
        aligned with them, ``seeds`` and ``trial_ids`` (which training each run belongs to).
        Columns without a metric (model descriptions) are not listed.
    """
    mine = tidy[tidy["table"] == layout.name]
    records: list[dict[str, Any]] = []
    for row in layout.rows:
        status, picked = _pick_runs(mine[mine["row"] == row.id], row.eval_suffix)
        run_ids = [r for r, _, _ in picked]
        chosen = mine[mine["run_id"].isin(run_ids)].drop_duplicates(["run_id", "metric"])
        for column in layout.columns:
            if column.metric is None:
                continue
            values = chosen.loc[chosen["metric"] == column.metric, "value"]
            mean, std, n = _stats(values)
            cell_status = status
            if status == STATUS_OK and n == 0:
                cell_status = STATUS_NOT_RECORDED
            records.append(
                {
                    "row": row.id,
                    "column": column.name,
                    "mean": mean * column.scale,
                    "std": std * column.scale,
                    "n": n,
                    "status": cell_status,
                    "run_ids": ",".join(run_ids),
                    "seeds": ",".join(s for _, s, _ in picked),
                    "trial_ids": ",".join(t for _, _, t in picked),
                }
            )
    return pd.DataFrame.from_records(records, columns=list(SUMMARY_COLUMNS))


def run_ids_of(summary: pd.DataFrame) -> list[str]:
    """Sorted unique MLflow run ids a summary was computed from."""
    ids = {i for joined in summary["run_ids"] for i in str(joined).split(",") if i}
    return sorted(ids)


__all__ = [
    "STATUS_FAILED",
    "STATUS_MISSING",
    "STATUS_NOT_RECORDED",
    "STATUS_OK",
    "STATUS_RUNNING",
    "SUMMARY_COLUMNS",
    "TIDY_COLUMNS",
    "empty_tidy",
    "run_ids_of",
    "summarize",
]
