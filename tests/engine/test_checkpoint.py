"""The torch >= 2.6 checkpoint shim, on a real Runner checkpoint."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch


@pytest.fixture(scope="module")
def runner_checkpoint(smoke_run) -> Path:
    return Path(smoke_run.work_dir) / "iter_300.pth"


@pytest.mark.slow
def test_plain_torch_load_refuses_runner_checkpoints(runner_checkpoint: Path) -> None:
    """Documents why the shim exists: torch's default weights_only load fails."""
    with pytest.raises(pickle.UnpicklingError):
        torch.load(runner_checkpoint, map_location="cpu")


@pytest.mark.slow
def test_safe_loader_reads_runner_checkpoints(runner_checkpoint: Path) -> None:
    from sbr.engine.checkpoint import load_from_local_safe

    ckpt = load_from_local_safe(str(runner_checkpoint), map_location="cpu")
    assert ckpt["meta"]["iter"] == 300
    assert "state_dict" in ckpt and "optimizer" in ckpt and "message_hub" in ckpt
    assert any(k.startswith("backbone.") for k in ckpt["state_dict"])


def test_safe_loader_still_refuses_arbitrary_code(tmp_path: Path) -> None:
    """weights_only stays on: a pickle that calls a function is rejected."""
    from sbr.engine.checkpoint import load_from_local_safe

    class _Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "evil.pth"
    torch.save({"state_dict": {}, "payload": _Evil()}, path)
    with pytest.raises(pickle.UnpicklingError):
        load_from_local_safe(str(path))


def test_getattr_is_limited_to_history_buffer_statistics(tmp_path: Path) -> None:
    """The getattr that HistoryBuffer needs cannot be used to walk to other objects."""
    from collections import OrderedDict

    from sbr.engine.checkpoint import load_from_local_safe

    class _Walk:
        def __reduce__(self):
            return (getattr, (OrderedDict, "__class__"))

    path = tmp_path / "walk.pth"
    torch.save({"payload": _Walk()}, path)
    with pytest.raises(pickle.UnpicklingError, match="refusing getattr"):
        load_from_local_safe(str(path))


def test_install_routes_mmengine_local_loads() -> None:
    from mmengine.runner.checkpoint import CheckpointLoader

    from sbr.engine.checkpoint import install_checkpoint_compat, load_from_local_safe

    install_checkpoint_compat()
    assert CheckpointLoader._get_checkpoint_loader("/some/where/iter_2.pth") is load_from_local_safe


def test_missing_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    from sbr.engine.checkpoint import load_from_local_safe

    with pytest.raises(FileNotFoundError, match="missing.pth"):
        load_from_local_safe(str(tmp_path / "missing.pth"))
