"""The dry-run plan: rows -> trials, sharing across tables, counts, status and cost.

Pure: parameter counts, the "already finished" status and the calibration come in
through injected callables/values, so the plan of all 74 paper rows can be built
and tested without building a model.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sbr.specs.expand import Expansion, PlannedRow, TrialSpec
from sbr.specs.presets import Preset

#: Returns a trial's status in the tracking store ("finished", "running"...), or None if unknown.
StatusLookup = Callable[[TrialSpec], str | None]
#: Returns a trial's trainable-parameter count, or None when not computed.
ParamsProvider = Callable[[TrialSpec], int | None]

UNKNOWN_STATUS = "unknown (no tracking store yet)"
#: Paper column holding #Params as printed ("44,170 K", "37.9 M").
PARAMS_COLUMN = "Params"
_PRINTED = re.compile(r"^(?P<int>\d{1,3}(?:,\d{3})*|\d+)(?:\.(?P<frac>\d+))? (?P<unit>[KM])$")


def params_as_printed(count: int | None, printed: Any) -> str | None:
    """``count`` truncated like the paper's value (``43_912_884, '43,912 K'`` -> ``'43,912 K'``).

    The paper truncates (does not round) trainable-parameter counts. Returns None when
    there is nothing to compare (no count, or no printed value).
    """
    match = _PRINTED.match(printed) if isinstance(printed, str) else None
    if count is None or match is None:
        return None
    decimals = len(match["frac"] or "")
    steps = count * 10**decimals // {"K": 1_000, "M": 1_000_000}[match["unit"]]
    whole, frac = divmod(steps, 10**decimals)
    whole_text = f"{whole:,}" if "," in match["int"] else str(whole)
    return f"{whole_text}{f'.{frac:0{decimals}d}' if decimals else ''} {match['unit']}"


def no_tracking_store(trial: TrialSpec) -> str | None:
    """Status lookup used until the MLflow layer exists: nothing is known."""
    return None


@dataclass(frozen=True)
class PlanRow:
    """One paper row in the plan."""

    table: str
    row: str
    label: str
    seed: int
    trial: str
    evaluation: str
    params: int | None
    paper: Mapping[str, Any]
    status: str
    shared_with: tuple[str, ...] = ()
    classes: int | None = None
    coco_params: int | None = None

    @property
    def paper_params(self) -> int | None:
        """The count comparable with the paper's (the model with COCO's 80 classes)."""
        return self.coco_params if self.coco_params is not None else self.params

    def to_json(self) -> dict[str, Any]:
        """The row as ``--json`` prints it."""
        return {
            "table": self.table,
            "row": self.row,
            "label": self.label,
            "seed": self.seed,
            "trial": self.trial,
            "evaluation": self.evaluation,
            "params": self.params,
            "classes": self.classes,
            "params_coco_80": self.coco_params,
            "params_as_printed": params_as_printed(
                self.paper_params, self.paper.get(PARAMS_COLUMN)
            ),
            "paper": dict(self.paper),
            "status": self.status,
            "shared_with": list(self.shared_with),
        }


@dataclass(frozen=True)
class Estimate:
    """Cost of a plan in the preset's unit (None where it could not be estimated).

    Attributes:
        unit: ``gpu_hours`` or ``cpu_minutes``.
        total: Cost of the unique trainings and evaluations.
        trainings / evaluations: The two parts of ``total``.
        without_dedup: Cost if every row trained (and evaluated) its own model.
        saved: ``without_dedup - total``.
        source: Where the figures come from.
        note: Why something is missing (e.g. no calibration).
    """

    unit: str
    total: float | None
    trainings: float | None
    evaluations: float | None
    without_dedup: float | None
    saved: float | None
    source: str = ""
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        """Plain-data form, figures rounded to 0.1."""

        def r(x: float | None) -> float | None:
            return None if x is None else round(x, 1)

        return {
            "unit": self.unit,
            "total": r(self.total),
            "trainings": r(self.trainings),
            "evaluations": r(self.evaluations),
            "without_dedup": r(self.without_dedup),
            "saved": r(self.saved),
            "source": self.source,
            "note": self.note,
        }


@dataclass(frozen=True)
class Plan:
    """What ``sbr run-ablation --dry-run`` prints."""

    preset: str
    tables: tuple[str, ...]
    rows: tuple[PlanRow, ...]
    trainings: int
    evaluations: int
    estimate: Estimate
    resources: Mapping[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` document."""
        return {
            "preset": self.preset,
            "tables": list(self.tables),
            "rows": [row.to_json() for row in self.rows],
            "trainings": self.trainings,
            "evaluations": self.evaluations,
            "estimate": self.estimate.to_json(),
            "resources": dict(self.resources),
        }


