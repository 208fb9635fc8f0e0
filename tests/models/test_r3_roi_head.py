"""R3RoIHead on tiny random features: losses, gradients, predictions, edge cases."""

from __future__ import annotations

import copy

import pytest
import torch
from mmdet.structures.bbox import bbox2roi
from mmengine.config import ConfigDict
from tiny_r3 import (
    IMG_SIZE,
    NUM_PROPOSALS,
    TEST_CFG,
    build_head,
    count_forwards,
    loop_train_cfg,
    make_batch,
    r3_head_cfg,
)

from sbr.models.roi_heads.merging import average_mask_probs

# (id, head kwargs): L_t and L_e from 1 to 5, H = 1 and 2, every paper alternation,
# both Mask IoU heads, both mask-loop modes, both score merges, both final decoders.
VARIANTS = [
    ("Lt1-H1", dict(num_stages=1)),
    ("Lt2-H1", dict(num_stages=2)),
    ("Lt3-H1-naive", dict(num_stages=3)),
    ("Lt3-Le1-H1", dict(num_stages=3, num_stages_test=1)),
    ("Lt4-Le5-H1", dict(num_stages=4, num_stages_test=5, stages=[0] * 5)),
    ("ab", dict(num_stages=2, num_heads=2, stages="ab")),
    ("abb", dict(num_stages=3, num_heads=2, stages="abb")),
    ("aab", dict(num_stages=3, num_heads=2, stages="aab")),
    ("aba-last_loop", dict(num_stages=3, num_heads=2, stages="aba", final_decoder="last_loop")),
    ("aabb", dict(num_stages=4, num_heads=2, stages="aabb")),
    ("abab-probs", dict(num_stages=4, num_heads=2, stages="abab", score_merge="probs")),
    ("aabbb", dict(num_stages=5, num_heads=2, stages="aabbb")),
    ("H1-maskiou", dict(num_stages=3, mask_iou="MaskIoUHead")),
    (
        "aabb-fccmaskiou",
        dict(num_stages=4, num_heads=2, stages="aabb", mask_iou="SBRFCCMaskIoUHead"),
    ),
    ("H1-no-mask-loop", dict(num_stages=3, with_mask_loop=False)),
    ("aab-no-mask-loop", dict(num_stages=3, num_heads=2, stages="aab", with_mask_loop=False)),
    ("H1-no-info-flow", dict(num_stages=2, mask_info_flow=False)),
    ("H1-not-interleaved", dict(num_stages=2, interleaved=False)),
]


def _total(losses: dict) -> torch.Tensor:
    return sum(value for name, value in losses.items() if "loss" in name)


def _c1_weight_grad(head, index: int) -> torch.Tensor:
    grad = head.mask_head[index].conv_res.conv.weight.grad
    return torch.zeros(1) if grad is None else grad


@pytest.mark.parametrize("kwargs", [v for _, v in VARIANTS], ids=[i for i, _ in VARIANTS])
def test_training_step_losses_and_gradients(kwargs):
    head = build_head(r3_head_cfg(**kwargs))
    x, proposals, samples = make_batch()
    losses = head.loss(x, proposals, samples)

    expected = {
        f"s{t}.{name}"
        for t in range(head.num_stages)
        for name in ("loss_cls", "loss_bbox", "acc", "loss_mask")
    }
    if "mask_iou" in kwargs:
        expected.add("loss_mask_iou")
    assert set(losses) == expected
    assert all(torch.isfinite(value).all() for value in losses.values())

    _total(losses).backward()
    trained_by_chain = {head.stages[t] for t in range(1, head.num_stages)}
    for index in range(head.num_heads):
        grad_norm = _c1_weight_grad(head, index).abs().sum().item()
        if head.with_mask_loop and head.mask_info_flow and index in trained_by_chain:
            assert grad_norm > 0, f"C1 of head {index} got no gradient"
    if "mask_iou" in kwargs:
        assert any(p.grad is not None for p in head.mask_iou_head.parameters())


