"""Session-wide fixtures: one synthetic dataset and one trained smoke model.

Training is the expensive part of the suite, so the smoke model is trained once
per session and shared by every test that needs a trained model or its
checkpoints.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Set before torch is imported (as the sbr CLI does): spinning OpenMP threads slow
# training ~10x whenever another process (a subprocess under test, Ray) shares the cores.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

SMOKE_CONFIG = "smoke/mask-rcnn_r18_fpn_smoke"


@pytest.fixture(scope="session")
def synth_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default synthetic dataset (same arguments as ``make demo``)."""
    from sbr.data.synth import synthesize

    root = tmp_path_factory.mktemp("synth")
    synthesize(root, seed=0)
    return root


@pytest.fixture(scope="session")
def smoke_run(synth_root: Path, tmp_path_factory: pytest.TempPathFactory):
    """The smoke Mask R-CNN trained once on the synthetic data (full smoke schedule)."""
    from sbr.engine.train import run_training

    work_dir = tmp_path_factory.mktemp("smoke_run")
    return run_training(SMOKE_CONFIG, work_dir=work_dir, data_root=synth_root)
