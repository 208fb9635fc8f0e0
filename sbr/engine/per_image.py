"""Per-image COCO evaluation data: the match table behind every bootstrap interval.

COCO AP on a *resampled* set of images needs, per detection, whether it is a true
positive, a false positive or ignored at each IoU threshold and area range, and per
(image, category, area range) how many ground truths count. That matching does not
depend on which other images are in the set: it is taken once per evaluation, stored as
a compressed ``.npz`` (:func:`write_match_tables`), and :mod:`sbr.reports.bootstrap`
accumulates AP from it for any image weights.

The matching is pycocotools' own: :func:`table_from_cocoeval` reads the ``evalImgs``
of ``COCOeval.evaluate()``. As in ``COCOeval.accumulate``, a detection is a true
positive where ``dtMatches != 0`` (a match to annotation id 0 reads as none) and it is
not ignored. Shapes: ``D`` detections, ``P`` (image, category) pairs with ground truth,
``A`` area ranges, ``T`` IoU thresholds.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sbr.engine.match_table import (
    AREA_NAMES,
    AREA_RANGES,
    IOU_THRESHOLDS,
    MatchTable,
    read_match_tables,
    write_match_tables,
)


def evaluate_images(
    coco_gt: Any,
    results: Sequence[Mapping[str, Any]],
    iou_type: str,
    *,
    image_ids: Sequence[int] | None = None,
    category_ids: Sequence[int] | None = None,
    max_dets: Sequence[int] = (100,),
    thresholds: np.ndarray = IOU_THRESHOLDS,
) -> Any:
    """pycocotools' ``COCOeval`` of ``results`` (COCO results format, left unchanged)
    against ``coco_gt`` (a pycocotools ``COCO``), after a quiet ``evaluate()``; the
    keywords are its ``params`` (``imgIds``, ``catIds``: default all; ``maxDets``, whose
    last one cuts each pair; ``iouThrs``)."""
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        coco_eval = COCOeval(coco_gt, _load_results(coco_gt, results), iou_type)
        params = coco_eval.params
        if image_ids is not None:
            params.imgIds = list(image_ids)
        if category_ids is not None:
            params.catIds = list(category_ids)
        params.maxDets = list(max_dets)
        params.iouThrs = np.asarray(thresholds, dtype=float)
        coco_eval.evaluate()
    return coco_eval


def _load_results(coco_gt: Any, results: Sequence[Mapping[str, Any]]) -> Any:
    """``coco_gt.loadRes`` of copies of ``results``; an empty results COCO for none."""
    from pycocotools.coco import COCO

    if results:
        return coco_gt.loadRes([dict(r) for r in results])  # loadRes adds keys in place
    empty = COCO()  # loadRes cannot take an empty list
    empty.dataset = {**coco_gt.dataset, "annotations": []}
    empty.createIndex()
    return empty


def _bits(flags: np.ndarray) -> np.ndarray:
    """``[T, N]`` booleans -> ``[N]`` uint16 bit masks (bit t = threshold t)."""
    weights = np.left_shift(1, np.arange(flags.shape[0], dtype=np.uint32))
    return (weights @ flags.astype(np.uint32)).astype(np.uint16)


def _concat(arrays: list[np.ndarray], empty_shape: tuple[int, ...], axis: int = 0) -> np.ndarray:
    return np.concatenate(arrays, axis=axis) if arrays else np.zeros(empty_shape)


def _pair_entries(coco_eval: Any) -> tuple[np.ndarray, list[list[dict]]]:
    """``[P']`` keys ``image_index * K + category_index`` of the pairs with detections or
    ground truth, image-major, and per area range their ``P'`` ``evalImgs`` entries."""
    p = coco_eval._paramsEval
    n_img, n_cat, n_area = len(p.imgIds), len(p.catIds), len(p.areaRng)
    grid = np.empty(n_cat * n_area * n_img, dtype=object)
    grid[:] = coco_eval.evalImgs  # COCOeval's order: category, area range, image
    grid = grid.reshape(n_cat, n_area, n_img).transpose(2, 0, 1).reshape(n_img * n_cat, n_area)
    keys = np.flatnonzero([entry is not None for entry in grid[:, 0]])
    return keys, [list(grid[keys, a]) for a in range(n_area)]


def table_from_cocoeval(coco_eval: Any) -> MatchTable:
    """The match table of a ``COCOeval`` after ``evaluate()`` (its ``evalImgs``).

    Raises:
        ValueError: If it has not been evaluated or ran without categories (proposals).
    """
    if not coco_eval.evalImgs or not coco_eval._paramsEval.useCats:
        raise ValueError("a per-image table needs a COCOeval evaluated with categories")
    p = coco_eval._paramsEval
    n_cat, n_thr = len(p.catIds), len(p.iouThrs)
    keys, by_area = _pair_entries(coco_eval)
    n_d = np.array([len(e["dtIds"]) for e in by_area[0]], dtype=np.int64)
    n_g = np.array([len(e["gtIds"]) for e in by_area[0]], dtype=np.int64)
    det_key = np.repeat(keys, n_d)
    tp, ignored, counted = [], [], []
    for entries in by_area:
        matched = _concat([e["dtMatches"] for e in entries], (n_thr, 0), axis=1) != 0
        dt_ignored = _concat([e["dtIgnore"] for e in entries], (n_thr, 0), axis=1).astype(bool)
        tp.append(_bits(matched & ~dt_ignored))
        ignored.append(_bits(dt_ignored))
        gt_ignored = _concat([np.asarray(e["gtIgnore"]) for e in entries], (0,)).astype(bool)
        weights = (~gt_ignored).astype(float)
        counted.append(np.bincount(np.repeat(np.arange(keys.size), n_g), weights, keys.size))
    with_gt = n_g > 0
    return MatchTable(
        iou_type=p.iouType,
        image_ids=np.asarray(p.imgIds, dtype=np.int64),
        category_ids=np.asarray(p.catIds, dtype=np.int64),
        det_image=(det_key // n_cat).astype(np.int32),
        det_category=(det_key % n_cat).astype(np.int32),
        det_score=_concat([np.asarray(e["dtScores"], float) for e in by_area[0]], (0,)),
        det_tp=np.stack(tp, axis=1),
        det_ignored=np.stack(ignored, axis=1),
        gt_image=(keys[with_gt] // n_cat).astype(np.int32),
        gt_category=(keys[with_gt] % n_cat).astype(np.int32),
        gt_counted=np.stack(counted, axis=1)[with_gt].astype(np.int32),
        iou_thresholds=np.asarray(p.iouThrs, dtype=np.float64),
        area_ranges=np.asarray(p.areaRng, dtype=np.float64),
        max_det=int(p.maxDets[-1]),
    )


def quiet_coco(dataset: Mapping[str, Any]) -> Any:
    """A pycocotools ``COCO`` indexing the COCO dict ``dataset`` (without printing)."""
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
    """The match table of COCO ``results`` against the COCO dict ``gt``
    (:func:`evaluate_images`' keywords; ``max_det`` per (image, category)).

    Raises:
        ValueError: On an unknown ``iou_type`` or results on images outside ``gt``.
    """
    if iou_type not in ("bbox", "segm"):
        raise ValueError(f"iou_type must be bbox or segm, got {iou_type!r}")
    stray = {r["image_id"] for r in results} - {img["id"] for img in gt["images"]}
    if stray:
        raise ValueError(f"results on {len(stray)} image(s) not in the ground truth")
    coco_eval = evaluate_images(
        quiet_coco(gt), results, iou_type, image_ids=image_ids, category_ids=category_ids,
        max_dets=(max_det,), thresholds=thresholds,
    )  # fmt: skip
    return table_from_cocoeval(coco_eval)


# --------------------------------------------------------------------------- MMEngine hook


def dump_from_metric(metric: Any, prefix: str | Path, out_file: str | Path) -> Path | None:
    """Write to ``out_file`` the match tables of the results that mmdet's ``CocoMetric``
    dumped to ``<prefix>.<iou_type>.json``, evaluated as the metric did (its ``_coco_api``,
    ``img_ids``, ``cat_ids``, ``proposal_nums``, ``iou_thrs``); None if there are none."""
    coco_api = getattr(metric, "_coco_api", None)
    if coco_api is None:
        return None
    tables = {}
    for iou_type in ("bbox", "segm"):
        results_file = Path(f"{prefix}.{iou_type}.json")
        if not results_file.is_file():
            continue
        results = json.loads(results_file.read_text())
        if iou_type == "segm":  # mmdet evaluates masks without their boxes (mask areas)
            results = [{k: v for k, v in r.items() if k != "bbox"} for r in results]
        coco_eval = evaluate_images(
            coco_api, results, iou_type,
            image_ids=list(metric.img_ids) if metric.img_ids is not None else None,
            category_ids=list(metric.cat_ids) if metric.cat_ids is not None else None,
            max_dets=tuple(getattr(metric, "proposal_nums", (100,))),
            thresholds=np.asarray(getattr(metric, "iou_thrs", IOU_THRESHOLDS), dtype=float),
        )  # fmt: skip
        tables[iou_type] = table_from_cocoeval(coco_eval)
    if not tables:
        return None
    return write_match_tables(out_file, tables, {"source": "mmdet CocoMetric"})


def per_image_hook(out_file: str | Path) -> Any:
    """An MMEngine hook that writes each evaluation's match tables to ``out_file``: it
    points the evaluator's CocoMetrics at a results prefix next to it before every
    validation, and matches their results after it (rank 0), so it holds the last one."""
    from mmengine.hooks import Hook

    out_file = Path(out_file)
    prefix = str(out_file.parent / "results")

    def coco_metrics(runner: Any) -> list[Any]:
        return [m for m in runner.val_loop.evaluator.metrics if hasattr(m, "outfile_prefix")]

    class _SBRPerImageHook(Hook):
        priority = "VERY_LOW"

        def before_val_epoch(self, runner: Any) -> None:
            out_file.parent.mkdir(parents=True, exist_ok=True)
            for metric in coco_metrics(runner):
                if metric.outfile_prefix is None and not getattr(metric, "format_only", False):
                    metric.outfile_prefix = prefix

        def after_val_epoch(self, runner: Any, metrics: dict | None = None) -> None:
            mine = [m for m in coco_metrics(runner) if m.outfile_prefix == prefix]
            if mine and getattr(runner, "rank", 0) == 0:
                dump_from_metric(mine[0], prefix, out_file)

    return _SBRPerImageHook()


__all__ = [
    "AREA_NAMES", "AREA_RANGES", "IOU_THRESHOLDS", "MatchTable", "dump_from_metric",
    "evaluate_images", "match_coco", "quiet_coco", "per_image_hook", "read_match_tables",
    "table_from_cocoeval", "write_match_tables",
]  # fmt: skip
