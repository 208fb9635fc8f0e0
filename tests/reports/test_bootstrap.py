"""The bootstrap engine against pycocotools' COCOeval (the oracle), and its intervals.

With all image weights 1 the engine's AP must equal ``COCOeval.stats`` exactly, for
boxes and masks: on the smoke model's real outputs on the synthetic val split, and on
adversarial cases (no detections, a class without ground truth, crowd regions, score
ties, an annotation with id 0). Integer weights must equal COCOeval on the dataset
with the images repeated.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
from pathlib import Path

import numpy as np
import pytest
from ci_gate import require

from sbr.engine.per_image import match_coco, read_match_tables, write_match_tables
from sbr.reports.bootstrap import (
    MAX_UNITS,
    Resampled,
    Samples,
    bootstrap_interval,
    delta_method_variance,
    delta_samples,
    evaluate,
    holm,
    image_weights,
    influence_values,
    interval_of,
    level_samples,
    p_value,
    row_samples,
    same_training,
    shared_units,
    shared_weights,
    studentized_interval,
    summarize,
    two_level,
)

pycocotools = require("pycocotools")

STATS = ("mAP", "mAP_50", "mAP_75", "mAP_s", "mAP_m", "mAP_l")
SIZE = 200


def coco_stats(gt: dict, results: list[dict], iou_type: str) -> np.ndarray:
    """``COCOeval.stats[:6]`` (AP at all / 0.5 / 0.75 / small / medium / large)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = copy.deepcopy(gt)
        coco.createIndex()
        if results:
            dets = coco.loadRes(copy.deepcopy(results))
        else:  # loadRes cannot take an empty list: an empty results dataset instead
            dets = COCO()
            dets.dataset = {**copy.deepcopy(gt), "annotations": []}
            dets.createIndex()
        evaluator = COCOeval(coco, dets, iou_type)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return np.asarray(evaluator.stats[:6])


def engine_stats(gt: dict, results: list[dict], iou_type: str, weights=None) -> np.ndarray:
    table = match_coco(gt, results, iou_type)
    values = evaluate(table, weights, STATS)
    return np.array([values[s][0] for s in STATS])


def _mask_rle(box: list[float]) -> dict:
    from pycocotools import mask as mask_utils

    x, y, w, h = box
    mask = np.zeros((SIZE, SIZE), dtype=np.uint8, order="F")
    mask[int(y) : int(y + h), int(x) : int(x + w)] = 1
    rle = mask_utils.encode(mask)
    rle["counts"] = rle["counts"].decode()
    return rle


def synthetic_case(
    seed: int, *, ties: bool = False, crowd: float = 0.0, images: int = 24
) -> tuple[dict, list[dict]]:
    """Ground truth (boxes + polygons) and noisy detections (boxes + RLE masks)."""
    rng = np.random.default_rng(seed)
    cats = [1, 3, 7, 12]
    gt = {
        "images": [{"id": i + 1, "width": SIZE, "height": SIZE} for i in range(images)],
        "categories": [{"id": c, "name": str(c)} for c in cats],
        "annotations": [],
    }
    results = []

    def score() -> float:
        return float(np.round(rng.random(), 1)) if ties else float(rng.random())

    for image in gt["images"]:
        for _ in range(rng.integers(0, 6)):
            w, h = rng.uniform(4, 150, 2)
            x, y = rng.uniform(0, SIZE - w), rng.uniform(0, SIZE - h)
            cat = int(rng.choice(cats))
            gt["annotations"].append(
                {
                    "id": len(gt["annotations"]) + 1,
                    "image_id": image["id"],
                    "category_id": cat,
                    "bbox": [x, y, w, h],
                    "area": float(w * h * rng.uniform(0.5, 1.0)),
                    "iscrowd": int(rng.random() < crowd),
                    "segmentation": [[x, y, x + w, y, x + w, y + h, x, y + h]],
                }
            )
            for _ in range(rng.integers(0, 3)):
                dx, dy, dw, dh = rng.normal(0, 0.1, 4) * [w, h, w, h]
                box = [x + dx, y + dy, max(1.0, w + dw), max(1.0, h + dh)]
                label = cat if rng.random() < 0.8 else int(rng.choice(cats))
                results.append(
                    {"image_id": image["id"], "category_id": label, "bbox": box, "score": score()}
                )
        for _ in range(rng.integers(0, 4)):
            w, h = rng.uniform(4, 100, 2)
            box = [rng.uniform(0, SIZE - w), rng.uniform(0, SIZE - h), w, h]
            label = int(rng.choice(cats))
            results.append(
                {"image_id": image["id"], "category_id": label, "bbox": box, "score": score()}
            )
    order = rng.permutation(len(results))
    return gt, [results[i] for i in order]


