"""``sbr bench bootstrap``: the bootstrap on COCO-val-sized results, against a naive loop.

Synthetic results shaped like COCO val2017 (5,000 images, 80 classes, 100 detections
per image, generated from a seed) are matched once (:func:`sbr.engine.per_image.match_arrays`),
stored as the per-image artifact (its size is reported), then bootstrapped with B
resamples by the vectorised engine (:mod:`sbr.reports.bootstrap`). The baseline, timed
in the same run on a few resamples, is the naive loop: for every resample, COCOeval's
``accumulate`` as pycocotools writes it (concatenate the images' detections with the
resampled images repeated, stable sort, per-threshold cumulative sums, the Python
precision envelope), reusing the same matching. Their AP must agree.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sbr.engine.per_image import MatchTable, _Side, match_arrays, write_match_tables
from sbr.reports.bootstrap import (
    RECALL_THRESHOLDS,
    evaluate,
    image_weights,
)

_STATS = ("mAP", "mAP_50", "mAP_75")


def synthetic_results(
    images: int = 5000, classes: int = 80, dets: int = 100, seed: int = 0
) -> tuple[_Side, _Side]:
    """COCO-like ground truth and detections (xywh boxes), reproducible from ``seed``.

    About 7 objects per image (COCO's mean), 1% crowd regions, sizes over the three COCO
    area ranges; detections are jittered copies of objects (some with the wrong class)
    and random boxes, ``dets`` per image with float32 scores.
    """
    rng = np.random.default_rng(seed)
    per_image = np.minimum(rng.poisson(7.3, images), dets // 2)
    g_img = np.repeat(np.arange(images), per_image)
    n_gt = g_img.size
    size = np.exp(rng.uniform(np.log(8), np.log(300), (n_gt, 2)))
    xy = rng.uniform(0, 640, (n_gt, 2)) - size / 2
    g_boxes = np.concatenate([xy, size], axis=1).round(2)
    gts = _Side(
        image=g_img,
        category=rng.integers(0, classes, n_gt),
        area=g_boxes[:, 2] * g_boxes[:, 3] * 0.8,
        boxes=g_boxes,
        crowd=rng.random(n_gt) < 0.01,
        ann_id=np.arange(1, n_gt + 1),
    )
    copies = rng.integers(0, 4, n_gt)  # 0-3 detections per object
    starts = np.r_[0, np.cumsum(per_image)[:-1]]
    take = np.minimum(np.bincount(g_img, copies, images).astype(int), dets)
    src, det_img = [], []
    for i in range(images):  # jittered copies first, then random boxes up to `dets`
        own = np.arange(starts[i], starts[i] + per_image[i])
        objects = np.repeat(own, copies[own])
        src.append(objects[: take[i]])
        det_img.append(np.full(dets, i))
    src_all = np.concatenate(src)
    det_img = np.concatenate(det_img)
    copied = g_boxes[src_all].copy()  # shifted and rescaled by ~10% of the object's size
    copied[:, :2] += rng.normal(0, 0.08, (src_all.size, 2)) * copied[:, 2:]
    copied[:, 2:] *= np.exp(rng.normal(0, 0.1, (src_all.size, 2)))
    n_random = images * dets - src_all.size
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
    wrong = rng.random(src_all.size) < 0.1
    category[positions] = np.where(
        wrong, rng.integers(0, classes, src_all.size), gts.category[src_all]
    )
    score[positions] = (0.2 + 0.8 * rng.random(src_all.size)).astype(np.float32)
    detections = _Side(
        image=det_img,
        category=category,
        area=boxes[:, 2] * boxes[:, 3],
        boxes=boxes.round(2),
        score=score.astype(np.float64),
    )
    return gts, detections


def naive_accumulate(table: MatchTable, weights: np.ndarray) -> dict[str, float]:
    """AP/AP50/AP75 of one resample, the way ``COCOeval.accumulate`` computes it.

    The resampled images are repeated ``weights[i]`` times, in image order; each
    category's detections are concatenated, stably sorted on ``-score`` and accumulated
    with pycocotools' per-threshold loop and Python precision envelope.
    """
    n_thr = len(table.iou_thresholds)
    n_rec = RECALL_THRESHOLDS.size
    counts = weights.astype(int)
    precision = -np.ones((n_thr, n_rec, table.n_categories))
    gt = np.zeros((table.n_images, table.n_categories))
    np.add.at(gt, (table.gt_image, table.gt_category), table.gt_counted[:, 0])
    bits = np.arange(n_thr, dtype=np.uint16)[:, None]
    for k in range(table.n_categories):
        npig = float(counts @ gt[:, k])
        if npig == 0:
            continue
        mine = np.flatnonzero(table.det_category == k)
        repeat = counts[table.det_image[mine]]
        picked = np.concatenate(
            [np.tile(mine[table.det_image[mine] == i], counts[i]) for i in
             np.unique(table.det_image[mine]) if counts[i]]  # image by image, repeated
        ) if repeat.any() else np.zeros(0, int)  # fmt: skip
        inds = np.argsort(-table.det_score[picked], kind="mergesort")
        dtm = ((table.det_tp[picked, 0][None, :] >> bits) & 1)[:, inds] == 1
        dtig = ((table.det_ignored[picked, 0][None, :] >> bits) & 1)[:, inds] == 1
        tps = np.logical_and(dtm, np.logical_not(dtig))
        fps = np.logical_and(np.logical_not(dtm), np.logical_not(dtig))
        tp_sum = np.cumsum(tps, axis=1).astype(dtype=float)
        fp_sum = np.cumsum(fps, axis=1).astype(dtype=float)
        for t, (tp, fp) in enumerate(zip(tp_sum, fp_sum, strict=True)):
            nd = len(tp)
            rc = tp / npig
            pr = (tp / (fp + tp + np.spacing(1))).tolist()
            q = [0.0] * n_rec
            for i in range(nd - 1, 0, -1):
                if pr[i] > pr[i - 1]:
                    pr[i - 1] = pr[i]
            inds_r = np.searchsorted(rc, RECALL_THRESHOLDS, side="left")
            for ri, pi in enumerate(inds_r):
                if pi >= nd:
                    break
                q[ri] = pr[pi]
            precision[t, :, k] = q
    out = {}
    for stat, iou in (("mAP", None), ("mAP_50", 0.5), ("mAP_75", 0.75)):
        s = precision if iou is None else precision[np.flatnonzero(iou == table.iou_thresholds)]
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
            f"matching (once): {self.match_s:.1f} s",
            f"vectorised bootstrap, B={self.n_boot} (AP, AP50, AP75): {self.bootstrap_s:.1f} s",
            f"naive loop (COCOeval accumulate per resample), B={self.naive_boot}: "
            f"{self.naive_s:.1f} s ({self.naive_per_resample_s:.2f} s per resample)",
            f"speed-up: {self.speedup:.0f}x per resample "
            f"(naive B={self.n_boot} would take ~{self.naive_per_resample_s * self.n_boot:.0f} s)",
            f"AP {100 * self.ap:.2f}, 95% CI [{100 * self.ci[0]:.2f}, {100 * self.ci[1]:.2f}]; "
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
    """Time the vectorised bootstrap and the naive loop on the same synthetic results."""
    from sbr.reports.bootstrap import percentile_interval

    result = BootstrapBench(images, classes, dets, n_boot, naive_boot)
    gts, detections = synthetic_results(images, classes, dets, seed)
    start = time.perf_counter()
    table = match_arrays(
        "bbox", gts, detections, image_ids=np.arange(1, images + 1),
        category_ids=np.arange(1, classes + 1), max_det=100,
    )  # fmt: skip
    result.match_s = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        path = write_match_tables(Path(tmp) / "match_tables.npz", {"bbox": table})
        result.artifact_bytes = path.stat().st_size
    weights = image_weights(images, n_boot, seed)
    start = time.perf_counter()
    values = evaluate(table, weights, _STATS)
    result.bootstrap_s = time.perf_counter() - start
    result.ap = float(evaluate(table, None, ("mAP",))["mAP"][0])
    result.ci = percentile_interval(values["mAP"], estimate=result.ap)
    start = time.perf_counter()
    naive = [naive_accumulate(table, weights[b]) for b in range(min(naive_boot, n_boot))]
    result.naive_s = time.perf_counter() - start
    result.max_abs_diff = max(
        (abs(n[s] - values[s][b]) for b, n in enumerate(naive) for s in _STATS), default=0.0
    )
    return result


__all__ = ["BootstrapBench", "bench_bootstrap", "naive_accumulate", "synthetic_results"]
