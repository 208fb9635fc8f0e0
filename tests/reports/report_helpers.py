"""Helpers of the report tests: golden files and run records tagged like the tracker does."""

from __future__ import annotations

import os
from pathlib import Path

from ci_gate import under_ci

from sbr.metrics import (
    TAG_EVAL,
    TAG_KIND,
    TAG_ROWS,
    TAG_SEED,
    TAG_STATUS,
    TAG_TRIAL,
)
from sbr.tracking.runs import RunRecord

EXPECTED = Path(__file__).parent / "expected"
#: Set to 1 to rewrite the golden files deliberately (then review the diff).
REGENERATE = os.environ.get("SBR_REGENERATE_GOLDEN") == "1"
PROVENANCE = {"command": "sbr report table99", "spec_hash": "0123456789ab", "mlflow_runs": []}


def check_golden(name: str, text: str) -> None:
    """Compare ``text`` with ``expected/<name>`` (rewrite it when regenerating, never in CI)."""
    path = EXPECTED / name
    if REGENERATE:
        assert not under_ci(), "SBR_REGENERATE_GOLDEN=1 is refused under CI: it passes any output"
        path.write_text(text)
    assert path.is_file(), f"missing golden file {path}; run with SBR_REGENERATE_GOLDEN=1"
    assert text == path.read_text()


def run(
    run_id: str,
    rows: str,
    metrics: dict[str, float],
    *,
    status: str = "finished",
    seed: int = 0,
    kind: str = "training",
    eval_id: str | None = None,
    start: int = 0,
) -> RunRecord:
    """A run record as the tracking layer tags it."""
    tags = {
        TAG_TRIAL: f"trial-{run_id}",
        TAG_ROWS: rows,
        TAG_STATUS: status,
        TAG_SEED: str(seed),
        TAG_KIND: kind,
        TAG_EVAL: eval_id or f"trial-{run_id}/final",
    }
    return RunRecord(run_id, tags, metrics, "FINISHED", start)