def for_iou_type(results: list[dict], iou_type: str) -> list[dict]:
    """Box results as they are; mask results as RLEs without boxes (as mmdet evaluates)."""
    if iou_type == "bbox":
        return results
    return [
        {k: v for k, v in r.items() if k != "bbox"} | {"segmentation": _mask_rle(r["bbox"])}
        for r in results
    ]


def _no_detections(gt, results):
    return gt, []


def _class_without_gt(gt, results):
    gt = copy.deepcopy(gt)
    gt["annotations"] = [a for a in gt["annotations"] if a["category_id"] != 7]
    return gt, results


def _crowd(gt, results):
    return synthetic_case(11, crowd=0.3)


def _ties(gt, results):
    return synthetic_case(12, ties=True)


def _annotation_id_zero(gt, results):
    gt = copy.deepcopy(gt)
    gt["annotations"][0]["id"] = 0  # COCOeval reads a match to id 0 as no match
    return gt, results


def _one_image_no_gt(gt, results):
    gt = copy.deepcopy(gt)
    first = gt["images"][0]["id"]
    gt["annotations"] = [a for a in gt["annotations"] if a["image_id"] != first]
    return gt, results


CASES = {
    "plain": lambda gt, results: (gt, results),
    "no-detections": _no_detections,
    "class-without-gt": _class_without_gt,
    "crowd-regions": _crowd,
    "score-ties": _ties,
    "annotation-id-0": _annotation_id_zero,
    "image-without-gt": _one_image_no_gt,
}


@pytest.mark.parametrize("iou_type", ["bbox", "segm"])
@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_engine_equals_cocoeval_on_adversarial_cases(case: str, iou_type: str) -> None:
    gt, results = CASES[case](*synthetic_case(10))
    results = for_iou_type(results, iou_type)
    expected = coco_stats(gt, results, iou_type)
    assert np.array_equal(engine_stats(gt, results, iou_type), expected), expected
    if case == "no-detections":
        assert np.all(expected == 0)
    if case == "class-without-gt":  # its detections do not make a category of their own
        table = match_coco(gt, results, iou_type)
        assert int(table.det_category.max()) == 3


@pytest.mark.parametrize("iou_type", ["bbox", "segm"])
def test_box_areas_when_mask_results_carry_boxes(iou_type: str) -> None:
    """``COCO.loadRes`` takes the box area when results carry boxes (mask results too)."""
    gt, results = synthetic_case(13)
    masks = [r | {"segmentation": _mask_rle(r["bbox"])} for r in results]
    assert np.array_equal(engine_stats(gt, masks, iou_type), coco_stats(gt, masks, iou_type))


def test_integer_weights_equal_cocoeval_on_repeated_images() -> None:
    gt, results = synthetic_case(14)
    weights = np.random.default_rng(0).integers(0, 4, len(gt["images"]))
    repeated = {"images": [], "categories": gt["categories"], "annotations": []}
    dets = []
    for copy_number in range(int(weights.max())):
        for image, count in zip(gt["images"], weights, strict=True):
            if count <= copy_number:
                continue
            new_id = image["id"] + 1000 * copy_number
            repeated["images"].append(image | {"id": new_id})
            for ann in gt["annotations"]:
                if ann["image_id"] == image["id"]:
                    repeated["annotations"].append(
                        ann | {"id": ann["id"] + 1000 * copy_number, "image_id": new_id}
                    )
            dets += [r | {"image_id": new_id} for r in results if r["image_id"] == image["id"]]
    expected = coco_stats(repeated, dets, "bbox")
    got = engine_stats(gt, results, "bbox", weights=weights[None, :].astype(float))
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


