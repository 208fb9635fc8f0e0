"""LocalLauncher: trials one after the other in this process (tests, debugging)."""

from __future__ import annotations

from collections.abc import Sequence

from sbr.runners.base import FAILED, TrialOutcome, TrialTask, one_line


class LocalLauncher:
    """Sequential, in-process launcher with the same retry semantics as Ray Tune's.

    Args:
        max_retries: Extra attempts of a failing trial (each resumes from its checkpoint).
    """

    def __init__(self, *, max_retries: int = 0) -> None:
        self.max_retries = max_retries

    def launch(self, tasks: Sequence[TrialTask]) -> list[TrialOutcome]:
        """Run every task; a trial that fails ``max_retries + 1`` times is reported failed."""
        from sbr.runners.trial import run_trial

        outcomes = []
        for task in tasks:
            error = None
            for _ in range(self.max_retries + 1):
                try:
                    outcomes.append(run_trial(task))
                    break
                except Exception as exc:  # noqa: BLE001 - reported, the others go on
                    error = one_line(exc)
            else:
                outcomes.append(TrialOutcome(task.trial_id, FAILED, error=error))
        return outcomes


__all__ = ["LocalLauncher"]