def _trial_speeds(expansion: Expansion) -> dict[str, float | None]:
    speeds: dict[str, float | None] = {}
    for row in expansion.rows:
        if speeds.get(row.trial_id) is None:
            speeds[row.trial_id] = row.speed
    return speeds


def _unit_costs(
    trial: TrialSpec, speed: float | None, preset: Preset, seconds_per_iter: float | None
) -> tuple[float | None, float | None]:
    """(training cost, evaluation cost) of one trial in the preset's unit."""
    cost = preset.cost
    schedule = preset.schedules[trial.schedule]
    if not speed:
        return None, None
    if cost.unit == "gpu_hours":
        if schedule.epochs is None:
            return None, None
        train = (
            cost.train_images_per_epoch * schedule.epochs * cost.train_time_factor / speed / 3600
        )
        return train, cost.eval_images / speed / 3600
    if seconds_per_iter is None or schedule.iters is None:
        return None, None
    per_iter = seconds_per_iter * cost.model_factor * cost.reference_speed / speed / 60
    return per_iter * schedule.iters, per_iter * cost.eval_iters


def estimate_cost(
    expansion: Expansion, preset: Preset, *, seconds_per_iter: float | None = None
) -> Estimate:
    """Cost of the unique trainings/evaluations, and of the same rows without deduplication.

    Args:
        expansion: The expanded specs.
        preset: Its cost model (``preset.cost``) and schedules are used.
        seconds_per_iter: Calibration for ``cpu_minutes`` presets (None: not calibrated).
    """
    speeds = _trial_speeds(expansion)
    unit = {
        t.trial_id: _unit_costs(t, speeds[t.trial_id], preset, seconds_per_iter)
        for t in expansion.trials
    }
    note = ""
    if preset.cost.unit == "cpu_minutes" and seconds_per_iter is None:
        note = "could not calibrate (no synthetic data found, or calibration disabled)"
    if any(train is None for train, _ in unit.values()):
        note = note or "some trials have no speed or schedule length"
        return Estimate(preset.cost.unit, None, None, None, None, None, preset.cost.source, note)
    trainings = sum(train for train, _ in unit.values())
    evaluations = sum(unit[e.trial_id][1] for e in expansion.evaluations)
    without = sum(sum(unit[r.trial_id]) for r in expansion.rows)
    total = trainings + evaluations
    return Estimate(
        preset.cost.unit,
        total,
        trainings,
        evaluations,
        without,
        without - total,
        preset.cost.source,
        note,
    )


def _shared(expansion: Expansion) -> dict[str, list[str]]:
    users: dict[str, list[str]] = {}
    for row in expansion.rows:
        users.setdefault(row.trial_id, []).append(f"{row.table}/{row.row_id}")
    return users


def build_plan(
    expansion: Expansion,
    preset: Preset,
    *,
    params: ParamsProvider | None = None,
    status: StatusLookup = no_tracking_store,
    seconds_per_iter: float | None = None,
    resources: Mapping[str, float] | None = None,
    sharing: Expansion | None = None,
    coco_params: ParamsProvider | None = None,
) -> Plan:
    """Assemble the dry-run plan.

    Args:
        expansion: From :func:`sbr.specs.expand.expand`.
        preset: The preset the trials use.
        params: Trainable-parameter count per trial (None: not computed).
        status: Tracking-store lookup (default: nothing known yet).
        seconds_per_iter: Calibration for CPU presets.
        resources: Resources per trial to report.
        sharing: A wider expansion (e.g. every shipped table) whose rows count as
            users of the same trainings; defaults to ``expansion`` itself.
        coco_params: The trial's model counted with COCO's 80 classes, for a dataset
            with another class count (the paper's counts are for 80; None: same model).
    """
    users = _shared(sharing or expansion)
    trials = {t.trial_id: t for t in expansion.trials}
    counts: dict[str, int | None] = {}
    coco: dict[str, int | None] = {}
    rows = []
    for planned in expansion.rows:
        trial = trials[planned.trial_id]
        if planned.trial_id not in counts:
            counts[planned.trial_id] = params(trial) if params else None
            coco[planned.trial_id] = coco_params(trial) if coco_params else None
        me = f"{planned.table}/{planned.row_id}"
        row = _plan_row(planned, counts[planned.trial_id], status(trial), users, me)
        if trial.classes is not None:
            row = replace(row, classes=len(trial.classes), coco_params=coco[planned.trial_id])
        rows.append(row)
    tables = tuple(dict.fromkeys(r.table for r in expansion.rows))
    return Plan(
        preset=preset.name,
        tables=tables,
        rows=tuple(rows),
        trainings=len(expansion.trials),
        evaluations=len(expansion.evaluations),
        estimate=estimate_cost(expansion, preset, seconds_per_iter=seconds_per_iter),
        resources=dict(resources or {}),
    )


