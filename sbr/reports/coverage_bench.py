"""``sbr bench coverage``: do the bootstrap's 95% intervals cover the truth 95% of the time?

A large population of images (ground truth and two detectors' scored detections, drawn
from a seed) is generated once; its AP for each detector, and their difference, are the
*true* values. Many validation sets of ``n`` images are drawn from it (with replacement:
independent images from the population), and for each one the reports' intervals are
computed exactly as the reports compute them (:func:`sbr.reports.bootstrap.shared_units`,
its jackknife, :meth:`~sbr.reports.bootstrap.Resampled.interval`, the paired difference of
one seed each). The empirical coverage is the share of validation sets whose interval holds the
true value; a 95% interval should give 0.95 (within the Monte-Carlo error
``sqrt(0.95 * 0.05 / reps)``).

The population is built directly as match tables (:class:`sbr.engine.per_image.MatchTable`),
like the detections ``sbr.reports.bootstrap_bench`` generates but without boxes: each
object is found by a detector with some probability, at an IoU drawn per object (a true
positive at the COCO thresholds it reaches), with a score that grows with that IoU;
false positives have lower scores. The two detectors share the objects and how hard
each one is, so their results are correlated like two models' on one image.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from sbr.engine.per_image import IOU_THRESHOLDS, MatchTable
from sbr.reports.bootstrap import (
    INTERVAL_METHOD,
    INTERVAL_METHODS,
    Resampled,
    evaluate,
    influence_values,
    shared_units,
)

_ALL_AREAS = np.array([[0.0, 1e10]])
#: IoU thresholds of the generated population: AP = mean of AP50 and AP75 (two of COCO's
#: ten, which keeps the bench five times faster than all ten).
THRESHOLDS = IOU_THRESHOLDS[[0, 5]]


@dataclass(frozen=True)
class Detections:
    """One detector's detections over the population, image by image (CSR)."""

    offsets: np.ndarray  # [I + 1] first detection of each image
    category: np.ndarray  # [D]
    score: np.ndarray  # [D]
    tp: np.ndarray  # [D] uint16: bit t set when a true positive at threshold t