@pytest.mark.parametrize("kwargs", [v for _, v in VARIANTS], ids=[i for i, _ in VARIANTS])
def test_predict_outputs_consistent_shapes(kwargs):
    head = build_head(r3_head_cfg(**kwargs)).eval()
    x, proposals, samples = make_batch()
    with torch.no_grad():
        results = head.predict(x, proposals, samples, rescale=False)
    assert len(results) == 2
    for res in results:
        n = len(res)
        assert n > 0
        assert res.bboxes.shape == (n, 4)
        assert res.scores.shape == (n,)
        assert res.labels.shape == (n,)
        assert res.masks.shape == (n, IMG_SIZE, IMG_SIZE)
        assert res.masks.dtype == torch.bool
        assert ("mask_scores" in res) == ("mask_iou" in kwargs)


def test_c1_weights_get_no_gradient_without_mask_loop_for_one_head():
    head = build_head(r3_head_cfg(num_stages=3, with_mask_loop=False))
    x, proposals, samples = make_batch()
    _total(head.loss(x, proposals, samples)).backward()
    # r3_cnn behaviour: every loop runs one iteration on C1(0), so C1's weights stay untrained
    assert _c1_weight_grad(head, 0).abs().sum().item() == 0
    assert head.mask_head[0].convs[0].conv.weight.grad.abs().sum().item() > 0


@pytest.mark.parametrize(
    ("with_mask_loop", "train_mask_calls"),
    [(True, [5, 1]), (False, [3, 1])],
    ids=["mask-loop-j=t+1", "chain=head-index"],
)
def test_loops_use_heads_of_the_alternation(with_mask_loop, train_mask_calls):
    head = build_head(
        r3_head_cfg(num_stages=3, num_heads=2, stages="aab", with_mask_loop=with_mask_loop)
    )
    bbox_calls = count_forwards(head.bbox_head)
    mask_calls = count_forwards(head.mask_head)
    x, proposals, samples = make_batch()
    head.loss(x, proposals, samples)
    assert bbox_calls == [2, 1]
    # mask-loop chains a | a,a | a,a,b; head-index chains a | a | a,b
    assert mask_calls == train_mask_calls

    bbox_calls[:] = [0, 0]
    mask_calls[:] = [0, 0]
    head.eval()
    with torch.no_grad():
        head.predict(x, proposals, samples, rescale=False)
    assert bbox_calls == [2, 1]
    assert mask_calls == [2, 1]  # test chain runs L_e iterations: a, a, b


def test_each_loop_records_its_two_assignment_passes():
    cfg = r3_head_cfg(num_stages=3, num_heads=2, stages="aba")
    for loop_cfg in cfg["train_cfg"]:
        loop_cfg["assigner"]["type"] = "SBRRecordingMaxIoUAssigner"
    head = build_head(cfg)
    x, proposals, samples = make_batch()
    head.loss(x, proposals, samples)
    for loop, assigner in enumerate(head.bbox_assigner):
        histograms = assigner.histograms()
        assert set(histograms) == {"pass0", "pass1"}, loop
        assert histograms["pass1"].sum() > 0
    # loop 0, pass 0 sees the RPN proposals of both images (GT boxes are added later)
    assert head.bbox_assigner[0].histograms()["pass0"].sum() == 2 * NUM_PROPOSALS


def test_loss_weights_scale_loop_losses_but_not_mask_iou():
    head = build_head(r3_head_cfg(num_stages=2, mask_iou="MaskIoUHead"))
    x, proposals, samples = make_batch()
    head.stage_loss_weights = [1.0, 1.0]
    torch.manual_seed(1)
    plain = head.loss(x, proposals, samples)
    head.stage_loss_weights = [1.0, 0.25]
    torch.manual_seed(1)
    weighted = head.loss(x, proposals, samples)
    for name in ("loss_cls", "loss_bbox", "loss_mask"):
        assert torch.allclose(weighted[f"s1.{name}"], 0.25 * plain[f"s1.{name}"])
        assert torch.allclose(weighted[f"s0.{name}"], plain[f"s0.{name}"])
    assert torch.allclose(weighted["s1.acc"], plain["s1.acc"])
    assert torch.allclose(weighted["loss_mask_iou"], plain["loss_mask_iou"])


def _predict(head, batch):
    x, proposals, samples = batch
    with torch.no_grad():
        return head.predict(x, proposals, samples, rescale=False)


