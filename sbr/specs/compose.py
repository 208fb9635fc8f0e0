"""Composition: a trial (spec row + preset + data) -> the MMEngine config it runs with.

One pass, in the order the execution layer applies it: base config, the preset's dataset
swap, the trial's data layout and classes, the preset's model rules (type renames, the
``shrink`` rule of the ``mini`` preset), the preset's, the schedule's and the row's
overrides, the seed, the data root; an evaluation adds its ``eval_overrides``. Every
dotted override path is checked against the config composed so far as it is applied
(unless written ``+path``, or the key is an explicit argument of the class named by the
enclosing ``type``). :mod:`sbr.specs.validate` checks what comes out.

mmengine/mmdet are imported inside the functions: importing this module is cheap.
"""

from __future__ import annotations

import copy
import difflib
import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from sbr.engine.config import DATALOADER_KEYS, replace_key
from sbr.specs.expand import EvalSpec, TrialSpec
from sbr.specs.presets import Preset
from sbr.specs.schema import Override
from sbr.yamlspec.errors import SpecError, format_key


def _walk_missing(cfg: Any, parts: Sequence[str]) -> tuple[int, Any] | None:
    """Index of the first part of ``parts`` absent from ``cfg`` and its parent, or None."""
    node = getattr(cfg, "_cfg_dict", cfg)  # an mmengine Config wraps a ConfigDict
    for depth, part in enumerate(parts):
        if isinstance(node, Mapping):
            if part not in node:
                return depth, node
            node = node[part]
        elif isinstance(node, (list, tuple)):
            if not part.isdigit() or int(part) >= len(node):
                return depth, node
            node = node[int(part)]
        else:
            return depth, node
    return None


def _class_params(type_name: Any) -> list[str]:
    """Explicit ``__init__`` arguments of a registered class (MODELS, TASK_UTILS), else []."""
    if not isinstance(type_name, str):
        return []
    from mmdet.registry import MODELS, TASK_UTILS

    for registry in (MODELS, TASK_UTILS):
        try:
            cls = registry.get(type_name)
        except Exception:  # noqa: BLE001 - a registry may raise on odd names
            cls = None
        if cls is not None:
            params = inspect.signature(cls.__init__).parameters.values()
            return [
                p.name for p in params if p.kind is p.POSITIONAL_OR_KEYWORD and p.name != "self"
            ]
    return []


def check_override_path(cfg: Any, override: Override, *, key: str) -> None:
    """Raise a SpecError if ``override.path`` does not exist in ``cfg``.

    A missing last key is accepted when it is an explicit argument of the class named
    by its parent's ``type`` (e.g. ``num_stages_test`` of ``R3RoIHead``); ``+path``
    overrides (``override.new``) are never checked.
    """
    if override.new:
        return
    parts = override.path.split(".")
    missing = _walk_missing(cfg, parts)
    if missing is None:
        return
    depth, parent = missing
    parent = getattr(parent, "_cfg_dict", parent)
    if isinstance(parent, Mapping):
        params = _class_params(parent.get("type"))
        if depth == len(parts) - 1 and parts[depth] in params:
            return
        known = sorted({str(k) for k in parent} | set(params))
        where = ".".join(parts[:depth]) or "<top level>"
        close = difflib.get_close_matches(parts[depth], known, n=2, cutoff=0.6)
        message = (
            f"unknown config key {parts[depth]!r} in {where}"
            f" (write '+{override.path}' for a new key)"
        )
        raise SpecError(override.loc, key, message, close)
    kind = (
        f"a list of {len(parent)}" if isinstance(parent, (list, tuple)) else type(parent).__name__
    )
    raise SpecError(
        override.loc,
        key,
        f"{'.'.join(parts[: depth + 1])!r} does not exist ({'.'.join(parts[:depth])} is {kind})",
    )


def _apply(cfg: Any, overrides: Iterable[Override], key_of: Callable[[Override], str]) -> None:
    for override in overrides:
        check_override_path(cfg, override, key=key_of(override))
        cfg.merge_from_dict({override.path: copy.deepcopy(override.value)})


_EVAL_KEYS = ("val_evaluator", "test_evaluator")


class ConfigCache:
    """Loaded base configs, one ``Config.fromfile`` per file (copies handed out)."""

    def __init__(self) -> None:
        self._configs: dict[str, Any] = {}

    def get(self, config: str) -> Any:
        """A deep copy of the loaded config."""
        if config not in self._configs:
            from sbr.engine.config import load_config

            self._configs[config] = load_config(config)
        return copy.deepcopy(self._configs[config])


