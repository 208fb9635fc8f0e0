"""Declarative ablation specs: schema, loading, pure expansion into trials, dry-run plans.

Nothing here imports torch, ray, mlflow, mmengine or mmdet at import time; only
:mod:`sbr.specs.validate` imports mmengine/mmdet, inside its functions.
"""

from sbr.specs.errors import Loc, SpecError
from sbr.specs.expand import EvalSpec, Expansion, PlannedRow, TrialSpec, expand, grid_rows
from sbr.specs.plan import Plan, build_plan, no_tracking_store, render_text
from sbr.specs.presets import Preset, load_preset
from sbr.specs.schema import AblationSpec, Defaults, Grid, Override, Row, load_spec

__all__ = [
    "AblationSpec",
    "Defaults",
    "EvalSpec",
    "Expansion",
    "Grid",
    "Loc",
    "Override",
    "Plan",
    "PlannedRow",
    "Preset",
    "Row",
    "SpecError",
    "TrialSpec",
    "build_plan",
    "expand",
    "grid_rows",
    "load_preset",
    "load_spec",
    "no_tracking_store",
    "render_text",
]
