"""Runs of shipped tables as ``run-ablation`` tags and names them, written through
:class:`sbr.tracking.mlflow.Tracker` without training (metrics made up).

Imported by the ``sbr ui`` tests (pytest puts this folder on ``sys.path``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sbr.metrics import (
    BBOX_AP,
    TAG_EVAL,
    TAG_KIND,
    TAG_ROWS,
    TAG_SEED,
    TAG_STATUS,
    TAG_TABLES,
    TAG_TRIAL,
    paper_metrics,
)

ABLATIONS = Path(__file__).resolve().parents[2] / "ablations"


def write_runs(
    tracker: Any, parent: str, tables: Sequence[str], seeds: Sequence[int]
) -> tuple[dict[str, str], dict[str, str], list[str]]:
    """The finished runs of ``tables`` (mini preset, ``seeds``) under ``parent``:
    (run id -> name, run id -> its sbr.tables tag, Table 4's final runs in row and seed
    order: the training run of a training row, the evaluation run of the others)."""
    from sbr.runners.execute import run_names, users_of
    from sbr.specs.expand import expand
    from sbr.specs.presets import load_preset
    from sbr.specs.schema import load_spec
    from sbr.tracking.mlflow import KIND_EVALUATION, KIND_TRAINING, STATUS_FINISHED

    specs = [load_spec(ABLATIONS / f"{table}.yaml") for table in tables]
    expansion = expand(specs, load_preset("mini"), seeds=list(seeds))
    trial_rows, eval_rows = users = users_of(expansion)
    names = run_names(expansion, users)
    ids: dict[str, str] = {}  # trial or evaluation id -> run id
    tables_of: dict[str, str] = {}
    for number, row in enumerate(expansion.rows):
        final = row.eval_id.endswith("/final")
        for key, kind, rows in (
            (row.trial_id, KIND_TRAINING, trial_rows[row.trial_id]),
            (row.eval_id, KIND_EVALUATION, eval_rows[row.eval_id]),
        ):
            if key in ids or (kind == KIND_EVALUATION and final):
                continue
            tags = {
                TAG_KIND: kind,
                TAG_TRIAL: row.trial_id,
                TAG_EVAL: row.eval_id if kind == KIND_EVALUATION else f"{row.trial_id}/final",
                TAG_TABLES: ",".join(dict.fromkeys(r.split("/")[0] for r in rows)),
                TAG_ROWS: ",".join(rows),
                TAG_SEED: str(row.seed),
                TAG_STATUS: STATUS_FINISHED,
            }
            under = ids.get(row.trial_id, parent)  # an evaluation is a child of its training
            ids[key] = tracker.start_run(tags=tags, parent=under, name=names[key])
            tables_of[ids[key]] = tags[TAG_TABLES]
            ap = 0.30 + 0.01 * number
            tracker.log_metrics(ids[key], {BBOX_AP: ap, **paper_metrics({BBOX_AP: ap})})
            tracker.end_run(ids[key])
    table4 = [
        ids[row.trial_id if row.eval_id.endswith("/final") else row.eval_id]
        for row in expansion.rows
        if row.table == "table4"
    ]
    return {ids[key]: names[key] for key in ids}, tables_of, table4
