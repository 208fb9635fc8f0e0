"""Locate, load and adjust MMEngine configs shipped with sbr or given by path."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mmengine.config import Config

CONFIG_ROOT = Path(__file__).resolve().parent.parent / "configs"


def resolve_config_path(name_or_path: str | Path) -> Path:
    """Return the config file for a path or a name relative to ``sbr/configs``.

    ``smoke/mask-rcnn_r18_fpn_smoke`` and ``smoke/mask-rcnn_r18_fpn_smoke.py`` both
    name the shipped smoke config; an existing path always wins.
    """
    path = Path(name_or_path)
    if path.is_file():
        return path.resolve()
    for candidate in (CONFIG_ROOT / path, CONFIG_ROOT / path.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    shipped = shipped_configs()
    close = difflib.get_close_matches(str(path.with_suffix("")), shipped, n=3, cutoff=0.5)
    hint = f"did you mean {', '.join(close)}?" if close else "see `sbr models params` for the list"
    raise FileNotFoundError(
        f"config {str(name_or_path)!r} is neither a file nor a config shipped in {CONFIG_ROOT};"
        f" {hint}"
    )


def shipped_configs() -> list[str]:
    """Names (relative to ``sbr/configs``, no suffix) of every shipped config."""
    return sorted(
        str(p.relative_to(CONFIG_ROOT).with_suffix(""))
        for p in CONFIG_ROOT.rglob("*.py")
        if "_base_" not in p.parts
    )


def load_config(name_or_path: str | Path, *, options: dict[str, Any] | None = None) -> Config:
    """Load a config by path or shipped name and merge dotted ``options`` into it."""
    from mmengine.config import Config

    cfg = Config.fromfile(str(resolve_config_path(name_or_path)))
    if options:
        cfg.merge_from_dict(options)
    return cfg


def set_data_root(cfg: Config, data_root: str | Path) -> None:
    """Point every dataset and COCO evaluator of ``cfg`` at ``data_root``.

    Dataset paths are kept relative to ``data_root`` (``ann_file``,
    ``data_prefix``); evaluators get an absolute ``ann_file`` because
    ``CocoMetric`` has no notion of a data root.
    """
    root = Path(data_root).resolve()
    for split in ("train", "val", "test"):
        loader = cfg.get(f"{split}_dataloader")
        if not loader:
            continue
        dataset = loader["dataset"]
        while "dataset" in dataset:  # wrappers such as RepeatDataset
            dataset = dataset["dataset"]
        dataset["data_root"] = f"{root}/"
        evaluator = cfg.get(f"{split}_evaluator")
        if split != "train" and evaluator and "ann_file" in evaluator:
            evaluator["ann_file"] = str(root / dataset["ann_file"])


def replace_key(node: Any, key: str, value_for: Callable[[Any], Any]) -> None:
    """Replace every ``key`` below ``node`` (dicts and lists) by ``value_for(old value)``."""
    if isinstance(node, Mapping):
        for name in list(node):
            if name == key:
                node[name] = value_for(node[name])
            else:
                replace_key(node[name], key, value_for)
    elif isinstance(node, list):
        for item in node:
            replace_key(item, key, value_for)


#: The dataloader keys of an MMEngine config.
DATALOADER_KEYS = ("train_dataloader", "val_dataloader", "test_dataloader")


def dataloader_datasets(cfg: Any) -> list[tuple[str, Any]]:
    """``(dataloader key, innermost dataset config)`` of every dataloader in ``cfg``."""
    found = []
    for name in DATALOADER_KEYS:
        loader = cfg.get(name)
        if not isinstance(loader, Mapping) or not isinstance(loader.get("dataset"), Mapping):
            continue
        dataset = loader["dataset"]
        while isinstance(dataset.get("dataset"), Mapping):  # wrappers (RepeatDataset...)
            dataset = dataset["dataset"]
        found.append((name, dataset))
    return found


def point_at_layout(cfg: Any, layout: Any) -> None:
    """Train loader reads ``layout.train``, val/test loaders ``layout.val`` (files, folders)."""
    for name, dataset in dataloader_datasets(cfg):
        split = layout.train if name == "train_dataloader" else layout.val
        dataset["ann_file"] = split.ann_file
        prefix = dataset.get("data_prefix")
        dataset["data_prefix"] = {**(prefix if isinstance(prefix, Mapping) else {}),
                                  "img": split.img_dir}  # fmt: skip


def write_classes(cfg: Any, names: Sequence[str]) -> None:
    """``names`` into every dataset's ``metainfo`` and their count into every ``num_classes``."""
    for _, dataset in dataloader_datasets(cfg):
        dataset["metainfo"] = {"classes": tuple(names)}
    if "model" in cfg:
        replace_key(cfg["model"], "num_classes", lambda _old: len(names))


def use_data(cfg: Any, data_root: str | Path) -> None:
    """Train and evaluate ``cfg`` on the dataset in ``data_root`` (``sbr train --data``).

    Its layout (``dataset.yaml`` or a COCO layout) gives the files, its annotation files
    the classes (metainfo and every ``num_classes``); then :func:`set_data_root`. A root
    without a recognisable layout keeps the config's files and classes.

    Raises:
        sbr.data.layout.DataError: If the dataset's splits or classes are unusable.
    """
    from sbr.data.layout import dataset_classes, find_layout

    layout = find_layout(data_root)
    if layout is not None:
        point_at_layout(cfg, layout)
        write_classes(cfg, [c.name for c in dataset_classes(layout)])
    set_data_root(cfg, data_root)


def parse_cfg_options(pairs: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """Parse MMEngine-style ``key=value`` overrides (values as Python literals).

    ``train_cfg.max_iters=4`` gives ``{"train_cfg.max_iters": 4}``; values that
    are not Python literals stay strings.
    """
    import ast

    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--cfg-options expects key=value, got {pair!r}")
        try:
            options[key.strip()] = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            options[key.strip()] = raw
    return options
