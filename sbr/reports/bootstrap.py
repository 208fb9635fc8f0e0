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

Resamples. A resample of a validation set is one row of :func:`shared_weights`, which
depends only on the set of image ids, ``B`` and the seed: every row evaluated on that set,
in any table, uses the same weights, so the difference between any two of them is a
*paired* bootstrap, and adding a row changes no other row's interval.

Seeds. A row with ``S`` seeds is resampled on two levels (:func:`two_level`): images by
the shared weights, then seeds with replacement, their deviations scaled by
``sqrt(S / (S - 1))`` so that the seed variance of the mean is not understated by
``(S - 1) / S`` (Davison & Hinkley 1997, *Bootstrap Methods and their Application*,
Sec. 3.8). Two rows that are evaluations of one training (the same trial at each seed:
Table 4's L_e rows) are paired per seed instead and need one seed.

Intervals. 95% *studentized* bootstrap intervals (bootstrap-t: Efron & Tibshirani 1993,
*An Introduction to the Bootstrap*, Ch. 12; Davison & Hinkley 1997, Sec. 5.2), chosen by measured
coverage (:mod:`sbr.reports.coverage_bench`) over the basic (Davison & Hinkley 1997, eq. 5.6) and
percentile (Efron & Tibshirani 1993, Ch. 13) intervals, which cover 0.92-0.93 at 32 images: there
the bootstrap's spread itself varies from one validation set to the next, and only dividing
each resample by its own standard error takes that into account. The standard error is the
nonparametric delta method's (Davison & Hinkley 1997, Sec. 2.7): ``v = sum(l ** 2) / G ** 2`` over
the jackknife influence values ``l_g = (G - 1) * (mean(t_-) - t_-g)`` of the ``G`` resampling
units, and on a resample the same values weighted by how often each unit was drawn. A unit is
an image up to :data:`MAX_UNITS` images; a larger set is split (by its ids) into that many
blocks of images, which are drawn whole, so that the jackknife costs no more than the ``B``
resamples. Seeds: their variance of the mean enters every resample's variance as it is
(the image level is studentized; 3 seeds are too few to studentize). ``B`` = 1000 resamples,
seed 0. A difference's p-value (:func:`Resampled.p_value`) is the dual of its interval; the
daggers of a table are Holm-corrected (:func:`holm`).
"""

from __future__ import annotations

import functools
import hashlib
import zlib
from collections.abc import Sequence
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
DEFAULT_B = 1000  # pragma: no mutate (a choice, not a result)
DEFAULT_SEED = 0  # pragma: no mutate
CONFIDENCE = 0.95
#: Bootstrap interval methods (:meth:`Resampled.interval`; :func:`bootstrap_interval` knows
#: the two that need only the resampled values).
INTERVAL_METHODS = ("studentized", "basic", "percentile")
#: The method of every interval in the reports, chosen by ``sbr bench coverage``.
INTERVAL_METHOD = "studentized"
#: Most resampling units of a validation set: beyond it, blocks of images are drawn whole.
MAX_UNITS = 1000  # pragma: no mutate (a cost bound: the jackknife evaluates once per unit)
_EPS = np.spacing(1)
_CHUNK_ELEMENTS = (
    4_000_000  # pragma: no mutate; [Bc, N] elements per category and chunk of resamples
)


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
    """Number of recall thresholds <= each value (``[...]`` -> ``[...]`` int, 1..R)."""
    return np.searchsorted(RECALL_THRESHOLDS, recall, side="right")


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


def image_weights(
    n_images: int, n_boot: int = DEFAULT_B, seed: int | Sequence[int] = DEFAULT_SEED
) -> np.ndarray:
    """``[B, n]`` counts of each of ``n`` units in ``B`` resamples with replacement (seeded)."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n_images, size=(n_boot, n_images))
    keys = (draws + np.arange(n_boot)[:, None] * n_images).ravel()
    counts = np.bincount(keys, minlength=n_boot * n_images)
    return counts.reshape(n_boot, n_images).astype(np.float64)


def validation_set(image_ids: np.ndarray) -> str:
    """A short digest naming a validation set (its sorted image ids)."""
    ids = np.sort(np.asarray(image_ids, dtype=np.int64))
    return hashlib.sha256(ids.tobytes()).hexdigest()[:16]


def unit_of_image(n_images: int, stream: Sequence[int]) -> np.ndarray:
    """``[I]`` resampling unit of each image: itself up to :data:`MAX_UNITS` images, else one
    of :data:`MAX_UNITS` blocks of (nearly) equal size, images assigned by a seeded shuffle."""
    if n_images <= MAX_UNITS:
        return np.arange(n_images)
    order = np.random.default_rng([*stream, 1]).permutation(n_images)
    unit = np.empty(n_images, dtype=np.int64)
    unit[order] = np.arange(n_images) * MAX_UNITS // n_images
    return unit


@dataclass(frozen=True)
class Units:
    """How one validation set is resampled: its images' units and each resample's draws.

    Columns are the set's images in sorted id order (``MatchTable.image_ids`` order).
    """

    unit: np.ndarray  # [I] unit of each image
    counts: np.ndarray  # [B, G] how often each unit is drawn in each resample
    weights: np.ndarray  # [B, I] the image weights: counts of each image's unit

    @property
    def n_units(self) -> int:
        """``G``, the number of resampling units."""
        return int(self.counts.shape[1])

    def jackknife_weights(self) -> np.ndarray:
        """``[G, I]`` image weights of the ``G`` delete-one-unit sets (0: deleted)."""
        return (self.unit[None, :] != np.arange(self.n_units)[:, None]).astype(np.float64)


@functools.lru_cache(maxsize=4)
def _units_of(digest: str, n_images: int, n_boot: int, seed: int) -> Units:
    stream = [seed, int(digest, 16) % 2**63]
    unit = unit_of_image(n_images, stream)
    counts = image_weights(int(unit.max()) + 1, n_boot, stream)
    units = Units(unit, counts, counts[:, unit])
    for array in (units.unit, units.counts, units.weights):
        array.setflags(write=False)
    return units


def shared_units(image_ids: np.ndarray, n_boot: int = DEFAULT_B, seed: int = DEFAULT_SEED) -> Units:
    """The one resampling of a validation set (columns: sorted image ids).

    It depends only on the set of image ids, ``B`` and ``seed``: every row evaluated on
    this set, in any table, uses it (pairing), and adding a row changes no other row.
    """
    ids = np.asarray(image_ids)
    return _units_of(validation_set(ids), int(ids.size), n_boot, seed)


def shared_weights(
    image_ids: np.ndarray, n_boot: int = DEFAULT_B, seed: int = DEFAULT_SEED
) -> np.ndarray:
    """``[B, I]`` image weights of :func:`shared_units`."""
    return shared_units(image_ids, n_boot, seed).weights


def influence_values(jackknife: np.ndarray) -> np.ndarray:
    """Jackknife influence values ``l_g = (G - 1) * (mean(t_-) - t_-g)`` from ``[..., G]``
    delete-one-unit values (Davison & Hinkley 1997, Sec. 2.7.3)."""
    jackknife = np.asarray(jackknife, dtype=float)
    n_units = jackknife.shape[-1]
    return (n_units - 1) * (jackknife.mean(axis=-1, keepdims=True) - jackknife)


def delta_method_variance(
    influence: np.ndarray, counts: np.ndarray | None = None
) -> float | np.ndarray:
    """The nonparametric delta method's variance ``sum f (l - mean_f l) ** 2 / G ** 2``.

    Args:
        influence: ``[G]`` influence values of the statistic over the units.
        counts: ``[B, G]`` units drawn per resample (None: the data itself, ``f = 1``).

    Returns:
        The variance of the estimate, or ``[B]`` that of each resample.
    """
    influence = np.asarray(influence, dtype=float)
    n_units = influence.size
    if counts is None:
        return float(np.sum((influence - influence.mean()) ** 2) / n_units**2)
    first, second = counts @ influence, counts @ influence**2
    return np.maximum(second - first**2 / n_units, 0.0) / n_units**2


# --------------------------------------------------------------------------- intervals


def bootstrap_interval(
    samples: np.ndarray,
    estimate: float,
    method: str = "basic",
    confidence: float = CONFIDENCE,
) -> tuple[float, float]:
    """A ``confidence`` bootstrap interval of ``estimate`` from its resampled values alone.

    ``percentile`` (Efron & Tibshirani 1993, Ch. 13): the samples' central quantiles.
    ``basic`` (Davison & Hinkley 1997, eq. 5.6): ``2 * estimate - `` the upper and lower
    quantiles, which reverses the resamples' bias. The reports' interval,
    ``studentized``, also needs standard errors: :meth:`Resampled.interval`.
    """
    tail = (1 - confidence) / 2
    low, high = np.quantile(np.asarray(samples, dtype=float), [tail, 1 - tail])
    if method == "percentile":
        return float(low), float(high)
    if method == "basic":
        return float(2 * estimate - high), float(2 * estimate - low)
    raise ValueError(f"unknown interval method {method!r}; expected one of {INTERVAL_METHODS}")


def studentized_interval(
    t_values: np.ndarray, estimate: float, std_error: float, confidence: float = CONFIDENCE
) -> tuple[float, float]:
    """Bootstrap-t interval ``estimate - std_error * t`` at the upper and lower quantiles of
    ``t_values`` (``[B]`` studentized resamples; Efron & Tibshirani 1993, Ch. 12)."""
    tail = (1 - confidence) / 2
    low, high = np.quantile(np.asarray(t_values, dtype=float), [tail, 1 - tail])
    return float(estimate - std_error * high), float(estimate - std_error * low)


def _two_sided(samples: np.ndarray, centre: float) -> float:
    """Two-sided share of ``samples`` beyond ``centre``, counts ``(k + 1) / (B + 1)``."""
    samples = np.asarray(samples, dtype=float)
    n = samples.size + 1
    below = (np.count_nonzero(samples <= centre) + 1) / n
    above = (np.count_nonzero(samples >= centre) + 1) / n
    return float(min(1.0, 2 * min(below, above)))


def p_value(samples: np.ndarray, estimate: float, method: str = "basic") -> float:
    """Two-sided bootstrap p-value of "no difference", the dual of :func:`bootstrap_interval`.

    The ``1 - p`` interval of ``method`` just reaches 0: with ``basic`` the samples are
    compared with ``2 * estimate``, with ``percentile`` with 0. Counts are ``(k + 1) /
    (B + 1)`` (Davison & Hinkley 1997, eq. 4.11), so ``p > 0``.
    """
    if method not in ("basic", "percentile"):
        raise ValueError(f"p_value knows basic and percentile, not {method!r}")
    return _two_sided(samples, 2 * estimate if method == "basic" else 0.0)


def holm(p_values: Sequence[float], alpha: float = 1 - CONFIDENCE) -> list[bool]:
    """Holm's (1979) step-down rejections at family-wise level ``alpha``, in input order."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    rejected = [False] * len(p_values)
    for rank, i in enumerate(order):
        if p_values[i] > alpha / (len(p_values) - rank):
            break
        rejected[i] = True
    return rejected


def _without_std_error(method: str) -> str:
    """The interval method to use where no standard error is known: basic for studentized."""
    return "basic" if method == "studentized" else method


@dataclass(frozen=True)
class Resampled:
    """A statistic (a row's seed mean, or a difference of two) and what its interval needs.

    ``influence`` and ``counts`` (None where unknown: the seeds' validation sets differ)
    give the image level's standard error, fixed and per resample; ``seed_var`` is the
    variance of the estimate over seeds (0 with one seed), added to both.
    """

    estimate: float
    boot: np.ndarray  # [B] resampled values
    influence: np.ndarray | None = None  # [G] influence values over the units
    counts: np.ndarray | None = None  # [B, G] units drawn per resample
    seed_var: float = 0.0

    def _studentized(self) -> tuple[np.ndarray, float] | None:
        """(``[B]`` t values, standard error), or None when there is no standard error."""
        if self.influence is None or self.counts is None:
            return None
        variance = delta_method_variance(self.influence) + self.seed_var
        if variance <= 0:
            return None
        per_resample = delta_method_variance(self.influence, self.counts) + self.seed_var
        floor = variance * 1e-12  # a resample of one unit: no spread, a huge t
        t_values = (self.boot - self.estimate) / np.sqrt(np.maximum(per_resample, floor))
        return t_values, float(np.sqrt(variance))

    def method(self, method: str = INTERVAL_METHOD) -> str:
        """``method``, or ``basic`` where a studentized interval has no standard error."""
        if method == "studentized" and self._studentized() is None:
            return _without_std_error(method)
        return method

    def interval(
        self, method: str = INTERVAL_METHOD, confidence: float = CONFIDENCE
    ) -> tuple[float, float]:
        """The ``confidence`` interval of ``method`` (see :data:`INTERVAL_METHODS`)."""
        studentized = self._studentized() if method == "studentized" else None
        if studentized is None:
            plain = _without_std_error(method)
            return bootstrap_interval(self.boot, self.estimate, plain, confidence)
        t_values, std_error = studentized
        return studentized_interval(t_values, self.estimate, std_error, confidence)

    def p_value(self, method: str = INTERVAL_METHOD) -> float:
        """Two-sided p-value of "no difference", the dual of :meth:`interval`."""
        studentized = self._studentized() if method == "studentized" else None
        if studentized is None:
            return p_value(self.boot, self.estimate, _without_std_error(method))
        t_values, std_error = studentized
        return _two_sided(t_values, self.estimate / std_error)


# --------------------------------------------------------------------------- rows and seeds


@dataclass(frozen=True)
class Samples:
    """One row's statistic: per seed, its full-data value and its value on each resample.

    ``boot[s]`` uses the shared resampling of the row's validation set
    (:func:`shared_units`), so two rows on one set are paired image by image;
    ``influence[s]`` holds the seed's jackknife influence values over its units.
    """

    point: np.ndarray  # [S] full-data value per seed
    boot: np.ndarray  # [S, B] value per seed and resample
    seeds: tuple[str, ...]  # the seed of each entry
    trials: tuple[str, ...]  # the training (trial id) of each entry; "" unknown
    images: str  # validation set digest ("" when the seeds' sets differ)
    key: str  # the row's identity (``table4:row4``): its seed stream
    influence: np.ndarray | None = None  # [S, G] (None: unknown or sets differ)
    counts: np.ndarray | None = None  # [B, G] units drawn per resample

    @property
    def estimate(self) -> float:
        """Mean over seeds of the full-data values."""
        return float(np.mean(self.point))


def _seed_picks(n_seeds: int, n_boot: int, key: str, seed: int) -> np.ndarray:
    """``[B, S]`` seeds drawn with replacement; the stream depends only on ``key`` and ``seed``."""
    rng = np.random.default_rng([seed, zlib.crc32(key.encode())])
    return rng.integers(0, n_seeds, size=(n_boot, n_seeds))


def two_level(boot: np.ndarray, picks: np.ndarray) -> np.ndarray:
    """Two-level bootstrap of a mean over seeds: ``[S, B]`` values, ``[B, S]`` picks -> ``[B]``.

    Per resample (images already resampled by the weights), the seeds are drawn with
    replacement and their deviations from the resample's seed mean are scaled by
    ``sqrt(S / (S - 1))``: the naive draw understates the seed variance of a mean by
    ``(S - 1) / S``, the scaled one is unbiased (Davison & Hinkley 1997, Sec. 3.8;
    Efron & Tibshirani 1993, Sec. 5.4). One seed: the images' variation only.
    """
    n_seeds, n_boot = boot.shape
    if n_seeds == 1:
        return boot[0]
    centre = boot.mean(axis=0)
    drawn = boot[picks, np.arange(n_boot)[:, None]].mean(axis=1)
    return centre + np.sqrt(n_seeds / (n_seeds - 1)) * (drawn - centre)


def _seed_mean_variance(points: np.ndarray) -> float:
    """Variance of a mean over seeds from their spread (0 with one seed)."""
    return float(np.var(points, ddof=1) / points.size) if points.size > 1 else 0.0


def level_samples(row: Samples, seed: int = DEFAULT_SEED) -> Resampled:
    """The row's seed mean, resampled two-level over images and its own seeds."""
    n_seeds, n_boot = row.boot.shape
    boot = two_level(row.boot, _seed_picks(n_seeds, n_boot, row.key, seed))
    influence = None if row.influence is None else row.influence.mean(axis=0)
    return Resampled(row.estimate, boot, influence, row.counts, _seed_mean_variance(row.point))


def same_training(a: Samples, b: Samples) -> bool:
    """Whether two rows are evaluations of one training: the same trial at every common seed."""
    ta, tb = dict(zip(a.seeds, a.trials, strict=True)), dict(zip(b.seeds, b.trials, strict=True))
    common = [s for s in ta if s in tb]
    return bool(common) and all(ta[s] and ta[s] == tb[s] for s in common)


def delta_samples(a: Samples, b: Samples, seed: int = DEFAULT_SEED) -> Resampled:
    """The difference ``a - b``, paired over the images of their one validation set.

    One training (:func:`same_training`): per seed differences, then the two-level draw of
    their seeds. Two trainings: each side's own two-level draw; the images stay paired.

    Raises:
        ValueError: If the rows were not evaluated on one validation set.
    """
    if not a.images or a.images != b.images:
        raise ValueError(f"{a.key} and {b.key} were not evaluated on one validation set")
    known = a.influence is not None and b.influence is not None
    if not same_training(a, b):
        la, lb = level_samples(a, seed), level_samples(b, seed)
        influence = la.influence - lb.influence if known else None
        return Resampled(
            la.estimate - lb.estimate, la.boot - lb.boot, influence, a.counts,
            la.seed_var + lb.seed_var,
        )  # fmt: skip
    ib = {s: i for i, s in enumerate(b.seeds)}
    pairs = [(i, ib[s]) for i, s in enumerate(a.seeds) if s in ib]
    ia_, ib_ = (np.array(x) for x in zip(*pairs, strict=True))
    diff = a.boot[ia_] - b.boot[ib_]
    points = a.point[ia_] - b.point[ib_]
    picks = _seed_picks(len(pairs), diff.shape[1], f"{a.key}-{b.key}", seed)
    influence = (a.influence[ia_] - b.influence[ib_]).mean(axis=0) if known else None
    return Resampled(
        float(np.mean(points)), two_level(diff, picks), influence, a.counts,
        _seed_mean_variance(points),
    )  # fmt: skip


def row_samples(
    tables: Sequence[MatchTable],
    stats: Sequence[str],
    *,
    key: str,
    seeds: Sequence[str] = (),
    trials: Sequence[str] = (),
    n_boot: int = DEFAULT_B,
    seed: int = DEFAULT_SEED,
) -> dict[str, Samples]:
    """Per statistic, one row's :class:`Samples` from its match tables (one per seed)."""
    seeds = tuple(seeds) or tuple(str(i) for i in range(len(tables)))
    trials = tuple(trials) or ("",) * len(tables)
    sets = {validation_set(t.image_ids) for t in tables}
    units = [shared_units(t.image_ids, n_boot, seed) for t in tables]
    values = [
        (
            evaluate(t, u.weights, stats),
            evaluate(t, None, stats),
            evaluate(t, u.jackknife_weights(), stats),
        )
        for t, u in zip(tables, units, strict=True)
    ]
    one_set = len(sets) == 1
    digest = next(iter(sets)) if one_set else ""
    return {
        s: Samples(
            point=np.array([float(once[s][0]) for _, once, _ in values]),
            boot=np.stack([boot[s] for boot, _, _ in values]),
            seeds=seeds,
            trials=trials,
            images=digest,
            key=key,
            influence=np.stack([influence_values(j[s]) for *_, j in values]) if one_set else None,
            counts=units[0].counts if one_set else None,
        )
        for s in stats
    }


@dataclass(frozen=True)
class Interval:
    """Bootstrap results of one (row, statistic), in the statistic's unit (fractions).

    ``delta_*`` compare with the reference row (paired); NaN where it has no data.
    ``p`` is the difference's two-sided bootstrap p-value; ``same_training`` whether the
    two rows are evaluations of one training.
    """

    estimate: float
    low: float
    high: float
    delta: float = float("nan")
    delta_low: float = float("nan")
    delta_high: float = float("nan")
    p: float = float("nan")
    same_training: bool = False


def interval_of(row: Samples, reference: Samples | None, seed: int = DEFAULT_SEED) -> Interval:
    """The row's interval and, when ``reference`` is given, that of its paired difference."""
    estimate = row.estimate
    low, high = level_samples(row, seed).interval()
    low, high = max(low, 0.0), min(high, 1.0)  # AP's range
    if reference is None or not row.images or row.images != reference.images:
        return Interval(estimate, low, high)
    delta = delta_samples(row, reference, seed)
    d_low, d_high = delta.interval()
    return Interval(
        estimate, low, high, delta.estimate, d_low, d_high, delta.p_value(),
        same_training(row, reference),
    )  # fmt: skip


__all__ = [
    "DEFAULT_B",
    "DEFAULT_SEED",
    "INTERVAL_METHOD",
    "INTERVAL_METHODS",
    "MAX_UNITS",
    "RECALL_THRESHOLDS",
    "STATS",
    "Interval",
    "Prepared",
    "Resampled",
    "Samples",
    "Units",
    "bootstrap_interval",
    "delta_method_variance",
    "delta_samples",
    "evaluate",
    "holm",
    "image_weights",
    "influence_values",
    "interval_of",
    "level_samples",
    "p_value",
    "precision_array",
    "prepare",
    "row_samples",
    "same_training",
    "shared_units",
    "shared_weights",
    "studentized_interval",
    "summarize",
    "two_level",
    "unit_of_image",
    "validation_set",
]
