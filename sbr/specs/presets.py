"""Presets: how every trial of an ablation is trained (data, schedule, device, cost model).

A preset is data: ``ablations/presets/<name>.yaml`` (or any path). Users add a preset
by dropping a file there or by passing its path; no code changes. See
``ablations/README.md`` for the format.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sbr.specs.checks import (
    MAPPING,
    OPT_STR,
    POS_INT,
    POS_NUMBER,
    STR,
    Kind,
    check_keys,
    expect,
    get,
    loc_of,
)
from sbr.specs.schema import (
    ABLATIONS_DIR,
    SCHEMA_VERSION,
    Override,
    check_config_exists,
    parse_overrides,
    parse_resources,
    user_specs_dir,
)
from sbr.specs.shrink import ShrinkRule
from sbr.yamlspec.errors import Loc, SpecError, format_key
from sbr.yamlspec.loader import load_yaml_file

PRESETS_DIR = ABLATIONS_DIR / "presets"


@dataclass(frozen=True)
class Schedule:
    """A named training schedule of a preset.

    Attributes:
        name: ``1x``, ``3x``...
        epochs: Length in epochs (for cost estimates; fractional for iteration schedules).
        iters: Length in iterations (iteration-based presets such as ``smoke``).
        overrides: Config overrides that set the schedule.
    """

    name: str
    epochs: float | None = None
    iters: int | None = None
    overrides: tuple[Override, ...] = ()


@dataclass(frozen=True)
class DatasetSwap:
    """Replace the data pipeline of every trial by the one of another config.

    Attributes:
        config: Config whose ``{train,val,test}_dataloader`` and ``{val,test}_evaluator``
            replace the trial's (the evaluator keeps the trial's ``metric``).
        num_classes: Written into every ``num_classes`` key of ``model``.
    """

    config: str
    num_classes: int | None = None


@dataclass(frozen=True)
class CostModel:
    """How a preset estimates the cost of a plan (all figures are data in the preset file).

    Attributes:
        unit: ``gpu_hours`` or ``cpu_minutes``.
        train_images_per_epoch: Images of one training epoch (``gpu_hours``).
        eval_images: Images of one evaluation (``gpu_hours``).
        train_time_factor: Cost of one training image in test-time images (``gpu_hours``).
        calibration_config: Config timed for a few iterations (``cpu_minutes``).
        calibration_iters: Iterations timed.
        reference_speed: Paper speed (img/s) of the model the calibration stands for.
        model_factor: Cost of one trial iteration in calibration iterations, at reference speed.
        eval_iters: Cost of one evaluation in training iterations.
        source: Where the figures come from (printed with the estimate).
    """

    unit: str
    train_images_per_epoch: int = 0
    eval_images: int = 0
    train_time_factor: float = 1.0
    calibration_config: str | None = None
    calibration_iters: int = 3
    reference_speed: float = 1.0
    model_factor: float = 1.0
    eval_iters: float = 0.0
    source: str = ""


@dataclass(frozen=True)
class Preset:
    """A parsed preset file."""

    name: str
    file: str
    description: str = ""
    data_root: str | None = None
    device: str = "cuda"
    dataset: DatasetSwap | None = None
    replace_types: tuple[tuple[str, str], ...] = ()
    overrides: tuple[Override, ...] = ()
    schedules: Mapping[str, Schedule] = field(default_factory=dict)
    resources: tuple[tuple[str, float], ...] = ()
    cost: CostModel = CostModel(unit="gpu_hours")
    shrink: ShrinkRule | None = None
    schedule_locs: Mapping[str, Loc] = field(default_factory=dict, compare=False)
    #: Seeds per side a cross-training claim needs (reports only: not in :meth:`identity`).
    min_seeds: int | None = None

    def identity(self) -> dict[str, Any]:
        """What a trial's hash takes from the preset (name, data and overrides, not the cost,
        not ``min_seeds``: how many seeds a verdict needs does not change a training)."""
        return {
            "name": self.name,
            "device": self.device,
            "dataset": None
            if self.dataset is None
            else {"config": self.dataset.config, "num_classes": self.dataset.num_classes},
            "replace_types": [list(pair) for pair in self.replace_types],
            "overrides": [[o.path, o.value] for o in self.overrides],
            # only when set, so the trial ids of presets without the rule stay as they were
            **({"shrink": self.shrink.identity()} if self.shrink is not None else {}),
        }


_PRESET_KEYS = (
    "schema_version", "name", "description", "data_root", "device", "dataset",
    "replace_types", "overrides", "schedules", "resources", "cost", "shrink", "min_seeds",
)  # fmt: skip
_COST_KEYS = (
    "unit", "train_images_per_epoch", "eval_images", "train_time_factor", "calibration_config",
    "calibration_iters", "reference_speed", "model_factor", "eval_iters", "source",
)  # fmt: skip
_NUMBER = Kind(lambda v: isinstance(v, (int, float)) and not isinstance(v, bool), "a number")


def _parse_schedules(node: Any) -> tuple[dict[str, Schedule], dict[str, Loc]]:
    path = ("schedules",)
    expect(node, MAPPING, where=loc_of(node), path=path)
    schedules, locs = {}, {}
    for name, body in node.items():
        sub = (*path, str(name))
        expect(body, MAPPING, where=loc_of(node, name), path=sub)
        check_keys(body, sub, ("epochs", "iters", "overrides"))
        schedules[str(name)] = Schedule(
            name=str(name),
            epochs=get(body, "epochs", POS_NUMBER, sub),
            iters=get(body, "iters", POS_INT, sub),
            overrides=parse_overrides(body.get("overrides"), (*sub, "overrides")),
        )
        locs[str(name)] = loc_of(node, name)
    return schedules, locs


def _parse_cost(node: Any) -> CostModel:
    path = ("cost",)
    expect(node, MAPPING, where=loc_of(node), path=path)
    check_keys(node, path, _COST_KEYS, required=("unit",))
    unit = get(node, "unit", STR, path)
    if unit not in ("gpu_hours", "cpu_minutes"):
        raise SpecError(
            loc_of(node, "unit"), "cost.unit", f"expected gpu_hours or cpu_minutes, got {unit!r}"
        )
    values = {key: get(node, key, _NUMBER, path) for key in _COST_KEYS[1:4] + _COST_KEYS[5:9]}
    return CostModel(
        unit=unit,
        calibration_config=get(node, "calibration_config", STR, path),
        source=get(node, "source", OPT_STR, path, "") or "",
        **{k: v for k, v in values.items() if v is not None},
    )


_INT_PAIR = Kind(
    lambda v: isinstance(v, list) and len(v) == 2 and all(POS_INT.check(x) for x in v),
    "a list of two positive integers",
)
_INT_LIST = Kind(
    lambda v: isinstance(v, list) and len(v) > 0 and all(POS_INT.check(x) for x in v),
    "a non-empty list of positive integers",
)
_SHRINK_LISTS = {
    "anchor_scales": _INT_LIST,
    "train_proposals": _INT_PAIR,
    "test_proposals": _INT_PAIR,
}


def _parse_shrink(node: Any) -> ShrinkRule:
    """The ``shrink:`` section: :class:`~sbr.specs.shrink.ShrinkRule` fields."""
    path = ("shrink",)
    expect(node, MAPPING, where=loc_of(node), path=path)
    fields = tuple(ShrinkRule.__dataclass_fields__)
    check_keys(node, path, fields)
    values = {}
    for key in fields:
        kind = _SHRINK_LISTS.get(key, POS_INT)
        value = get(node, key, kind, path)
        if value is not None:
            values[key] = tuple(value) if isinstance(value, list) else value
    rule = ShrinkRule(**values)
    plain_ok = rule.backbone_depth in (18, 34, 50, 101, 152)
    if not plain_ok or rule.depth_with_plugins not in (50, 101, 152):
        raise SpecError(
            loc_of(node), "shrink", "ResNet depths: 18/34/50/101/152 (with plugins: 50/101/152)"
        )
    return rule


def parse_preset(node: Any, *, file: str) -> Preset:
    """Validate a loaded preset document (errors carry ``file:line`` and the key)."""
    if not isinstance(node, dict):
        raise SpecError(Loc(file, 1), "<top>", "expected a mapping")
    check_keys(node, (), _PRESET_KEYS, required=("schema_version", "name", "schedules", "cost"))
    if node["schema_version"] != SCHEMA_VERSION:
        raise SpecError(
            loc_of(node, "schema_version"), "schema_version", f"expected {SCHEMA_VERSION}"
        )
    dataset = None
    if node.get("dataset") is not None:
        ds = get(node, "dataset", MAPPING, ())
        check_keys(ds, ("dataset",), ("config", "num_classes"), required=("config",))
        config = get(ds, "config", STR, ("dataset",))
        check_config_exists(config, where=loc_of(ds, "config"), path=("dataset", "config"))
        dataset = DatasetSwap(config, get(ds, "num_classes", POS_INT, ("dataset",)))
    types = get(node, "replace_types", MAPPING, (), {})
    for key in types:
        get(types, key, STR, ("replace_types",))
    resources = parse_resources(node["resources"], ("resources",)) if "resources" in node else ()
    schedules, schedule_locs = _parse_schedules(node["schedules"])
    device = get(node, "device", STR, (), "cuda")
    if device not in ("cpu", "cuda"):
        raise SpecError(loc_of(node, "device"), "device", f"expected cpu or cuda, got {device!r}")
    return Preset(
        name=get(node, "name", STR, ()),
        file=file,
        description=get(node, "description", OPT_STR, (), "") or "",
        data_root=get(node, "data_root", OPT_STR, ()),
        device=device,
        dataset=dataset,
        replace_types=tuple((str(k), str(v)) for k, v in types.items()),
        overrides=parse_overrides(node.get("overrides"), ("overrides",)),
        schedules=schedules,
        resources=resources,
        cost=_parse_cost(node["cost"]),
        shrink=_parse_shrink(node["shrink"]) if node.get("shrink") is not None else None,
        schedule_locs=schedule_locs,
        min_seeds=get(node, "min_seeds", POS_INT, ()),
    )


def presets_dirs(presets_dir: str | Path | None = None) -> list[Path]:
    """Folders searched for a preset name: ``presets_dir``, else ``$SBR_SPECS/presets`` (if
    set) then sbr's shipped presets (``ablations/presets``)."""
    if presets_dir:
        return [Path(presets_dir)]
    user = user_specs_dir()
    return [user / "presets", PRESETS_DIR] if user is not None else [PRESETS_DIR]


def available_presets(presets_dir: str | Path | None = None) -> list[str]:
    """Names of the preset files found by :func:`presets_dirs`."""
    return sorted({p.stem for folder in presets_dirs(presets_dir) for p in folder.glob("*.yaml")})


def resolve_preset_file(name_or_path: str | Path, presets_dir: str | Path | None = None) -> Path:
    """A preset file path, or a name looked up in ``presets_dir``.

    Raises:
        SpecError: If neither exists (with the known names and close matches).
    """
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        return path
    for folder in presets_dirs(presets_dir):
        candidate = folder / f"{name_or_path}.yaml"
        if candidate.is_file():
            return candidate
    known = available_presets(presets_dir)
    close = difflib.get_close_matches(str(name_or_path), known, n=2)
    raise SpecError(
        None,
        format_key(("preset",)),
        f"unknown preset {str(name_or_path)!r} (known: {', '.join(known)})",
        close,
    )


def load_preset(name_or_path: str | Path, presets_dir: str | Path | None = None) -> Preset:
    """Load and validate a preset by name (``smoke``, ``paper``...) or path."""
    path = resolve_preset_file(name_or_path, presets_dir)
    return parse_preset(load_yaml_file(path), file=str(path))
