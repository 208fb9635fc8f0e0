"""Pre-flight of a dataset before any trial starts: the files, then the composed datasets.

:func:`check_split_files` looks at a layout's files (annotation file present, image
folder not empty) without parsing anything. :func:`check_composed_datasets` builds the
datasets of a composed trial config with MMDetection, exactly as training will, and
turns an empty result into one line that says why (no images, no annotation left for
the classes, everything filtered out): a user never meets MMDetection's
``need at least one array to concatenate``.

mmdet is imported inside :func:`check_composed_datasets` only.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sbr.data.layout import DataError, DatasetLayout, list_images

#: Dataloader key -> the split name used in messages.
_SPLIT_NAMES = {"train_dataloader": "train", "val_dataloader": "val", "test_dataloader": "test"}


def check_split_files(layout: DatasetLayout) -> None:
    """Raise :class:`DataError` if a split's annotation file is missing or its images are.

    Args:
        layout: From :func:`sbr.data.layout.detect_layout`.
    """
    for split in layout.splits:
        ann = split.ann_path(layout.root)
        if not ann.is_file():
            raise DataError(f"{ann} (split {split.name}): the annotation file does not exist")
        _check_folder(split.img_path(layout.root), ann, split.name)


def _check_folder(folder: Path, ann: Path, split: str) -> None:
    if list_images(folder):
        return
    state = "is empty (no image files)" if folder.is_dir() else "does not exist"
    raise DataError(f"{ann} (split {split}): its image folder {folder} {state}")


def _join(root: Any, path: Any) -> Path:
    path = Path(str(path))
    return path if path.is_absolute() or not root else Path(str(root)) / path


def _inner(loader: Mapping) -> Mapping:
    dataset = loader["dataset"]
    while isinstance(dataset.get("dataset"), Mapping):
        dataset = dataset["dataset"]
    return dataset


def dataset_configs(cfg: Any) -> dict[str, Any]:
    """Split name -> innermost dataset config of every dataloader of ``cfg`` (plain dicts)."""
    found = {}
    for key, split in _SPLIT_NAMES.items():
        loader = cfg.get(key)
        if isinstance(loader, Mapping) and isinstance(loader.get("dataset"), Mapping):
            dataset = _inner(loader)
            found[split] = dataset.to_dict() if hasattr(dataset, "to_dict") else dict(dataset)
    return found


def dataset_key(cfg: Any) -> str:
    """A key equal for two configs whose datasets are configured the same."""
    return json.dumps(dataset_configs(cfg), sort_keys=True, default=str)


def _classes(dataset: Mapping) -> tuple[str, ...] | None:
    meta = dataset.get("metainfo")
    names = meta.get("classes") if isinstance(meta, Mapping) else None
    return tuple(names) if names else None


def _diagnose(ann: Path, split: str, classes: tuple[str, ...] | None) -> str | None:
    """Why a split's dataset is empty (reads the annotation file); None: none of the plain
    causes (no images, no annotations, none of the classes) applies."""
    doc = json.loads(ann.read_text(encoding="utf-8"))
    images, anns = doc.get("images") or [], doc.get("annotations") or []
    where = f"{ann} (split {split})"
    if not images:
        return f"{where}: the file lists no images"
    names = {c.get("id"): c.get("name") for c in doc.get("categories") or []}
    wanted = set(classes) if classes else set(names.values())
    kept = [a for a in anns if names.get(a.get("category_id")) in wanted]
    shown = ", ".join(repr(c) for c in (classes or sorted(wanted, key=str)))
    if not anns:
        return f"{where}: the file has no annotations (classes {shown})"
    if not kept:
        used = sorted({a.get("category_id") for a in anns}, key=lambda i: (str(type(i)), i))
        return (
            f"{where}: no annotation is left for the classes {shown} "
            f"(its annotations use category ids {', '.join(map(str, used))})"
        )
    return None


def _filtered(ann: Path, split: str, filters: Any) -> str:
    return (
        f"{ann} (split {split}): no annotated image is left after filtering "
        f"(filter_cfg {filters}: crowd-only images and boxes under min_size are dropped)"
    )


def _has_instances(dataset: Any) -> bool:
    for index in range(len(dataset)):
        if any(not i.get("ignore_flag", 0) for i in dataset.get_data_info(index)["instances"]):
            return True
    return False


def check_composed_datasets(cfg: Any) -> dict[str, int]:
    """Build every dataloader's dataset of a composed config; images per split.

    A split whose annotation file or images are missing, whose dataset is empty, or
    (val/test) that holds no annotation of the classes raises one :class:`DataError`.

    Args:
        cfg: A composed trial config (:func:`sbr.specs.compose.compose_trial_config`).
    """
    from mmdet.registry import DATASETS
    from mmdet.utils import register_all_modules

    register_all_modules(init_default_scope=True)
    sizes: dict[str, int] = {}
    built: dict[str, int] = {}
    for split, dataset_cfg in dataset_configs(cfg).items():
        key = json.dumps(dataset_cfg, sort_keys=True, default=str)
        if key in built:
            sizes[split] = built[key]
            continue
        root = dataset_cfg.get("data_root")
        ann = _join(root, dataset_cfg.get("ann_file", ""))
        prefix = dataset_cfg.get("data_prefix") or {}
        classes = _classes(dataset_cfg)
        if not ann.is_file():
            raise DataError(f"{ann} (split {split}): the annotation file does not exist")
        _check_folder(_join(root, prefix.get("img", "")), ann, split)
        spec = copy.deepcopy(dataset_cfg)
        spec["pipeline"] = []  # the samples are not loaded here, only the annotations
        filters = dataset_cfg.get("filter_cfg")
        try:
            dataset = DATASETS.build(spec)
        except Exception as exc:  # noqa: BLE001 - mmdet raises many types on bad input
            why = _diagnose(ann, split, classes)  # an empty dataset fails to build
            if why is None:
                first = (str(exc).strip().splitlines() or [""])[0]
                why = f"{ann} (split {split}): MMDetection cannot read it: {type(exc).__name__}"
                why += f": {first}" if first else ""
            raise DataError(why) from None
        if len(dataset) == 0 or (split != "train" and not _has_instances(dataset)):
            raise DataError(_diagnose(ann, split, classes) or _filtered(ann, split, filters))
        sizes[split] = built[key] = len(dataset)
    return sizes


__all__ = ["check_composed_datasets", "check_split_files", "dataset_configs", "dataset_key"]
