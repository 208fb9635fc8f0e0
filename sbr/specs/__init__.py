"""Declarative ablation specs: schema, loading, pure expansion into trials, dry-run plans.

Nothing here imports torch, ray, mlflow, mmengine or mmdet at import time; only
:mod:`sbr.specs.compose` (spec row + preset + data -> MMEngine config) and
:mod:`sbr.specs.validate` import mmengine/mmdet, inside their functions. The paper's
claims (:mod:`sbr.specs.claims`) are parsed with each spec.
"""

from sbr.specs.claims import Claim, RowRef, effective_min_seeds
from sbr.specs.expand import EvalSpec, Expansion, PlannedRow, TrialSpec, expand, grid_rows
from sbr.specs.plan import Plan, build_plan, no_tracking_store, render_text
from sbr.specs.presets import Preset, load_preset
from sbr.specs.schema import AblationSpec, Defaults, Grid, Override, Row, load_spec
from sbr.yamlspec.errors import Loc, SpecError

__all__ = [
    "AblationSpec",
    "Claim",
    "Defaults",
    "EvalSpec",
    "Expansion",
    "Grid",
    "Loc",
    "Override",
    "Plan",
    "PlannedRow",
    "RowRef",
    "Preset",
    "Row",
    "SpecError",
    "TrialSpec",
    "build_plan",
    "effective_min_seeds",
    "expand",
    "grid_rows",
    "load_preset",
    "load_spec",
    "no_tracking_store",
    "render_text",
]