def _swap_dataset(cfg: Any, preset: Preset, cache: ConfigCache) -> None:
    swap = preset.dataset
    if swap is None:
        return
    data_cfg = cache.get(swap.config)
    for name in DATALOADER_KEYS:
        if name in data_cfg:
            cfg[name] = copy.deepcopy(data_cfg[name])
    for name in _EVAL_KEYS:
        if name in data_cfg and cfg.get(name) is not None:
            metric = cfg[name].get("metric") if isinstance(cfg[name], Mapping) else None
            cfg[name] = copy.deepcopy(data_cfg[name])
            if metric is not None:
                cfg[name]["metric"] = metric
    if swap.num_classes is not None and "model" in cfg:
        replace_key(cfg["model"], "num_classes", lambda _old: swap.num_classes)


def _use_dataset(cfg: Any, trial: TrialSpec) -> None:
    """Point the dataloaders at the trial's dataset layout and write its classes.

    The train dataloader reads the train split, val and test the val split (files from
    :func:`sbr.data.layout.detect_layout`). The classes (from the data, see
    :attr:`TrialSpec.classes`) go into every dataset's ``metainfo`` and every
    ``num_classes`` of the model. Without the data (a plan made before it exists) the
    preset's ``dataset.num_classes`` applies, else the swapped dataset's own class list.
    """
    from sbr.data.layout import find_layout
    from sbr.engine.config import dataloader_datasets, point_at_layout, write_classes

    layout = find_layout(trial.data_root)  # None: no data yet (a run's pre-flight refuses it)
    if layout is not None:
        point_at_layout(cfg, layout)
    if trial.classes is not None:
        write_classes(cfg, [c.name for c in trial.classes])
        return
    datasets = dataloader_datasets(cfg)
    if trial.preset.dataset is not None and trial.preset.dataset.num_classes is not None:
        count: int | None = trial.preset.dataset.num_classes
    else:
        meta = datasets[0][1].get("metainfo") if datasets else None
        given = meta.get("classes") if isinstance(meta, Mapping) else None
        count = len(given) if trial.preset.dataset is not None and given else None
    if count is not None and "model" in cfg:
        replace_key(cfg["model"], "num_classes", lambda _old: count)


def compose_trial_config(
    trial: TrialSpec, *, cache: ConfigCache | None = None, row_key: str = "rows"
) -> Any:
    """The MMEngine Config a trial trains with (every override path checked).

    In order: the base config, the preset's dataset swap and the trial's data (layout and
    classes), the preset's model rules (type renames, ``shrink``), the preset's overrides,
    the schedule's, the row's, the seed and the data root.

    Args:
        trial: The trial.
        cache: Loaded-config cache shared across trials.
        row_key: Key path prefix naming the row the trial's overrides come from.

    Raises:
        SpecError: For an unknown override path.
    """
    from sbr.engine.config import set_data_root

    cache = cache or ConfigCache()
    cfg = cache.get(trial.config)
    _swap_dataset(cfg, trial.preset, cache)
    _use_dataset(cfg, trial)
    _apply_model_rules(cfg, trial.preset)
    _apply_overrides(cfg, trial, row_key)
    cfg.merge_from_dict({"randomness.seed": trial.seed})
    if trial.data_root is not None:
        set_data_root(cfg, trial.data_root)
    return cfg


def _apply_model_rules(cfg: Any, preset: Preset) -> None:
    """The preset's type renames (``SyncBN`` -> ``BN``) and CPU-scale ``shrink`` rule."""
    if "model" not in cfg:
        return
    types = dict(preset.replace_types)
    if types:
        replace_key(cfg["model"], "type", lambda t: types.get(t, t) if isinstance(t, str) else t)
    if preset.shrink is not None:  # the mini preset's CPU-scale rule
        from sbr.specs.shrink import mmdet_channel_defaults, shrink_model

        shrink_model(cfg["model"], preset.shrink, mmdet_channel_defaults)


def _apply_overrides(cfg: Any, trial: TrialSpec, row_key: str) -> None:
    """The preset's, the schedule's and the row's overrides, in this order."""
    preset, schedule = trial.preset, trial.schedule
    _apply(cfg, preset.overrides, lambda o: format_key(("overrides", o.path)))
    _apply(
        cfg,
        preset.schedules[schedule].overrides,
        lambda o: format_key(("schedules", schedule, "overrides", o.path)),
    )
    _apply(cfg, trial.overrides, lambda o: f"{row_key}.overrides{quoted(o.path)}")


def quoted(path: str) -> str:
    return f'."{path}"' if "." in path else f".{path}"


def compose_eval_config(trial_cfg: Any, evaluation: EvalSpec, *, row_key: str = "rows") -> Any:
    """The config an evaluation runs with: the trial's plus the evaluation-only overrides."""
    cfg = copy.deepcopy(trial_cfg)
    _apply(cfg, evaluation.overrides, lambda o: f"{row_key}.eval_overrides{quoted(o.path)}")
    return cfg