@dataclass(frozen=True)
class Population:
    """Ground truth (objects per image and category) and two detectors' detections."""

    gt: np.ndarray  # [I, K] objects per image and category
    detectors: tuple[Detections, Detections]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _detector(
    rng: np.random.Generator, objects: tuple[np.ndarray, ...], skill: float, n_images: int,
    classes: int,
) -> Detections:  # fmt: skip
    """Detections of a detector of ``skill`` (higher: finds more, localises better)."""
    image, category, hardness, quality = objects
    found = hardness < 0.55 + 0.2 * skill
    iou = np.clip(quality + 0.05 * skill + rng.normal(0, 0.05, image.size), 0, 1)[found]
    score_tp = _sigmoid(6 * (iou - 0.6) + rng.normal(0, 1.0, iou.size))
    n_fp = rng.poisson(1.5 - 0.5 * skill, n_images * classes)
    fp_image = np.repeat(np.arange(n_images * classes) // classes, n_fp)
    fp_category = np.repeat(np.arange(n_images * classes) % classes, n_fp)
    score_fp = _sigmoid(rng.normal(-1.5, 1.2, fp_image.size))
    bits = (iou[:, None] >= THRESHOLDS[None, :]) * (1 << np.arange(THRESHOLDS.size))
    tp = np.concatenate([bits.sum(axis=1), np.zeros(fp_image.size, np.int64)]).astype(np.uint16)
    det_image = np.concatenate([image[found], fp_image])
    order = np.argsort(det_image, kind="stable")
    offsets = np.searchsorted(det_image[order], np.arange(n_images + 1))
    return Detections(
        offsets, np.concatenate([category[found], fp_category])[order],
        np.concatenate([score_tp, score_fp])[order], tp[order],
    )  # fmt: skip


def population(n_images: int = 100_000, classes: int = 4, seed: int = 0) -> Population:
    """A population of ``n_images`` images with about 1.2 objects per category each."""
    rng = np.random.default_rng(seed)
    gt = rng.poisson(1.2, (n_images, classes))
    image = np.repeat(np.arange(n_images), gt.sum(axis=1))
    category = np.concatenate([np.repeat(np.arange(classes), row) for row in gt])
    objects = (image, category, rng.random(image.size), rng.beta(6, 2, image.size))
    better = _detector(rng, objects, 1.0, n_images, classes)
    worse = _detector(rng, objects, 0.0, n_images, classes)
    return Population(gt, (better, worse))


def match_table(pop: Population, which: int, images: np.ndarray) -> MatchTable:
    """The match table of detector ``which`` on the population's ``images`` (repeats allowed).

    The drawn images become images ``0..n-1`` (a repeated image is a new image).
    """
    det = pop.detectors[which]
    starts, ends = det.offsets[images], det.offsets[images + 1]
    lengths = ends - starts
    det_image = np.repeat(np.arange(images.size), lengths)
    index = np.repeat(starts - np.r_[0, np.cumsum(lengths)[:-1]], lengths) + np.arange(
        lengths.sum()
    )
    gt = pop.gt[images]
    pair_image, pair_category = np.nonzero(gt)
    return MatchTable(
        iou_type="bbox", image_ids=np.arange(images.size), category_ids=np.arange(gt.shape[1]),
        det_image=det_image, det_category=det.category[index], det_score=det.score[index],
        det_tp=det.tp[index][:, None], det_ignored=np.zeros((index.size, 1), np.uint16),
        gt_image=pair_image, gt_category=pair_category,
        gt_counted=gt[pair_image, pair_category][:, None].astype(np.int64),
        iou_thresholds=THRESHOLDS.copy(), area_ranges=_ALL_AREAS.copy(),
    )  # fmt: skip


def _ap(table: MatchTable, weights: np.ndarray | None = None) -> np.ndarray:
    return evaluate(table, weights, ("mAP",))["mAP"]


def expected_ap(
    pop: Population, n_images: int, sets: int, seed: int = 0
) -> tuple[float, float, float]:  # fmt: skip
    """Monte-Carlo mean AP of each detector on ``sets`` fresh validation sets of ``n_images``.

    Returns ``(AP_0, AP_1, error)``: the expected AP of an ``n_images``-image set, the target
    of the reports' intervals (see :func:`coverage`), and the Monte-Carlo standard error of
    the difference ``AP_0 - AP_1``.
    """
    rng = np.random.default_rng([seed, n_images, 1])
    values = np.empty((sets, 2))
    for s in range(sets):
        images = rng.integers(0, pop.gt.shape[0], n_images)
        values[s] = [float(_ap(match_table(pop, w, images))[0]) for w in (0, 1)]
    spread = float(np.std(values[:, 0] - values[:, 1], ddof=1))
    return float(values[:, 0].mean()), float(values[:, 1].mean()), spread / math.sqrt(sets)


@dataclass
class Coverage:
    """Intervals of many validation sets of one size, and the truths they should hold.

    ``intervals[method]`` is ``[reps, 2, 2]``: for each validation set, the (low, high) limits
    of detector 0's AP (``[:, 0]``) and of the paired difference 0 - 1 (``[:, 1]``); the first
    method is the reports' (:data:`INTERVAL_METHOD`). Two truths: ``expected`` (the mean AP of
    an ``n_images``-image set, the reports' target) and ``population`` (AP on the whole
    population), each as (AP, difference).
    """

    n_images: int
    reps: int
    n_boot: int
    expected: tuple[float, float]
    population: tuple[float, float]
    truth_sets: int = 0
    intervals: dict[str, np.ndarray] = field(default_factory=dict)
    seconds: float = 0.0

    def rate(self, method: str, which: int, target: str = "expected") -> float:
        """Coverage of ``method`` for AP (``which`` 0) or the difference (1) of ``target``."""
        truth = getattr(self, target)[which]
        limits = self.intervals[method][:, which]
        return float(np.mean((limits[:, 0] <= truth) & (truth <= limits[:, 1])))

    def lines(self) -> list[str]:
        """One line for AP and one for the difference, each with ``coverage 0.xxx``."""
        error = math.sqrt(0.95 * 0.05 / self.reps)
        main, *others = self.intervals
        width = 100 * float(np.mean(np.diff(self.intervals[main][:, 0], axis=1)))
        lines = []
        for k, name in enumerate(("AP", "difference")):
            truth = f"{100 * self.expected[k]:.2f} points"
            lines.append(
                f"{name} at {self.n_images} images: coverage {self.rate(main, k):.3f} ({main}, "
                f"+-{error:.3f}; "
                + "".join(f"{m} {self.rate(m, k):.3f}; " for m in others)
                + f"of the expected {name} of a {self.n_images}-image set, {truth} over "
                f"{self.truth_sets} sets; of the population's {name} "
                f"{100 * self.population[k]:.2f}: {self.rate(main, k, 'population'):.3f}; "
                f"{self.reps} validation sets, B={self.n_boot}"
                + (f", mean width {width:.2f} points)" if k == 0 else f", {self.seconds:.0f} s)")
            )
        return lines


def _limits(resampled: tuple[Resampled, Resampled], method: str) -> np.ndarray:
    """``[2, 2]``: the (low, high) limits of the AP and of the difference."""
    return np.array([resampled[0].interval(method), resampled[1].interval(method)])


def _resampled(tables: list[MatchTable], n_boot: int, seed: int) -> tuple[Resampled, Resampled]:
    """Detector 0's AP and the difference 0 - 1, resampled as the reports resample them."""
    units = shared_units(tables[0].image_ids, n_boot, seed)
    values = [float(_ap(t)[0]) for t in tables]
    boot = [_ap(t, units.weights) for t in tables]
    influence = [influence_values(_ap(t, units.jackknife_weights())) for t in tables]
    return (
        Resampled(values[0], boot[0], influence[0], units.counts),
        Resampled(values[0] - values[1], boot[0] - boot[1], influence[0] - influence[1],
                  units.counts),
    )  # fmt: skip


def coverage(
    pop: Population, n_images: int, *, reps: int, n_boot: int, seed: int = 0,
    methods: tuple[str, ...] = (INTERVAL_METHOD,), truth_sets: int | None = None,
) -> Coverage:  # fmt: skip
    """Intervals of detector 0's AP and of the paired difference (0 - 1) on ``reps`` sets.

    All ``methods`` are computed from the same resamples of the same validation sets. The
    truth an interval should hold is the *expected* AP of a set of ``n_images``
    (:func:`expected_ap` over ``truth_sets`` independent sets, default ``max(2000,
    500_000 // n_images)``), the quantity that another lab's validation set of that size
    measures on average. The population's AP is recorded too: it differs from the expected
    one by a lattice effect of COCO's 101 recall thresholds (a set whose maximum recall
    crosses the next threshold gains that threshold's precision), which resampling cannot
    target.
    """
    truth_sets = truth_sets or max(2000, 500_000 // n_images)
    everything = np.arange(pop.gt.shape[0])
    population_ap = tuple(float(_ap(match_table(pop, w, everything))[0]) for w in (0, 1))
    mean_ap = expected_ap(pop, n_images, truth_sets, seed)
    result = Coverage(
        n_images, reps, n_boot,
        expected=(mean_ap[0], mean_ap[0] - mean_ap[1]),
        population=(population_ap[0], population_ap[0] - population_ap[1]),
        truth_sets=truth_sets,
    )  # fmt: skip
    result.intervals = {m: np.empty((reps, 2, 2)) for m in methods}
    rng = np.random.default_rng([seed, n_images])
    start = time.perf_counter()
    for rep in range(reps):
        images = rng.integers(0, everything.size, n_images)
        resampled = _resampled([match_table(pop, w, images) for w in (0, 1)], n_boot, seed + rep)
        for method in methods:
            result.intervals[method][rep] = _limits(resampled, method)
    result.seconds = time.perf_counter() - start
    return result


def bench_coverage(
    sizes: tuple[int, ...] = (32, 5000), reps: tuple[int, ...] = (1000, 200), *,
    n_boot: int = 1000, population_images: int = 100_000, seed: int = 0,
    methods: tuple[str, ...] = (INTERVAL_METHOD, *(m for m in INTERVAL_METHODS
                                                   if m != INTERVAL_METHOD)),
    truth_sets: int | None = None,
) -> list[Coverage]:  # fmt: skip
    """:func:`coverage` at each validation-set size (``reps[i]`` sets of ``sizes[i]`` images)."""
    pop = population(population_images, seed=seed)
    return [
        coverage(
            pop, size, reps=count, n_boot=n_boot, seed=seed, methods=methods, truth_sets=truth_sets
        )  # fmt: skip
        for size, count in zip(sizes, reps, strict=True)
    ]


__all__ = [
    "Coverage", "Population", "bench_coverage", "coverage", "expected_ap", "match_table",
    "population",
]  # fmt: skip