@pytest.fixture(scope="module")
def smoke_outputs(smoke_run, synth_root: Path) -> dict:
    """The smoke model's dumped val results, the val ground truth and its match tables."""
    folder = Path(smoke_run.work_dir) / "per_image"
    return {
        "gt": json.loads((synth_root / "annotations" / "instances_val.json").read_text()),
        "bbox": json.loads((folder / "results.bbox.json").read_text()),
        "segm": json.loads((folder / "results.segm.json").read_text()),
        "artifact": folder / "match_tables.npz",
        "metrics": smoke_run.metrics,
    }


@pytest.mark.parametrize("iou_type", ["bbox", "segm"])
def test_engine_equals_cocoeval_on_smoke_model_outputs(smoke_outputs, iou_type: str) -> None:
    gt = smoke_outputs["gt"]
    results = smoke_outputs[iou_type]
    if iou_type == "segm":
        results = [{k: v for k, v in r.items() if k != "bbox"} for r in results]
    assert results, "the smoke model detected nothing on the val split"
    expected = coco_stats(gt, results, iou_type)
    assert expected[1] > 0  # a model that finds something: a non-trivial oracle
    assert np.array_equal(engine_stats(gt, results, iou_type), expected), expected


def test_training_artifact_reproduces_the_logged_metrics(smoke_outputs) -> None:
    """The artifact the training wrote gives back CocoMetric's numbers (3 decimals)."""
    tables, meta = read_match_tables(smoke_outputs["artifact"])
    assert sorted(tables) == ["bbox", "segm"] and meta["source"] == "mmdet CocoMetric"
    for iou_type, table in tables.items():
        values = evaluate(table, None, ("mAP", "mAP_50"))
        for stat in ("mAP", "mAP_50"):
            logged = smoke_outputs["metrics"][f"coco/{iou_type}_{stat}"]
            assert round(float(values[stat][0]), 3) == pytest.approx(logged, abs=1e-9)


def test_artifact_round_trip_is_exact_and_small(tmp_path: Path) -> None:
    gt, results = synthetic_case(15)
    results = [r | {"score": float(np.float32(r["score"]))} for r in results]  # mmdet: float32
    table = match_coco(gt, results, "bbox")
    path = write_match_tables(tmp_path / "m.npz", {"bbox": table}, {"note": "x"})
    back, meta = read_match_tables(path)
    assert meta == {"note": "x"}
    for name in ("det_score", "det_tp", "det_ignored", "gt_counted", "image_ids"):
        assert np.array_equal(getattr(back["bbox"], name), getattr(table, name)), name
    with np.load(path) as data:
        assert data["bbox.det_score"].dtype == np.float32  # lossless, so stored as float32
    assert path.stat().st_size < 20 * table.det_score.size + 4096


def test_not_an_artifact_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.npz"
    np.savez(path, a=np.zeros(3))
    with pytest.raises(ValueError, match="not a per-image evaluation file"):
        read_match_tables(path)


