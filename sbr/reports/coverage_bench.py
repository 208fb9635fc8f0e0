"""``sbr bench coverage``: do the bootstrap's 95% intervals cover the truth 95% of the time?

A large population of images (ground truth and two detectors' scored detections, drawn
from a seed) is generated once. Many validation sets of ``n`` images are drawn from it
(with replacement: independent images from the population), and for each one the reports'
intervals are computed exactly as the reports compute them
(:func:`sbr.reports.bootstrap.shared_units`, its jackknife,
:meth:`~sbr.reports.bootstrap.Resampled.interval`, the paired difference of one seed each).

The truth an interval should hold is the *expected* AP of an ``n``-image set (and the
expected difference), the mean over many more sets (:func:`expected_ap`): what another
lab's validation set of the same size gives on average, and what a paper's AP on the same
benchmark estimates. The population's own AP differs from it by a finite-set bias that
sits at the end of the precision curves (a set whose maximum recall passes one more of
COCO's 101 recall thresholds gains that threshold's precision, one that falls short
loses it): the bench prints where the bias lies, and the coverage of the population's
value too.

The coverage is the share of validation sets whose interval holds the truth, corrected
by a control variate (:meth:`Coverage.controlled`): the oracle interval (estimate +-
1.96 true standard deviations) judged on the same sets and on the truth's sets. A 95%
interval should give 0.95 within the printed Monte-Carlo error.

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
    precision_array,
    prepare,
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


#: The normal 97.5% quantile (the oracle interval's half-width in standard deviations).
Z95 = 1.959963984540054
#: Recall thresholds counted as the tail of a precision curve (:func:`tail_mask`).
TAIL_THRESHOLDS = 3


def _precision(table: MatchTable) -> np.ndarray:
    """``[T, R, K]`` COCO precision of ``table`` (all images once)."""
    return precision_array(prepare(table, 0), np.ones((1, table.n_images)))[0]


def tail_mask(precision: np.ndarray, width: int = TAIL_THRESHOLDS) -> np.ndarray:
    """``[T, R, K]`` bool: each curve's last ``width`` reached recall thresholds, and beyond.

    A curve (IoU threshold t, category k) reaches a recall threshold when its precision
    there is above 0, i.e. when some detection's recall is at least that threshold.
    """
    reached = precision > 0
    n_rec = precision.shape[1]
    last = np.where(reached.any(axis=1), n_rec - 1 - np.argmax(reached[:, ::-1], axis=1), -1)
    return np.arange(n_rec)[None, :, None] > last[:, None, :] - width


@dataclass(frozen=True)
class Expectation:
    """Mean AP of each detector over many validation sets of one size, and its bias.

    ``bias_tail`` and ``bias_rest`` split each detector's finite-set bias (mean AP over
    the sets minus the population's AP) into the part at the population curves' tail
    (:func:`tail_mask`) and the part elsewhere; they add up to the bias.
    """

    ap: tuple[float, float]
    bias_tail: tuple[float, float]
    bias_rest: tuple[float, float]
    values: np.ndarray  # [sets, 2] AP of detector 0 and the difference, per set

    def oracle(self, which: int, estimates: np.ndarray) -> np.ndarray:
        """Whether the oracle interval (the estimate +- 1.96 true standard deviations, from
        these sets) holds the expected AP (``which`` 0) or difference (1), per estimate."""
        column = self.values[:, which]
        spread = float(np.std(column, ddof=1))
        return np.abs(np.asarray(estimates) - column.mean()) <= Z95 * spread


def _share(bias: np.ndarray, where: np.ndarray) -> float:
    """The part of AP's bias (the mean of ``bias``) that lies ``where``."""
    return float(np.sum(bias * where) / bias.size)


def expected_ap(pop: Population, n_images: int, sets: int, seed: int = 0) -> Expectation:
    """Monte-Carlo mean AP of each detector on ``sets`` fresh validation sets of ``n_images``.

    The expected AP of an ``n_images``-image set is the target of the reports' intervals
    (see :func:`coverage`).
    """
    everything = np.arange(pop.gt.shape[0])
    truth = [_precision(match_table(pop, w, everything)) for w in (0, 1)]
    tails = [tail_mask(t) for t in truth]
    rng = np.random.default_rng([seed, n_images, 1])
    values = np.empty((sets, 2))
    total = [np.zeros_like(t) for t in truth]
    complete = 0  # sets with ground truth of every category (all curves defined)
    for s in range(sets):
        images = rng.integers(0, everything.size, n_images)
        precision = [_precision(match_table(pop, w, images)) for w in (0, 1)]
        values[s] = [float(np.mean(p[p > -1])) for p in precision]
        if all((p > -1).all() for p in precision):
            complete += 1
            for w in (0, 1):
                total[w] += precision[w]
    bias = [total[w] / max(complete, 1) - truth[w] for w in (0, 1)]
    return Expectation(
        ap=(float(values[:, 0].mean()), float(values[:, 1].mean())),
        bias_tail=(_share(bias[0], tails[0]), _share(bias[1], tails[1])),
        bias_rest=(_share(bias[0], ~tails[0]), _share(bias[1], ~tails[1])),
        values=np.stack([values[:, 0], values[:, 0] - values[:, 1]], axis=1),
    )  # fmt: skip


