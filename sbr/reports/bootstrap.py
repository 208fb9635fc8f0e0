"""Paired bootstrap of COCO AP over validation images (pure numpy).

The per-image matching of an evaluation (:class:`sbr.engine.per_image.MatchTable`) is
computed once. A resample of the validation set is a vector of image weights ``w``
(how many times each image was drawn, with replacement); COCO AP on it is COCOeval's
``accumulate`` + ``summarize`` where every detection and every counted ground truth of
image ``i`` counts ``w[i]`` times. All resamples are accumulated at once:

1. per category, detections in COCOeval's order (concatenated image by image, then a
   stable sort on ``-score``);
2. weighted cumulative sums of true positives and of all counted detections, ``[B, N]``;
3. precision ``tp / (tp + fp + eps)`` and recall ``tp / n_gt`` only at true-positive
   positions (precision's right-to-left maximum and the first position reaching a
   recall threshold are always there), the envelope, then for each of the 101 recall
   thresholds the precision at the first position whose recall reaches it;
4. AP = mean of the ``[T, R, K]`` precisions of the categories with ground truth in
   the resample, exactly as ``COCOeval.summarize`` computes it.

With all weights 1 this is bit-for-bit COCOeval (the oracle tests). With integer
weights it equals evaluating the resample with duplicated images, except for the order
inside exact score ties between different images.

Intervals are 95% percentile intervals over ``B`` resamples (default 1000, seed 0),
re-centred on the estimate (:func:`percentile_interval`): AP's running-maximum
precision envelope makes resampled AP sit above the full-data AP.
Every row of a table uses the same resamples (the same image weights), so the
difference between a row and the reference row is a *paired* bootstrap. With several
seeds per row, each resample also draws the row's seeds with replacement (independently
per row) and averages their AP on the resampled images: the interval then covers
seed-to-seed and image-to-image variation together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from sbr.engine.per_image import MatchTable

#: COCO's 101 recall thresholds.
RECALL_THRESHOLDS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)
#: Statistic -> (area index, IoU threshold or None for the mean over thresholds).
STATS = {
    "mAP": (0, None),
    "mAP_50": (0, 0.5),
    "mAP_75": (0, 0.75),
    "mAP_s": (1, None),
    "mAP_m": (2, None),
    "mAP_l": (3, None),
}
DEFAULT_B = 1000
DEFAULT_SEED = 0
CONFIDENCE = 0.95
_EPS = np.spacing(1)
_CHUNK_ELEMENTS = 4_000_000  # [Bc, N] elements per category and chunk of resamples


@dataclass(frozen=True)
class _Category:
    """One category in one area range: detections in COCOeval's global order."""

    image: np.ndarray  # [N] image index of each detection
    tp_pos: tuple[np.ndarray, ...]  # per threshold: positions of true positives
    ig_pos: tuple[np.ndarray, ...]  # per threshold: positions of ignored detections


@dataclass(frozen=True)
class Prepared:
    """A match table arranged for accumulation in one area range."""

    n_images: int
    n_thresholds: int
    thresholds: np.ndarray
    categories: tuple[_Category, ...]
    gt_counted: np.ndarray  # [I, K] counted ground truths per image and category


def _unpack(bits: np.ndarray, n_thr: int) -> np.ndarray:
    """``[N]`` uint16 bit masks -> ``[T, N]`` booleans."""
    return (bits[None, :] >> np.arange(n_thr, dtype=np.uint16)[:, None]) & 1 == 1


