"""The paper's column names <-> the logged metric keys (sbr.metrics)."""

from __future__ import annotations

import pytest

from sbr.metrics import (
    METRIC_IMAGES_PER_S,
    PAPER_METRIC_NAMES,
    paper_column_metric,
    paper_metrics,
)


@pytest.mark.parametrize(
    ("column", "expected"),
    [
        ("B_AP", ("coco/bbox_mAP", 100.0)),
        ("B_AP50", ("coco/bbox_mAP_50", 100.0)),
        ("B_AP_s", ("coco/bbox_mAP_s", 100.0)),
        ("S_AP", ("coco/segm_mAP", 100.0)),
        ("S_AP75", ("coco/segm_mAP_75", 100.0)),
        ("S_AP_l", ("coco/segm_mAP_l", 100.0)),
        ("AP", ("coco/bbox_mAP", 100.0)),  # box-only tables (8-10)
        ("AP_m", ("coco/bbox_mAP_m", 100.0)),
        ("Speed", (METRIC_IMAGES_PER_S, 1.0)),
        ("L_t", None),
        ("Params", None),
        ("B_APs", None),  # not a spec column name
        ("X_AP", None),
    ],
    ids=lambda value: str(value),
)
def test_paper_column_metric(column: str, expected: tuple[str, float] | None) -> None:
    assert paper_column_metric(column) == expected


@pytest.mark.parametrize(
    ("logged", "expected"),
    [
        ({"coco/bbox_mAP": 0.409}, {"B_AP": 40.9}),
        (
            {"coco/segm_mAP_50": 0.25, METRIC_IMAGES_PER_S: 3.4, "train/loss": 1.0},
            {"S_AP50": 25.0, "Speed": 3.4},
        ),
        ({"coco/bbox_mAP_l": -1.0}, {"B_AP_l": -100.0}),  # COCO's "no such objects"
        ({"train/loss": 1.0}, {}),
    ],
    ids=["box-ap", "mask-ap50-speed", "coco-minus-one", "nothing-final"],
)
def test_paper_metrics(logged: dict[str, float], expected: dict[str, float]) -> None:
    assert paper_metrics(logged) == pytest.approx(expected)


def test_every_paper_name_maps_to_a_distinct_metric() -> None:
    keys = [paper_column_metric(name)[0] for name in PAPER_METRIC_NAMES]  # type: ignore[index]
    assert len(set(keys)) == len(PAPER_METRIC_NAMES) == 13