def _degraded(results: list[dict], seed: int) -> list[dict]:
    """Half of the detections dropped at random: a clearly worse model (recall halves)."""
    keep = np.random.default_rng(seed).permutation(len(results))[: len(results) // 2]
    return [results[i] for i in sorted(keep)]


def _samples(tables, key, seeds=None, trials=None, n_boot=300):
    return row_samples(
        tables, ["mAP"], key=key, seeds=seeds or [str(i) for i in range(len(tables))],
        trials=trials or [key] * len(tables), n_boot=n_boot, seed=3,
    )["mAP"]  # fmt: skip


@pytest.fixture(scope="module")
def two_models():
    """Ground truth, a model's detections, and a clearly worse model's (half dropped)."""
    gt, results = synthetic_case(16, images=80)
    return gt, results, _degraded(results, 1), _degraded(results, 2)


def test_estimates_and_deltas_equal_cocoeval(two_models) -> None:
    """Point values and deltas against pycocotools, with two genuinely different seeds."""
    gt, good, worse, worse2 = two_models
    ap = {name: coco_stats(gt, r, "bbox")[0] for name, r in
          (("good", good), ("worse", worse), ("worse2", worse2))}  # fmt: skip
    a = _samples([match_coco(gt, good, "bbox")], "t:a")
    b = _samples([match_coco(gt, worse, "bbox"), match_coco(gt, worse2, "bbox")], "t:b")
    assert a.estimate == ap["good"]
    assert b.estimate == pytest.approx((ap["worse"] + ap["worse2"]) / 2, abs=1e-15)
    interval = interval_of(a, b)
    assert interval.delta == pytest.approx(ap["good"] - (ap["worse"] + ap["worse2"]) / 2)
    assert 0 < interval.delta_low < interval.delta < interval.delta_high
    assert interval.p < 0.01 and not interval.same_training


def test_one_training_pairs_per_seed_two_trainings_do_not(two_models) -> None:
    """Identical values: one training gives a zero-width delta, two trainings a seed spread."""
    gt, good, worse, worse2 = two_models
    tables = [match_coco(gt, r, "bbox") for r in (good, worse, worse2)]
    trials = ["x0", "x1", "x2"]
    a = _samples(tables, "t:a", trials=trials)
    b_same = _samples(tables, "t:b", trials=trials)  # evaluations of the same trainings
    b_other = _samples(tables, "t:b", trials=["y0", "y1", "y2"])
    same, other = interval_of(a, b_same), interval_of(a, b_other)
    assert same.same_training and (same.delta_low, same.delta_high) == (0.0, 0.0)
    assert not other.same_training and other.delta_low < -0.01 and other.delta_high > 0.01


def test_two_level_corrects_the_seed_variance() -> None:
    """Three seeds at 0, 1, 2 (no image noise): the seed mean's variance is s^2 / S = 1/3.

    The naive draw with replacement would give (S - 1) / S of it, 2/9.
    """
    boot = np.repeat(np.array([[0.0], [1.0], [2.0]]), 40_000, axis=1)
    picks = np.random.default_rng(0).integers(0, 3, size=(40_000, 3))
    values = two_level(boot, picks)
    assert np.var(values) == pytest.approx(1 / 3, rel=0.03)
    assert np.mean(values) == pytest.approx(1.0, abs=0.01)
    assert np.array_equal(two_level(boot[:1], picks[:, :1]), boot[0])  # one seed: images only


def test_adding_a_row_changes_no_other_interval(two_models) -> None:
    from sbr.reports.significance import compute_intervals

    gt, good, worse, worse2 = two_models
    rows = {
        name: _samples([match_coco(gt, r, "bbox")], f"t:{name}")
        for name, r in (("ref", good), ("b", worse), ("c", worse2))
    }
    both = compute_intervals({(k, "B_AP"): rows[k] for k in ("ref", "b")}, "ref", 3)
    three = compute_intervals({(k, "B_AP"): v for k, v in rows.items()}, "ref", 3)
    assert both[("b", "B_AP")][0] == three[("b", "B_AP")][0]


def test_weights_belong_to_the_validation_set() -> None:
    ids = np.array([5, 9, 2, 7])
    assert np.array_equal(shared_weights(ids, 20, 1), shared_weights(ids[::-1], 20, 1))
    assert not np.array_equal(shared_weights(ids, 20, 1), shared_weights(ids + 1, 20, 1))
    weights = image_weights(50, 40, seed=1)
    assert weights.shape == (40, 50) and np.all(weights.sum(axis=1) == 50)


@pytest.mark.parametrize(
    ("method", "expected"),
    [("percentile", (24.975, 974.025)), ("basic", (600 - 974.025, 600 - 24.975))],
    ids=["percentile", "basic"],
)
def test_interval_methods_by_hand(method: str, expected: tuple[float, float]) -> None:
    samples = np.arange(1000, dtype=float)
    assert bootstrap_interval(samples, 300.0, method) == pytest.approx(expected)


def test_unknown_interval_method_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown interval method 'bca'"):
        bootstrap_interval(np.arange(10.0), 1.0, "bca")


@pytest.mark.parametrize(
    ("samples", "estimate", "method", "expected"),
    [
        (np.arange(10.0), 6.0, "basic", 2 / 11),  # centre 12: none above, all below
        (np.arange(10.0), 6.0, "percentile", 4 / 11),  # centre 0: one at or below it
        (np.array([-1.0, 1.0, 2.0, 3.0]), 1.0, "percentile", 4 / 5),
    ],
    ids=["basic", "percentile-edge", "percentile-middle"],
)
def test_p_value_by_hand(samples, estimate, method, expected) -> None:
    assert p_value(samples, estimate, method) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("p", "expected"),
    [
        ([0.01, 0.04, 0.03, 0.2], [True, False, False, False]),
        ([0.01, 0.02], [True, True]),  # Bonferroni would keep only the first
        ([0.2, 0.01, 0.012], [False, True, True]),
        ([0.051], [False]),
    ],
    ids=["stops-early", "step-down", "order-kept", "single"],
)
def test_holm_by_hand(p: list[float], expected: list[bool]) -> None:
    assert holm(p) == expected


