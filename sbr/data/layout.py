"""Where a COCO-format dataset keeps its files, and which classes it has.

A dataset root is understood in one of three ways, tried in this order:

1. ``dataset.yaml`` in the root declares the annotation file and image folder of the
   ``train`` and ``val`` splits (any names, paths relative to the root)::

       name: my-data            # optional; shown in report captions (default: folder name)
       train: {ann_file: labels/train.json, img_dir: images/train/}
       val:   {ann_file: labels/valid.json, img_dir: images/valid/}

2. ``annotations/instances_{train,val}.json`` with images in ``train/`` and ``val/``;
3. ``annotations/instances_{train,val}2017.json`` with ``train2017/`` and ``val2017/``
   (COCO's own layout).

:func:`init_dataset_yaml` writes a ``dataset.yaml`` from what it finds (``sbr data init``).
:func:`dataset_classes` reads the categories of both splits (names and ids, in id
order) and checks that they agree. Every problem is a :class:`DataError` whose message
is one line naming the file, the split and the classes concerned.

Pure Python (json, yaml): no numpy, torch or mmdet.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: File in a dataset root that declares its layout.
DATASET_FILE = "dataset.yaml"
#: The splits sbr trains and evaluates on.
SPLITS = ("train", "val")
#: Image file suffixes counted as images (lower case).
IMAGE_SUFFIXES = frozenset((".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"))
#: Conventional layouts: (name, annotation file pattern, image folder pattern).
CONVENTIONS = (
    ("coco", "annotations/instances_{split}.json", "{split}/"),
    ("coco2017", "annotations/instances_{split}2017.json", "{split}2017/"),
)
#: Folder names ``sbr data init`` recognises per split (first match wins).
_SPLIT_WORDS = {
    "train": ("train", "training", "trainval"),
    "val": ("val", "valid", "validation", "test", "eval"),
}
#: A COCO ``segmentation`` value: polygon lists ``[[x, y, ...], ...]`` or an RLE dict.
_SEGMENTATION_VALUE = rb"(?:\[(?:\s*\[[^\[\]]*\]\s*,?)*\s*\]|\{[^{}]*\})"


class DataError(ValueError):
    """A dataset cannot be used as it is (the message is one line)."""


@dataclass(frozen=True)
class Split:
    """One split: its annotation file and image folder, both relative to the root (or absolute)."""

    name: str
    ann_file: str
    img_dir: str

    def ann_path(self, root: str | Path) -> Path:
        """The annotation file as a path."""
        return Path(root) / self.ann_file

    def img_path(self, root: str | Path) -> Path:
        """The image folder as a path."""
        return Path(root) / self.img_dir


@dataclass(frozen=True)
class DatasetLayout:
    """The files of a dataset root.

    Attributes:
        root: The dataset root.
        train: The training split.
        val: The validation split (also used as the test split).
        source: ``dataset.yaml``, ``coco`` or ``coco2017``.
        name: Dataset name for reports (``dataset.yaml``'s ``name``, else the folder name).
    """

    root: Path
    train: Split
    val: Split
    source: str
    name: str

    @property
    def splits(self) -> tuple[Split, Split]:
        """``(train, val)``."""
        return (self.train, self.val)


@dataclass(frozen=True)
class Category:
    """A COCO category."""

    id: int
    name: str


def _with_slash(folder: str) -> str:
    return folder if folder.endswith("/") else folder + "/"


def _conventional(root: Path) -> DatasetLayout | None:
    for source, ann, img in CONVENTIONS:
        splits = [Split(s, ann.format(split=s), img.format(split=s)) for s in SPLITS]
        if all(s.ann_path(root).is_file() for s in splits):
            return DatasetLayout(root, splits[0], splits[1], source, root.resolve().name)
    return None


def _from_yaml(root: Path) -> DatasetLayout:
    """Parse ``<root>/dataset.yaml`` (errors name the file, the line and the key)."""
    from sbr.yamlspec.errors import SpecError
    from sbr.yamlspec.loader import load_yaml_file

    file = root / DATASET_FILE
    try:
        node = load_yaml_file(file)
    except SpecError as exc:
        raise DataError(exc.one_line()) from None

    def fail(where: Any, key: str, message: str) -> DataError:
        line = where.loc(key.rsplit(".", 1)[-1]).line if hasattr(where, "loc") else 1
        return DataError(f"{file}:{line}: {key}: {message}")

    if not isinstance(node, dict):
        raise DataError(f"{file}:1: expected a mapping with train: and val: entries")
    unknown = sorted(set(map(str, node)) - {"name", *SPLITS})
    if unknown:
        raise fail(node, unknown[0], f"unknown key (allowed: name, {', '.join(SPLITS)})")
    splits = []
    for split in SPLITS:
        body = node.get(split)
        if not isinstance(body, dict):
            raise fail(node, split, "expected a mapping {ann_file: FILE, img_dir: FOLDER}")
        extra = sorted(set(map(str, body)) - {"ann_file", "img_dir"})
        if extra:
            raise fail(body, f"{split}.{extra[0]}", "unknown key (allowed: ann_file, img_dir)")
        for key in ("ann_file", "img_dir"):
            if not isinstance(body.get(key), str) or not body[key].strip():
                raise fail(body, f"{split}.{key}", "expected a path relative to the dataset root")
        splits.append(Split(split, body["ann_file"], _with_slash(body["img_dir"])))
    name = node.get("name")
    if name is not None and not isinstance(name, str):
        raise fail(node, "name", "expected a string")
    return DatasetLayout(root, splits[0], splits[1], DATASET_FILE, name or root.resolve().name)


def detect_layout(root: str | Path) -> DatasetLayout:
    """The layout of the dataset root ``root`` (see the module docstring).

    Raises:
        DataError: If ``root`` is not a folder or matches no layout.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"dataset folder {root} does not exist")
    if (root / DATASET_FILE).is_file():
        return _from_yaml(root)
    layout = _conventional(root)
    if layout is None:
        expected = " or ".join(
            f"{ann.format(split='{train,val}')} + {img.format(split='{train,val}')}"
            for _, ann, img in CONVENTIONS
        )
        raise DataError(
            f"dataset {root}: no {DATASET_FILE} and no COCO layout ({expected}); "
            f"`sbr data init {root}` writes a {DATASET_FILE} from what it finds"
        )
    return layout


