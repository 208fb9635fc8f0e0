"""Trainable-parameter counts against paper Table 1 and the reference block counts.

Sizes as in the paper: 80 classes, 256 input channels, 7x7 RoIs (14x14 for Mask IoU).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch.nn as nn
from mmdet.registry import MODELS
from mmengine.registry import init_default_scope

import sbr.models.bbox_heads  # noqa: F401  (registers the heads)
import sbr.models.layers  # noqa: F401
import sbr.models.mask_heads.sbr_fcc_mask_iou_head  # noqa: F401


def trainable(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


@pytest.fixture(autouse=True)
def _mmdet_scope() -> None:
    init_default_scope("mmdet")


_CACHE: dict[str, nn.Module] = {}


def build(name: str) -> nn.Module:
    """Build (once per session) one of the named modules below."""
    if name not in _CACHE:
        _CACHE[name] = MODELS.build(MODULE_CFGS[name])
    return _CACHE[name]


def _bbox(type_: str = "SBRFCCBBoxHead", agnostic: bool = True, **kwargs) -> dict:
    return dict(
        type=type_,
        in_channels=256,
        roi_feat_size=7,
        num_classes=80,
        reg_class_agnostic=agnostic,
        **kwargs,
    )


def _mask_iou(**kwargs) -> dict:
    return dict(type="SBRFCCMaskIoUHead", num_classes=80, **kwargs)


def _nl(channels: int, kernel: int) -> dict:
    return dict(
        type="SBRNonLocal2d", in_channels=channels, kernel_size=kernel, padding=(kernel - 1) // 2
    )


def _conv(kernel, padding) -> dict:
    return dict(
        type="ConvModule", in_channels=256, out_channels=256, kernel_size=kernel, padding=padding
    )


def _groie(pre: dict | None, post: dict | None) -> dict:
    return dict(
        type="GenericRoIExtractor",
        roi_layer=dict(type="RoIAlign", output_size=7, sampling_ratio=2),
        out_channels=256,
        featmap_strides=[4, 8, 16, 32],
        pre_cfg=pre,
        post_cfg=post,
    )


MODULE_CFGS = {
    "fc_head": _bbox("Shared2FCBBoxHead", agnostic=False),
    "fc_head_agnostic": _bbox("Shared2FCBBoxHead"),
    "fcc_square": _bbox(fcc_type="square"),
    "fcc_rect": _bbox(fcc_type="rect", post_reduce=True),
    "fcc_rect_pre_reduce": _bbox(fcc_type="rect", post_reduce=False),
    "fcc_square_nlb": _bbox(fcc_type="square", nl_before=True),
    "fcc_square_nlb_nla": _bbox(fcc_type="square", nl_before=True, nl_after=True),
    "fcc_rect_nlb": _bbox(fcc_type="rect", post_reduce=True, nl_before=True),
    "fcc_rect_pre_reduce_nlb": _bbox(fcc_type="rect", post_reduce=False, nl_before=True),
    "mask_iou": dict(type="MaskIoUHead", num_classes=80),
    "fcc_mask_iou_square": _mask_iou(fcc_type="square"),
    "fcc_mask_iou_rect": _mask_iou(fcc_type="rect"),
    "fcc_mask_iou_square_nlb": _mask_iou(fcc_type="square", nl_before=True),
    "fcc_mask_iou_square_nlb_nla": _mask_iou(fcc_type="square", nl_before=True, nl_after=True),
    "fcc_mask_iou_rect_nlb": _mask_iou(fcc_type="rect", nl_before=True),
    "nl7_256": _nl(256, 7),
    "nl7_64": _nl(64, 7),
    "nl1_256": _nl(256, 1),
    "groie": _groie(_conv(7, 3), _nl(256, 7)),
    "groie_conv3": _groie(_conv(3, 1), None),
    "groie_conv5": _groie(_conv(5, 2), None),
    "groie_conv7": _groie(_conv(7, 3), None),
    "groie_rect": _groie(
        dict(type="SBRSequential", layers=[_conv((7, 3), 1), _conv((3, 7), 3)]), None
    ),
}

# Paper Table 1: name -> (module, layer getter, count from the table).
TABLE1 = {
    "FC 1": ("fc_head", lambda m: m.shared_fcs[0], 12_846_080),
    "L2C (conv1)": ("fcc_square", lambda m: m.shared_fcs[0], 1_605_760),
    "L2C (conv1a)": ("fcc_rect", lambda m: m.shared_fcs[0], 1_376_512),
    "L2C (conv1b)": ("fcc_rect", lambda m: m.shared_fcs[1], 688_256),
    "FC 2": ("fc_head", lambda m: m.shared_fcs[1], 1_049_600),
    "L2C (conv2)": ("fcc_square", lambda m: m.shared_fcs[1], 401_472),
    "L2C (conv2a)": ("fcc_rect", lambda m: m.shared_fcs[2], 344_192),
    "L2C (conv2b)": ("fcc_rect", lambda m: m.shared_fcs[3], 172_096),
}


@pytest.mark.parametrize("row", list(TABLE1), ids=list(TABLE1))
def test_table1_layer_counts(row: str) -> None:
    name, get_layer, expected = TABLE1[row]
    assert trainable(get_layer(build(name))) == expected


# Reference sections 10.2 and 7.2 (whole blocks).
BLOCKS: dict[str, tuple[str, Callable[[nn.Module], nn.Module], int]] = {
    "Shared2FC head class-specific": ("fc_head", lambda m: m, 14_306_705),
    "Shared2FC head class-agnostic": ("fc_head_agnostic", lambda m: m, 13_982_805),
    "FCC 7x7 head (b)": ("fcc_square", lambda m: m, 2_273_877),
    "FCC 7x7 L2C": ("fcc_square", lambda m: m.shared_fcs, 2_007_232),
    "FCC rect head post_reduce (c)": ("fcc_rect", lambda m: m, 2_847_701),
    "FCC rect L2C post_reduce": ("fcc_rect", lambda m: m.shared_fcs, 2_581_056),
    "FCC rect head pre_reduce": ("fcc_rect_pre_reduce", lambda m: m, 1_557_269),
    "FCC rect L2C pre_reduce": ("fcc_rect_pre_reduce", lambda m: m.shared_fcs, 1_290_624),
    "FCC 7x7 + NL_b head (d)": ("fcc_square_nlb", lambda m: m, 8_697_045),
    "FCC 7x7 + NL_b + NL_a head": ("fcc_square_nlb_nla", lambda m: m, 9_098_613),
    "FCC rect + NL_b head (e)": ("fcc_rect_nlb", lambda m: m, 9_270_869),
    "FCC rect pre_reduce + NL_b head (SBR-CNN)": (
        "fcc_rect_pre_reduce_nlb",
        lambda m: m,
        7_980_437,
    ),
    "fc_cls Linear(3136, 81)": ("fcc_square", lambda m: m.fc_cls, 254_097),
    "fc_reg Linear(3136, 4)": ("fcc_square", lambda m: m.fc_reg, 12_548),
    "NL 7x7 (256)": ("nl7_256", lambda m: m, 6_423_168),
    "NL 7x7 (64)": ("nl7_64", lambda m: m, 401_568),
    "NL 1x1 (256)": ("nl1_256", lambda m: m, 131_712),
    "MaskIoUHead original": ("mask_iou", lambda m: m, 16_340_304),
    "MaskIoUHead convs": ("mask_iou", lambda m: m.convs, 2_362_624),
    "FCC Mask IoU 7x7": ("fcc_mask_iou_square", lambda m: m, 4_620_816),
    "FCC Mask IoU rect": ("fcc_mask_iou_rect", lambda m: m, 5_194_640),
    "FCC Mask IoU fc_mask_iou Linear(3136, 80)": (
        "fcc_mask_iou_square",
        lambda m: m.fc_mask_iou,
        250_960,
    ),
    "FCC Mask IoU 7x7 + NL_b": ("fcc_mask_iou_square_nlb", lambda m: m, 11_043_984),
    "FCC Mask IoU 7x7 + NL_b + NL_a": ("fcc_mask_iou_square_nlb_nla", lambda m: m, 11_445_552),
    "FCC Mask IoU rect + NL_b": ("fcc_mask_iou_rect_nlb", lambda m: m, 11_617_808),
    "GRoIE pre Conv 7x7 + post NL 7x7": ("groie", lambda m: m, 9_634_688),
    "GRoIE Conv 3x3": ("groie_conv3", lambda m: m, 590_080),
    "GRoIE Conv 5x5": ("groie_conv5", lambda m: m, 1_638_656),
    "GRoIE Conv 7x7": ("groie_conv7", lambda m: m, 3_211_520),
    "GRoIE Conv 7x3 -> 3x7": ("groie_rect", lambda m: m, 2_753_024),
}


@pytest.mark.parametrize("block", list(BLOCKS), ids=list(BLOCKS))
def test_block_counts(block: str) -> None:
    name, get_part, expected = BLOCKS[block]
    assert trainable(get_part(build(name))) == expected


# Paper text: "from 14M to 2.2M, 2.8M, 8.6M, and 9.2M" for heads b, c, d, e (truncated).
@pytest.mark.parametrize(
    "name, paper_millions",
    [
        ("fcc_square", 2.2),
        ("fcc_rect", 2.8),
        ("fcc_square_nlb", 8.6),
        ("fcc_rect_nlb", 9.2),
    ],
    ids=["b-7x7", "c-rect", "d-7x7+NL", "e-rect+NL"],
)
def test_paper_text_head_sizes_are_truncated_counts(name: str, paper_millions: float) -> None:
    assert int(trainable(build(name)) / 1e5) == round(paper_millions * 10)