def _plan_row(
    planned: PlannedRow,
    params: int | None,
    status: str | None,
    users: Mapping[str, list[str]],
    me: str,
) -> PlanRow:
    return PlanRow(
        table=planned.table,
        row=planned.row_id,
        label=planned.row.label,
        seed=planned.seed,
        trial=planned.trial_id,
        evaluation=planned.eval_id,
        params=params,
        paper=planned.row.paper_values,
        status=status or UNKNOWN_STATUS,
        shared_with=tuple(u for u in dict.fromkeys(users[planned.trial_id]) if u != me),
    )


def _fmt_paper(paper: Mapping[str, Any]) -> str:
    return " ".join(f"{k}={'lost' if v is None else v}" for k, v in paper.items())


def render_text(plan: Plan) -> str:
    """Human-readable plan: one block per table, then the totals and the estimate."""
    lines = []
    for table in plan.tables:
        lines.append(f"== {table} (preset {plan.preset})")
        for row in (r for r in plan.rows if r.table == table):
            params = "params ?" if row.params is None else f"params {row.params:,}"
            if row.coco_params is not None:
                params += f" ({row.classes} classes; with COCO's 80: {row.coco_params:,})"
            printed = params_as_printed(row.paper_params, row.paper.get(PARAMS_COLUMN))
            if printed is not None:
                same = printed == row.paper[PARAMS_COLUMN]
                params += f" (= {printed}, {'as printed' if same else 'paper differs'})"
            seed = f" seed {row.seed}" if any(r.seed for r in plan.rows) else ""
            lines.append(
                f"  {row.row:<6} {row.label:<18} trial {row.trial}{seed}  {params}  [{row.status}]"
            )
            lines.append(f"         paper: {_fmt_paper(row.paper)}")
            if row.evaluation.split("/", 1)[1] != "final":
                lines.append(f"         evaluation-only variant {row.evaluation}")
            if row.shared_with:
                lines.append(f"         same training as: {', '.join(row.shared_with)}")
    lines += _summary(plan)
    return "\n".join(lines)


def _fmt_resources(resources: Mapping[str, float]) -> str:
    """``8 GPUs, 16 CPUs, 8 data-parallel workers`` (workers as the execution layer counts)."""
    from sbr.specs.schema import trial_workers

    parts = [f"{resources[k]:g} {k[:-1].upper()}s" for k in ("gpus", "cpus") if k in resources]
    workers = trial_workers(resources)
    parts.append(f"{workers} data-parallel workers" if workers > 1 else "1 process")
    return ", ".join(parts)


def _summary(plan: Plan) -> list[str]:
    est = plan.estimate
    unit = {"gpu_hours": "GPU-hours", "cpu_minutes": "CPU-minutes"}[est.unit]
    lines = [
        f"{len(plan.rows)} rows -> {plan.trainings} unique trainings, "
        f"{plan.evaluations} evaluations"
    ]
    if plan.resources:
        lines.append(f"per trial: {_fmt_resources(plan.resources)}")
    if est.total is None:
        lines.append(f"estimate: unavailable ({est.note})")
    else:
        lines.append(
            f"estimate: {est.total:,.1f} {unit} ({est.trainings:,.1f} training, "
            f"{est.evaluations:,.1f} evaluation); without deduplication {est.without_dedup:,.1f}, "
            f"saved {round(est.saved, 1) + 0.0:,.1f} {unit}"
        )
        lines.append(f"  figures: {est.source}")
    return lines


__all__: Sequence[str] = [
    "Estimate",
    "ParamsProvider",
    "Plan",
    "PlanRow",
    "StatusLookup",
    "UNKNOWN_STATUS",
    "build_plan",
    "estimate_cost",
    "no_tracking_store",
    "render_text",
]
