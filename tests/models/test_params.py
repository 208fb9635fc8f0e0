"""Trainable-parameter counts of the shipped configs against the paper's #Params.

Exact values: reference architecture §10.3 (every count is derived from the layer
formulas of §10.1-10.2). The paper truncates: 44,170,992 is printed "44,170 K",
37,910,516 is printed "37.9 M".
"""

from __future__ import annotations

import pytest
from torch import nn

from sbr.models.params import (
    SHIPPED_MODELS,
    count_trainable,
    shipped_model,
    strip_pretrained,
    summarize_config,
    truncate_like,
)

MASK_1X = "mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py"
HTC = "htc/htc-without-semantic_r50_fpn_1x_coco.py"


def r3(name: str) -> str:
    return f"r3_cnn/r3-cnn_r50_fpn_{name}_1x_coco.py"


NAIVE = "r3_cnn/r3-cnn_r50_fpn_1x_coco.py"

# (config, exact trainable count, value printed by the paper)
PAPER_ROWS = [
    pytest.param(MASK_1X, 44_170_992, "44,170 K", id="table2-row1"),
    pytest.param(
        "mask_rcnn/mask-rcnn_r50_fpn_3x_coco.py", 44_170_992, "44,170 K", id="table2-row2"
    ),
    pytest.param(HTC, 77_230_846, "77,230 K", id="table2-row3"),
    pytest.param(NAIVE, 43_912_884, "43,912 K", id="table2-row4"),
    pytest.param(r3("h2-aab"), 60_604_761, "60,604 K", id="table2-row5"),
    pytest.param(HTC, 77_230_846, "77.2 M", id="table6-row1"),
    pytest.param(NAIVE, 43_912_884, "43.9 M", id="table6-row2"),
    pytest.param(r3("fcc-7x7"), 32_203_956, "32.2 M", id="table6-row3"),
    pytest.param(r3("fcc-rect"), 32_777_780, "32.7 M", id="table6-row4"),
    pytest.param(r3("fcc-7x7-nlb"), 38_627_124, "38.6 M", id="table6-row5"),
    pytest.param(r3("fcc-rect-slim-nlb_no-mask-loop"), 37_910_516, "37.9 M", id="table6-row6"),
    pytest.param(r3("fcc-7x7-nlb-nla"), 39_028_692, "39.0 M", id="table6-row7"),
    pytest.param(r3("h2-aabb-l4_fcc-7x7"), 37_186_905, "37.1 M", id="table6-row9"),
    pytest.param(r3("h2-aabb-l4_fcc-rect"), 38_334_553, "38.3 M", id="table6-row10"),
    pytest.param(r3("h2-aabb-l4_fcc-7x7-nlb"), 50_033_241, "50.0 M", id="table6-row11"),
    pytest.param(r3("h2-aabb-l4_fcc-rect-nlb"), 51_180_889, "51.1 M", id="table6-row12"),
    pytest.param(HTC, 77_230_846, "77.2 M", id="table7-row1"),
    pytest.param(r3("fcc-rect-slim-nlb"), 37_910_516, "37.9 M", id="table7-row2"),
    pytest.param(r3("fcc-rect-nlb_maskiou-fcc-rect"), 44_395_588, "44.3 M", id="table7-row5"),
    pytest.param(r3("h2-aabb-l4_fcc-7x7-nlb_maskiou"), 66_373_545, "66.3 M", id="table7-row9"),
    pytest.param(
        r3("h2-aabb-l4_fcc-7x7-nlb_maskiou-fcc-7x7"), 54_654_057, "54.6 M", id="table7-row10"
    ),
    pytest.param(
        r3("h2-aabb-l4_fcc-7x7-nlb_maskiou-fcc-7x7-nlb"), 61_077_225, "61.0 M", id="table7-row11"
    ),
    pytest.param(
        r3("h2-aabb-l4_fcc-7x7-nlb_maskiou-fcc-7x7-nlb-nla"),
        61_478_793,
        "61.4 M",
        id="table7-row12",
    ),
    # Table 7 rows 3, 4, 6, 7 with the 7x7 + NL_b detection head: the paper's values.
    pytest.param(r3("fcc-7x7-nlb_maskiou"), 54_967_428, "54.9 M", id="table7-row3-alt-7x7-nlb"),
    pytest.param(
        r3("fcc-7x7-nlb_maskiou-fcc-7x7"), 43_247_940, "43.2 M", id="table7-row4-alt-7x7-nlb"
    ),
    pytest.param(
        r3("fcc-7x7-nlb_maskiou-fcc-7x7-nlb"), 49_671_108, "49.6 M", id="table7-row6-alt-7x7-nlb"
    ),
    pytest.param(
        r3("fcc-7x7-nlb_maskiou-fcc-7x7-nlb-nla"),
        50_072_676,
        "50.0 M",
        id="table7-row7-alt-7x7-nlb",
    ),
]

