"""``sbr status``: rows -> trial -> status and latest AP, from the tracking store."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from sbr.cli.ablation import (
    _DATA,
    _PRESET,
    _SEEDS,
    _SPECS_DIR,
    EXIT_SPEC_ERROR,
    _fail,
    _load,
    _table_files,
)
from sbr.yamlspec.errors import SpecError

#: Exit status when the tracking store cannot be read.
EXIT_TRACKING = 2


def _row_status(row: Any, trainings: dict, evaluations: dict) -> dict[str, Any]:
    from sbr.metrics import BBOX_AP, SEGM_AP, TAG_STATUS

    training = trainings.get(row.trial_id)
    status = "not started" if training is None else training.data.tags.get(TAG_STATUS, "running")
    source = training
    if not row.eval_id.endswith("/final"):  # an evaluation-only variant: its own run
        source = evaluations.get(row.eval_id)
        if status == "finished" and source is None:
            status = "trained, evaluation pending"
        elif source is not None and status == "finished":
            status = source.data.tags.get(TAG_STATUS, "running")
    metrics = source.data.metrics if source is not None else {}
    return {
        "table": row.table,
        "row": row.row_id,
        "label": row.row.label,
        "trial": row.trial_id,
        "evaluation": row.eval_id,
        "status": status,
        "bbox_mAP": metrics.get(BBOX_AP),
        "segm_mAP": metrics.get(SEGM_AP),
        "run_id": None if training is None else training.info.run_id,
    }


def last_preset(tracker: Any, tables: list[str]) -> str | None:
    """The preset (file, else name) of the newest ``run-ablation`` of one of ``tables``."""
    from sbr.metrics import TAG_KIND, TAG_PRESET, TAG_PRESET_FILE, TAG_TABLES
    from sbr.tracking.mlflow import KIND_ABLATION

    for run in tracker.search({TAG_KIND: KIND_ABLATION}):  # newest first
        tags = run.data.tags
        if not set(tags.get(TAG_TABLES, "").split(",")) & set(tables):
            continue
        files = [f for f in tags.get(TAG_PRESET_FILE, "").split(",") if f]
        if len(files) == 1 and Path(files[0]).is_file():
            return files[0]
        names = [p for p in tags.get(TAG_PRESET, "").split(",") if p]
        return names[0] if len(names) == 1 else None
    return None


def _mark_interrupted(rows: list[dict[str, Any]], trainings: dict, tracker: Any) -> None:
    """``running`` rows whose ``run-ablation`` process died show as ``interrupted``.

    Read-only: the next ``run-ablation`` closes such runs in the store (KILLED).
    """
    from sbr.metrics import TAG_KIND
    from sbr.runners.execute import driver_died
    from sbr.tracking.mlflow import KIND_ABLATION, PARENT_TAG

    parents = {r.info.run_id: r for r in tracker.search({TAG_KIND: KIND_ABLATION})}
    by_run = {run.info.run_id: run for run in trainings.values()}
    for row in rows:
        run = by_run.get(row["run_id"])
        parent = parents.get(run.data.tags.get(PARENT_TAG, "")) if run is not None else None
        if row["status"] == "running" and parent is not None and driver_died(parent):
            row["status"] = "interrupted"


def _add_progress(rows: list[dict[str, Any]], tracker: Any) -> None:
    """``iteration``: the last logged training step of unfinished runs (None otherwise)."""
    from sbr.metrics import LOSS_PREFIX

    steps: dict[str, int | None] = {}
    for row in rows:
        run_id, unfinished = row["run_id"], row["status"] in ("running", "interrupted", "failed")
        if run_id is not None and unfinished and run_id not in steps:
            history = tracker.metric_history(run_id, f"{LOSS_PREFIX}loss")
            steps[run_id] = history[-1][0] if history else None
        row["iteration"] = steps.get(run_id) if unfinished else None


def _without_data(expansion: Any) -> str | None:
    """The data root of a trial whose dataset cannot be read here (None: all readable)."""
    return next((t.data_root for t in expansion.trials if t.classes is None and t.data_root), None)


def rows_by_tags(expansion: Any, trainings: dict) -> list[Any] | str:
    """The expansion's rows, with the trial ids of the tracked runs tagged with each row.

    A trial id hashes the dataset's classes, which only the data folder holds; without it
    the runs are found by their tags instead (``sbr.rows``, ``sbr.seed``, ``sbr.preset``).
    Returns a one-line error when a row matches the runs of several trials (several
    datasets, or configs changed since): only ``--data`` tells them apart.
    """
    from dataclasses import replace

    from sbr.metrics import TAG_PRESET, TAG_ROWS, TAG_SEED
    from sbr.tracking.runs import parse_rows

    found: dict[tuple, set[str]] = {}
    for trial_id, run in trainings.items():
        tags = run.data.tags
        for table, row in parse_rows(tags.get(TAG_ROWS)):
            key = (table, row, tags.get(TAG_SEED), tags.get(TAG_PRESET))
            found.setdefault(key, set()).add(trial_id)
    rows = []
    for row in expansion.rows:
        preset = expansion.trial(row.trial_id).preset.name
        ids = sorted(found.get((row.table, row.row_id, str(row.seed), preset), ()))
        if len(ids) > 1:
            return (
                f"{row.table}/{row.row_id} seed {row.seed} has runs of {len(ids)} trials "
                f"({', '.join(ids)}); pass --data DIR to pick the dataset's"
            )
        if ids:
            suffix = row.eval_id.split("/", 1)[1]
            row = replace(row, trial_id=ids[0], eval_id=f"{ids[0]}/{suffix}")
        rows.append(row)
    return rows


def _planned_rows(expansion: Any, trainings: dict, *, data_given: bool, quiet: bool) -> list:
    """The rows to show; without ``--data`` and without the data, found by their tags."""
    missing = None if data_given else _without_data(expansion)
    if missing is None:
        return list(expansion.rows)
    planned = rows_by_tags(expansion, trainings)
    if isinstance(planned, str):
        click.echo(f"error: {planned}", err=True)
        sys.exit(EXIT_SPEC_ERROR)
    if not quiet:
        click.echo(f"(no dataset at {missing}: runs found by their row tags; --data DIR)")
    return planned


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


@click.command()
@click.argument("table")
@_PRESET
@_DATA
@_SEEDS
@_SPECS_DIR
@click.option("--tracking-uri", metavar="URI", help="MLflow store (default as run-ablation).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def status(
    table: str,
    preset: str | None,
    data: Path | None,
    seeds: int | None,
    specs_dir: Path | None,
    tracking_uri: str | None,
    as_json: bool,
) -> None:
    """Status of every row of TABLE (or all): its trial, run status and latest AP."""
    from sbr.metrics import TAG_EVAL, TAG_KIND
    from sbr.tracking.mlflow import (
        KIND_EVALUATION,
        Tracker,
        TrackingError,
        check_tracking,
        resolve_tracking_uri,
    )

    uri = resolve_tracking_uri(tracking_uri)
    try:
        check_tracking(uri)
    except TrackingError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_TRACKING)
    tracker = Tracker(uri)
    try:
        files = _table_files(table, specs_dir)
        if preset is None:  # what the user last ran these tables with, not the specs' default
            preset = last_preset(tracker, [f.stem for f in files])
            if preset is not None and not as_json:
                click.echo(
                    f"(preset {preset}, as the last run-ablation of {table}; --preset to change)"
                )
        _, _, expansion = _load(files, preset, data, seeds)
    except SpecError as exc:
        _fail(exc)
        return
    trainings = tracker.training_runs()
    evaluations = {}
    for run in reversed(tracker.search({TAG_KIND: KIND_EVALUATION})):  # newest wins
        evaluations[run.data.tags.get(TAG_EVAL)] = run
    planned = _planned_rows(expansion, trainings, data_given=data is not None, quiet=as_json)
    rows = [_row_status(r, trainings, evaluations) for r in planned]
    _mark_interrupted(rows, trainings, tracker)
    _add_progress(rows, tracker)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        state = r["status"] if r["iteration"] is None else f"{r['status']} @ iter {r['iteration']}"
        click.echo(
            f"{r['table']:<8} {r['row']:<6} {r['label']:<18} trial {r['trial']}  "
            f"{state:<27} bbox {_fmt(r['bbox_mAP'])}  segm {_fmt(r['segm_mAP'])}"
        )


__all__ = ["rows_by_tags", "status"]
