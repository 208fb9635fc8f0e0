"""Every shipped model config loads, builds on the CPU and has the intended structure."""

from __future__ import annotations

from pathlib import Path

import pytest
from mmengine.config import Config

from sbr.models.params import (
    CONFIG_ROOT,
    PAPER_VARIANTS,
    SHIPPED_MODELS,
    ConfigVariant,
    load_model_config,
    shipped_config_files,
    summarize_config,
)

R3_NAIVE = "r3_cnn/r3-cnn_r50_fpn_1x_coco.py"
SBR_CNN = "sbr_cnn/sbr-cnn_r50_fpn_1x_coco.py"

ALL_CONFIGS = [pytest.param(e.config, id=Path(e.config).stem) for e in SHIPPED_MODELS]


def expected_architecture(config: str) -> tuple[str, str | None]:
    """(detector class, RoI head class) implied by a config's folder and name."""
    folder, name = config.split("/")
    if folder in ("r3_cnn", "sbr_cnn"):
        return "HybridTaskCascade", "R3RoIHead"
    if name.startswith("htc"):
        return "HybridTaskCascade", "HybridTaskCascadeRoIHead"
    if name.startswith("mask-rcnn"):
        return "MaskRCNN", "StandardRoIHead"
    if name.startswith("faster-rcnn"):
        return "FasterRCNN", "StandardRoIHead"
    if name.startswith("condinst"):
        return "CondInst", None
    raise AssertionError(f"no expectation for {config}")


def test_registry_lists_every_shipped_config_file() -> None:
    files = shipped_config_files()
    assert len(files) >= 50
    assert sorted(entry.config for entry in SHIPPED_MODELS) == files


@pytest.mark.parametrize("config", ALL_CONFIGS)
def test_config_builds_on_cpu(config: str) -> None:
    summary = summarize_config(config)
    assert (summary.detector, summary.roi_head) == expected_architecture(config)
    # Only the ResNet-50 stem + layer1 (225,344 parameters) are frozen.
    assert summary.total - summary.trainable == 225_344


@pytest.mark.parametrize("config", ALL_CONFIGS)
def test_config_is_an_mmdet_plugin_config(config: str) -> None:
    cfg = Config.fromfile(str(CONFIG_ROOT / config))
    assert cfg.default_scope == "mmdet"
    assert cfg.custom_imports == dict(imports=["sbr.models"], allow_failed_imports=False)
    # The paper preset keeps the ImageNet initialisation of the backbone.
    assert cfg.model.backbone.init_cfg.type == "Pretrained"
    assert not [key for key in cfg if key.startswith("_")]


def test_mask_rcnn_3x_schedule() -> None:
    cfg = load_model_config("mask_rcnn/mask-rcnn_r50_fpn_3x_coco.py")
    assert cfg.train_cfg.max_epochs == 36
    warmup, steps = cfg.param_scheduler
    assert (warmup.type, warmup.end, warmup.by_epoch) == ("LinearLR", 500, False)
    assert (steps.type, steps.milestones, steps.end) == ("MultiStepLR", [28, 34], 36)
    assert cfg.train_pipeline[2].scale == (1333, 800)


def test_r3_naive_is_htc_with_one_looped_head_pair() -> None:
    cfg = load_model_config(R3_NAIVE)
    head = cfg.model.roi_head
    assert head.type == "R3RoIHead"
    assert (head.num_stages, head.stage_loss_weights) == (3, [1, 0.75, 0.5])
    assert head.loop_iou_thrs == [0.5, 0.6, 0.7]
    assert "stages" not in head and "num_stages_test" not in head
    assert [h.type for h in head.bbox_head] == ["Shared2FCBBoxHead"]
    assert head.bbox_head[0].bbox_coder.target_stds == [0.1, 0.1, 0.2, 0.2]
    assert head.bbox_head[0].reg_class_agnostic is True
    assert [h.type for h in head.mask_head] == ["R3MaskHead"]
    rcnn = cfg.model.train_cfg.rcnn
    assert isinstance(rcnn, dict) and rcnn.sampler.num == 512
    assert cfg.model.train_cfg.rpn_proposal.max_per_img == 2000