def test_bench_bootstrap_at_tiny_size() -> None:
    from sbr.reports.bootstrap_bench import bench_bootstrap

    result = bench_bootstrap(images=60, classes=5, dets=12, n_boot=30, naive_boot=2)
    assert result.max_abs_diff == 0.0  # the naive loop and the engine agree
    assert result.artifact_bytes > 0 and result.bootstrap_s > 0 and result.naive_s > 0
    assert 0 < result.ap < 1 and result.ci[0] <= result.ci[1]
    text = "\n".join(result.lines())
    fields = ("per-image artifact", "matching (once)", "B=30", "jackknife over 60", "speed-up",
              "95% studentized CI")  # fmt: skip
    for field in fields:
        assert field in text


def test_rows_on_different_validation_sets_are_not_paired(two_models) -> None:
    gt, good, worse, _ = two_models
    a = _samples([match_coco(gt, good, "bbox")], "t:a")
    fewer = match_coco(gt, worse, "bbox", image_ids=[im["id"] for im in gt["images"][:60]])
    b = _samples([fewer], "t:b")
    assert a.images and b.images and a.images != b.images
    alone = interval_of(a, b)
    assert np.isnan(alone.delta) and np.isnan(alone.p) and not alone.same_training
    assert 0 < alone.low < a.estimate < alone.high < 1
    with pytest.raises(ValueError, match="t:a and t:b were not evaluated on one validation set"):
        delta_samples(a, b)
    assert not interval_of(a, None).same_training and np.isnan(interval_of(a, None).delta)


def test_two_level_by_hand() -> None:
    """Seeds 0, 1, 2 and every resample drawing seed 0 thrice: 1 + sqrt(3/2) * (0 - 1)."""
    boot = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]])
    picks = np.zeros((2, 3), dtype=int)
    assert two_level(boot, picks) == pytest.approx([1 - np.sqrt(1.5)] * 2)


def test_every_image_can_be_drawn() -> None:
    weights = image_weights(3, 200, seed=0)
    assert np.all(weights.sum(axis=0) > 100)  # image 0 too


def test_influence_values_of_a_mean_are_its_deviations() -> None:
    """For a mean the jackknife is exact: ``l_j = x_j - mean(x)``, so ``v`` = the plug-in
    variance of the mean, ``var(x) / n``."""
    x = np.random.default_rng(4).normal(size=25)
    deleted = (x.sum() - x) / (x.size - 1)  # the mean without x_j
    influence = influence_values(deleted)
    assert influence == pytest.approx(x - x.mean())
    assert delta_method_variance(influence) == pytest.approx(np.var(x) / x.size)


def test_delta_method_variance_by_hand() -> None:
    """l = (1, -1, 2, -2): sum l^2 / G^2 = 10/16; drawn (2, 0, 1, 1): mean_f l = 0.5 and
    sum f (l - 0.5)^2 = 2 * 0.25 + 2.25 + 6.25 = 9, so 9/16."""
    influence = np.array([1.0, -1.0, 2.0, -2.0])
    assert delta_method_variance(influence) == pytest.approx(10 / 16)
    counts = np.array([[2.0, 0.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0]])
    assert delta_method_variance(influence, counts) == pytest.approx([9 / 16, 10 / 16])


def test_studentized_interval_by_hand() -> None:
    """t = -500..499: quantiles -475.025 and 474.025: est - se * 474.025, est + se * 475.025."""
    t_values = np.arange(1000, dtype=float) - 500
    low, high = studentized_interval(t_values, 10.0, 0.01)
    assert (low, high) == pytest.approx((10 - 4.74025, 10 + 4.75025))


