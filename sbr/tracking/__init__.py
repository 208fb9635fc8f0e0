"""Experiment tracking: MLflow runs for ablations, trials and evaluations.

``sbr.tracking.mlflow`` is the only module that imports mlflow to write runs or look
up a trial's status; it is imported lazily by its users, so importing this package
stays cheap.
"""

from __future__ import annotations

__all__: list[str] = []
