"""LocalLauncher: trials one after the other in this process (tests, debugging)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

from sbr.runners.base import FAILED, TrialOutcome, TrialTask, one_line
from sbr.runners.failures import DeterministicFailure

#: ``progress(trial_id, metrics)``: what Ray Tune's live table shows, for one trial.
Progress = Callable[[str, Mapping[str, Any]], None]


def progress_line(trial_id: str, metrics: Mapping[str, Any]) -> str:
    """``<trial>  12/300  eta 0:03:10  loss 2.131  bbox_mAP 0.251`` (known values only)."""
    parts = [trial_id, str(metrics.get("progress", f"iter {metrics.get('iteration', '?')}"))]
    if "eta" in metrics:
        parts.append(f"eta {metrics['eta']}")
    for key in ("loss", "bbox_mAP", "segm_mAP"):
        value = metrics.get(key)
        if isinstance(value, (int, float)) and value == value:  # not NaN
            parts.append(f"{key} {value:.3f}")
    return "  ".join(parts)


class LocalLauncher:
    """Sequential, in-process launcher with the same retry semantics as Ray Tune's.

    Args:
        max_retries: Extra attempts of a failing trial (each resumes from its checkpoint).
        progress: Called with every progress report of a trial (None: silent).
    """

    def __init__(self, *, max_retries: int = 0, progress: Progress | None = None) -> None:
        self.max_retries = max_retries
        self.progress = progress

    def launch(self, tasks: Sequence[TrialTask]) -> list[TrialOutcome]:
        """Run every task; a trial that fails ``max_retries + 1`` times is reported failed.

        A deterministic failure (:mod:`sbr.runners.failures`) is reported at once.
        """
        from sbr.runners.trial import run_trial

        outcomes = []
        for task in tasks:
            report = None if self.progress is None else partial(self.progress, task.trial_id)
            error = None
            for _ in range(self.max_retries + 1):
                try:
                    outcomes.append(run_trial(task, report=report))
                    break
                except DeterministicFailure as exc:  # a retry would repeat it
                    outcomes.append(TrialOutcome(task.trial_id, FAILED, error=str(exc)))
                    break
                except Exception as exc:  # noqa: BLE001 - reported, the others go on
                    error = one_line(exc)
            else:
                outcomes.append(TrialOutcome(task.trial_id, FAILED, error=error))
        return outcomes


__all__ = ["LocalLauncher", "Progress", "progress_line"]
