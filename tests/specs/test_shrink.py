"""The mini preset's shrink rule as a pure dict transformation (no mmdet)."""

from __future__ import annotations

import copy

import pytest

from sbr.specs.shrink import (
    ShrinkRule,
    is_channel_key,
    resnet_widths,
    scale_channels,
    shrink_backbone,
    shrink_model,
)

RULE = ShrinkRule(
    anchor_scales=(4,),
    rpn_samples=128,
    rcnn_samples=64,
    train_proposals=(500, 200),
    test_proposals=(500, 100),
    test_detections=50,
)


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("in_channels", True),
        ("conv_out_channels", True),
        ("l2c_channels", True),
        ("num_channels", False),
        ("channel", False),
        (3, False),
    ],
    ids=str,
)
def test_channel_keys(key, expected):
    assert is_channel_key(key) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (256, 64),
        (1024, 256),
        (257, 64),
        ([128, 64], [32, 16]),
        ((256, 256), (64, 64)),
        (8, 8),  # below min_channels
        (True, True),
        ("256", "256"),
    ],
    ids=["fpn", "fc", "odd", "fcc-list", "tuple", "small", "bool", "str"],
)
def test_scale_channels(value, expected):
    assert scale_channels(value, 0.25, 32) == expected


@pytest.mark.parametrize(
    ("depth", "base", "widths"),
    [(18, 32, [32, 64, 128, 256]), (50, 16, [64, 128, 256, 512]), (50, 64, [256, 512, 1024, 2048])],
    ids=["r18-half", "r50-quarter", "r50"],
)
def test_resnet_widths(depth, base, widths):
    assert resnet_widths(depth, base) == widths


def _resnet(**extra):
    return {
        "type": "ResNet",
        "depth": 50,
        "num_stages": 4,
        "out_indices": (0, 1, 2, 3),
        "frozen_stages": 1,
        "norm_eval": True,
        "init_cfg": {"type": "Pretrained", "checkpoint": "torchvision://resnet50"},
        **extra,
    }


@pytest.mark.parametrize(
    ("extra", "depth", "base"),
    [
        ({}, 18, 32),
        ({"dcn": {"type": "DCN"}, "stage_with_dcn": (False, True, True, True)}, 50, 16),
        ({"plugins": [{"cfg": {"type": "ContextBlock"}}]}, 50, 16),
    ],
    ids=["plain", "dcn", "gcnet"],
)
def test_backbone_rule(extra, depth, base):
    backbone = _resnet(**extra)
    widths = shrink_backbone(backbone, RULE)
    assert (backbone["depth"], backbone["base_channels"]) == (depth, base)
    assert backbone["init_cfg"] is None and backbone["frozen_stages"] == -1
    assert backbone["norm_eval"] is False
    assert widths == resnet_widths(depth, base)
    for key, value in extra.items():  # the ablated layout stays
        assert backbone[key] == value


def test_backbone_without_rule_is_refused():
    with pytest.raises(ValueError, match="SwinTransformer"):
        shrink_backbone({"type": "SwinTransformer"}, RULE)


def _two_stage_model():
    return {
        "type": "MaskRCNN",
        "backbone": _resnet(),
        "neck": {"type": "FPN", "in_channels": [256, 512, 1024, 2048], "out_channels": 256},
        "rpn_head": {
            "type": "RPNHead",
            "in_channels": 256,
            "feat_channels": 256,
            "anchor_generator": {"type": "AnchorGenerator", "scales": [8], "ratios": [0.5, 1, 2]},
        },
        "roi_head": {
            "type": "R3RoIHead",
            "num_stages": 3,
            "loop_iou_thrs": [0.5, 0.6, 0.7],
            "bbox_roi_extractor": {
                "type": "GenericRoIExtractor",
                "out_channels": 256,
                "pre_cfg": {"type": "ConvModule", "in_channels": 256, "out_channels": 256},
                "post_cfg": {"type": "SBRNonLocal2d", "in_channels": 256, "reduction": 2},
            },
            "bbox_head": [
                {"type": "SBRFCCBBoxHead", "in_channels": 256, "fc_out_channels": 1024},
            ],
            "mask_head": [{"type": "R3MaskHead", "in_channels": 256, "conv_out_channels": 256}],
        },
        "train_cfg": {
            "rpn": {"sampler": {"num": 256}},
            "rpn_proposal": {"nms_pre": 2000, "max_per_img": 2000},
            "rcnn": [{"sampler": {"num": 512}}, {"sampler": {"num": 512}}],
        },
        "test_cfg": {
            "rpn": {"nms_pre": 1000, "max_per_img": 1000},
            "rcnn": {"max_per_img": 100},
        },
    }


def _defaults(type_name):
    return {"SBRFCCBBoxHead": {"l2c_channels": (128, 64), "in_channels": 999}}.get(type_name, {})


def test_shrink_model_scales_every_channel_and_keeps_the_ablation():
    model = _two_stage_model()
    shrink_model(model, RULE, _defaults)
    assert model["neck"] == {"type": "FPN", "in_channels": [32, 64, 128, 256], "out_channels": 64}
    assert (model["rpn_head"]["in_channels"], model["rpn_head"]["feat_channels"]) == (64, 64)
    roi = model["roi_head"]
    extractor = roi["bbox_roi_extractor"]
    assert extractor["out_channels"] == 64
    assert extractor["pre_cfg"]["in_channels"] == extractor["pre_cfg"]["out_channels"] == 64
    assert extractor["post_cfg"] == {"type": "SBRNonLocal2d", "in_channels": 64, "reduction": 2}
    head = roi["bbox_head"][0]
    # the class default is written out, then scaled; a given value wins over the default
    assert head["l2c_channels"] == [32, 16]
    assert (head["in_channels"], head["fc_out_channels"]) == (64, 256)
    assert roi["mask_head"][0]["conv_out_channels"] == 64
    # what the tables ablate is untouched
    assert (roi["num_stages"], roi["loop_iou_thrs"]) == (3, [0.5, 0.6, 0.7])
    assert model["rpn_head"]["anchor_generator"]["scales"] == [4]
    assert model["rpn_head"]["anchor_generator"]["ratios"] == [0.5, 1, 2]
    train, test = model["train_cfg"], model["test_cfg"]
    assert train["rpn"]["sampler"]["num"] == 128
    assert [stage["sampler"]["num"] for stage in train["rcnn"]] == [64, 64]
    assert train["rpn_proposal"] == {"nms_pre": 500, "max_per_img": 200}
    assert test["rpn"] == {"nms_pre": 500, "max_per_img": 100}
    assert test["rcnn"]["max_per_img"] == 50


def test_shrink_model_without_sampling_fields_leaves_them():
    model = _two_stage_model()
    before = copy.deepcopy(model)
    shrink_model(model, ShrinkRule())
    assert model["train_cfg"] == before["train_cfg"] and model["test_cfg"] == before["test_cfg"]
    assert model["rpn_head"]["anchor_generator"] == before["rpn_head"]["anchor_generator"]
    assert "l2c_channels" not in model["roi_head"]["bbox_head"][0]  # no defaults callback


def test_factor_and_identity():
    rule = ShrinkRule(width=128)
    assert rule.factor == 0.5
    assert rule.identity()["width"] == 128
    assert rule.identity() != ShrinkRule().identity()
