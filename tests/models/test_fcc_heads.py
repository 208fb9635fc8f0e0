"""SBRFCCBBoxHead and SBRFCCMaskIoUHead: layout, shapes, empty inputs, losses, init."""

from __future__ import annotations

import itertools

import pytest
import torch
from mmdet.models.task_modules.assigners import MaxIoUAssigner
from mmdet.models.task_modules.samplers import RandomSampler
from mmdet.registry import MODELS
from mmdet.structures.bbox import bbox2roi
from mmengine.config import ConfigDict
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

import sbr.models.bbox_heads  # noqa: F401  (registers the heads)
import sbr.models.mask_heads.sbr_fcc_mask_iou_head  # noqa: F401
from sbr.models.bbox_heads import SBRFCCBBoxHead, l2c_conv_specs
from sbr.models.layers import SBRNonLocal2d
from sbr.models.mask_heads.sbr_fcc_mask_iou_head import SBRFCCMaskIoUHead

IN_CH, L2C, NUM_CLASSES = 8, (6, 4), 3


@pytest.fixture(autouse=True)
def _mmdet_scope() -> None:
    init_default_scope("mmdet")


def _bbox_head(**kwargs) -> SBRFCCBBoxHead:
    cfg = dict(
        type="SBRFCCBBoxHead",
        in_channels=IN_CH,
        l2c_channels=L2C,
        roi_feat_size=7,
        num_classes=NUM_CLASSES,
        nl_kernel_size=3,
    )
    cfg.update(kwargs)
    return MODELS.build(cfg)


def _mask_iou_head(**kwargs) -> SBRFCCMaskIoUHead:
    cfg = dict(
        type="SBRFCCMaskIoUHead",
        in_channels=IN_CH,
        conv_out_channels=IN_CH,
        l2c_channels=L2C,
        roi_feat_size=14,
        num_classes=NUM_CLASSES,
        nl_kernel_size=3,
    )
    cfg.update(kwargs)
    return MODELS.build(cfg)


def _layer_kinds(layers) -> list[str]:
    return [
        "NL" if isinstance(m, SBRNonLocal2d) else "x".join(map(str, m.conv.kernel_size))
        for m in layers
    ]


@pytest.mark.parametrize(
    "fcc_type, post_reduce, expected",
    [
        ("square", True, [(256, 128, (7, 7), (3, 3)), (128, 64, (7, 7), (3, 3))]),
        (
            "rect",
            True,
            [
                (256, 256, (7, 3), (1, 1)),
                (256, 128, (3, 7), (3, 3)),
                (128, 128, (7, 3), (1, 1)),
                (128, 64, (3, 7), (3, 3)),
            ],
        ),
        (
            "rect",
            False,
            [
                (256, 128, (7, 3), (1, 1)),
                (128, 128, (3, 7), (3, 3)),
                (128, 64, (7, 3), (1, 1)),
                (64, 64, (3, 7), (3, 3)),
            ],
        ),
    ],
    ids=["square", "rect-post_reduce", "rect-pre_reduce"],
)
def test_l2c_conv_specs_follow_the_paper(fcc_type, post_reduce, expected) -> None:
    assert l2c_conv_specs(256, fcc_type, post_reduce) == expected


BBOX_OPTIONS = list(
    itertools.product(["square", "rect"], [True, False], [False, True], [False, True])
)


@pytest.mark.parametrize(
    "fcc_type, post_reduce, nl_before, nl_after",
    BBOX_OPTIONS,
    ids=[f"{t}-pr{int(p)}-nlb{int(b)}-nla{int(a)}" for t, p, b, a in BBOX_OPTIONS],
)
def test_bbox_head_forward_shapes(fcc_type, post_reduce, nl_before, nl_after) -> None:
    head = _bbox_head(
        fcc_type=fcc_type, post_reduce=post_reduce, nl_before=nl_before, nl_after=nl_after
    )
    kinds = _layer_kinds(head.shared_fcs)
    convs = ["7x7"] * 2 if fcc_type == "square" else ["7x3", "3x7"] * 2
    assert kinds == ["NL"] * nl_before + convs + ["NL"] * nl_after
    if nl_before:
        assert head.shared_fcs[0].in_channels == IN_CH
    if nl_after:
        assert head.shared_fcs[-1].in_channels == L2C[-1]
    assert head.fc_cls.in_features == head.fc_reg.in_features == L2C[-1] * 49
    for num_rois in (3, 0):
        cls_score, bbox_pred = head(torch.randn(num_rois, IN_CH, 7, 7))
        assert cls_score.shape == (num_rois, NUM_CLASSES + 1)
        assert bbox_pred.shape == (num_rois, 4 * NUM_CLASSES)


def test_bbox_head_class_agnostic_regression() -> None:
    _, bbox_pred = _bbox_head(reg_class_agnostic=True)(torch.randn(2, IN_CH, 7, 7))
    assert bbox_pred.shape == (2, 4)


def test_bbox_head_applies_relu_after_the_non_local() -> None:
    head = _bbox_head(nl_after=True)
    torch.nn.init.normal_(head.shared_fcs[-1].conv_out.conv.weight, std=1.0)
    seen = []
    head.fc_cls.register_forward_pre_hook(lambda _m, args: seen.append(args[0]))
    head(torch.randn(4, IN_CH, 7, 7))
    assert seen[0].min() >= 0  # rectified NL output reaches the predictors


