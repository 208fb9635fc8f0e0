"""Spec -> trials: a pure, deterministic expansion (no torch, ray, mlflow, mmengine, mmdet).

A *trial* is one training run. Its id is a content hash of everything that
determines the training: base config, the preset (data swap, overrides), the
schedule, the row's training overrides, the dataset root and the seed. Labels,
paper numbers and evaluation-only overrides are not part of it, so

* the same training appearing in several tables (Table 2 row 4 = Table 3 row 4 =
  Table 4 row 4 = Table 6 row 2) is one trial serving several rows, and
* rows that differ only in ``eval_overrides`` (Table 4: one model evaluated with
  L_e = 1..5) are one training plus several *evaluations*.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sbr.data.layout import Category
from sbr.specs.presets import DatasetSwap, Preset
from sbr.specs.schema import SPEED_COLUMN, AblationSpec, Grid, Override, Row
from sbr.yamlspec.errors import Loc, SpecError, format_key

HASH_CHARS = 12


@dataclass(frozen=True)
class TrialSpec:
    """One training run, fully resolved.

    Attributes:
        trial_id: Content hash of :meth:`identity`.
        config: Base config (relative to ``sbr/configs`` when shipped there).
        preset: The preset (its identity is hashed, its cost model is not).
        schedule: Schedule name (a key of ``preset.schedules``).
        overrides: The row's training overrides, applied last.
        data_root: Dataset root (None: the config's own paths).
        seed: Random seed (``randomness.seed``).
        classes: The dataset's categories in id order, read from its annotation files
            (None: the data root does not exist yet, the configs' own classes apply).
    """

    trial_id: str
    config: str
    preset: Preset = field(repr=False)
    schedule: str
    overrides: tuple[Override, ...]
    data_root: str | None
    seed: int
    classes: tuple[Category, ...] | None = None

    @property
    def dataset(self) -> DatasetSwap | None:
        """The preset's dataset swap, if any."""
        return self.preset.dataset

    def layers(self) -> list[tuple[str, tuple[Override, ...]]]:
        """Override layers in application order: preset, schedule, row."""
        schedule = self.preset.schedules[self.schedule]
        return [
            ("preset", self.preset.overrides),
            ("schedule", schedule.overrides),
            ("row", self.overrides),
        ]

    def identity(self) -> dict[str, Any]:
        """Everything that determines the training (the hash input)."""
        return trial_identity(
            config=self.config,
            preset=self.preset,
            schedule=self.schedule,
            overrides=self.overrides,
            data_root=self.data_root,
            seed=self.seed,
            classes=self.classes,
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form (for ``--json`` and the execution layer)."""
        return {"trial_id": self.trial_id, **self.identity()}


@dataclass(frozen=True)
class EvalSpec:
    """One evaluation of a trained trial (``overrides`` empty: the training's own evaluation)."""

    eval_id: str
    trial_id: str
    overrides: tuple[Override, ...] = ()


@dataclass(frozen=True)
class PlannedRow:
    """A table row mapped onto its trial and evaluation."""

    table: str
    row: Row
    seed: int
    trial_id: str
    eval_id: str
    speed: float | None
    #: The columns of the row's table (a blank flag cell means "not in the model").
    columns: tuple[str, ...] = ()

    @property
    def row_id(self) -> str:
        """The row's id inside its table."""
        return self.row.id


@dataclass(frozen=True)
class Expansion:
    """The result of :func:`expand`: unique trials and evaluations, and every row."""

    trials: tuple[TrialSpec, ...]
    evaluations: tuple[EvalSpec, ...]
    rows: tuple[PlannedRow, ...]

    def trial(self, trial_id: str) -> TrialSpec:
        """The trial with ``trial_id``."""
        return next(t for t in self.trials if t.trial_id == trial_id)


def canonical_json(value: Any) -> str:
    """Deterministic JSON (sorted keys, no spaces) of plain data."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def content_hash(value: Any, chars: int = HASH_CHARS) -> str:
    """Short SHA-256 of :func:`canonical_json` of ``value``."""
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()[:chars]


def canonical_config(config: str) -> str:
    """Config name as hashed: relative to ``sbr/configs`` when shipped, else absolute."""
    from sbr.engine.config import CONFIG_ROOT, resolve_config_path

    try:
        path = resolve_config_path(config)
    except FileNotFoundError:
        return config
    try:
        return path.relative_to(CONFIG_ROOT).as_posix()
    except ValueError:
        return str(path)


def trial_identity(
    *,
    config: str,
    preset: Preset,
    schedule: str,
    overrides: Sequence[Override],
    data_root: str | None,
    seed: int,
    classes: Sequence[Category] | None = None,
) -> dict[str, Any]:
    """The hashed description of a training run (see the module docstring).

    ``classes`` (the dataset's categories, when its files exist) are part of it: the same
    folder relabelled is another training.
    """
    identity = {
        "config": config,
        "preset": preset.identity(),
        "schedule": [schedule, [[o.path, o.value] for o in preset.schedules[schedule].overrides]],
        "overrides": [[o.path, o.value] for o in overrides],
        "data_root": data_root,
        "seed": seed,
    }
    if classes is not None:
        identity["classes"] = [[c.id, c.name] for c in classes]
    return identity


def _axis_label(path: str, value: Any) -> str:
    return f"{path.rsplit('.', 1)[-1]}={value}"


def grid_rows(grid: Grid) -> tuple[Row, ...]:
    """The rows of a product of axes, ids ``<grid.id>-1``, ``-2``... (train axes vary slowest)."""
    train_axes = [[(o, v) for v in values] for o, values in grid.axes]
    eval_axes = [[(o, v) for v in values] for o, values in grid.eval_axes]
    rows = []
    combos = itertools.product(itertools.product(*train_axes), itertools.product(*eval_axes))
    for number, (train, evals) in enumerate(combos, start=1):
        parts = [_axis_label(o.path, v) for o, v in (*train, *evals)]
        rows.append(
            Row(
                id=f"{grid.id}-{number}",
                label=f"{grid.label} ({', '.join(parts)})" if parts else grid.label,
                config=grid.config,
                overrides=grid.overrides
                + tuple(Override(o.path, v, o.new, o.loc) for o, v in train),
                eval_overrides=grid.eval_overrides
                + tuple(Override(o.path, v, o.new, o.loc) for o, v in evals),
                schedule=grid.schedule,
                assumed_speed=grid.assumed_speed,
                note=grid.note,
                loc=grid.loc,
                field_locs=grid.field_locs,
            )
        )
    return tuple(rows)


def spec_rows(spec: AblationSpec) -> tuple[Row, ...]:
    """Explicit rows followed by the rows of every grid (ids unique across both)."""
    rows = list(spec.rows)
    seen = {row.id for row in rows}
    for grid in spec.grids:
        for row in grid_rows(grid):
            if row.id in seen:
                raise SpecError(
                    row.loc_of("id"), "grids.id", f"generated row id {row.id!r} clashes"
                )
            seen.add(row.id)
            rows.append(row)
    return tuple(rows)


def _row_speed(spec: AblationSpec, row: Row) -> float | None:
    printed = row.paper_values.get(SPEED_COLUMN)
    if isinstance(printed, (int, float)) and not isinstance(printed, bool) and printed > 0:
        return float(printed)
    return row.assumed_speed or spec.defaults.assumed_speed


def _schedule_of(spec: AblationSpec, row: Row, preset: Preset) -> str:
    name = row.schedule or spec.defaults.schedule
    if name not in preset.schedules:
        where: Loc | None = row.loc_of("schedule") if row.schedule else row.loc
        raise SpecError(
            where,
            format_key(("rows", row.id, "schedule")),
            f"schedule {name!r} is not defined by preset {preset.name!r} "
            f"(it has: {', '.join(preset.schedules)})",
        )
    return name


def expand(
    specs: Sequence[AblationSpec],
    preset: Preset,
    *,
    data_root: str | None = None,
    seeds: Sequence[int] | None = None,
) -> Expansion:
    """Expand specs into unique trials and evaluations (deduplicated across all specs).

    Args:
        specs: Parsed specs (one per paper table, or user ablations).
        preset: The preset every trial is trained with.
        data_root: Dataset root overriding the spec defaults and the preset.
        seeds: Seeds overriding the specs' (``--seeds N`` gives ``range(N)``).

    Returns:
        The :class:`Expansion`; trials and evaluations keep first-seen order.

    Raises:
        SpecError: If a row names a schedule the preset does not define.
        DataError: If a data root exists but its layout or classes are unusable.
    """
    from sbr.data.layout import root_classes

    trials: dict[str, TrialSpec] = {}
    evaluations: dict[str, EvalSpec] = {}
    planned: list[PlannedRow] = []
    classes_of: dict[str | None, tuple[Category, ...] | None] = {}
    for spec in specs:
        root = _normal_root(data_root or spec.defaults.data_root or preset.data_root)
        if root not in classes_of:
            classes_of[root] = root_classes(root)
        for row in spec_rows(spec):
            schedule = _schedule_of(spec, row, preset)
            config = canonical_config(row.config)
            for seed in seeds if seeds is not None else (spec.seeds or spec.defaults.seeds):
                trial = _trial(config, preset, schedule, row, root, seed, classes_of[root])
                trials.setdefault(trial.trial_id, trial)
                evaluation = _evaluation(trial.trial_id, row.eval_overrides)
                evaluations.setdefault(evaluation.eval_id, evaluation)
                planned.append(_planned_row(spec, row, seed, evaluation))
    return Expansion(tuple(trials.values()), tuple(evaluations.values()), tuple(planned))


def _trial(
    config: str,
    preset: Preset,
    schedule: str,
    row: Row,
    root: str | None,
    seed: int,
    classes: tuple[Category, ...] | None,
) -> TrialSpec:
    """The training of ``row`` with ``seed``, its id the hash of :func:`trial_identity`."""
    identity = trial_identity(
        config=config,
        preset=preset,
        schedule=schedule,
        overrides=row.overrides,
        data_root=root,
        seed=seed,
        classes=classes,
    )
    return TrialSpec(
        content_hash(identity), config, preset, schedule, row.overrides, root, seed, classes
    )


def _planned_row(spec: AblationSpec, row: Row, seed: int, evaluation: EvalSpec) -> PlannedRow:
    return PlannedRow(
        spec.name,
        row,
        seed,
        evaluation.trial_id,
        evaluation.eval_id,
        _row_speed(spec, row),
        columns=tuple(spec.columns),
    )


def evaluation_suffix(overrides: Sequence[Override]) -> str:
    """``final`` (the training's own evaluation) or ``eval-<hash of the eval overrides>``."""
    if not overrides:
        return "final"
    return "eval-" + content_hash([[o.path, o.value] for o in overrides], chars=8)


def _normal_root(root: str | None) -> str | None:
    """``data/synth/`` and ``data/synth`` name the same dataset, hence the same trials."""
    return None if root is None else os.path.normpath(root)


def _evaluation(trial_id: str, overrides: tuple[Override, ...]) -> EvalSpec:
    return EvalSpec(f"{trial_id}/{evaluation_suffix(overrides)}", trial_id, overrides)
