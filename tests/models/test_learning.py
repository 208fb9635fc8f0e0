"""The paper's models learn: Runner-level trainings under the ``mini`` preset.

One R³-CNN naive training (Table 4 row 4 = Table 2 row 4 = B0) is shared by the tests
that need a trained model; SBR-CNN and the H=2 'aab' R³-CNN train a few iterations each;
every other component kind trains one iteration.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from sbr.metrics import BBOX_AP50, SEGM_AP50
from tests.models.mini_trials import (
    compose_row,
    dump,
    final_histogram,
    iou_share_above,
    logged_loss_keys,
    logged_losses,
    short_schedule,
)

#: Floor of the R³-CNN naive's bbox AP50 after the mini 1x schedule (300 iterations) on
#: the synthetic val split. Measured: 0.29-0.33 in this fixture's trainings on 2 cores
#: (torch 2.13 CPU); `make demo`'s training of the same row gave 0.372 (seed 0) and 0.309
#: on another random stream (README, "The science on a CPU"): 0.29-0.37 in all. The
#: smoke Mask R-CNN of the same scale reaches 0.25; an untrained or broken model scores
#: < 0.02. 0.2 leaves room for the numeric differences of other CPUs.
R3_BBOX_AP50_FLOOR = 0.2
#: Its segm AP50 (measured 0.25-0.30); mask learning is checked, not tuned.
R3_SEGM_AP50_FLOOR = 0.12


@pytest.fixture(scope="session")
def r3_mini_run(synth_root: Path, tmp_path_factory: pytest.TempPathFactory):
    """R³-CNN naive (L_t = 3, H = 1, mask loop) trained with the mini 1x schedule."""
    from sbr.engine.train import run_training

    folder = tmp_path_factory.mktemp("r3_mini")
    config = dump(compose_row("table4", "row4", synth_root), folder)
    return run_training(config, work_dir=folder / "work")


@pytest.mark.slow
def test_r3_naive_learns(r3_mini_run) -> None:
    metrics = r3_mini_run.metrics
    assert r3_mini_run.end_iter == 300
    assert metrics[BBOX_AP50] >= R3_BBOX_AP50_FLOOR, metrics
    assert metrics[SEGM_AP50] >= R3_SEGM_AP50_FLOOR, metrics


@pytest.mark.slow
def test_iou_of_training_rois_rises_loop_over_loop(r3_mini_run) -> None:
    """Paper Fig. 3(b): each loop trains on better-localised RoIs than the one before."""
    shares = iou_share_above(final_histogram(r3_mini_run.work_dir), 0.5)
    assert sorted(shares) == [1, 2, 3]
    assert shares[1] < shares[2] < shares[3], shares


def _train_briefly(cfg, folder: Path, record: list[float]):
    """Train ``cfg`` (a short schedule) through the Runner; return its final metrics."""
    from sbr.engine.train import run_training

    result = run_training(dump(cfg, folder), work_dir=folder / "work")
    record.extend(logged_losses(result.work_dir))
    return result


@pytest.mark.slow
@pytest.mark.parametrize(
    ("table", "row", "iters"),
    [
        pytest.param("table11", "row4", 16, id="sbr-cnn"),  # rect FCC + NL_b + Mask IoU + GRoIE
        pytest.param("table5", "row4", 16, id="r3-h2-aab"),  # = Table 2 row 5 (deeper)
    ],
)
def test_paper_model_trains_and_evaluates(synth_root, tmp_path, table, row, iters) -> None:
    cfg = compose_row(table, row, synth_root, **short_schedule(iters, warmup=4))
    losses: list[float] = []
    result = _train_briefly(cfg, tmp_path, losses)
    assert len(losses) == iters
    assert all(math.isfinite(loss) for loss in losses), losses
    # every loop of the composed model trained, and no other (losses s0. ... s{L-1}.),
    # and the Mask IoU branch where the model has one
    keys = logged_loss_keys(result.work_dir)
    loops = cfg.model.roi_head.num_stages
    assert {f"s{t}.loss_cls" for t in range(loops)} <= keys, sorted(keys)
    assert f"s{loops}.loss_cls" not in keys, sorted(keys)
    assert ("loss_mask_iou" in keys) is bool(cfg.model.roi_head.get("mask_iou_head")), keys
    assert BBOX_AP50 in result.metrics and SEGM_AP50 in result.metrics
    assert all(math.isfinite(v) for v in result.metrics.values()), result.metrics


#: One row per component kind the other trainings do not cover (table, row).
COMPONENT_KINDS = [
    pytest.param("table4", "row1", id="mask-rcnn"),
    pytest.param("table2", "row3", id="htc"),
    pytest.param("table5", "row6", id="r3-h2-aabb-l4"),
    pytest.param("table6", "row3", id="fcc-square"),
    pytest.param("table6", "row4", id="fcc-rect"),
    pytest.param("table6", "row7", id="fcc-nlb-nla"),
    pytest.param("table7", "row3", id="mask-iou"),
    pytest.param("table7", "row5", id="fcc-mask-iou-rect"),
    pytest.param("table10", "row1", id="faster-rcnn"),
    pytest.param("table8", "row7", id="groie-pre-nl7x7"),
    pytest.param("table9", "row5", id="groie-post-conv7x3-3x7"),
    pytest.param("table11", "row2", id="condinst"),
    pytest.param("table11", "row6", id="htc-gcnet-syncbn"),
    pytest.param("table11", "row8", id="dcn"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("table", "row"), COMPONENT_KINDS)
def test_component_kind_trains_one_iteration(synth_root, tmp_path, table, row) -> None:
    """One optimizer step through the Runner with a finite loss (no evaluation)."""
    options = {**short_schedule(1, warmup=1), "train_cfg.val_begin": 2}
    cfg = compose_row(table, row, synth_root, **options)
    losses: list[float] = []
    from sbr.engine.train import run_training

    result = run_training(dump(cfg, tmp_path), work_dir=tmp_path / "work")
    losses = logged_losses(result.work_dir)
    assert result.end_iter == 1
    assert len(losses) == 1 and math.isfinite(losses[0]), losses
    assert result.metrics == {}  # val_begin past the end: trained, not evaluated
