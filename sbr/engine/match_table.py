"""The match table of one COCO evaluation, and its artifact file.

A :class:`MatchTable` holds, per detection, whether it is a true positive or ignored at
each IoU threshold and area range, and per (image, category) how many ground truths
count: what :mod:`sbr.reports.bootstrap` needs to accumulate COCO AP for any image
weights. :mod:`sbr.engine.per_image` takes it from pycocotools' ``COCOeval``; the
reports read it back with :func:`read_match_tables`. Shapes: ``D`` detections, ``P``
(image, category) pairs with ground truth, ``A`` area ranges, ``T`` IoU thresholds.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

#: COCO's IoU thresholds 0.50:0.05:0.95 (as ``COCOeval.Params`` builds them).
IOU_THRESHOLDS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
#: COCO's area ranges: all, small, medium, large.
AREA_RANGES = np.array([[0, 1e5**2], [0, 32**2], [32**2, 96**2], [96**2, 1e5**2]], dtype=float)
AREA_NAMES = ("all", "small", "medium", "large")
#: File format version of :func:`write_match_tables`.
FORMAT_VERSION = 1


@dataclass(frozen=True)
class MatchTable:
    """COCOeval's per-image matching of one evaluation and one IoU type.

    Detections are stored image by image (``image_ids`` order), within an image by
    category, within a pair by decreasing score (stable): the order COCOeval concatenates
    them in before its global stable sort. Bit ``t`` of ``det_tp`` and ``det_ignored`` is
    IoU threshold ``t``.
    """

    iou_type: str  # bbox or segm
    image_ids: np.ndarray  # [I] image ids in COCOeval's order (sorted)
    category_ids: np.ndarray  # [K] category ids (sorted)
    det_image: np.ndarray  # [D] image index of each stored detection
    det_category: np.ndarray  # [D] category index
    det_score: np.ndarray  # [D] float64 (stored as float32 when that is lossless)
    det_tp: np.ndarray  # [D, A] uint16 bits: a true positive at threshold t in area a
    det_ignored: np.ndarray  # [D, A] uint16 bits: ignored there
    gt_image: np.ndarray  # [P] image index of each (image, category) pair with ground truth
    gt_category: np.ndarray  # [P] category index of the pair
    gt_counted: np.ndarray  # [P, A] ground truths of the pair that count (not ignored)
    iou_thresholds: np.ndarray = field(default_factory=lambda: IOU_THRESHOLDS.copy())  # [T]
    area_ranges: np.ndarray = field(default_factory=lambda: AREA_RANGES.copy())  # [A, 2]
    max_det: int = 100  # detections kept per (image, category)

    @property
    def n_images(self) -> int:
        return int(self.image_ids.size)

    @property
    def n_categories(self) -> int:
        return int(self.category_ids.size)


_ARRAYS = (
    "image_ids", "category_ids", "det_image", "det_category", "det_score", "det_tp",
    "det_ignored", "gt_image", "gt_category", "gt_counted", "iou_thresholds", "area_ranges",
)  # fmt: skip


def write_match_tables(
    path: str | Path, tables: Mapping[str, MatchTable], meta: Mapping[str, Any] | None = None
) -> Path:
    """Write match tables (by IoU type) and JSON ``meta`` into one compressed ``.npz``;
    scores as float32 when that loses nothing (mmdet's are float32), else float64."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {}
    header = {"format": FORMAT_VERSION, "iou_types": sorted(tables), "meta": dict(meta or {})}
    for iou_type, table in tables.items():
        header[f"{iou_type}.max_det"] = table.max_det
        for name in _ARRAYS:
            value = getattr(table, name)
            if name == "det_score" and np.array_equal(value.astype(np.float32), value):
                value = value.astype(np.float32)
            arrays[f"{iou_type}.{name}"] = value
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    with open(path, "wb") as handle:
        np.savez_compressed(handle, **arrays)
    return path


def read_match_tables(path: str | Path) -> tuple[dict[str, MatchTable], dict[str, Any]]:
    """Read :func:`write_match_tables`' file: ``({iou_type: table}, meta)``.

    Raises:
        ValueError: If the file is not a match-table file of a known format.
    """
    with np.load(Path(path), allow_pickle=False) as data:
        if "header" not in data:
            raise ValueError(f"{path}: not a per-image evaluation file (no header)")
        header = json.loads(data["header"].tobytes().decode())
        if header.get("format") != FORMAT_VERSION:
            raise ValueError(f"{path}: unknown per-image format {header.get('format')!r}")
        tables = {}
        for iou_type in header["iou_types"]:
            values = {name: data[f"{iou_type}.{name}"] for name in _ARRAYS}
            values["det_score"] = values["det_score"].astype(np.float64)
            tables[iou_type] = MatchTable(
                iou_type=iou_type, max_det=int(header[f"{iou_type}.max_det"]), **values
            )
    return tables, header.get("meta", {})


__all__ = [
    "AREA_NAMES", "AREA_RANGES", "FORMAT_VERSION", "IOU_THRESHOLDS", "MatchTable",
    "read_match_tables", "write_match_tables",
]  # fmt: skip