def prepare(table: MatchTable, area: int = 0) -> Prepared:
    """Sort each category's detections once (COCOeval's order) for area range ``area``."""
    n_thr = len(table.iou_thresholds)
    categories = []
    for k in range(table.n_categories):
        mine = np.flatnonzero(table.det_category == k)  # stored image by image
        order = mine[np.argsort(-table.det_score[mine], kind="mergesort")]
        tp = _unpack(table.det_tp[order, area], n_thr)
        ig = _unpack(table.det_ignored[order, area], n_thr)
        categories.append(
            _Category(
                image=table.det_image[order].astype(np.int64),
                tp_pos=tuple(np.flatnonzero(tp[t]) for t in range(n_thr)),
                ig_pos=tuple(np.flatnonzero(ig[t]) for t in range(n_thr)),
            )
        )
    counted = np.zeros((table.n_images, table.n_categories))
    np.add.at(counted, (table.gt_image, table.gt_category), table.gt_counted[:, area])
    return Prepared(table.n_images, n_thr, table.iou_thresholds, tuple(categories), counted)


def _recall_counts(recall: np.ndarray) -> np.ndarray:
    """Number of recall thresholds <= each value (exact; ``[...]`` -> ``[...]`` int)."""
    thr = RECALL_THRESHOLDS
    count = np.clip(np.floor(recall * 100).astype(np.int64) + 1, 1, thr.size)
    for _ in range(2):  # floating point: move by one where the estimate is off
        up = (count < thr.size) & (thr[np.minimum(count, thr.size - 1)] <= recall)
        count = count + up
        down = thr[count - 1] > recall
        count = count - down
    return count


def _interpolated(tp_cum: np.ndarray, total: np.ndarray, n_gt: np.ndarray) -> np.ndarray:
    """COCO's 101-point interpolated precision at true-positive positions.

    Args:
        tp_cum: ``[B, n]`` weighted true positives up to each true positive.
        total: ``[B, n]`` weighted counted detections up to each true positive.
        n_gt: ``[B]`` weighted counted ground truths (> 0).

    Returns:
        ``[B, R]`` precision per recall threshold.
    """
    n_boot, n = tp_cum.shape
    precision = tp_cum / (total + _EPS)
    recall = tp_cum / n_gt[:, None]
    envelope = np.maximum.accumulate(precision[:, ::-1], axis=1)[:, ::-1]
    counts = _recall_counts(recall)  # [B, n] in 1..R
    n_bins = RECALL_THRESHOLDS.size + 1
    keys = (np.arange(n_boot)[:, None] * n_bins + counts).ravel()
    hist = np.bincount(keys, minlength=n_boot * n_bins).reshape(n_boot, n_bins)
    first = np.cumsum(hist, axis=1)[:, : RECALL_THRESHOLDS.size]  # [B, R] first index
    q = np.take_along_axis(envelope, np.minimum(first, n - 1), axis=1)
    return np.where(first < n, q, 0.0)