# --------------------------------------------------------------------------- init


def _image_folders(root: Path) -> list[Path]:
    """Folders under ``root`` (two levels deep) holding image files, nearest first."""
    found = []
    for folder in sorted(root.glob("*/"), key=str) + sorted(root.glob("*/*/"), key=str):
        if folder.is_dir() and any(
            p.suffix.lower() in IMAGE_SUFFIXES for p in folder.iterdir() if p.is_file()
        ):
            found.append(folder)
    return found


def _split_word(name: str) -> str | None:
    """``train`` / ``val`` when ``name`` (a file or folder stem) names that split."""
    tokens = re.split(r"[^a-z]+", name.lower())
    for split, words in _SPLIT_WORDS.items():
        if any(word in tokens or word == re.sub(r"\d+$", "", t) for t in tokens for word in words):
            return split
    return None


def _guess(root: Path) -> dict[str, dict[str, str]]:
    """Annotation file and image folder per split, guessed from file and folder names."""
    jsons = sorted(
        p for p in list(root.glob("*.json")) + list(root.glob("*/*.json")) if p.is_file()
    )
    folders = _image_folders(root)
    chosen: dict[str, dict[str, str]] = {}
    for split in SPLITS:
        anns = [p for p in jsons if _split_word(p.stem) == split]
        imgs = [p for p in folders if _split_word(p.name) == split]
        if len(folders) == 1 and not imgs:  # one image folder for both splits
            imgs = folders
        if not anns or not imgs:
            listed = [
                ", ".join(p.relative_to(root).as_posix() for p in found) or "none"
                for found in (jsons, folders)
            ]
            raise DataError(
                f"dataset {root}: cannot tell the {split} split's "
                f"{'annotation file' if not anns else 'image folder'} "
                f"(json files: {listed[0]}; image folders: {listed[1]});"
                f" write {root / DATASET_FILE} by hand (format: sbr data init --help)"
            )
        chosen[split] = {
            "ann_file": anns[0].relative_to(root).as_posix(),
            "img_dir": _with_slash(imgs[0].relative_to(root).as_posix()),
        }
    return chosen


