"""Deterministic synthetic instance-segmentation data in COCO format.

Each image shows 1-5 shaded shapes (rectangles, ellipses, triangles, stars) in
random colours over a gradient, blotch and stripe background; about 5 % of the
images show none. The class is given by the shape only; colour, size (spread
over COCO's small/medium/large ranges), aspect and rotation are random. Shapes
are drawn largest first, each over the earlier ones, and the annotations
describe what is left visible: every instance keeps at least
:data:`VISIBLE_MIN` of its full area (placements that would hide more, or punch
a hole into an earlier shape, are retried), its polygons are traced from the
visible mask, and ``area``/``bbox`` are measured on the polygons as pycocotools
rasterises them, so ``annToMask`` reproduces ``area`` exactly.

Layout written by :func:`synthesize` (the training configs rely on it)::

    OUT/annotations/instances_train.json   OUT/train/000000.jpg ...
    OUT/annotations/instances_val.json     OUT/val/000000.jpg ...

The same arguments give byte-identical files: all randomness comes from
``numpy.random.default_rng`` seeded with ``(seed, split, image index)``, JSON is
written with sorted keys and rounded floats, and JPEGs carry no metadata.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

CATEGORIES: tuple[dict[str, Any], ...] = (
    {"id": 1, "name": "rectangle", "supercategory": "shape"},
    {"id": 3, "name": "ellipse", "supercategory": "shape"},
    {"id": 7, "name": "triangle", "supercategory": "shape"},
    {"id": 12, "name": "star", "supercategory": "shape"},
)
"""COCO categories; ids are deliberately non-contiguous, as in COCO itself."""

CLASS_NAMES: tuple[str, ...] = tuple(c["name"] for c in CATEGORIES)
"""Category names in id order (what ``metainfo=dict(classes=...)`` needs)."""

SPLITS: tuple[str, ...] = ("train", "val")
VISIBLE_MIN = 0.5
"""Smallest visible fraction of a shape's full area that placement accepts."""
DROP_BELOW = 0.4
"""An instance whose annotated area ends below this fraction is dropped."""
JPEG_QUALITY = 92
EMPTY_EVERY = 20
"""Images ``N-1, N-1-20, ...`` of a split have no objects (about 5 %, at least one)."""

SMALL_MAX = 32**2
LARGE_MIN = 96**2
_MIN_AREA = 100.0
_MAX_AREA_FRACTION = 0.6
_BUCKET_WEIGHTS = (0.3, 0.35, 0.35)
_MAX_OBJECTS = 5
_ATTEMPTS = 12
_STAR_INNER = 0.45
_SIMPLIFY_EPS = 0.7
"""Contour simplification tolerance in half-pixels (upsampled contour units)."""


# --------------------------------------------------------------------------- shapes


def _unit_polygon(rng: np.random.Generator, cls: int) -> np.ndarray:
    """Outline of shape class ``cls`` around the origin, float64 (K, 2) in ~[-1, 1]."""
    name = CLASS_NAMES[cls]
    if name == "rectangle":
        return np.array([[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]])
    if name == "ellipse":
        t = np.linspace(0.0, 2.0 * math.pi, 48, endpoint=False)
        return np.stack([np.cos(t), np.sin(t)], axis=1)
    if name == "triangle":
        apex = rng.uniform(-0.7, 0.7)
        return np.array([[-1.0, 1.0], [1.0, 1.0], [apex, -1.0]])
    t = -0.5 * math.pi + np.arange(10) * (math.pi / 5.0)
    r = np.where(np.arange(10) % 2 == 0, 1.0, _STAR_INNER)
    return np.stack([r * np.cos(t), r * np.sin(t)], axis=1)