def precision_array(prepared: Prepared, weights: np.ndarray) -> np.ndarray:
    """COCOeval's ``precision[:, :, :, area, maxDet]`` for each weight vector.

    Args:
        prepared: From :func:`prepare`.
        weights: ``[B, I]`` image weights (1: COCOeval itself).

    Returns:
        ``[B, T, R, K]`` precision; -1 for categories without counted ground truth.
    """
    weights = np.asarray(weights, dtype=np.float64)
    n_boot = weights.shape[0]
    n_thr, n_rec = prepared.n_thresholds, RECALL_THRESHOLDS.size
    n_cat = len(prepared.categories)
    out = -np.ones((n_boot, n_thr, n_rec, n_cat))
    n_gt = weights @ prepared.gt_counted  # [B, K]
    for k, cat in enumerate(prepared.categories):
        valid = np.flatnonzero(n_gt[:, k] > 0)
        if valid.size == 0:
            continue
        out[valid, :, :, k] = 0.0
        if cat.image.size == 0 or not any(p.size for p in cat.tp_pos):
            continue
        step = max(1, _CHUNK_ELEMENTS // max(cat.image.size, 1))
        for lo in range(0, valid.size, step):
            rows = valid[lo : lo + step]
            _fill_category(out, k, rows, cat, weights[rows][:, cat.image], n_gt[rows, k])
    return out


def _fill_category(
    out: np.ndarray, k: int, rows: np.ndarray, cat: _Category, w: np.ndarray, n_gt: np.ndarray
) -> None:
    """Precision of category ``k`` for resamples ``rows``; ``w`` is ``[b, N]`` weights."""
    total_all = np.cumsum(w, axis=1)
    for t, tp_pos in enumerate(cat.tp_pos):
        if tp_pos.size == 0:
            continue
        tp_cum = np.cumsum(w[:, tp_pos], axis=1)
        total = total_all[:, tp_pos]
        ig_pos = cat.ig_pos[t]
        if ig_pos.size:
            ig_cum = np.concatenate(
                [np.zeros((w.shape[0], 1)), np.cumsum(w[:, ig_pos], axis=1)], axis=1
            )
            total = total - ig_cum[:, np.searchsorted(ig_pos, tp_pos)]
        out[rows, t, :, k] = _interpolated(tp_cum, total, n_gt)


def summarize(precision: np.ndarray, thresholds: np.ndarray, iou: float | None) -> np.ndarray:
    """``COCOeval.summarize``'s AP per resample: mean over valid entries, -1 if none.

    Args:
        precision: ``[B, T, R, K]`` from :func:`precision_array`.
        thresholds: ``[T]`` IoU thresholds.
        iou: One threshold (AP50: 0.5) or None for all.
    """
    if iou is not None:
        precision = precision[:, np.flatnonzero(iou == thresholds)]
    values = np.empty(precision.shape[0])
    for b, s in enumerate(precision):
        kept = s[s > -1]
        values[b] = np.mean(kept) if kept.size else -1.0
    return values


def evaluate(
    table: MatchTable, weights: np.ndarray | None = None, stats: Sequence[str] = ("mAP",)
) -> dict[str, np.ndarray]:
    """COCO statistics of ``table`` for each weight vector (None: all images once).

    Args:
        table: The per-image matching.
        weights: ``[B, I]`` image weights in ``table.image_ids`` order.
        stats: Names from :data:`STATS` (CocoMetric's: ``mAP``, ``mAP_50``...).

    Returns:
        ``{stat: [B] values}`` (fractions, as COCOeval; -1 where undefined).
    """
    unknown = [s for s in stats if s not in STATS]
    if unknown:
        raise ValueError(f"unknown statistic(s) {unknown}; expected {sorted(STATS)}")
    if weights is None:
        weights = np.ones((1, table.n_images))
    result: dict[str, np.ndarray] = {}
    for area in sorted({STATS[s][0] for s in stats}):
        precision = precision_array(prepare(table, area), weights)
        for stat in stats:
            if STATS[stat][0] == area:
                result[stat] = summarize(precision, table.iou_thresholds, STATS[stat][1])
    return result


def image_weights(n_images: int, n_boot: int = DEFAULT_B, seed: int = DEFAULT_SEED) -> np.ndarray:
    """``[B, n]`` counts of each image in ``B`` resamples with replacement (seeded)."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n_images, size=(n_boot, n_images))
    keys = (draws + np.arange(n_boot)[:, None] * n_images).ravel()
    counts = np.bincount(keys, minlength=n_boot * n_images)
    return counts.reshape(n_boot, n_images).astype(np.float64)


def percentile_interval(
    samples: np.ndarray, confidence: float = CONFIDENCE, estimate: float | None = None
) -> tuple[float, float]:
    """A ``confidence`` bootstrap interval from ``samples``.

    Without ``estimate``: the central percentile interval. With it: that interval
    re-centred on the estimate, ``estimate + (quantile - median)``. Resampled AP sits
    above the full-data AP (COCO's interpolated precision is a running maximum, and
    resampling adds noise for it to pick up); on COCO-sized sets that shift exceeds the
    spread, so plain percentiles (and Efron's BC, which only moves within them) would
    exclude the estimate. The spread is what measures the sampling variability.
    """
    samples = np.asarray(samples, dtype=float)
    tail = (1 - confidence) / 2
    low, mid, high = np.quantile(samples, [tail, 0.5, 1 - tail])
    if estimate is None:
        return float(low), float(high)
    return float(estimate + (low - mid)), float(estimate + (high - mid))


# --------------------------------------------------------------------------- tables


@dataclass(frozen=True)
class Interval:
    """Bootstrap results of one (row, statistic), in the statistic's unit (fractions).

    ``delta_*`` compare with the reference row (paired); NaN where it has no data.
    """

    estimate: float
    low: float
    high: float
    delta: float = float("nan")
    delta_low: float = float("nan")
    delta_high: float = float("nan")

    @property
    def significant(self) -> bool:
        """Whether the difference's interval excludes 0."""
        return bool(self.delta_low > 0 or self.delta_high < 0)


def _seed_mean(per_seed: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``[S, B]`` -> ``[B]``: per resample, the mean over ``S`` seeds drawn with replacement."""
    n_seeds, n_boot = per_seed.shape
    if n_seeds == 1:
        return per_seed[0]
    picks = rng.integers(0, n_seeds, size=(n_boot, n_seeds))
    return per_seed[picks, np.arange(n_boot)[:, None]].mean(axis=1)


def row_intervals(
    rows: Mapping[str, Sequence[MatchTable]],
    reference: str,
    stats: Sequence[str],
    *,
    n_boot: int = DEFAULT_B,
    seed: int = DEFAULT_SEED,
    confidence: float = CONFIDENCE,
) -> dict[tuple[str, str], Interval]:
    """Per-row intervals and paired differences to ``reference`` for one IoU type.

    Args:
        rows: Row id -> its match tables (one per seed); rows without data are left out.
        reference: The reference row id (its own delta is 0).
        stats: Statistics (:data:`STATS` names).
        n_boot: Resamples.
        seed: Seed of the image draws (row ``n`` draws its seeds from ``[seed, n]``).
        confidence: Interval coverage.

    Returns:
        ``{(row, stat): Interval}``. The image weights are drawn over the union of the
        tables' image ids and shared by every row (pairing).
    """
    if not rows:
        return {}
    union = np.unique(np.concatenate([t.image_ids for ts in rows.values() for t in ts]))
    weights = image_weights(union.size, n_boot, seed)
    boot: dict[str, dict[str, np.ndarray]] = {}
    point: dict[str, dict[str, float]] = {}
    for number, (row, tables) in enumerate(rows.items()):
        per_seed = {s: [] for s in stats}
        full = {s: [] for s in stats}
        for table in tables:
            positions = np.searchsorted(union, table.image_ids)
            values = evaluate(table, weights[:, positions], stats)
            once = evaluate(table, None, stats)
            for s in stats:
                per_seed[s].append(values[s])
                full[s].append(float(once[s][0]))
        rng = np.random.default_rng([seed, number + 1])
        boot[row] = {s: _seed_mean(np.stack(per_seed[s]), rng) for s in stats}
        point[row] = {s: float(np.mean(full[s])) for s in stats}
    result = {}
    for row in rows:
        for s in stats:
            low, high = percentile_interval(boot[row][s], confidence, point[row][s])
            low, high = max(low, 0.0), min(high, 1.0)  # re-centred: kept within AP's range
            interval = Interval(point[row][s], low, high)
            if reference in boot:
                diff = boot[row][s] - boot[reference][s]
                d_point = point[row][s] - point[reference][s]
                d_low, d_high = percentile_interval(diff, confidence, d_point)
                interval = Interval(
                    point[row][s], low, high, point[row][s] - point[reference][s], d_low, d_high
                )
            result[(row, s)] = interval
    return result


__all__ = [
    "DEFAULT_B",
    "DEFAULT_SEED",
    "RECALL_THRESHOLDS",
    "STATS",
    "Interval",
    "Prepared",
    "evaluate",
    "image_weights",
    "percentile_interval",
    "precision_array",
    "prepare",
    "row_intervals",
    "summarize",
]