def test_mask_iou_writes_mask_scores_and_keeps_box_scores():
    head = build_head(r3_head_cfg(num_stages=2, mask_iou="MaskIoUHead")).eval()
    batch = make_batch()
    results = _predict(head, batch)
    x, proposals, samples = batch
    with torch.no_grad():
        boxes_only = head.predict_bbox(
            x, [s.metainfo for s in samples], proposals, head.test_cfg, rescale=False
        )
    for res, ref in zip(results, boxes_only, strict=True):
        assert torch.equal(res.scores, ref.scores)
        assert res.mask_scores.shape == res.scores.shape
        assert not torch.allclose(res.mask_scores, res.scores)


@pytest.mark.parametrize(
    ("num_stages_test", "should_differ"), [(1, False), (3, True)], ids=["Le1", "Le3"]
)
def test_score_merge_modes(num_stages_test, should_differ):
    batch = make_batch()
    scores = {}
    for mode in ("logits", "probs"):
        cfg = r3_head_cfg(
            num_stages=3,
            num_heads=2,
            stages="aab",
            num_stages_test=num_stages_test,
            score_merge=mode,
        )
        head = build_head(cfg).eval()
        for bbox_head in head.bbox_head:  # spread the logits so that the loops disagree
            torch.nn.init.normal_(bbox_head.fc_cls.weight, std=1.0)
        x, proposals, samples = batch
        rois = bbox2roi([p.bboxes for p in proposals])
        with torch.no_grad():
            _, merged, _ = head._refine_roi(
                x, rois, [s.metainfo for s in samples], [len(p) for p in proposals]
            )
        scores[mode] = torch.cat(merged).softmax(-1)
    gap = (scores["logits"] - scores["probs"]).abs().max().item()
    assert (gap > 1e-3) if should_differ else (gap < 1e-6)


@pytest.mark.parametrize(
    ("stages", "should_differ"), [("aba", True), ("aab", False)], ids=["aba", "aab"]
)
def test_final_decoder_choice(stages, should_differ):
    batch = make_batch()
    boxes = {}
    for decoder in ("last_head", "last_loop"):
        head = build_head(
            r3_head_cfg(num_stages=3, num_heads=2, stages=stages, final_decoder=decoder)
        )
        for bbox_head in head.bbox_head:  # visible deltas: stds 0.1/0.2 vs 0.05/0.1 matter
            torch.nn.init.normal_(bbox_head.fc_reg.weight, std=0.1)
        boxes[decoder] = [res.bboxes for res in _predict(head.eval(), batch)]
    same = all(
        a.shape == b.shape and torch.allclose(a, b)
        for a, b in zip(boxes["last_head"], boxes["last_loop"], strict=True)
    )
    assert same != should_differ


def test_test_masks_paste_the_mean_of_all_iteration_sigmoids():
    head = build_head(r3_head_cfg(num_stages=3, num_heads=2, stages="aab")).eval()
    x, proposals, samples = make_batch()
    metas = [s.metainfo for s in samples]
    with torch.no_grad():
        detections = head.predict_bbox(x, metas, proposals, head.test_cfg, rescale=False)
        predicted = head.predict_mask(x, metas, copy.deepcopy(detections), rescale=False)
        all_logits, feats = head._test_mask_logits(x, bbox2roi([d.bboxes for d in detections]))
        mean_probs = average_mask_probs(all_logits).split([len(d) for d in detections])
        expected = head.mask_head[-1].predict_by_feat(
            mean_probs, copy.deepcopy(detections), metas, head.test_cfg, activate_map=True
        )
    assert len(all_logits) == 3  # one per test loop, not only the last one
    assert feats.shape[1:] == (8, 14, 14)
    assert not torch.allclose(all_logits[0], all_logits[-1])
    for got, want in zip(predicted, expected, strict=True):
        assert torch.equal(got.masks, want.masks)


@pytest.mark.parametrize(
    ("num_gts", "num_proposals"),
    [((0, 2), (24, 24)), ((0, 0), (24, 24)), ((3, 2), (0, 24)), ((0, 0), (0, 0))],
    ids=["one-image-no-gt", "no-gt", "one-image-no-proposals", "nothing-at-all"],
)
def test_empty_cases_train_and_predict(num_gts, num_proposals):
    head = build_head(r3_head_cfg(num_stages=3, mask_iou="MaskIoUHead"))
    x, proposals, samples = make_batch(num_gts=num_gts, num_proposals=num_proposals)
    losses = head.loss(x, proposals, samples)
    assert {f"s{t}.loss_mask" for t in range(3)} <= set(losses)
    assert all(torch.isfinite(v).all() for v in losses.values())
    if sum(num_gts) == 0:
        for t in range(3):
            assert losses[f"s{t}.loss_mask"].item() == 0
            assert losses[f"s{t}.loss_mask"].requires_grad
    _total(losses).backward()

    head.eval()
    with torch.no_grad():
        results = head.predict(x, proposals, samples, rescale=False)
    for res, count in zip(results, num_proposals, strict=True):
        n = len(res)
        assert (n == 0) == (count == 0)
        assert res.masks.shape == (n, IMG_SIZE, IMG_SIZE)
        assert res.mask_scores.shape == (n,)


