"""End-to-end training of the smoke config on the synthetic data (real mmdet, CPU)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sbr.metrics import BBOX_AP50, FINAL_METRICS_FILE, SEGM_AP50, coco_key


@pytest.mark.slow
def test_smoke_model_learns(smoke_run) -> None:
    """The shipped smoke schedule gives clearly non-zero AP on the synthetic val split."""
    metrics = smoke_run.metrics
    for iou_type in ("bbox", "segm"):
        for stat in ("mAP", "mAP_50", "mAP_75", "mAP_s", "mAP_m", "mAP_l"):
            assert coco_key(iou_type, stat) in metrics
    assert metrics[BBOX_AP50] > 0.10, metrics
    assert metrics[SEGM_AP50] > 0.05, metrics
    assert smoke_run.start_iter == 0
    assert smoke_run.end_iter == 300


@pytest.mark.slow
def test_final_metrics_file(smoke_run) -> None:
    record = json.loads((smoke_run.work_dir / FINAL_METRICS_FILE).read_text())
    assert record["metrics"] == pytest.approx(smoke_run.metrics)
    assert record["end_iter"] == smoke_run.end_iter


@pytest.mark.slow
def test_checkpoints_written(smoke_run) -> None:
    names = {p.name for p in Path(smoke_run.work_dir).glob("iter_*.pth")}
    assert "iter_300.pth" in names


def test_runners_in_one_process_do_not_share_a_visualizer(synth_root: Path, tmp_path: Path) -> None:
    """mmdet names its visualizer 'visualizer'; MMEngine would reuse the first one's work dir."""
    from sbr.engine.train import build_runner

    dirs = []
    for name in ("first", "second"):
        runner = build_runner(
            "smoke/mask-rcnn_r18_fpn_smoke", work_dir=tmp_path / name, data_root=synth_root
        )
        dirs.append([b._save_dir for b in runner.visualizer._vis_backends.values()])
    assert all(str(tmp_path / "first") in d for d in dirs[0])
    assert all(str(tmp_path / "second") in d for d in dirs[1])