def test_deeper_head_b_uses_htc_stage2_stds() -> None:
    head = load_model_config("r3_cnn/r3-cnn_r50_fpn_h2-aab_1x_coco.py").model.roi_head
    assert head.stages == "aab"
    stds = [h.bbox_coder.target_stds for h in head.bbox_head]
    assert stds == [[0.1, 0.1, 0.2, 0.2], [0.05, 0.05, 0.1, 0.1]]
    assert len(head.mask_head) == 2


def test_sbr_cnn_composition() -> None:
    cfg = load_model_config(SBR_CNN)
    head = cfg.model.roi_head
    (bbox,) = head.bbox_head
    assert (bbox.type, bbox.fcc_type, bbox.post_reduce, bbox.nl_before, bbox.nl_after) == (
        "SBRFCCBBoxHead",
        "rect",
        False,
        True,
        False,
    )
    iou = head.mask_iou_head
    assert (iou.type, iou.fcc_type, iou.nl_before, iou.nl_after) == (
        "SBRFCCMaskIoUHead",
        "square",
        False,
        False,
    )
    assert head.with_mask_loop is True
    assert cfg.model.train_cfg.rcnn.mask_thr_binary == 0.5
    for extractor, size in ((head.bbox_roi_extractor, 7), (head.mask_roi_extractor, 14)):
        assert extractor.type == "GenericRoIExtractor"
        assert extractor.aggregation == "sum"
        assert extractor.roi_layer == dict(type="RoIAlign", output_size=size, sampling_ratio=2)
        assert (extractor.pre_cfg.type, extractor.pre_cfg.kernel_size) == ("ConvModule", 7)
        assert (extractor.post_cfg.type, extractor.post_cfg.kernel_size) == ("SBRNonLocal2d", 7)


@pytest.mark.parametrize(
    ("config", "pre", "post"),
    [
        pytest.param("groie/faster-rcnn_r50_fpn_groie-pre-nl7x7_1x_coco.py", "SBRNonLocal2d", None),
        pytest.param("groie/faster-rcnn_r50_fpn_groie-post-conv3x3_1x_coco.py", None, "ConvModule"),
        pytest.param(
            "groie/faster-rcnn_r50_fpn_groie-pre-conv7x3-3x7_1x_coco.py", "SBRSequential", None
        ),
    ],
)
def test_groie_variants_keep_one_module(config: str, pre: str | None, post: str | None) -> None:
    extractor = load_model_config(config).model.roi_head.bbox_roi_extractor
    assert (extractor.pre_cfg or {}).get("type") == pre
    assert (extractor.post_cfg or {}).get("type") == post
    module = extractor.pre_cfg or extractor.post_cfg
    assert "_delete_" not in module and "padding" in str(module)


def build_roi_head(variant: ConfigVariant):
    """Build only the R3 RoI head of a variant (the backbone does not change)."""
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules

    import sbr.models  # noqa: F401

    register_all_modules(init_default_scope=True)
    cfg = load_model_config(variant.config, variant.options)
    head_cfg = cfg.model.roi_head
    head_cfg.update(train_cfg=cfg.model.train_cfg.rcnn, test_cfg=cfg.model.test_cfg.rcnn)
    return MODELS.build(head_cfg), cfg


@pytest.mark.parametrize("variant", [pytest.param(v, id=v.row) for v in PAPER_VARIANTS])
def test_paper_variant_overrides_build_the_row(variant: ConfigVariant) -> None:
    head, cfg = build_roi_head(variant)
    options = {k.removeprefix("model.roi_head."): v for k, v in variant.options.items()}
    loops = options.get("num_stages", cfg.model.roi_head.num_stages)
    assert head.num_stages == loops
    assert head.stage_loss_weights == cfg.model.roi_head.stage_loss_weights
    assert len(head.bbox_assigner) == loops
    thrs = [a.pos_iou_thr for a in head.bbox_assigner]
    assert thrs == cfg.model.roi_head.loop_iou_thrs
    assert [a.neg_iou_thr for a in head.bbox_assigner] == thrs
    expected_stages = options.get("stages", cfg.model.roi_head.get("stages"))
    if expected_stages is None:  # H = 1: every loop uses head a
        assert set(head.stages) == {0} and len(head.bbox_head) == 1
    else:
        assert head.stages[: len(expected_stages)] == [ord(c) - ord("a") for c in expected_stages]
    assert head.num_stages_test == options.get("num_stages_test", loops)
    assert len(head.stages) >= head.num_stages_test
