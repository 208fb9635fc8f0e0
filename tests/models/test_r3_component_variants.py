"""A training step and a prediction of the tiny R³ head with every FCC / NL / GRoIE option.

test_r3_roi_head.py covers loops, heads and alternations with plain FC heads; this
file swaps in sbr's detection heads and GRoIE extractors, one option at a time.
"""

from __future__ import annotations

import pytest
import torch
from mmengine.registry import DefaultScope
from tiny_r3 import (
    CHANNELS,
    IMG_SIZE,
    STRIDES,
    bbox_head_cfg,
    build_head,
    make_batch,
    r3_head_cfg,
)


@pytest.fixture(autouse=True)
def mmdet_scope():
    """Plugin layers (SBRNonLocal2d, SBRSequential) resolve in mmdet scope, as in a Runner."""
    with DefaultScope.overwrite_default_scope("mmdet"):
        yield


def fcc_head(fcc_type: str, *, post_reduce: bool = True, nl_before=False, nl_after=False):
    """The tiny FC head of tiny_r3 with its two FCs replaced by sbr's L2C convolutions."""
    return dict(
        bbox_head_cfg(),
        type="SBRFCCBBoxHead",
        fcc_type=fcc_type,
        post_reduce=post_reduce,
        nl_before=nl_before,
        nl_after=nl_after,
        l2c_channels=(8, 4),
    )


def conv(kernel, padding):
    return dict(
        type="ConvModule",
        in_channels=CHANNELS,
        out_channels=CHANNELS,
        kernel_size=kernel,
        padding=padding,
        inplace=False,
    )


def nonlocal_(kernel: int):
    return dict(
        type="SBRNonLocal2d",
        in_channels=CHANNELS,
        reduction=2,
        use_scale=True,
        kernel_size=kernel,
        padding=kernel // 2,
    )


RECT_PAIR = dict(type="SBRSequential", layers=[conv((7, 3), (1, 1)), conv((3, 7), (3, 3))])


def groie(out_size: int, *, pre=None, post=None):
    return dict(
        type="GenericRoIExtractor",
        aggregation="sum",
        roi_layer=dict(type="RoIAlign", output_size=out_size, sampling_ratio=2),
        out_channels=CHANNELS,
        featmap_strides=list(STRIDES),
        pre_cfg=pre,
        post_cfg=post,
    )


VARIANTS = [
    ("fcc-7x7", dict(bbox_head=[fcc_head("square")])),
    ("fcc-rect", dict(bbox_head=[fcc_head("rect")])),
    ("fcc-rect-slim-nlb", dict(bbox_head=[fcc_head("rect", post_reduce=False, nl_before=True)])),
    ("fcc-7x7-nlb-nla", dict(bbox_head=[fcc_head("square", nl_before=True, nl_after=True)])),
    (
        "h2-aabb-fcc-7x7-nlb",
        dict(
            num_stages=4,
            num_heads=2,
            stages="aabb",
            bbox_head=[fcc_head("square", nl_before=True), fcc_head("square", nl_before=True)],
        ),
    ),
    ("groie-pre-conv7x7", dict(bbox_roi_extractor=groie(7, pre=conv(7, 3)))),
    ("groie-pre-rect", dict(bbox_roi_extractor=groie(7, pre=RECT_PAIR))),
    ("groie-post-nl1x1", dict(bbox_roi_extractor=groie(7, post=nonlocal_(1)))),
    (
        "groie-full-both-extractors",
        dict(
            bbox_roi_extractor=groie(7, pre=conv(7, 3), post=nonlocal_(7)),
            mask_roi_extractor=groie(14, pre=conv(7, 3), post=nonlocal_(7)),
        ),
    ),
    (
        "sbr-cnn-tiny",
        dict(
            bbox_head=[fcc_head("rect", post_reduce=False, nl_before=True)],
            bbox_roi_extractor=groie(7, pre=conv(7, 3), post=nonlocal_(7)),
            mask_roi_extractor=groie(14, pre=conv(7, 3), post=nonlocal_(7)),
            mask_iou="SBRFCCMaskIoUHead",
        ),
    ),
]
IDS = [name for name, _ in VARIANTS]


@pytest.mark.parametrize("kwargs", [v for _, v in VARIANTS], ids=IDS)
def test_training_step(kwargs):
    head = build_head(r3_head_cfg(**kwargs))
    x, proposals, samples = make_batch()
    losses = head.loss(x, proposals, samples)
    assert all(torch.isfinite(v).all() for v in losses.values())
    sum(v for k, v in losses.items() if "loss" in k).backward()
    extractor = head.bbox_roi_extractor[0]
    for module in (head.bbox_head[0], getattr(extractor, "pre_module", None)):
        if module is not None:
            assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in module.parameters())
    # Data-parallel training (DDP without find_unused_parameters) needs a gradient for
    # every trainable parameter in every step.
    unused = [n for n, p in head.named_parameters() if p.requires_grad and p.grad is None]
    assert not unused, f"parameters without a gradient: {unused}"


@pytest.mark.parametrize("kwargs", [v for _, v in VARIANTS], ids=IDS)
def test_prediction(kwargs):
    head = build_head(r3_head_cfg(**kwargs)).eval()
    x, proposals, samples = make_batch()
    with torch.no_grad():
        results = head.predict(x, proposals, samples, rescale=False)
    for res in results:
        n = len(res)
        assert res.bboxes.shape == (n, 4)
        assert res.masks.shape == (n, IMG_SIZE, IMG_SIZE)


@pytest.mark.parametrize("kwargs", [v for _, v in VARIANTS[:1] + VARIANTS[-1:]], ids=["fcc", "sbr"])
def test_empty_batch(kwargs):
    """No GT and no proposals anywhere: losses stay finite and differentiable."""
    head = build_head(r3_head_cfg(**kwargs))
    x, proposals, samples = make_batch(num_gts=(0, 0), num_proposals=(0, 0))
    losses = head.loss(x, proposals, samples)
    assert all(torch.isfinite(v).all() for v in losses.values())
    sum(v for k, v in losses.items() if "loss" in k).backward()
