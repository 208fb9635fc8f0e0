"""The test-only fault hook: which attempt, iteration and rank fail."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from sbr.runners.fault_injection import FAULT_FILE, Fault, fault_injection_hook


@pytest.mark.parametrize(
    ("rank", "iteration", "raises"),
    [(0, 1, True), (0, 0, False), (0, 2, False), (1, 1, False)],
    ids=["rank0-at-iter", "before", "after", "other-rank"],
)
def test_only_rank_zero_fails_at_its_iteration(
    tmp_path: Path, rank: int, iteration: int, raises: bool
) -> None:
    """Rank 0 writes the checkpoints, so only its fault falls at a known resume point."""
    hook = fault_injection_hook(Fault(at_iter=1), tmp_path)
    runner = SimpleNamespace(rank=rank, iter=iteration)

    if raises:
        with pytest.raises(RuntimeError, match="before iteration 1"):
            hook.before_train_iter(runner, batch_idx=0)
        assert (tmp_path / FAULT_FILE).read_text() == "1"
    else:
        hook.before_train_iter(runner, batch_idx=0)
        assert not (tmp_path / FAULT_FILE).exists()


def test_fault_stops_after_its_attempts(tmp_path: Path) -> None:
    hook = fault_injection_hook(Fault(at_iter=1, times=2), tmp_path)
    runner = SimpleNamespace(rank=0, iter=1)
    for _ in range(2):
        with pytest.raises(RuntimeError):
            hook.before_train_iter(runner, batch_idx=0)
    hook.before_train_iter(runner, batch_idx=0)  # a third attempt runs on
    assert (tmp_path / FAULT_FILE).read_text() == "2"