def _resampled(estimate: float, seed: int, n: int = 40, n_boot: int = 2000) -> Resampled:
    """A mean of ``n`` normal values, resampled: exact influence values, real draws."""
    rng = np.random.default_rng(seed)
    x = rng.normal(estimate, 1.0, n)
    counts = image_weights(n, n_boot, seed)
    return Resampled(float(x.mean()), counts @ x / n, x - x.mean(), counts)


@pytest.mark.parametrize("estimate", [0.0, 0.2, 0.3, 0.4], ids=lambda e: f"mean{e}")
def test_studentized_p_value_is_the_dual_of_the_interval(estimate: float) -> None:
    resampled = _resampled(estimate, seed=int(estimate * 100))
    p = resampled.p_value()
    low, high = resampled.interval()
    assert (p < 0.05) == (low > 0 or high < 0), (p, low, high)
    low, high = resampled.interval(confidence=1 - p)
    assert min(abs(low), abs(high)) < 0.02  # the 1 - p interval just reaches 0


def test_studentized_interval_of_a_mean_is_about_the_t_interval() -> None:
    """Normal data, n = 40: the bootstrap-t interval is about mean +- t(0.975, 39) * s / sqrt(n)."""
    resampled = _resampled(0.3, seed=8)
    low, high = resampled.interval()
    half = 2.0227 * np.sqrt(resampled.seed_var + delta_method_variance(resampled.influence))
    assert high - low == pytest.approx(2 * half, rel=0.1)
    assert low < resampled.estimate < high


@pytest.mark.parametrize(
    ("influence", "counts"),
    [(None, None), (np.zeros(4), np.ones((3, 4)))],
    ids=["no-influence", "zero-variance"],
)
def test_studentized_falls_back_to_basic_without_a_standard_error(influence, counts) -> None:
    resampled = Resampled(2.0, np.array([1.0, 2.0, 4.0]), influence, counts)
    assert resampled.method() == "basic"
    assert resampled.interval() == bootstrap_interval(resampled.boot, 2.0, "basic")
    assert resampled.p_value() == p_value(resampled.boot, 2.0, "basic")


def test_studentized_interval_with_seed_variance_by_loops() -> None:
    """Every resample's t uses its own weighted influence variance plus the seeds' variance;
    the limits scale the t quantiles by the data's standard error (written out with loops)."""
    rng = np.random.default_rng(5)
    influence, counts = rng.normal(size=6), image_weights(6, 400, seed=5)
    boot = 0.4 + rng.normal(0, 0.05, 400)
    resampled = Resampled(0.41, boot, influence, counts, seed_var=0.002)
    g = influence.size
    v = sum((x - influence.mean()) ** 2 for x in influence) / g**2 + 0.002
    t = []
    for b in range(400):
        mean_f = sum(counts[b] * influence) / g
        pairs = zip(counts[b], influence, strict=True)
        v_b = sum(f * (x - mean_f) ** 2 for f, x in pairs) / g**2 + 0.002
        t.append((boot[b] - 0.41) / np.sqrt(v_b))
    q_low, q_high = np.quantile(t, [0.025, 0.975])
    expected = (0.41 - np.sqrt(v) * q_high, 0.41 - np.sqrt(v) * q_low)
    assert resampled.interval() == pytest.approx(expected)


@pytest.mark.parametrize("method", ["basic", "percentile"], ids=str)
def test_other_methods_ignore_the_standard_error(method: str) -> None:
    resampled = _resampled(0.3, seed=9)
    for r in (resampled, Resampled(resampled.estimate, resampled.boot)):
        assert r.method(method) == method
        assert r.interval(method) == bootstrap_interval(r.boot, r.estimate, method)


@pytest.mark.parametrize(
    ("points", "expected"),
    [([0.2], 0.0), ([0.0, 1.0, 2.0], 1 / 3), ([0.5, 0.5], 0.0)],
    ids=["one-seed", "three-seeds", "equal-seeds"],
)
def test_seed_variance_of_the_mean(points: list[float], expected: float) -> None:
    """The seeds' variance of a mean: sample variance (ddof 1) / S; 0 with one seed."""
    boot = np.tile(np.array(points)[:, None], (1, 4))
    row = Samples(np.array(points), boot, tuple("abc"[: len(points)]), ("",) * len(points),
                  "set", "t:r")  # fmt: skip
    assert level_samples(row).seed_var == pytest.approx(expected)


