"""Tiny R³ heads and batches for fast CPU tests: 8-channel features, 64×64 images, 3 classes.

A plain module (not conftest.py) so that tests can import its builders by a unique name.
"""

from __future__ import annotations

import copy

import torch
from mmdet.testing import demo_mm_inputs, demo_mm_proposals
from mmengine.config import ConfigDict

import sbr.models  # noqa: F401  (registers the sbr components)

NUM_CLASSES = 3
CHANNELS = 8
IMG_SIZE = 64
STRIDES = (4, 8, 16, 32)
NUM_PROPOSALS = 24
STDS_A = (0.1, 0.1, 0.2, 0.2)
STDS_B = (0.05, 0.05, 0.1, 0.1)


def bbox_head_cfg(stds=STDS_A) -> dict:
    return dict(
        type="Shared2FCBBoxHead",
        in_channels=CHANNELS,
        fc_out_channels=16,
        roi_feat_size=7,
        num_classes=NUM_CLASSES,
        bbox_coder=dict(
            type="DeltaXYWHBBoxCoder", target_means=(0.0, 0.0, 0.0, 0.0), target_stds=stds
        ),
        reg_class_agnostic=True,
        loss_cls=dict(type="CrossEntropyLoss", use_sigmoid=False, loss_weight=1.0),
        loss_bbox=dict(type="SmoothL1Loss", beta=1.0, loss_weight=1.0),
    )


def mask_head_cfg() -> dict:
    return dict(
        type="R3MaskHead",
        num_convs=4,
        in_channels=CHANNELS,
        conv_out_channels=CHANNELS,
        num_classes=NUM_CLASSES,
        loss_mask=dict(type="CrossEntropyLoss", use_mask=True, loss_weight=1.0),
    )


MASK_IOU_HEADS = {
    "MaskIoUHead": dict(
        type="MaskIoUHead",
        num_convs=2,
        num_fcs=1,
        roi_feat_size=14,
        in_channels=CHANNELS,
        conv_out_channels=CHANNELS,
        fc_out_channels=16,
        num_classes=NUM_CLASSES,
    ),
    "SBRFCCMaskIoUHead": dict(
        type="SBRFCCMaskIoUHead",
        num_convs=2,
        roi_feat_size=14,
        in_channels=CHANNELS,
        conv_out_channels=CHANNELS,
        l2c_channels=(8, 4),
        num_classes=NUM_CLASSES,
    ),
}


def extractor_cfg(out_size: int) -> dict:
    return dict(
        type="SingleRoIExtractor",
        roi_layer=dict(type="RoIAlign", output_size=out_size, sampling_ratio=0),
        out_channels=CHANNELS,
        featmap_strides=list(STRIDES),
    )


def loop_train_cfg(iou_thr: float) -> dict:
    return dict(
        assigner=dict(
            type="MaxIoUAssigner",
            pos_iou_thr=iou_thr,
            neg_iou_thr=iou_thr,
            min_pos_iou=iou_thr,
            ignore_iof_thr=-1,
        ),
        sampler=dict(
            type="RandomSampler", num=16, pos_fraction=0.25, neg_pos_ub=-1, add_gt_as_proposals=True
        ),
        mask_size=28,
        pos_weight=-1,
        debug=False,
        mask_thr_binary=0.5,
    )


TEST_CFG = dict(
    score_thr=0.0, nms=dict(type="nms", iou_threshold=0.5), max_per_img=10, mask_thr_binary=0.5
)


def r3_head_cfg(
    num_stages: int = 3,
    stages=None,
    num_heads: int = 1,
    mask_iou: str | None = None,
    **kwargs,
) -> dict:
    """Config of a tiny R3RoIHead; ``kwargs`` override any head argument."""
    iou_thrs = [min(0.5 + 0.1 * t, 0.8) for t in range(num_stages)]
    heads = [bbox_head_cfg(STDS_A if h == 0 else STDS_B) for h in range(num_heads)]
    cfg = dict(
        type="R3RoIHead",
        num_stages=num_stages,
        stage_loss_weights=[1.0, 0.75, 0.5, 0.4, 0.3][:num_stages],
        stages=stages,
        bbox_roi_extractor=extractor_cfg(7),
        bbox_head=heads,
        mask_roi_extractor=extractor_cfg(14),
        mask_head=[mask_head_cfg() for _ in range(num_heads)],
        train_cfg=[loop_train_cfg(thr) for thr in iou_thrs],
        test_cfg=copy.deepcopy(TEST_CFG),
    )
    if mask_iou is not None:
        cfg["mask_iou_head"] = copy.deepcopy(MASK_IOU_HEADS[mask_iou])
    cfg.update(kwargs)
    return cfg


def build_head(cfg: dict):
    from mmdet.registry import MODELS

    torch.manual_seed(0)
    head = MODELS.build(ConfigDict(cfg))
    head.init_weights()
    return head


def make_features(batch_size: int = 2) -> tuple[torch.Tensor, ...]:
    generator = torch.Generator().manual_seed(0)
    return tuple(
        torch.rand((batch_size, CHANNELS, IMG_SIZE // s, IMG_SIZE // s), generator=generator)
        for s in STRIDES
    )


def make_batch(num_gts=(3, 2), num_proposals=(NUM_PROPOSALS, NUM_PROPOSALS)):
    """Features, proposals and data samples for a batch of 64×64 images."""
    batch_size = len(num_gts)
    shapes = [(3, IMG_SIZE, IMG_SIZE)] * batch_size
    samples = demo_mm_inputs(
        batch_size=batch_size,
        image_shapes=shapes,
        num_items=list(num_gts),
        num_classes=NUM_CLASSES,
        with_mask=True,
    )["data_samples"]
    for sample in samples:  # unit scale: predicted masks then have the image size
        sample.set_metainfo(dict(scale_factor=(1.0, 1.0)))
    proposals = demo_mm_proposals(shapes, max(num_proposals))
    proposals = [res[:count] for res, count in zip(proposals, num_proposals, strict=True)]
    return make_features(batch_size), proposals, samples


def count_forwards(modules) -> list[int]:
    """Forward calls per module, counted live (a forward hook only counts; the module runs)."""
    counts = [0] * len(modules)
    for index, module in enumerate(modules):

        def hook(*_, index=index):
            counts[index] += 1

        module.register_forward_hook(hook)
    return counts
