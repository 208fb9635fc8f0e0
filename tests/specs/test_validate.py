"""Loop-schedule checks (pure) and trial-config composition against the real configs."""

from __future__ import annotations

import pytest

from sbr.specs.expand import expand
from sbr.specs.presets import load_preset
from sbr.specs.schema import AblationSpec, Override, Row
from sbr.specs.validate import LoopSummary, loop_problem, loop_summary


@pytest.mark.parametrize(
    ("roi_head", "expected"),
    [
        pytest.param({"type": "StandardRoIHead", "bbox_head": {}}, None, id="mask-rcnn"),
        pytest.param({"num_stages": 3, "bbox_head": [{}, {}, {}]}, None, id="htc-cascade"),
        pytest.param({"type": "R3RoIHead", "num_stages": 3, "bbox_head": [{}]}, None, id="naive"),
        pytest.param(
            {"type": "R3RoIHead", "num_stages": 3, "num_stages_test": 5, "bbox_head": [{}]},
            None,
            id="naive-Le5",
        ),
        pytest.param({"num_stages": 3, "stages": "aab", "bbox_head": [{}, {}]}, None, id="deeper"),
        pytest.param(
            {"num_stages": 3, "stages": [0, 0, 1], "bbox_head": [{}, {}]}, None, id="index-list"
        ),
        pytest.param(
            {"num_stages": 3, "stages": "abz", "bbox_head": [{}, {}]},
            "uses head 'z'",
            id="unknown-head",
        ),
        pytest.param(
            {"num_stages": 4, "stages": "aab", "bbox_head": [{}, {}]},
            "max(L_t=4, L_e=4) = 4",
            id="too-short",
        ),
        pytest.param(
            {"num_stages": 3, "num_stages_test": 4, "stages": "aab", "bbox_head": [{}, {}]},
            "the heads allow L_e <= 3",
            id="Le-beyond-stages",
        ),
        pytest.param(
            {"type": "R3RoIHead", "num_stages": 3, "bbox_head": [{}, {}]},
            "need an explicit alternation",
            id="H2-without-stages",
        ),
        pytest.param(
            {
                "type": "R3RoIHead",
                "num_stages": 2,
                "stage_loss_weights": [1, 0.75, 0.5],
                "bbox_head": [{}],
            },
            "stage_loss_weights has 3 entries but L_t (num_stages) is 2",
            id="alpha-length",
        ),
    ],
)
def test_loop_problem(roi_head: dict, expected: str | None) -> None:
    problem = loop_problem(loop_summary(roi_head))
    if expected is None:
        assert problem is None
    else:
        assert expected in problem


@pytest.mark.parametrize(
    ("summary", "alternation"),
    [
        pytest.param(LoopSummary(3, 3, 1), "aaa", id="H1"),
        pytest.param(LoopSummary(3, 3, 3), "abc", id="cascade"),
        pytest.param(LoopSummary(4, 4, 2, [0, 1, 0, 1]), "abab", id="list"),
    ],
)
def test_alternation_string(summary: LoopSummary, alternation: str) -> None:
    assert summary.alternation == alternation


def test_smoke_preset_swaps_data_classes_types_and_schedule() -> None:
    from sbr.specs.compose import compose_trial_config

    rows = (
        Row(
            id="gc",
            label="HTC+GC",
            config="gcnet/htc-without-semantic_r50-syncbn-gcb-r4-c3-c5_fpn_1x_coco.py",
        ),
        Row(id="frcnn", label="Faster", config="faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py"),
    )
    spec = AblationSpec(name="t", file="t.yaml", rows=rows)
    expansion = expand([spec], load_preset("smoke"), data_root="/data/synth")
    htc = compose_trial_config(expansion.trials[0])
    text = htc.pretty_text
    assert "SyncBN" not in text
    assert {h.num_classes for h in htc.model.roi_head.bbox_head} == {4}
    assert htc.train_cfg.type == "IterBasedTrainLoop" and htc.train_cfg.max_iters == 4
    assert "max_epochs" not in htc.train_cfg
    assert htc.train_dataloader.dataset.data_root == "/data/synth/"
    assert htc.train_dataloader.dataset.metainfo.classes[0] == "rectangle"
    assert htc.model.backbone.init_cfg is None
    assert htc.randomness.seed == 0
    faster = compose_trial_config(expansion.trials[1])
    assert faster.val_evaluator.metric == "bbox"  # the trial's metric survives the swap
    assert faster.val_evaluator.ann_file == "/data/synth/annotations/instances_val.json"


def test_paper_preset_keeps_the_recipe_and_counts_params(param_cache_dir) -> None:
    from sbr.specs.compose import compose_trial_config
    from sbr.specs.validate import ParamCache, validate_expansion

    row = Row(
        id="r",
        label="R3 L_t=2",
        config="r3_cnn/r3-cnn_r50_fpn_1x_coco.py",
        overrides=(
            Override("model.roi_head.num_stages", 2),
            Override("model.roi_head.stage_loss_weights", [1, 0.75]),
            Override("model.roi_head.loop_iou_thrs", [0.5, 0.6]),
        ),
    )
    expansion = expand([AblationSpec(name="t", file="t.yaml", rows=(row,))], load_preset("paper"))
    cfg = compose_trial_config(expansion.trials[0])
    assert (cfg.train_cfg.max_epochs, cfg.param_scheduler[1].milestones) == (12, [8, 11])
    assert (cfg.train_dataloader.batch_size, cfg.optim_wrapper.optimizer.lr) == (2, 0.02)
    assert cfg.model.roi_head.num_stages == 2
    report = validate_expansion(expansion, param_cache=ParamCache(param_cache_dir))
    assert report.params[expansion.trials[0].trial_id] == 43_912_884  # loops share the heads
    assert (param_cache_dir / "param-counts.json").is_file()