@pytest.mark.parametrize("n_images", [7, MAX_UNITS, MAX_UNITS + 1, 5000], ids=str)
def test_units_are_images_up_to_max_units_then_blocks(n_images: int) -> None:
    units = shared_units(np.arange(n_images) * 3 + 1, 50, 2)
    sizes = np.bincount(units.unit)
    assert units.n_units == min(n_images, MAX_UNITS) and sizes.max() - sizes.min() <= 1
    assert np.array_equal(units.weights, units.counts[:, units.unit])
    assert np.all(units.counts.sum(axis=1) == units.n_units)
    deleted = units.jackknife_weights() == 0
    assert np.array_equal(deleted.sum(axis=1), sizes)  # unit g deletes its images only
    if n_images <= MAX_UNITS:  # an image is its own unit: the draws are the image weights
        assert np.array_equal(units.unit, np.arange(n_images))


def test_row_samples_carry_influence_values_of_the_jackknife(two_models) -> None:
    """Delete-one-unit AP equals pycocotools on the dataset without that image; the row's
    influence values are those of these jackknife values."""
    gt, good, _, _ = two_models
    table = match_coco(gt, good, "bbox")
    row = _samples([table], "t:a", n_boot=20)
    units = shared_units(table.image_ids, 20, 3)
    jackknife = evaluate(table, units.jackknife_weights(), ("mAP",))["mAP"]
    assert row.influence[0] == pytest.approx(influence_values(jackknife))
    ids = np.sort(table.image_ids)
    for g in (0, 17):
        kept = set(ids[units.unit != g].tolist())
        subset = {
            **gt,
            "images": [im for im in gt["images"] if im["id"] in kept],
            "annotations": [a for a in gt["annotations"] if a["image_id"] in kept],
        }
        ap = coco_stats(subset, [r for r in good if r["image_id"] in kept], "bbox")[0]
        assert jackknife[g] == pytest.approx(ap, abs=1e-12)


@pytest.mark.parametrize(
    ("samples", "estimate", "method", "expected"),
    [
        (np.array([1.0, 2.0, 3.0]), 1.0, "basic", 1.0),  # centre 2: 2 * 3/4, capped at 1
        (np.arange(10.0), 1.5, "basic", 10 / 11),  # centre 3: 4 at or below, 7 at or above
    ],
    ids=["capped", "centre-twice-the-estimate"],
)
def test_p_value_centre_and_cap(samples, estimate, method, expected) -> None:
    assert p_value(samples, estimate, method) == pytest.approx(expected)


def test_holm_rejects_at_the_boundary() -> None:
    assert holm([0.025, 0.5]) == [True, False]  # 0.025 <= 0.05 / 2


def test_summarize_without_ground_truth_is_minus_one() -> None:
    precision = -np.ones((2, 10, 101, 3))
    thresholds = np.linspace(0.5, 0.95, 10)
    assert np.array_equal(summarize(precision, thresholds, None), [-1.0, -1.0])


def test_row_samples_keep_seeds_and_trials(two_models) -> None:
    gt, good, worse, _ = two_models
    tables = [match_coco(gt, r, "bbox") for r in (good, worse)]
    given = row_samples(tables, ["mAP"], key="t:x", seeds=["3", "7"], trials=["p", "q"],
                        n_boot=20)["mAP"]  # fmt: skip
    assert (given.seeds, given.trials) == (("3", "7"), ("p", "q"))
    default = row_samples(tables, ["mAP"], key="t:x", n_boot=20)["mAP"]
    assert (default.seeds, default.trials) == (("0", "1"), ("", ""))
    assert not same_training(default, default)  # unknown trials are never one training
    mixed = row_samples([tables[0], match_coco(gt, worse, "bbox", image_ids=[1, 2, 3])],
                        ["mAP"], key="t:m", n_boot=20)["mAP"]  # fmt: skip
    assert mixed.images == ""
    with pytest.raises(ValueError, match="not evaluated on one validation set"):
        delta_samples(mixed, given)