def _polygon_area(pts: np.ndarray) -> float:
    """Shoelace area of a closed polygon given as (K, 2) points."""
    x, y = pts[:, 0], pts[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def _area_range(size: int) -> list[tuple[float, float]]:
    """Full-area ranges (small, medium, large) that fit an image of ``size`` px."""
    top = _MAX_AREA_FRACTION * size * size
    bounds = [(_MIN_AREA, SMALL_MAX), (SMALL_MAX, LARGE_MIN), (LARGE_MIN * 1.2, math.inf)]
    return [(lo, min(hi, top)) for lo, hi in bounds]


def _sample_area(rng: np.random.Generator, size: int) -> float:
    """Target full area: pick a COCO size bucket, then log-uniform inside it."""
    ranges = _area_range(size)
    weights = np.array(
        [w if hi > lo else 0.0 for w, (lo, hi) in zip(_BUCKET_WEIGHTS, ranges, strict=True)]
    )
    bucket = rng.choice(len(ranges), p=weights / weights.sum())
    lo, hi = ranges[bucket]
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def _random_polygon(rng: np.random.Generator, cls: int, size: int, area: float) -> np.ndarray:
    """A randomly posed shape of class ``cls`` and about ``area`` px² inside a ``size`` px image.

    Returns:
        float64 (K, 2) vertices as (x, y); shapes too wide for the image are shrunk.
    """
    pts = _unit_polygon(rng, cls)
    compact = CLASS_NAMES[cls] == "star" or area > 0.25 * size * size
    spread = 0.25 if compact else 0.7
    aspect = math.exp(rng.uniform(-spread, spread))
    pts = pts * np.array([math.sqrt(aspect), 1.0 / math.sqrt(aspect)])
    angle = rng.uniform(0.0, 2.0 * math.pi)
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    pts = pts @ rot.T
    pts *= math.sqrt(area / _polygon_area(pts))
    extent = float((pts.max(axis=0) - pts.min(axis=0)).max())
    if extent > 0.95 * (size - 1):
        pts *= 0.95 * (size - 1) / extent
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    offset = rng.uniform(-lo, (size - 1) - hi)
    return pts + offset


def _rasterise(pts: np.ndarray, size: int) -> np.ndarray:
    """Filled polygon as a bool (size, size) mask (sub-pixel vertices, 4 fraction bits)."""
    import cv2

    mask = np.zeros((size, size), np.uint8)
    fixed = np.round(pts * 16.0).astype(np.int32)
    cv2.fillPoly(mask, [fixed], 1, lineType=cv2.LINE_8, shift=4)
    return mask.astype(bool)


def _has_hole(mask: np.ndarray) -> bool:
    """Whether ``mask`` encloses background, which COCO polygons cannot express."""
    import cv2

    _, hierarchy = cv2.findContours(mask.astype(np.uint8), cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    return hierarchy is not None and bool((hierarchy[0][:, 3] >= 0).any())


# --------------------------------------------------------------------------- drawing


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """Gradient between two colours plus blotchy texture and stripes, float32 (H, W, 3)."""
    import cv2

    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / max(size - 1, 1)
    angle = rng.uniform(0.0, 2.0 * math.pi)
    t = (math.cos(angle) * xx + math.sin(angle) * yy)[..., None]
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    c0, c1 = rng.uniform(0, 255, size=(2, 3)).astype(np.float32)
    img = c0 * (1.0 - t) + c1 * t
    blotches = rng.normal(0.0, 28.0, size=(5, 5, 3)).astype(np.float32)
    img += cv2.resize(blotches, (size, size), interpolation=cv2.INTER_CUBIC)
    freq = rng.uniform(4.0, 12.0) * 2.0 * math.pi
    phase = rng.uniform(0.0, 2.0 * math.pi)
    img += (12.0 * np.sin(freq * (xx * math.sin(angle) - yy * math.cos(angle)) + phase))[..., None]
    return img


def _object_colour(rng: np.random.Generator, img: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """A random colour that stands out from the pixels it will cover, float32 (3,)."""
    under = img[mask].mean(axis=0)
    colour = rng.uniform(0, 255, size=3).astype(np.float32)
    for _ in range(6):
        if float(np.abs(colour - under).sum()) >= 120.0:
            break
        colour = rng.uniform(0, 255, size=3).astype(np.float32)
    return colour


def _paint(rng: np.random.Generator, img: np.ndarray, mask: np.ndarray) -> None:
    """Paint ``mask`` on ``img`` in place with a shaded random colour."""
    colour = _object_colour(rng, img, mask)
    ys, xs = np.nonzero(mask)
    angle = rng.uniform(0.0, 2.0 * math.pi)
    ramp = math.cos(angle) * (xs - xs.mean()) + math.sin(angle) * (ys - ys.mean())
    ramp = ramp / max(float(np.abs(ramp).max()), 1.0)
    img[ys, xs] = colour + (30.0 * ramp)[:, None]


# --------------------------------------------------------------------------- placement


def _fits(shape: np.ndarray, placed: list[dict[str, Any]]) -> bool:
    """Whether drawing ``shape`` on top keeps every earlier instance well visible and hole-free."""
    for obj in placed:
        if not (obj["visible"] & shape).any():
            continue
        left = obj["visible"] & ~shape
        if left.sum() < VISIBLE_MIN * obj["full"] or _has_hole(left):
            return False
    return True


def _render(rng: np.random.Generator, size: int, empty: bool) -> tuple[np.ndarray, list[dict]]:
    """Draw one image; returns uint8 RGB (H, W, 3) and the placed objects (class, masks)."""
    img = _background(rng, size)
    placed: list[dict[str, Any]] = []
    count = 0 if empty else int(rng.integers(1, _MAX_OBJECTS + 1))
    wanted = [(_sample_area(rng, size), int(rng.integers(len(CATEGORIES)))) for _ in range(count)]
    for area, cls in sorted(wanted, reverse=True):  # big shapes at the back
        for _attempt in range(_ATTEMPTS):
            shape = _rasterise(_random_polygon(rng, cls, size, area), size)
            if shape.sum() >= _MIN_AREA / 2 and _fits(shape, placed):
                break
        else:
            continue
        for obj in placed:
            obj["visible"] &= ~shape
        placed.append({"cls": cls, "visible": shape.copy(), "full": int(shape.sum())})
        _paint(rng, img, shape)
    img += rng.normal(0.0, 5.0, size=img.shape).astype(np.float32)
    return np.clip(np.round(img), 0, 255).astype(np.uint8), placed


# --------------------------------------------------------------------------- annotation


def mask_to_polygons(mask: np.ndarray, *, open_slivers: bool = False) -> list[list[float]]:
    """COCO polygons of a binary mask, one per connected part (holes are not represented).

    Contours are traced on a 2x nearest-neighbour upsampling, so that they follow
    pixel edges rather than pixel centres (pycocotools puts pixel ``x`` at
    ``[x, x + 1)``), then lightly simplified: rasterising them with pycocotools
    gives back the mask up to a few boundary pixels.

    Args:
        mask: bool or uint8 (H, W) mask.
        open_slivers: Remove parts thinner than 3 px first (morphological opening),
            as an occluder can leave them behind.

    Returns:
        Polygons ``[x0, y0, x1, y1, ...]`` (float, >= 3 vertices, non-zero area each);
        empty when the mask is.
    """
    import cv2

    mask = (np.asarray(mask) > 0).astype(np.uint8)
    if open_slivers:
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    mask = cv2.resize(mask, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    polys = []
    for contour in contours:
        pts = cv2.approxPolyDP(contour, _SIMPLIFY_EPS, True).reshape(-1, 2)
        if len(pts) >= 3 and cv2.contourArea(pts) > 0:
            polys.append([float(v) for v in ((pts + 0.5) / 2.0).reshape(-1)])
    return polys


def _measure(polys: list[list[float]], size: int) -> tuple[float, list[float]]:
    """Area and [x, y, w, h] box of polygons as pycocotools rasterises them."""
    from pycocotools import mask as mask_utils

    rle = mask_utils.merge(mask_utils.frPyObjects(polys, size, size))
    return float(mask_utils.area(rle)), [float(v) for v in mask_utils.toBbox(rle)]


def _annotations(placed: list[dict], size: int, image_id: int, next_id: int) -> list[dict]:
    """COCO annotation dicts for the objects of one image, ids from ``next_id``."""
    anns = []
    for obj in placed:
        visible = int(obj["visible"].sum())
        polys = mask_to_polygons(obj["visible"], open_slivers=visible < obj["full"])
        if not polys:
            continue
        area, bbox = _measure(polys, size)
        if area < DROP_BELOW * obj["full"] or bbox[2] <= 0 or bbox[3] <= 0:
            continue
        anns.append(
            {
                "id": next_id + len(anns),
                "image_id": image_id,
                "category_id": CATEGORIES[obj["cls"]]["id"],
                "segmentation": polys,
                "area": area,
                "bbox": bbox,
                "iscrowd": 0,
            }
        )
    return anns


def _round_floats(obj: Any) -> Any:
    """Copy of a JSON-like tree with every float rounded to 2 decimals."""
    if isinstance(obj, float):
        return round(obj, 2)
    if isinstance(obj, dict):
        return {k: _round_floats(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_round_floats(v) for v in obj]
    return obj


def area_bucket(area: float) -> str:
    """COCO size bucket of an area: ``small`` (< 32²), ``medium`` or ``large`` (> 96²)."""
    if area < SMALL_MAX:
        return "small"
    return "medium" if area <= LARGE_MIN else "large"


def empty_indices(count: int) -> set[int]:
    """Indices of the images without objects in a split of ``count`` images."""
    return set(range(count - 1, -1, -EMPTY_EVERY))


# --------------------------------------------------------------------------- splits


def _write_split(root: Path, split: str, split_no: int, seed: int, count: int, size: int) -> dict:
    """Write one split's JPEGs and annotation file; returns the COCO dict."""
    import cv2

    img_dir = root / split
    img_dir.mkdir(parents=True, exist_ok=True)
    empty = empty_indices(count)
    images, anns = [], []
    for index in range(count):
        rng = np.random.default_rng([seed, split_no, index])
        img, placed = _render(rng, size, empty=index in empty)
        name = f"{index:06d}.jpg"
        ok, buf = cv2.imencode(".jpg", img[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        if not ok:
            raise RuntimeError(f"could not encode {img_dir / name}")
        (img_dir / name).write_bytes(buf.tobytes())
        image_id = index + 1
        images.append(
            {"id": image_id, "file_name": name, "width": size, "height": size, "license": 1}
        )
        anns.extend(_annotations(placed, size, image_id, next_id=len(anns) + 1))
    coco = {
        "info": {
            "description": f"sbr synthetic shapes, split {split}, seed {seed}",
            "version": "1.0",
            "year": 2026,
            "contributor": "sbr",
            "url": "",
            "date_created": "2026-01-01 00:00:00",
        },
        "licenses": [{"id": 1, "name": "CC0-1.0 (synthetic)", "url": ""}],
        "images": images,
        "annotations": anns,
        "categories": [dict(c) for c in CATEGORIES],
    }
    text = json.dumps(_round_floats(coco), sort_keys=True, separators=(",", ":"))
    ann_file = root / "annotations" / f"instances_{split}.json"
    ann_file.parent.mkdir(parents=True, exist_ok=True)
    ann_file.write_text(text + "\n", encoding="utf-8")
    return coco


def _split_summary(coco: dict, ann_file: Path) -> dict[str, Any]:
    """Counts of one written split (images, empty images, instances per class, area buckets)."""
    names = {c["id"]: c["name"] for c in coco["categories"]}
    per_class = dict.fromkeys(CLASS_NAMES, 0)
    buckets = {"small": 0, "medium": 0, "large": 0}
    with_anns = set()
    for ann in coco["annotations"]:
        per_class[names[ann["category_id"]]] += 1
        buckets[area_bucket(ann["area"])] += 1
        with_anns.add(ann["image_id"])
    return {
        "ann_file": str(ann_file),
        "images": len(coco["images"]),
        "empty_images": len(coco["images"]) - len(with_anns),
        "instances": per_class,
        "areas": buckets,
        "multi_polygon": sum(len(a["segmentation"]) > 1 for a in coco["annotations"]),
    }


def synthesize(
    out: Path, *, seed: int = 0, images: int = 128, val_images: int | None = None, size: int = 160
) -> dict[str, Any]:
    """Write the synthetic COCO dataset under ``out`` and return a summary.

    Args:
        out: Dataset root; ``annotations/``, ``train/`` and ``val/`` are created in it.
        seed: Seed of every random choice; equal arguments give byte-identical files.
        images: Number of training images.
        val_images: Number of validation images; ``max(8, images // 4)`` when None.
        size: Width and height of every (square) image in pixels.

    Returns:
        ``{"root": str, "seed": int, "size": int, "splits": {split: {...}}}`` where each
        split holds ``ann_file``, ``images``, ``empty_images``, ``instances`` (per class
        name), ``areas`` (COCO small/medium/large counts) and ``multi_polygon``.

    Raises:
        ValueError: If a count is negative, ``size`` is below 32, or ``seed`` is negative.
    """
    if val_images is None:
        val_images = max(8, images // 4)
    if images < 0 or val_images < 0:
        raise ValueError(f"images/val_images must be >= 0, got {images}/{val_images}")
    if size < 32:
        raise ValueError(f"size must be >= 32 px, got {size}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    out = Path(out)
    splits = {}
    for split_no, (split, count) in enumerate(zip(SPLITS, (images, val_images), strict=True)):
        coco = _write_split(out, split, split_no, seed, count, size)
        ann_file = out / "annotations" / f"instances_{split}.json"
        splits[split] = _split_summary(coco, ann_file)
    return {"root": str(out), "seed": seed, "size": size, "splits": splits}


__all__ = [
    "CATEGORIES",
    "CLASS_NAMES",
    "SPLITS",
    "area_bucket",
    "empty_indices",
    "mask_to_polygons",
    "synthesize",
]