def _sampling_results(num_imgs: int = 2) -> list:
    assigner = MaxIoUAssigner(pos_iou_thr=0.5, neg_iou_thr=0.5, min_pos_iou=0.5)
    sampler = RandomSampler(num=8, pos_fraction=0.5, add_gt_as_proposals=True)
    results = []
    for i in range(num_imgs):
        gt = InstanceData(
            bboxes=torch.tensor([[10.0, 10.0, 50.0, 50.0]]), labels=torch.tensor([i % 3])
        )
        proposals = InstanceData(
            priors=torch.tensor([[12.0, 12.0, 48.0, 52.0], [60.0, 60.0, 90.0, 90.0]])
        )
        assign = assigner.assign(proposals, gt)
        results.append(sampler.sample(assign, proposals, gt))
    return results


@pytest.mark.parametrize(
    "fcc_type, nl_before", [("square", False), ("rect", True)], ids=["square", "rect-nlb"]
)
def test_bbox_head_loss_backpropagates(fcc_type: str, nl_before: bool) -> None:
    head = _bbox_head(fcc_type=fcc_type, nl_before=nl_before, reg_class_agnostic=True)
    head.init_weights()
    sampling_results = _sampling_results()
    rois = bbox2roi([res.priors for res in sampling_results])
    cls_score, bbox_pred = head(torch.randn(rois.shape[0], IN_CH, 7, 7))
    out = head.loss_and_target(
        cls_score, bbox_pred, rois, sampling_results, ConfigDict(pos_weight=-1)
    )
    losses = out["loss_bbox"]
    total = losses["loss_cls"] + losses["loss_bbox"]
    assert torch.isfinite(total) and losses["loss_bbox"] > 0
    total.backward()
    first_conv = head.shared_fcs[1 if nl_before else 0].conv
    assert first_conv.weight.grad is not None and first_conv.weight.grad.abs().sum() > 0
    if nl_before:
        assert head.shared_fcs[0].conv_out.conv.weight.grad.abs().sum() > 0


def _all_non_locals(module) -> list[SBRNonLocal2d]:
    return [m for m in module.modules() if isinstance(m, SBRNonLocal2d)]


def test_bbox_head_init_weights_keeps_non_local_zero_init() -> None:
    head = _bbox_head(fcc_type="rect", nl_before=True, nl_after=True)
    conv_weight = head.shared_fcs[1].conv.weight.detach().clone()
    head.init_weights()
    non_locals = _all_non_locals(head)
    assert len(non_locals) == 2
    for block in non_locals:
        assert torch.count_nonzero(block.conv_out.conv.weight) == 0
        assert torch.count_nonzero(block.conv_out.conv.bias) == 0
    torch.testing.assert_close(head.shared_fcs[1].conv.weight, conv_weight)  # not re-initialised
    assert head.fc_reg.weight.std() < 0.01  # N(0, 0.001)


def test_xavier_override_on_shared_fcs_would_break_the_zero_init() -> None:
    """Control for the test above: mmdet's default ConvFCBBoxHead override hits NL convs."""
    head = _bbox_head(
        nl_before=True,
        init_cfg=[dict(type="Xavier", distribution="uniform", override=dict(name="shared_fcs"))],
    )
    head.init_weights()
    assert torch.count_nonzero(head.shared_fcs[0].conv_out.conv.weight) > 0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(fcc_type="round"), "fcc_type"),
        (dict(num_shared_fcs=1), "branch layout"),
        (dict(with_avg_pool=True), "with_avg_pool"),
        (dict(l2c_channels=(4,)), "channels"),
    ],
    ids=["fcc_type", "num_shared_fcs", "avg_pool", "channels"],
)
def test_bbox_head_rejects_bad_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        _bbox_head(**kwargs)


MASK_IOU_OPTIONS = list(itertools.product(["square", "rect"], [False, True], [False, True]))


@pytest.mark.parametrize(
    "fcc_type, nl_before, nl_after",
    MASK_IOU_OPTIONS,
    ids=[f"{t}-nlb{int(b)}-nla{int(a)}" for t, b, a in MASK_IOU_OPTIONS],
)
def test_mask_iou_head_forward_shapes(fcc_type, nl_before, nl_after) -> None:
    head = _mask_iou_head(fcc_type=fcc_type, nl_before=nl_before, nl_after=nl_after)
    convs = ["7x7"] * 2 if fcc_type == "square" else ["7x3", "3x7"] * 2
    assert _layer_kinds(head.fcs) == ["NL"] * nl_before + convs + ["NL"] * nl_after
    assert head.fc_mask_iou.in_features == L2C[-1] * 49
    for num_rois in (2, 0):
        out = head(torch.randn(num_rois, IN_CH, 14, 14), torch.randn(num_rois, 28, 28))
        assert out.shape == (num_rois, NUM_CLASSES)


def test_mask_iou_head_init_weights_keeps_non_local_zero_init() -> None:
    head = _mask_iou_head(nl_before=True, nl_after=True)
    head.init_weights()
    for block in _all_non_locals(head):
        assert torch.count_nonzero(block.conv_out.conv.weight) == 0
    assert 0 < head.fc_mask_iou.weight.std() < 0.02


def test_mask_iou_head_loss_backpropagates() -> None:
    head = _mask_iou_head(fcc_type="rect", nl_before=True)
    pred = head(torch.randn(3, IN_CH, 14, 14), torch.randn(3, 28, 28))
    labels = torch.tensor([0, 2, 1])
    loss = head.loss_iou(pred[torch.arange(3), labels], torch.tensor([0.3, 0.6, 0.9]))
    loss.backward()
    assert head.fcs[1].conv.weight.grad.abs().sum() > 0


@pytest.mark.parametrize(
    "kwargs, match",
    [(dict(fcc_type="round"), "fcc_type"), (dict(num_fcs=2), "FC layers")],
    ids=["fcc_type", "num_fcs"],
)
def test_mask_iou_head_rejects_bad_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        _mask_iou_head(**kwargs)