def init_dataset_yaml(root: str | Path, *, force: bool = False) -> tuple[Path, DatasetLayout]:
    """Write ``<root>/dataset.yaml`` from the files found there; returns (file, layout).

    A COCO layout is written as it is; otherwise annotation files and image folders are
    matched to the splits by their names (``train``/``training``, ``val``/``valid``/
    ``validation``/``test``, with or without a year).

    Raises:
        DataError: If the root is missing, the file exists (without ``force``), or a
            split's annotation file or image folder cannot be told.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"dataset folder {root} does not exist")
    file = root / DATASET_FILE
    if file.exists() and not force:
        raise DataError(f"{file} exists; pass --force to overwrite it")
    known = _conventional(root)
    if known is not None:
        splits = {s.name: {"ann_file": s.ann_file, "img_dir": s.img_dir} for s in known.splits}
        how = f"found the {known.source} layout"
    else:
        splits = _guess(root)
        how = "guessed from file and folder names: check them"
    lines = [
        f"# Written by `sbr data init` ({how}).",
        "# Paths are relative to this folder; sbr trains on train and evaluates on val.",
        f"name: {json.dumps(root.resolve().name)}",
    ]
    for split in SPLITS:
        lines.append(f"{split}:")
        for key in ("ann_file", "img_dir"):
            lines.append(f"  {key}: {json.dumps(splits[split][key])}")
    file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return file, detect_layout(root)


# --------------------------------------------------------------------------- classes


# COCO files by their bytes: what a reader needs without parsing every polygon.


def _key(name: str) -> bytes:
    """The bytes pattern of a JSON key ``"name":`` (with its spaces)."""
    return b'"' + re.escape(name.encode()) + rb'"\s*:\s*'


def coco_values(data: bytes, key: str) -> Iterator[Any]:
    """The values of the ``"key":`` of a JSON document that decode, last first, from raw
    bytes. COCO files keep ``categories`` short and usually last: decoding just that
    value avoids parsing hundreds of MB of annotations."""
    decoder = json.JSONDecoder()
    for match in reversed(list(re.finditer(_key(key), data))):
        start, size = match.end(), 1 << 16
        while True:
            chunk = data[start : start + size].decode("utf-8", errors="replace")
            try:
                yield decoder.raw_decode(chunk)[0]
                break
            except ValueError:
                if start + size >= len(data):
                    break
                size *= 4


def parse_coco(data: bytes, *, segmentation: bool = True) -> Any:
    """Parse a COCO file's bytes (orjson when installed, else :mod:`json`).

    Polygons are most of COCO's bytes and Python objects: without ``segmentation``,
    every ``"segmentation"`` value is replaced by ``0`` in the bytes before parsing (a
    value the pattern does not recognise is kept as it is).
    """
    if not segmentation:
        data = re.sub(_key("segmentation") + _SEGMENTATION_VALUE, b'"segmentation":0', data)
    try:
        import orjson
    except ImportError:
        return json.loads(data)
    return orjson.loads(data)


def _fast_categories(data: bytes) -> list[Any] | None:
    """The ``categories`` list found by scanning the raw bytes (None: not found)."""
    for value in coco_values(data, "categories"):
        if isinstance(value, list) and all(
            isinstance(c, dict) and "id" in c and "name" in c for c in value
        ):
            return value
    return None


def read_categories(ann_file: str | Path, *, split: str = "") -> list[Category]:
    """The categories of one annotation file, in file order.

    Raises:
        DataError: If the file is missing, is not JSON, or its categories are malformed
            (no list, an entry without an integer id or a name, repeated ids or names).
    """
    path = Path(ann_file)
    what = f"{path}" + (f" (split {split})" if split else "")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{what}: cannot read the annotation file ({exc.strerror})") from None
    cats = _fast_categories(raw)
    if cats is None:
        try:
            doc = json.loads(raw)
        except ValueError as exc:
            raise DataError(f"{what}: not valid JSON ({exc})") from None
        cats = doc.get("categories") if isinstance(doc, dict) else None
        if not isinstance(cats, list):
            raise DataError(f"{what}: no 'categories' list")
    result = []
    for index, cat in enumerate(cats):
        ok = isinstance(cat, dict) and isinstance(cat.get("id"), int)
        if not ok or not isinstance(cat.get("name"), str) or isinstance(cat.get("id"), bool):
            raise DataError(f"{what}: categories[{index}] needs an integer 'id' and a 'name'")
        result.append(Category(int(cat["id"]), str(cat["name"])))
    if not result:
        raise DataError(f"{what}: the 'categories' list is empty")
    for attr in ("id", "name"):
        seen: set[Any] = set()
        for cat in result:
            value = getattr(cat, attr)
            if value in seen:
                raise DataError(f"{what}: category {attr} {value!r} appears twice")
            seen.add(value)
    return result


def format_classes(cats: list[Category] | tuple[Category, ...]) -> str:
    """``'car' (id 3), 'dog' (id 18)``."""
    return ", ".join(f"{c.name!r} (id {c.id})" for c in cats)


def dataset_classes(layout: DatasetLayout) -> tuple[Category, ...]:
    """The classes of a dataset: the train split's categories, in id order.

    Checks that val's categories are train's (same id, same name) and that both files
    list them in id order (MMDetection numbers classes in file order, so a file in
    another order would give train and val different labels).

    Raises:
        DataError: Naming the file, the split and the classes at fault.
    """
    per_split = {
        s.name: read_categories(s.ann_path(layout.root), split=s.name) for s in layout.splits
    }
    train = per_split["train"]
    classes = tuple(sorted(train, key=lambda c: c.id))
    train_file = layout.train.ann_path(layout.root)
    val_file = layout.val.ann_path(layout.root)
    lacking = [c for c in per_split["val"] if c not in set(train)]
    if lacking:
        raise DataError(
            f"{val_file} (split val): categories the train split ({train_file}) lacks: "
            f"{format_classes(lacking)}; train has {format_classes(classes)}"
        )
    for split in layout.splits:
        ids = [c.id for c in per_split[split.name]]
        if ids != sorted(ids):
            raise DataError(
                f"{split.ann_path(layout.root)} (split {split.name}): categories are not listed "
                f"in id order ({format_classes(per_split[split.name])}); sort the 'categories' "
                "list by id (MMDetection numbers classes in file order)"
            )
    return classes


def root_classes(root: str | Path | None) -> tuple[Category, ...] | None:
    """:func:`dataset_classes` of a dataset root; None while there is no data to read.

    None when the root does not exist or holds neither a ``dataset.yaml`` nor a COCO
    layout (a plan may be made before the data is in place; a run's pre-flight refuses
    such a root).

    Raises:
        DataError: If ``dataset.yaml`` is wrong, or the splits' classes are unusable.
    """
    layout = find_layout(root)
    return None if layout is None else dataset_classes(layout)


def find_layout(root: str | Path | None) -> DatasetLayout | None:
    """:func:`detect_layout`, or None when ``root`` is missing or holds no layout at all.

    Raises:
        DataError: If ``dataset.yaml`` exists but is wrong.
    """
    if root is None or not Path(root).is_dir():
        return None
    if not (Path(root) / DATASET_FILE).is_file() and _conventional(Path(root)) is None:
        return None
    return detect_layout(root)


def list_images(folder: str | Path) -> list[str]:
    """Image file names directly in ``folder`` (empty when it does not exist)."""
    try:
        entries = os.scandir(folder)
    except OSError:
        return []
    with entries:
        return sorted(
            e.name
            for e in entries
            if e.is_file() and os.path.splitext(e.name)[1].lower() in IMAGE_SUFFIXES
        )


__all__ = [
    "CONVENTIONS",
    "DATASET_FILE",
    "IMAGE_SUFFIXES",
    "SPLITS",
    "Category",
    "DataError",
    "DatasetLayout",
    "Split",
    "coco_values",
    "dataset_classes",
    "detect_layout",
    "find_layout",
    "format_classes",
    "init_dataset_yaml",
    "list_images",
    "parse_coco",
    "read_categories",
    "root_classes",
]
