"""``sbr bench bootstrap``: the bootstrap on COCO-val-sized results, against pycocotools.

Synthetic results shaped like COCO val2017 (5,000 images, 80 classes, 100 detections
per image, generated from a seed) are matched once by pycocotools' ``COCOeval.evaluate``
(:func:`sbr.engine.per_image.evaluate_images`), stored as the per-image artifact (its
size is reported), then bootstrapped with B resamples by the vectorised engine
(:mod:`sbr.reports.bootstrap`). The baseline, timed in the same run on a few resamples,
is pycocotools' own ``COCOeval.accumulate`` on each resample (the same evaluation, with
the resampled images repeated). Their AP must agree.
"""

from __future__ import annotations

import contextlib
import copy
import io
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sbr.engine.per_image import (
    evaluate_images,
    quiet_coco,
    table_from_cocoeval,
    write_match_tables,
)
from sbr.reports.bootstrap import evaluate

_STATS = ("mAP", "mAP_50", "mAP_75")


def _objects(rng: np.random.Generator, images: int, dets: int) -> tuple[np.ndarray, ...]:
    """Ground-truth objects: ``[G]`` image index, ``[G, 4]`` xywh boxes, ``[I]`` count per image."""
    per_image = np.minimum(rng.poisson(7.3, images), dets // 2)
    g_img = np.repeat(np.arange(images), per_image)
    size = np.exp(rng.uniform(np.log(8), np.log(300), (g_img.size, 2)))
    xy = rng.uniform(0, 640, (g_img.size, 2)) - size / 2
    return g_img, np.concatenate([xy, size], axis=1).round(2), per_image


def _detections(
    rng: np.random.Generator, g_boxes: np.ndarray, g_cat: np.ndarray, per_image: np.ndarray,
    classes: int, dets: int,
) -> tuple[np.ndarray, ...]:  # fmt: skip
    """``dets`` detections per image: jittered copies of its objects (0-3 each, 10% with a
    wrong class, scores 0.2-1), then random boxes (scores mostly low).

    Returns:
        ``[N]`` image index, ``[N, 4]`` xywh boxes, ``[N]`` category index, ``[N]`` score.
    """
    images = per_image.size
    copies = rng.integers(0, 4, g_cat.size)
    starts = np.r_[0, np.cumsum(per_image)[:-1]]
    g_img = np.repeat(np.arange(images), per_image)
    take = np.minimum(np.bincount(g_img, copies, images).astype(int), dets)
    src = np.concatenate(
        [np.repeat(np.arange(s, s + n), copies[s : s + n])[:t]
         for s, n, t in zip(starts, per_image, take, strict=True)] or [np.zeros(0, int)]
    )  # fmt: skip
    copied = g_boxes[src].copy()  # shifted and rescaled by ~10% of the object's size
    copied[:, :2] += rng.normal(0, 0.08, (src.size, 2)) * copied[:, 2:]
    copied[:, 2:] *= np.exp(rng.normal(0, 0.1, (src.size, 2)))
    n_random = images * dets - src.size
    r_size = np.exp(rng.uniform(np.log(8), np.log(300), (n_random, 2)))
    random_boxes = np.concatenate([rng.uniform(0, 640, (n_random, 2)), r_size], axis=1)
    boxes = np.empty((images * dets, 4))
    category = rng.integers(0, classes, images * dets)
    score = (rng.random(images * dets) ** 3 * 0.7).astype(np.float32)  # mostly low
    is_copy = np.zeros(images * dets, bool)
    positions = np.concatenate([i * dets + np.arange(t) for i, t in enumerate(take)])
    is_copy[positions] = True
    boxes[positions] = copied
    boxes[~is_copy] = random_boxes
    wrong = rng.random(src.size) < 0.1
    category[positions] = np.where(wrong, rng.integers(0, classes, src.size), g_cat[src])
    score[positions] = (0.2 + 0.8 * rng.random(src.size)).astype(np.float32)
    return np.repeat(np.arange(images), dets), boxes.round(2), category, score


def synthetic_results(
    images: int = 5000, classes: int = 80, dets: int = 100, seed: int = 0
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A COCO-like ground truth (dict) and its detections (COCO results), from ``seed``.

    About 7 objects per image (COCO's mean), 1% crowd regions, sizes over the three COCO
    area ranges; ``dets`` detections per image with float32 scores.
    """
    rng = np.random.default_rng(seed)
    g_img, g_boxes, per_image = _objects(rng, images, dets)
    g_cat = rng.integers(0, classes, g_img.size)
    crowd = rng.random(g_img.size) < 0.01
    d_img, d_boxes, d_cat, d_score = _detections(rng, g_boxes, g_cat, per_image, classes, dets)
    objects = zip(g_img.tolist(), g_cat.tolist(), g_boxes.tolist(), crowd.tolist(), strict=True)
    gt = {
        "images": [{"id": i + 1, "width": 640, "height": 640} for i in range(images)],
        "categories": [{"id": k + 1, "name": str(k + 1)} for k in range(classes)],
        "annotations": [
            {"id": n + 1, "image_id": i + 1, "category_id": k + 1, "bbox": box,
             "area": box[2] * box[3] * 0.8, "iscrowd": int(c)}
            for n, (i, k, box, c) in enumerate(objects)
        ],
    }  # fmt: skip
    results = [
        {"image_id": int(i) + 1, "category_id": int(k) + 1, "bbox": box, "score": float(s)}
        for i, k, box, s in zip(d_img, d_cat, d_boxes.tolist(), d_score, strict=True)
    ]
    return gt, results


def cocoeval_resample(coco_eval: Any, counts: np.ndarray) -> dict[str, float]:
    """AP/AP50/AP75 of one resample by pycocotools' own ``COCOeval.accumulate``.

    ``coco_eval`` is evaluated once; the resample repeats image ``i`` ``counts[i]`` times
    (in image order), as a COCOeval over the images repeated would see them.
    """
    params = copy.copy(coco_eval._paramsEval)
    n_img, n_cat_area = len(params.imgIds), len(params.catIds) * len(params.areaRng)
    picked = np.repeat(np.arange(n_img), counts.astype(int))
    params.imgIds = list(range(picked.size))
    resample = copy.copy(coco_eval)
    resample.params = resample._paramsEval = params
    slots = (np.arange(n_cat_area)[:, None] * n_img + picked[None, :]).ravel()
    resample.evalImgs = [coco_eval.evalImgs[i] for i in slots]
    with contextlib.redirect_stdout(io.StringIO()):
        resample.accumulate()
    precision = resample.eval["precision"][:, :, :, 0, params.maxDets.index(100)]  # [T, R, K]
    out = {}
    for stat, iou in (("mAP", None), ("mAP_50", 0.5), ("mAP_75", 0.75)):
        s = precision if iou is None else precision[np.flatnonzero(iou == params.iouThrs)]
        kept = s[s > -1]
        out[stat] = float(np.mean(kept)) if kept.size else -1.0
    return out


@dataclass
class BootstrapBench:
    """What ``sbr bench bootstrap`` measured."""

    images: int
    classes: int
    dets_per_image: int
    n_boot: int
    naive_boot: int
    artifact_bytes: int = 0
    match_s: float = 0.0
    bootstrap_s: float = 0.0
    jackknife_s: float = 0.0
    units: int = 0
    naive_s: float = 0.0
    max_abs_diff: float = 0.0
    ap: float = 0.0
    ci: tuple[float, float] = (0.0, 0.0)
    notes: list[str] = field(default_factory=list)

    @property
    def per_resample_s(self) -> float:
        """Vectorised seconds per resample."""
        return self.bootstrap_s / max(self.n_boot, 1)

    @property
    def naive_per_resample_s(self) -> float:
        """Naive-loop seconds per resample."""
        return self.naive_s / max(self.naive_boot, 1)

    @property
    def speedup(self) -> float:
        """Naive time per resample over vectorised time per resample."""
        return self.naive_per_resample_s / self.per_resample_s if self.bootstrap_s else 0.0

    def lines(self) -> list[str]:
        """The report printed by the command."""
        n_dets = self.images * self.dets_per_image
        return [
            f"bootstrap bench: {self.images} images, {self.classes} classes, "
            f"{self.dets_per_image} detections/image ({n_dets}), bbox",
            f"per-image artifact (match table, npz): {self.artifact_bytes / 2**20:.2f} MiB",
            f"matching (once): {self.match_s:.1f} s (pycocotools COCOeval.evaluate)",
            f"vectorised bootstrap, B={self.n_boot} (AP, AP50, AP75): {self.bootstrap_s:.1f} s",
            f"jackknife over {self.units} resampling units (the studentized interval's standard "
            f"errors): {self.jackknife_s:.1f} s",
            f"naive loop (pycocotools COCOeval.accumulate per resample), B={self.naive_boot}: "
            f"{self.naive_s:.1f} s ({self.naive_per_resample_s:.2f} s per resample)",
            f"speed-up: {self.speedup:.0f}x per resample "
            f"(naive B={self.n_boot} would take ~{self.naive_per_resample_s * self.n_boot:.0f} s)",
            f"AP {100 * self.ap:.2f}, 95% studentized CI "
            f"[{100 * self.ci[0]:.2f}, {100 * self.ci[1]:.2f}]; "
            f"max |AP naive - vectorised| = {self.max_abs_diff:.2e}",
            *self.notes,
        ]


def bench_bootstrap(
    *,
    images: int = 5000,
    classes: int = 80,
    dets: int = 100,
    n_boot: int = 1000,
    naive_boot: int = 3,
    seed: int = 0,
) -> BootstrapBench:
    """Time the vectorised bootstrap and pycocotools' accumulate on the same resamples."""
    from sbr.reports.bootstrap import INTERVAL_METHOD, Resampled, influence_values, shared_units

    result = BootstrapBench(images, classes, dets, n_boot, naive_boot)
    gt, detections = synthetic_results(images, classes, dets, seed)
    start = time.perf_counter()
    coco_eval = evaluate_images(quiet_coco(gt), detections, "bbox", max_dets=(100,))
    table = table_from_cocoeval(coco_eval)
    result.match_s = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        path = write_match_tables(Path(tmp) / "match_tables.npz", {"bbox": table})
        result.artifact_bytes = path.stat().st_size
    units = shared_units(table.image_ids, n_boot, seed)
    weights, result.units = units.weights, units.n_units
    start = time.perf_counter()
    values = evaluate(table, weights, _STATS)
    result.bootstrap_s = time.perf_counter() - start
    start = time.perf_counter()
    jackknife = evaluate(table, units.jackknife_weights(), ("mAP",))["mAP"]
    result.jackknife_s = time.perf_counter() - start
    result.ap = float(evaluate(table, None, ("mAP",))["mAP"][0])
    resampled = Resampled(result.ap, values["mAP"], influence_values(jackknife), units.counts)
    result.ci = resampled.interval(INTERVAL_METHOD)
    start = time.perf_counter()
    naive = [cocoeval_resample(coco_eval, weights[b]) for b in range(min(naive_boot, n_boot))]
    result.naive_s = time.perf_counter() - start
    result.max_abs_diff = max(
        (abs(n[s] - values[s][b]) for b, n in enumerate(naive) for s in _STATS), default=0.0
    )
    return result


__all__ = ["BootstrapBench", "bench_bootstrap", "cocoeval_resample", "synthetic_results"]
