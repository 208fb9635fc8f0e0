"""Per-image COCO evaluation data: the match table behind every bootstrap interval.

COCO AP on a *resampled* set of validation images needs, per detection, whether it is
a true positive, a false positive or ignored at each IoU threshold and area range, and
per (image, category, area range) how many ground truths count. That matching does not
depend on which other images are in the set, so it is computed once per evaluation
(:func:`match_coco`) and stored as a small compressed ``.npz`` artifact
(:func:`write_match_tables`); :mod:`sbr.reports.bootstrap` accumulates AP from it for
any image weights.

The matching reproduces pycocotools' ``COCOeval.evaluateImg`` exactly:

* detections of an (image, category) are sorted by score with a stable sort (ties keep
  the results' order) and cut at ``max_det``; ground truths that are crowd regions
  (``ignore = iscrowd``) or outside the area range are ignored and sorted last;
* at each IoU threshold ``t`` (``min(t, 1 - 1e-10)``) a detection takes, among the
  ground truths not yet matched (crowd regions can be matched many times), the one with
  the highest IoU >= t, the last one on ties; ignored ones only when no counted one
  qualifies. A detection matched to an ignored one is ignored, an unmatched detection
  outside the area range is ignored;
* COCOeval keeps the matched ground truth's *id*, and reads id 0 as "unmatched": that
  quirk is kept too;
* box IoU is computed with the arithmetic of pycocotools' ``bbIou`` (bit-identical),
  crowd regions with the detection's area as union; mask IoU uses ``pycocotools.mask``;
* the detection's area is its box's ``w * h`` when the results carry boxes (as
  ``COCO.loadRes`` does), else the mask area.

Arrays are documented with their shapes: ``D`` stored detections, ``P`` (image,
category) pairs with ground truth, ``A`` area ranges, ``T`` IoU thresholds.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Mapping, Sequence
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
_PAIR_CHUNK = 4096


@dataclass(frozen=True)
class MatchTable:
    """COCOeval's per-image matching of one evaluation and one IoU type.

    Attributes:
        iou_type: ``bbox`` or ``segm``.
        image_ids: ``[I]`` image ids in COCOeval's order (sorted).
        category_ids: ``[K]`` category ids (sorted).
        det_image: ``[D]`` image index of each stored detection.
        det_category: ``[D]`` category index.
        det_score: ``[D]`` score (float64; stored as float32 when that is lossless).
        det_tp: ``[D, A]`` bit ``t`` set when the detection is a true positive at
            threshold ``t`` in area range ``a``.
        det_ignored: ``[D, A]`` bit ``t`` set when it is ignored there.
        gt_image: ``[P]`` image index of each (image, category) pair with ground truth.
        gt_category: ``[P]`` category index of the pair.
        gt_counted: ``[P, A]`` ground truths of the pair that count (not ignored) per area.
        iou_thresholds: ``[T]`` thresholds.
        area_ranges: ``[A, 2]`` area ranges.
        max_det: Detections kept per (image, category).

    Detections are stored image by image (in ``image_ids`` order), within an image by
    category, within a pair by decreasing score (stable), which is the order COCOeval
    concatenates them in before its global stable sort.
    """

    iou_type: str
    image_ids: np.ndarray
    category_ids: np.ndarray
    det_image: np.ndarray
    det_category: np.ndarray
    det_score: np.ndarray
    det_tp: np.ndarray
    det_ignored: np.ndarray
    gt_image: np.ndarray
    gt_category: np.ndarray
    gt_counted: np.ndarray
    iou_thresholds: np.ndarray = field(default_factory=lambda: IOU_THRESHOLDS.copy())
    area_ranges: np.ndarray = field(default_factory=lambda: AREA_RANGES.copy())
    max_det: int = 100

    @property
    def n_images(self) -> int:
        """Number of evaluated images."""
        return int(self.image_ids.size)

    @property
    def n_categories(self) -> int:
        """Number of evaluated categories."""
        return int(self.category_ids.size)


# --------------------------------------------------------------------------- IoU


def box_iou(dets: np.ndarray, gts: np.ndarray, crowd: np.ndarray) -> np.ndarray:
    """IoU of xywh boxes with pycocotools' ``bbIou`` arithmetic (bit-identical).

    Args:
        dets: ``[..., D, 4]`` detection boxes.
        gts: ``[..., G, 4]`` ground-truth boxes.
        crowd: ``[..., G]`` crowd flags: the union is the detection's area.

    Returns:
        ``[..., D, G]`` IoU (0 where the boxes do not overlap).
    """
    d = dets[..., :, None, :]
    g = gts[..., None, :, :]
    w = np.minimum(d[..., 2] + d[..., 0], g[..., 2] + g[..., 0]) - np.maximum(d[..., 0], g[..., 0])
    h = np.minimum(d[..., 3] + d[..., 1], g[..., 3] + g[..., 1]) - np.maximum(d[..., 1], g[..., 1])
    inter = w * h
    d_area = d[..., 2] * d[..., 3]
    union = np.where(crowd[..., None, :], d_area, d_area + g[..., 2] * g[..., 3] - inter)
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = inter / union
    return np.where((w > 0) & (h > 0), iou, 0.0)


# --------------------------------------------------------------------------- matching


def greedy_match(
    iou: np.ndarray,
    gt_ignored: np.ndarray,
    gt_crowd: np.ndarray,
    gt_valid: np.ndarray,
    thresholds: np.ndarray,
) -> np.ndarray:
    """COCOeval's greedy matching for many (image, category) pairs at once.

    Args:
        iou: ``[P, D, G]`` IoU, detections by decreasing score, padding anything < 0.
        gt_ignored: ``[P, A, G]`` ground truth ignored in area range ``a``.
        gt_crowd: ``[P, G]`` crowd regions (may be matched by several detections).
        gt_valid: ``[P, G]`` False for padding.
        thresholds: ``[T]`` IoU thresholds.

    Returns:
        ``[P, A, T, D]`` index of the matched ground truth, -1 when unmatched.
    """
    n_pairs, n_dets, n_gts = iou.shape
    n_areas = gt_ignored.shape[1]
    thr = np.minimum(thresholds, 1 - 1e-10)[None, None, :, None]  # [1, 1, T, 1]
    available = np.broadcast_to(
        gt_valid[:, None, None, :], (n_pairs, n_areas, thr.shape[2], n_gts)
    ).copy()
    ignored = gt_ignored[:, :, None, :]  # [P, A, 1, G]
    crowd = gt_crowd[:, None, None, :]
    matches = np.full((n_pairs, n_areas, thr.shape[2], n_dets), -1, dtype=np.int64)
    for d in range(n_dets):
        value = iou[:, d, :][:, None, None, :]  # [P, 1, 1, G]
        ok = available & (value >= thr)
        counted = ok & ~ignored
        use_counted = counted.any(-1, keepdims=True)
        candidates = np.where(use_counted, counted, ok & ignored)
        scored = np.where(candidates, value, -np.inf)
        last_best = n_gts - 1 - np.argmax(scored[..., ::-1], axis=-1)  # ties: the last one
        found = candidates.any(-1)
        chosen = np.where(found, last_best, -1)
        matches[..., d] = chosen
        taken = found & ~np.take_along_axis(crowd, np.maximum(chosen, 0)[..., None], -1)[..., 0]
        np.put_along_axis(
            available,
            np.maximum(chosen, 0)[..., None],
            ~taken[..., None] & np.take_along_axis(available, np.maximum(chosen, 0)[..., None], -1),
            axis=-1,
        )
    return matches


def _next_pow2(values: np.ndarray) -> np.ndarray:
    return np.left_shift(1, np.ceil(np.log2(np.maximum(values, 1))).astype(np.int64))


def _bits(flags: np.ndarray) -> np.ndarray:
    """``[..., T]`` booleans -> ``[...]`` uint16 bit masks (bit t = threshold t)."""
    weights = np.left_shift(1, np.arange(flags.shape[-1], dtype=np.uint32))
    return (flags.astype(np.uint32) * weights).sum(-1).astype(np.uint16)


def _segment_iou(det_masks: Sequence[Any], gt_masks: Sequence[Any], crowd: np.ndarray) -> Any:
    from pycocotools import mask as mask_utils

    if not len(det_masks) or not len(gt_masks):
        return np.zeros((len(det_masks), len(gt_masks)))
    return np.asarray(mask_utils.iou(list(det_masks), list(gt_masks), list(crowd.astype(int))))


@dataclass
class _Side:
    """Detections or ground truths as flat arrays (one element per object)."""

    image: np.ndarray  # image index
    category: np.ndarray  # category index
    area: np.ndarray
    boxes: np.ndarray | None = None  # [N, 4] xywh (bbox)
    masks: list[Any] | None = None  # RLEs (segm)
    score: np.ndarray | None = None  # detections
    crowd: np.ndarray | None = None  # ground truths
    ann_id: np.ndarray | None = None  # ground truths


def match_arrays(
    iou_type: str,
    gts: _Side,
    dets: _Side,
    *,
    image_ids: np.ndarray,
    category_ids: np.ndarray,
    max_det: int = 100,
    thresholds: np.ndarray = IOU_THRESHOLDS,
    area_ranges: np.ndarray = AREA_RANGES,
) -> MatchTable:
    """The match table of objects already mapped to image/category indices.

    See :func:`match_coco` for COCO dicts; this is its array core (and the bench's).
    """
    n_cat = int(category_ids.size)
    # Detections: by pair, then score descending (stable on the results' order), top max_det.
    d_key = dets.image.astype(np.int64) * n_cat + dets.category
    order = np.lexsort((np.arange(d_key.size), -dets.score, d_key))
    d_key = d_key[order]
    starts = np.r_[0, np.flatnonzero(np.diff(d_key)) + 1] if d_key.size else np.zeros(0, int)
    rank = np.arange(d_key.size) - np.repeat(starts, np.diff(np.r_[starts, d_key.size]))
    order = order[rank < max_det]
    d_key = d_key[rank < max_det]
    # Ground truths: by pair, file order inside a pair.
    g_key = gts.image.astype(np.int64) * n_cat + gts.category
    g_order = np.argsort(g_key, kind="stable")
    g_key = g_key[g_order]
    pairs = np.union1d(np.unique(d_key), np.unique(g_key))
    d_lo, d_hi = np.searchsorted(d_key, pairs), np.searchsorted(d_key, pairs, side="right")
    g_lo, g_hi = np.searchsorted(g_key, pairs), np.searchsorted(g_key, pairs, side="right")
    n_areas = len(area_ranges)
    g_area = gts.area[g_order]
    g_crowd = gts.crowd[g_order].astype(bool)
    g_ignored = (
        g_crowd[:, None]
        | (g_area[:, None] < area_ranges[:, 0])
        | (g_area[:, None] > area_ranges[:, 1])
    )  # [G, A]
    g_id_zero = gts.ann_id[g_order] == 0
    d_area = dets.area[order]
    d_out = (d_area[:, None] < area_ranges[:, 0]) | (d_area[:, None] > area_ranges[:, 1])
    tp = np.zeros((d_key.size, n_areas), dtype=np.uint16)
    ign = np.zeros((d_key.size, n_areas), dtype=np.uint16)
    n_d, n_g = d_hi - d_lo, g_hi - g_lo
    buckets = _next_pow2(n_d) * 4096 + _next_pow2(n_g)
    for bucket in np.unique(buckets):
        members = np.flatnonzero(buckets == bucket)
        for chunk in np.array_split(members, max(1, members.size // _PAIR_CHUNK)):
            _match_chunk(
                iou_type, chunk, gts, dets, order, g_order, d_lo, n_d, g_lo, n_g,
                g_ignored, g_crowd, g_id_zero, d_out, thresholds, tp, ign,
            )  # fmt: skip
    counted = ~g_ignored
    gt_pairs = np.unique(g_key)
    gt_counted = np.stack(
        [np.bincount(np.searchsorted(gt_pairs, g_key), counted[:, a], gt_pairs.size)
         for a in range(n_areas)], axis=1,
    ).astype(np.int32) if gt_pairs.size else np.zeros((0, n_areas), np.int32)  # fmt: skip
    return MatchTable(
        iou_type=iou_type,
        image_ids=np.asarray(image_ids, dtype=np.int64),
        category_ids=np.asarray(category_ids, dtype=np.int64),
        det_image=(d_key // n_cat).astype(np.int32),
        det_category=(d_key % n_cat).astype(np.int32),
        det_score=np.asarray(dets.score, dtype=np.float64)[order],
        det_tp=tp,
        det_ignored=ign,
        gt_image=(gt_pairs // n_cat).astype(np.int32),
        gt_category=(gt_pairs % n_cat).astype(np.int32),
        gt_counted=gt_counted,
        iou_thresholds=np.asarray(thresholds, dtype=np.float64),
        area_ranges=np.asarray(area_ranges, dtype=np.float64),
        max_det=int(max_det),
    )


def _match_chunk(
    iou_type, chunk, gts, dets, order, g_order, d_lo, n_d, g_lo, n_g,
    g_ignored, g_crowd, g_id_zero, d_out, thresholds, tp, ign,
) -> None:  # fmt: skip
    """Match the pairs of ``chunk`` (all padded to the same D, G) and fill ``tp``/``ign``."""
    max_d, max_g = max(int(n_d[chunk].max()), 1), max(int(n_g[chunk].max()), 1)
    d_idx = d_lo[chunk, None] + np.arange(max_d)  # [P, D] positions in the sorted order
    d_ok = np.arange(max_d) < n_d[chunk, None]
    g_idx = g_lo[chunk, None] + np.arange(max_g)
    g_ok = np.arange(max_g) < n_g[chunk, None]
    if not d_ok.any():  # ground truth only: nothing to mark
        return
    d_pos = np.where(d_ok, d_idx, 0)
    g_pos = np.where(g_ok, g_idx, 0)
    if not g_ok.any():
        iou = np.full((chunk.size, max_d, max_g), -1.0)
    elif iou_type == "bbox":
        d_boxes = dets.boxes[order[np.minimum(d_pos, order.size - 1)]]
        g_boxes = gts.boxes[g_order[g_pos]]
        iou = box_iou(d_boxes, g_boxes, g_crowd[g_pos])
    else:
        iou = np.full((chunk.size, max_d, max_g), -1.0)
        for p in range(chunk.size):
            nd, ng = int(n_d[chunk[p]]), int(n_g[chunk[p]])
            if nd and ng:
                masks_d = [dets.masks[i] for i in order[d_idx[p, :nd]]]
                masks_g = [gts.masks[i] for i in g_order[g_idx[p, :ng]]]
                iou[p, :nd, :ng] = _segment_iou(masks_d, masks_g, g_crowd[g_idx[p, :ng]])
    iou = np.where(d_ok[:, :, None] & g_ok[:, None, :], iou, -1.0)
    ignored = np.where(g_ok[:, None, :], g_ignored[g_pos].transpose(0, 2, 1), False)
    matched = greedy_match(iou, ignored, g_crowd[g_pos] & g_ok, g_ok, thresholds)  # [P,A,T,D]
    safe = np.maximum(matched, 0)
    m_ignored = np.take_along_axis(ignored[:, :, None, :], safe, axis=-1) & (matched >= 0)
    m_zero = g_id_zero[np.take_along_axis(g_pos[:, None, None, :], safe, axis=-1)]
    has_id = (matched >= 0) & ~m_zero  # COCOeval's dtm != 0
    out = d_out[np.minimum(d_pos, d_out.shape[0] - 1)].transpose(0, 2, 1)[:, :, None, :]
    is_ignored = m_ignored | (~has_id & out)  # [P, A, T, D]
    is_tp = has_id & ~is_ignored
    rows = d_idx[d_ok]
    tp[rows] = _bits(is_tp.transpose(0, 3, 1, 2)[d_ok])
    ign[rows] = _bits(is_ignored.transpose(0, 3, 1, 2)[d_ok])


def _rle(coco: Any, ann: Mapping[str, Any]) -> Any:
    return coco.annToRLE(ann)


def _quiet_coco(dataset: Mapping[str, Any]) -> Any:
    from pycocotools.coco import COCO

    coco = COCO()
    coco.dataset = dict(dataset)
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def match_coco(
    gt: Mapping[str, Any],
    results: Sequence[Mapping[str, Any]],
    iou_type: str,
    *,
    image_ids: Sequence[int] | None = None,
    category_ids: Sequence[int] | None = None,
    max_det: int = 100,
    thresholds: np.ndarray = IOU_THRESHOLDS,
) -> MatchTable:
    """The match table of COCO results against a COCO ground-truth dataset.

    Args:
        gt: The ground truth as a COCO dict (``images``, ``annotations``, ``categories``).
        results: Detections in COCO results format (``image_id``, ``category_id``,
            ``score`` and ``bbox`` or ``segmentation``).
        iou_type: ``bbox`` or ``segm``.
        image_ids: Evaluated images (COCOeval ``params.imgIds``; default: all of ``gt``).
        category_ids: Evaluated categories (``params.catIds``; default: all of ``gt``).
        max_det: Detections per (image, category) (``params.maxDets[-1]``).
        thresholds: IoU thresholds (``params.iouThrs``).

    Raises:
        ValueError: On an unknown ``iou_type`` or results on images outside ``gt``.
    """
    if iou_type not in ("bbox", "segm"):
        raise ValueError(f"iou_type must be bbox or segm, got {iou_type!r}")
    images = np.unique([img["id"] for img in gt["images"]] if image_ids is None else image_ids)
    cats = np.unique([c["id"] for c in gt["categories"]] if category_ids is None else category_ids)
    known = {img["id"] for img in gt["images"]}
    stray = {r["image_id"] for r in results} - known
    if stray:
        raise ValueError(f"results on {len(stray)} image(s) not in the ground truth")
    img_index = {int(i): n for n, i in enumerate(images)}
    cat_index = {int(c): n for n, c in enumerate(cats)}
    coco = _quiet_coco(gt) if iou_type == "segm" else None
    anns = [
        a for a in gt["annotations"]
        if a["image_id"] in img_index and a["category_id"] in cat_index
    ]  # fmt: skip
    anns = _coco_order(anns, images)
    gts = _Side(
        image=np.array([img_index[a["image_id"]] for a in anns], dtype=np.int64),
        category=np.array([cat_index[a["category_id"]] for a in anns], dtype=np.int64),
        area=np.array([float(a["area"]) for a in anns]),
        crowd=np.array([bool(a.get("iscrowd", 0)) for a in anns]),
        ann_id=np.array([int(a["id"]) for a in anns], dtype=np.int64),
    )
    dets_in = [r for r in results if r["image_id"] in img_index and r["category_id"] in cat_index]
    with_boxes = bool(results) and bool(results[0].get("bbox"))  # COCO.loadRes reads anns[0]
    dets = _Side(
        image=np.array([img_index[r["image_id"]] for r in dets_in], dtype=np.int64),
        category=np.array([cat_index[r["category_id"]] for r in dets_in], dtype=np.int64),
        area=np.array([_result_area(r, with_boxes) for r in dets_in], dtype=float),
        score=np.array([float(r["score"]) for r in dets_in], dtype=float),
    )
    if iou_type == "bbox":
        gts.boxes = np.array([a["bbox"] for a in anns], dtype=float).reshape(-1, 4)
        dets.boxes = np.array([r["bbox"] for r in dets_in], dtype=float).reshape(-1, 4)
    else:
        gts.masks = [_rle(coco, a) for a in anns]
        dets.masks = [r["segmentation"] for r in dets_in]
    return match_arrays(
        iou_type, gts, dets, image_ids=images, category_ids=cats, max_det=max_det,
        thresholds=thresholds,
    )  # fmt: skip


def _coco_order(anns: list[Mapping[str, Any]], images: np.ndarray) -> list[Mapping[str, Any]]:
    """Annotations in ``COCO.getAnnIds`` order: by image (``images`` order), file order within."""
    position = {int(i): n for n, i in enumerate(images)}
    return sorted(anns, key=lambda a: position[a["image_id"]])  # sorted() is stable


def _result_area(result: Mapping[str, Any], with_boxes: bool) -> float:
    if with_boxes:
        box = result["bbox"]
        return float(box[2]) * float(box[3])
    from pycocotools import mask as mask_utils

    return float(mask_utils.area(result["segmentation"]))


# --------------------------------------------------------------------------- artifact I/O

_ARRAYS = (
    "image_ids", "category_ids", "det_image", "det_category", "det_score", "det_tp",
    "det_ignored", "gt_image", "gt_category", "gt_counted", "iou_thresholds", "area_ranges",
)  # fmt: skip


def write_match_tables(
    path: str | Path, tables: Mapping[str, MatchTable], meta: Mapping[str, Any] | None = None
) -> Path:
    """Write match tables (by IoU type) into one compressed ``.npz`` file.

    Scores are stored as float32 when that loses nothing (mmdet's are float32), else
    as float64. ``meta`` (JSON-serialisable) is stored beside them.
    """
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


# --------------------------------------------------------------------------- MMEngine hook


def dump_from_metric(metric: Any, prefix: str | Path, out_file: str | Path) -> Path | None:
    """Match tables of the results a CocoMetric dumped under ``prefix``; None if none.

    Args:
        metric: mmdet's ``CocoMetric`` after ``compute_metrics`` (its ``_coco_api``,
            ``cat_ids``, ``img_ids``, ``proposal_nums`` and ``iou_thrs`` are read).
        prefix: The ``outfile_prefix`` the metric wrote ``<prefix>.<iou_type>.json`` to.
        out_file: The ``.npz`` to write.
    """
    coco_api = getattr(metric, "_coco_api", None)
    if coco_api is None:
        return None
    gt = coco_api.dataset
    tables = {}
    for iou_type in ("bbox", "segm"):
        results_file = Path(f"{prefix}.{iou_type}.json")
        if not results_file.is_file():
            continue
        results = json.loads(results_file.read_text())
        if iou_type == "segm":  # mmdet evaluates masks without their boxes (mask areas)
            results = [{k: v for k, v in r.items() if k != "bbox"} for r in results]
        tables[iou_type] = match_coco(
            gt,
            results,
            iou_type,
            image_ids=list(metric.img_ids) if metric.img_ids is not None else None,
            category_ids=list(metric.cat_ids) if metric.cat_ids is not None else None,
            max_det=int(max(getattr(metric, "proposal_nums", (100,)))),
            thresholds=np.asarray(getattr(metric, "iou_thrs", IOU_THRESHOLDS), dtype=float),
        )
    if not tables:
        return None
    return write_match_tables(out_file, tables, {"source": "mmdet CocoMetric"})


def per_image_hook(out_file: str | Path) -> Any:
    """An MMEngine hook that writes each evaluation's match tables to ``out_file``.

    Before every validation it points the CocoMetrics of the evaluator at a results
    prefix next to ``out_file``; after it, it matches those results (rank 0, where the
    metrics are computed) and rewrites ``out_file``, so the file always holds the last
    evaluation.
    """
    from mmengine.hooks import Hook

    out_file = Path(out_file)
    prefix = out_file.parent / "results"

    class _SBRPerImageHook(Hook):
        priority = "VERY_LOW"

        def _coco_metrics(self, runner: Any) -> list[Any]:
            evaluator = runner.val_loop.evaluator
            return [m for m in evaluator.metrics if hasattr(m, "outfile_prefix")]

        def before_val_epoch(self, runner: Any) -> None:
            out_file.parent.mkdir(parents=True, exist_ok=True)
            for metric in self._coco_metrics(runner):
                if metric.outfile_prefix is None and not getattr(metric, "format_only", False):
                    metric.outfile_prefix = str(prefix)

        def after_val_epoch(self, runner: Any, metrics: dict | None = None) -> None:
            if getattr(runner, "rank", 0) != 0:
                return
            for metric in self._coco_metrics(runner):
                if metric.outfile_prefix == str(prefix):
                    dump_from_metric(metric, prefix, out_file)
                    return

    return _SBRPerImageHook()


__all__ = [
    "AREA_NAMES",
    "AREA_RANGES",
    "IOU_THRESHOLDS",
    "MatchTable",
    "box_iou",
    "dump_from_metric",
    "greedy_match",
    "match_arrays",
    "match_coco",
    "per_image_hook",
    "read_match_tables",
    "write_match_tables",
]