def test_init_weights_reaches_mask_heads():
    head = build_head(r3_head_cfg(num_stages=2, num_heads=2, stages="ab"))
    assert all(mask_head.is_init for mask_head in head.mask_head)
    assert len(head.bbox_head) == 2 and len(head.mask_head) == 2
    assert len(head.bbox_roi_extractor) == 2 and len(head.mask_roi_extractor) == 2


def test_single_dict_train_cfg_is_expanded_with_loop_iou_thrs():
    cfg = r3_head_cfg(
        num_stages=4, train_cfg=loop_train_cfg(0.5), loop_iou_thrs=[0.5, 0.6, 0.7, 0.8]
    )
    cfg["stages"] = [0, 0, 0, 0]
    head = build_head(cfg)
    assert [a.pos_iou_thr for a in head.bbox_assigner] == [0.5, 0.6, 0.7, 0.8]
    assert [a.neg_iou_thr for a in head.bbox_assigner] == [0.5, 0.6, 0.7, 0.8]
    assert [a.min_pos_iou for a in head.bbox_assigner] == [0.5, 0.6, 0.7, 0.8]
    assert len(head.bbox_sampler) == 4


def test_list_train_cfg_is_used_per_loop_and_may_be_longer():
    cfg = r3_head_cfg(num_stages=2)
    cfg["train_cfg"] = [loop_train_cfg(thr) for thr in (0.55, 0.65, 0.75)]
    head = build_head(cfg)
    assert [a.pos_iou_thr for a in head.bbox_assigner] == [0.55, 0.65, 0.75]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (dict(stages="ab", num_heads=2, num_stages=3), "stages 'ab' has 2 entries"),
        (dict(stages="abz", num_heads=2), "loop 2 asks for head 25"),
        (dict(stages="aab", num_heads=1), r"asks for head 1 \('b'\) but only H=1"),
        (dict(stage_loss_weights=[1.0]), "stage_loss_weights has 1 entries but num_stages is 3"),
        (dict(loop_iou_thrs=[0.5, 0.6]), "loop_iou_thrs has 2 entries but num_stages is 3"),
        (dict(train_cfg=loop_train_cfg(0.5)), "train_cfg .* is a single dict"),
        (dict(train_cfg=[loop_train_cfg(0.5)]), "train_cfg .* has 1 entries but num_stages is 3"),
        (dict(score_merge="max"), "score_merge must be one of"),
        (dict(final_decoder="first"), "final_decoder must be one of"),
    ],
    ids=[
        "stages-short",
        "stages-letter",
        "stages-head",
        "alpha-length",
        "iou-length",
        "dict-train-cfg",
        "short-train-cfg",
        "score-merge",
        "final-decoder",
    ],
)
def test_constructor_errors_name_the_argument(overrides, message):
    with pytest.raises(ValueError, match=message):
        build_head(r3_head_cfg(**overrides))


def test_mask_head_count_must_match_bbox_heads():
    cfg = r3_head_cfg(num_stages=2, num_heads=2, stages="ab")
    cfg["mask_head"] = copy.deepcopy(cfg["mask_head"][:1])
    with pytest.raises(ValueError, match="mask_head has 1 entries but bbox_head has 2"):
        build_head(cfg)