@dataclass
class Coverage:
    """Intervals of many validation sets of one size, and the truths they should hold.

    ``intervals[method]`` is ``[reps, 2, 2]``: for each validation set, the (low, high) limits
    of detector 0's AP (``[:, 0]``) and of the paired difference 0 - 1 (``[:, 1]``); the first
    method is the reports' (:data:`INTERVAL_METHOD`). Two truths: :attr:`expected` (the mean
    AP of an ``n_images``-image set, the reports' target) and ``population`` (AP on the whole
    population), each as (AP, difference).
    """

    n_images: int
    reps: int
    n_boot: int
    expectation: Expectation
    population: tuple[float, float]
    intervals: dict[str, np.ndarray] = field(default_factory=dict)
    estimates: np.ndarray = field(default_factory=lambda: np.empty((0, 2)))  # [reps, 2]
    seconds: float = 0.0

    @property
    def expected(self) -> tuple[float, float]:
        """The expected AP and difference of an ``n_images``-image set."""
        ap = self.expectation.ap
        return ap[0], ap[0] - ap[1]

    @property
    def truth_sets(self) -> int:
        """Validation sets the expected values are the mean of."""
        return len(self.expectation.values)

    def oracle(self, which: int) -> tuple[np.ndarray, float]:
        """The oracle interval's ``[reps]`` hits on these sets, and its coverage on the
        truth's sets (its long-run coverage)."""
        e = self.expectation
        long_run = float(np.mean(e.oracle(which, e.values[:, which])))
        return e.oracle(which, self.estimates[:, which]), long_run

    def hits(self, method: str, which: int, target: str = "expected") -> np.ndarray:
        """``[reps]`` whether ``method``'s interval for AP (``which`` 0) or the difference
        (1) held ``target``'s value, per validation set."""
        truth = getattr(self, target)[which]
        limits = self.intervals[method][:, which]
        return (limits[:, 0] <= truth) & (truth <= limits[:, 1])

    def rate(self, method: str, which: int, target: str = "expected") -> float:
        """Coverage of ``method`` for AP (``which`` 0) or the difference (1) of ``target``:
        the share of the validation sets whose interval held it."""
        return float(np.mean(self.hits(method, which, target)))

    def controlled(self, method: str, which: int) -> tuple[float, float]:
        """Coverage of the expected value and its Monte-Carlo error, by a control variate.

        The oracle interval (estimate +- 1.96 true standard deviations) is judged on the
        same validation sets and on the ``truth_sets`` others: its share on the same sets
        carries the luck of those draws, which the interval shares, and its share on the
        others estimates its long-run coverage. ``rate - oracle(same) + oracle(others)`` is
        unbiased like ``rate`` and, as the two hit series are strongly correlated, less
        noisy (Glasserman 2003, *Monte Carlo Methods in Financial Engineering*, Sec. 4.1).
        """
        own = self.hits(method, which).astype(float)
        same, long_run = self.oracle(which)
        rate = min(1.0, max(0.0, float(own.mean() - same.mean()) + long_run))
        error = math.sqrt(
            float(np.var(own - same, ddof=1)) / self.reps
            + long_run * (1 - long_run) / self.truth_sets
        )
        return rate, error

    def lines(self) -> list[str]:
        """One line for AP and one for the difference, each with ``coverage 0.xxx``
        (:meth:`controlled`), then where the finite-set bias lies."""
        main, *others = self.intervals
        width = 100 * float(np.mean(np.diff(self.intervals[main][:, 0], axis=1)))
        lines = []
        for k, name in enumerate(("AP", "difference")):
            rate, error = self.controlled(main, k)
            same, oracle_long = self.oracle(k)
            oracle_same = float(np.mean(same))
            truth = f"{100 * self.expected[k]:.2f} points"
            lines.append(
                f"{name} at {self.n_images} images: coverage {rate:.3f} ({main}, +-{error:.3f}; "
                f"share of sets {self.rate(main, k):.3f}, where the oracle interval covers "
                f"{oracle_same:.3f} against {oracle_long:.3f} on {self.truth_sets} other sets; "
                + "".join(f"{m} {self.controlled(m, k)[0]:.3f}; " for m in others)
                + f"target: the expected {name} of a {self.n_images}-image set, {truth}; "
                f"the population's {name} {100 * self.population[k]:.2f} is covered by "
                f"{self.rate(main, k, 'population'):.3f} of the sets; "
                f"{self.reps} validation sets, B={self.n_boot}"
                + (f", mean width {width:.2f} points)" if k == 0 else f", {self.seconds:.0f} s)")
            )
        lines.append(self._bias_line(self.expectation))
        return lines

    def _bias_line(self, e: Expectation) -> str:
        """Where the expected AP differs from the population's (the finite-set bias)."""

        def split(tail: float, rest: float) -> str:
            return (
                f"{100 * (tail + rest):+.3f} points ({100 * tail:+.3f} at each curve's last "
                f"{TAIL_THRESHOLDS} recall thresholds, {100 * rest:+.3f} elsewhere)"
            )

        ap = split(e.bias_tail[0], e.bias_rest[0])
        delta = split(e.bias_tail[0] - e.bias_tail[1], e.bias_rest[0] - e.bias_rest[1])
        return f"finite-set bias at {self.n_images} images: AP {ap}; difference {delta}"


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
    result = Coverage(
        n_images, reps, n_boot, expectation=expected_ap(pop, n_images, truth_sets, seed),
        population=(population_ap[0], population_ap[0] - population_ap[1]),
    )  # fmt: skip
    result.intervals = {m: np.empty((reps, 2, 2)) for m in methods}
    result.estimates = np.empty((reps, 2))
    rng = np.random.default_rng([seed, n_images])
    start = time.perf_counter()
    for rep in range(reps):
        images = rng.integers(0, everything.size, n_images)
        resampled = _resampled([match_table(pop, w, images) for w in (0, 1)], n_boot, seed + rep)
        result.estimates[rep] = [resampled[0].estimate, resampled[1].estimate]
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
    "Coverage", "Expectation", "Population", "bench_coverage", "coverage", "expected_ap",
    "match_table", "population", "tail_mask",
]  # fmt: skip
