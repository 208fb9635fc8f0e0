"""A small "user's own" COCO dataset, as the issue describes it (not sbr's synthetic set).

Three categories with sparse ids (car 3, dog 18, toothbrush 90), PNG and JPEG files,
grayscale images, a crowd annotation as compressed RLE, an image without annotations,
COCO's 2017 layout. Imported by the data and CLI tests (pytest puts this folder on
``sys.path``; the CLI tests add it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

CATEGORIES = [
    {"id": 3, "name": "car", "supercategory": "vehicle"},
    {"id": 18, "name": "dog", "supercategory": "animal"},
    {"id": 90, "name": "toothbrush", "supercategory": "indoor"},
]
SIZE = 48

#: (file name, grayscale, [(category id, x, y, w, h, crowd)]) per split.
IMAGES: dict[str, list[tuple[str, bool, list[tuple[int, int, int, int, int, bool]]]]] = {
    "train": [
        ("street.jpg", False, [(3, 4, 6, 24, 14, False), (18, 28, 24, 16, 20, False)]),
        ("kennel.png", True, [(18, 6, 4, 20, 30, False), (90, 30, 30, 10, 12, False)]),
        ("parking.png", False, [(3, 2, 2, 40, 36, True), (3, 10, 30, 20, 14, False)]),
        ("bathroom.jpg", True, [(90, 16, 10, 8, 26, False), (3, 30, 4, 14, 10, False)]),
        ("nothing.png", False, []),
    ],
    "val": [
        ("road.jpg", False, [(3, 6, 8, 30, 16, False), (18, 20, 26, 18, 18, False)]),
        ("sink.png", True, [(90, 12, 12, 10, 24, False), (18, 26, 4, 16, 16, False)]),
    ],
}


def _pixels(rng: np.random.Generator, boxes: list[tuple], gray: bool) -> np.ndarray:
    img = rng.integers(0, 60, (SIZE, SIZE, 3), dtype=np.uint8)
    for cat, x, y, w, h, _ in boxes:
        img[y : y + h, x : x + w] = (cat * 37 % 200 + 55, cat * 91 % 200 + 55, 180)
    return img[:, :, 0] if gray else img


def _annotation(ann_id: int, image_id: int, box: tuple) -> dict[str, Any]:
    from pycocotools import mask as mask_utils

    cat, x, y, w, h, crowd = box
    ann = {
        "id": ann_id, "image_id": image_id, "category_id": cat, "bbox": [x, y, w, h],
        "area": float(w * h), "iscrowd": int(crowd),
    }  # fmt: skip
    if crowd:
        mask = np.zeros((SIZE, SIZE), np.uint8, order="F")
        mask[y : y + h, x : x + w] = 1
        rle = mask_utils.encode(np.asfortranarray(mask))
        ann["segmentation"] = {"size": [SIZE, SIZE], "counts": rle["counts"].decode("ascii")}
    else:
        ann["segmentation"] = [[x, y, x + w, y, x + w, y + h, x, y + h]]
    return ann


def write_split(
    root: Path,
    split: str,
    *,
    ann_file: str | None = None,
    img_dir: str | None = None,
    categories: list[dict[str, Any]] | None = None,
    images: bool = True,
) -> Path:
    """Write one split (COCO 2017 names unless given); returns the annotation file."""
    from PIL import Image

    ann_path = root / (ann_file or f"annotations/instances_{split}2017.json")
    folder = root / (img_dir or f"{split}2017")
    ann_path.parent.mkdir(parents=True, exist_ok=True)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(len(split))
    doc: dict[str, Any] = {"images": [], "annotations": [], "categories": categories or CATEGORIES}
    for index, (name, gray, boxes) in enumerate(IMAGES[split], start=1):
        if images:
            Image.fromarray(_pixels(rng, boxes, gray)).save(folder / name)
        doc["images"].append({"id": index * 7, "file_name": name, "width": SIZE, "height": SIZE})
        for box in boxes:
            doc["annotations"].append(_annotation(len(doc["annotations"]) + 1, index * 7, box))
    ann_path.write_text(json.dumps(doc), encoding="utf-8")
    return ann_path


def write_dataset(root: Path, **overrides: Any) -> Path:
    """The whole dataset under ``root`` (COCO 2017 layout); returns ``root``."""
    for split in ("train", "val"):
        write_split(root, split, **overrides.get(split, {}))
    return root


def num_classes_in(node: Any) -> list[int]:
    """Every ``num_classes`` value below a config dict (depth first)."""
    if isinstance(node, dict):
        own = [v for k, v in node.items() if k == "num_classes"]
        return own + [n for k, v in node.items() if k != "num_classes" for n in num_classes_in(v)]
    if isinstance(node, list):
        return [n for v in node for n in num_classes_in(v)]
    return []