def _tiny_detector_cfg(detector_type: str) -> dict:
    roi_head = r3_head_cfg(num_stages=3, loop_iou_thrs=[0.5, 0.6, 0.7], mask_iou="MaskIoUHead")
    del roi_head["train_cfg"], roi_head["test_cfg"]
    rpn_proposal = dict(nms_pre=100, max_per_img=32, nms=dict(type="nms", iou_threshold=0.7))
    return dict(
        type=detector_type,
        data_preprocessor=dict(
            type="mmdet.DetDataPreprocessor",
            mean=[123.675, 116.28, 103.53],
            std=[58.395, 57.12, 57.375],
            bgr_to_rgb=True,
            pad_mask=True,
            pad_size_divisor=32,
        ),
        backbone=dict(type="ResNet", depth=18, base_channels=8, out_indices=(0, 1, 2, 3)),
        neck=dict(type="FPN", in_channels=[8, 16, 32, 64], out_channels=8, num_outs=5),
        rpn_head=dict(
            type="RPNHead",
            in_channels=8,
            feat_channels=8,
            anchor_generator=dict(
                type="AnchorGenerator",
                scales=[8],
                ratios=[0.5, 1.0, 2.0],
                strides=[4, 8, 16, 32, 64],
            ),
            bbox_coder=dict(type="DeltaXYWHBBoxCoder", target_stds=[1.0, 1.0, 1.0, 1.0]),
            loss_cls=dict(type="CrossEntropyLoss", use_sigmoid=True, loss_weight=1.0),
            loss_bbox=dict(type="SmoothL1Loss", beta=1.0 / 9.0, loss_weight=1.0),
        ),
        roi_head=roi_head,
        train_cfg=dict(
            rpn=dict(
                assigner=dict(
                    type="MaxIoUAssigner", pos_iou_thr=0.7, neg_iou_thr=0.3, min_pos_iou=0.3
                ),
                sampler=dict(
                    type="RandomSampler", num=32, pos_fraction=0.5, add_gt_as_proposals=False
                ),
                allowed_border=0,
                pos_weight=-1,
                debug=False,
            ),
            rpn_proposal=rpn_proposal,
            rcnn=loop_train_cfg(0.5),  # one template, expanded per loop by loop_iou_thrs
        ),
        test_cfg=dict(rpn=rpn_proposal, rcnn=copy.deepcopy(TEST_CFG)),
    )


@pytest.mark.parametrize("detector_type", ["HybridTaskCascade", "CascadeRCNN"])
def test_tiny_detector_trains_and_predicts(detector_type):
    from mmdet.registry import MODELS
    from mmdet.testing import demo_mm_inputs

    torch.manual_seed(0)
    model = MODELS.build(ConfigDict(_tiny_detector_cfg(detector_type)))
    model.init_weights()
    assert [a.pos_iou_thr for a in model.roi_head.bbox_assigner] == [0.5, 0.6, 0.7]
    inputs = demo_mm_inputs(
        batch_size=2,
        image_shapes=(3, IMG_SIZE, IMG_SIZE),
        num_items=[3, 1],
        num_classes=3,
        with_mask=True,
    )
    losses = model(**model.data_preprocessor(inputs, True), mode="loss")
    assert {"loss_rpn_cls", "s2.loss_mask", "loss_mask_iou"} <= set(losses)
    model.parse_losses(losses)[0].backward()

    model.eval()
    with torch.no_grad():
        outputs = model(**model.data_preprocessor(inputs, False), mode="predict")
    for sample in outputs:
        pred = sample.pred_instances
        assert pred.masks.shape[0] == len(pred) == pred.mask_scores.shape[0]


def test_tensor_forward_returns_merged_scores_deltas_and_masks():
    head = build_head(r3_head_cfg(num_stages=3, num_heads=2, stages="aba")).eval()
    x, proposals, samples = make_batch(num_proposals=(24, 10))
    with torch.no_grad():
        cls_scores, bbox_preds, masks = head.forward(x, proposals, samples)
    assert [s.shape for s in cls_scores] == [(24, 4), (10, 4)]
    assert [b.shape for b in bbox_preds] == [(24, 4), (10, 4)]
    assert [m.shape for m in masks] == [(24, 3, 28, 28), (10, 3, 28, 28)]
    assert all(((m >= 0) & (m <= 1)).all() for m in masks)


def test_head_without_mask_branch_trains_and_predicts_boxes():
    cfg = r3_head_cfg(num_stages=2, mask_head=None, mask_roi_extractor=None)
    head = build_head(cfg)
    x, proposals, samples = make_batch()
    losses = head.loss(x, proposals, samples)
    assert set(losses) == {f"s{t}.{n}" for t in range(2) for n in ("loss_cls", "loss_bbox", "acc")}
    results = _predict(head.eval(), (x, proposals, samples))
    assert all("masks" not in res and len(res) > 0 for res in results)