# Table 7 rows 3, 4, 6, 7 as the authors configured them (rectangular head, 37.9 M
# base): (config, exact count, what the paper prints, what the count truncates to).
AS_CONFIGURED_ROWS = [
    pytest.param(r3("fcc-rect-slim-nlb_maskiou"), 54_250_820, "54.9 M", "54.2 M", id="table7-row3"),
    pytest.param(
        r3("fcc-rect-slim-nlb_maskiou-fcc-7x7"), 42_531_332, "43.2 M", "42.5 M", id="table7-row4"
    ),
    pytest.param(
        r3("fcc-rect-slim-nlb_maskiou-fcc-7x7-nlb"),
        48_954_500,
        "49.6 M",
        "48.9 M",
        id="table7-row6",
    ),
    pytest.param(
        r3("fcc-rect-slim-nlb_maskiou-fcc-7x7-nlb-nla"),
        49_356_068,
        "50.0 M",
        "49.3 M",
        id="table7-row7",
    ),
]

# Rows whose #Params the paper lost (garbled cells) or never reported: exact
# arithmetic only (reference §10.3).
UNPRINTED_ROWS = [
    pytest.param(r3("h2-aabb-l4"), 60_604_761, id="table6-row8"),
    pytest.param(r3("h2-aabb-l4_fcc-7x7-nlb"), 50_033_241, id="table7-row8"),
    pytest.param("sbr_cnn/sbr-cnn_r50_fpn_1x_coco.py", 61_800_708, id="table11-row4"),
    pytest.param("faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py", 41_527_712, id="table8-row1"),
]


@pytest.mark.parametrize(("config", "exact", "printed"), PAPER_ROWS)
def test_trainable_params_equal_paper(config: str, exact: int, printed: str) -> None:
    trainable = summarize_config(config).trainable
    assert trainable == exact
    assert truncate_like(trainable, printed) == printed


@pytest.mark.parametrize(("config", "exact", "paper", "truncated"), AS_CONFIGURED_ROWS)
def test_table7_rows_as_configured_disagree_with_paper(
    config: str, exact: int, paper: str, truncated: str
) -> None:
    trainable = summarize_config(config).trainable
    assert trainable == exact
    assert truncate_like(trainable, paper) == truncated != paper
    entry = shipped_model(config)
    assert entry is not None and entry.paper_params == paper
    assert entry.matches(trainable) is False


@pytest.mark.parametrize(("config", "exact"), UNPRINTED_ROWS)
def test_trainable_params_of_rows_without_paper_value(config: str, exact: int) -> None:
    assert summarize_config(config).trainable == exact


@pytest.mark.parametrize(("config", "exact", "printed"), PAPER_ROWS)
def test_registry_records_the_paper_value(config: str, exact: int, printed: str) -> None:
    entry = shipped_model(config)
    assert entry is not None
    assert entry.paper_params is not None
    assert entry.matches(exact) is True


def test_registry_rows_are_unique_per_config() -> None:
    configs = [entry.config for entry in SHIPPED_MODELS]
    assert len(configs) == len(set(configs))
    for entry in SHIPPED_MODELS:
        assert entry.rows, entry.config
        assert all(row.startswith("table") for row in entry.rows)


@pytest.mark.parametrize(
    ("count", "printed", "expected"),
    [
        pytest.param(44_170_992, "44,170 K", "44,170 K", id="thousands"),
        pytest.param(77_230_846, "77.2 M", "77.2 M", id="one-decimal"),
        pytest.param(37_999_999, "37.9 M", "37.9 M", id="truncates-not-rounds"),
        pytest.param(54_250_820, "54.9 M", "54.2 M", id="other-value-same-format"),
        pytest.param(999, "1 K", "0 K", id="below-unit"),
        pytest.param(1_234_567, "1.23 M", "1.23 M", id="two-decimals"),
    ],
)
def test_truncate_like(count: int, printed: str, expected: str) -> None:
    assert truncate_like(count, printed) == expected


@pytest.mark.parametrize("printed", ["44170", "37.9M", "12 G", ""])
def test_truncate_like_rejects_unknown_format(printed: str) -> None:
    with pytest.raises(ValueError, match="printed"):
        truncate_like(1, printed)


def test_count_trainable_skips_frozen_and_counts_shared_once() -> None:
    shared = nn.Linear(3, 4)  # 16 parameters
    frozen = nn.Linear(4, 2)  # 10 parameters
    frozen.requires_grad_(False)
    model = nn.Sequential(shared, frozen, shared)
    assert count_trainable(model) == 16
    model.append(nn.Conv2d(1, 1, 3))  # + 10
    assert count_trainable(model) == 26
    assert count_trainable(nn.Identity()) == 0


def test_strip_pretrained_removes_only_pretrained_init() -> None:
    pretrained = dict(type="Pretrained", checkpoint="torchvision://resnet50")
    cfg = dict(
        backbone=dict(type="ResNet", init_cfg=dict(pretrained)),
        neck=dict(init_cfg=[dict(type="Xavier"), dict(pretrained)]),
        heads=[dict(init_cfg=dict(pretrained)), dict(init_cfg=dict(type="Normal"))],
    )
    strip_pretrained(cfg)
    assert cfg["backbone"]["init_cfg"] is None
    assert cfg["neck"]["init_cfg"] == [dict(type="Xavier")]
    assert cfg["heads"][0]["init_cfg"] is None
    assert cfg["heads"][1]["init_cfg"] == dict(type="Normal")
