"""Execution layer: run expanded trials (Ray Tune or in-process) and track them in MLflow.

``sbr.runners.ray_tune`` is the only module importing ray; ``sbr.runners.trial`` runs
one trial in the current process and knows nothing of Ray.
"""

from __future__ import annotations

from sbr.runners.base import EvalTask, Fault, Launcher, TrialOutcome, TrialTask
from sbr.runners.local import LocalLauncher

__all__ = ["EvalTask", "Fault", "Launcher", "LocalLauncher", "TrialOutcome", "TrialTask"]
