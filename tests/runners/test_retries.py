"""No pointless retries: deterministic failures are attempted once (or twice), on real Ray.

A trial failing before its first iteration, or failing twice with the same error, is
reported at once; a killed worker is still retried and resumed
(``test_ray_tune.py::test_killed_trial_workers_are_retried_with_one_value_per_step``).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from ci_gate import require
from tiny_trials import BROKEN_ROW, GOOD_ROW, tiny_expansion

from sbr import metrics as M
from sbr.runners.base import Fault
from sbr.runners.execute import RunSettings, run_expansion
from sbr.runners.failures import (
    ITERATED_FILE,
    classify_failure,
    is_transient,
    previous_failures,
)


class OutOfMemoryError(RuntimeError):
    """Named like torch's CUDA OOM error."""


@pytest.mark.parametrize(
    ("error", "iterated", "previous", "transient", "expected"),
    [
        pytest.param("KeyError: 'x'", False, [], False, "before its first", id="before-first-iter"),
        pytest.param("ValueError: bad", True, [], False, None, id="first-failure-retried"),
        pytest.param("ValueError: bad", True, ["ValueError: bad"], False, "twice", id="same-twice"),
        pytest.param("ValueError: bad", True, ["ValueError: other"], False, None, id="differs"),
        pytest.param("OutOfMemoryError: x", False, ["OutOfMemoryError: x"], True, None, id="oom"),
    ],
)  # fmt: skip
def test_classify_failure(
    error: str, iterated: bool, previous: list[str], transient: bool, expected: str | None
) -> None:
    reason = classify_failure(error, iterated=iterated, previous=previous, transient=transient)
    assert (reason is None) if expected is None else (expected in reason)


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        pytest.param(OutOfMemoryError("CUDA out of memory"), True, id="cuda-oom"),
        pytest.param(MemoryError(), True, id="memory-error"),
        pytest.param(ValueError("need at least one array to concatenate"), False, id="value"),
    ],
)
def test_transient_errors(exc: BaseException, transient: bool) -> None:
    assert is_transient(exc) is transient


@pytest.mark.slow
def test_deterministic_failures_are_not_retried_on_ray(tmp_path: Path) -> None:
    """Two trials, 3 retries allowed: a broken dataset path fails once (before its first
    iteration); a fault repeating after a checkpoint fails twice, then stops."""
    require("ray")
    from sbr.data.synth import synthesize
    from sbr.runners.ray_tune import RaySettings, RayTuneLauncher
    from sbr.tracking.mlflow import Tracker, default_tracking_uri

    synthesize(tmp_path / "data", seed=0, images=8, val_images=4)
    expansion = tiny_expansion(tmp_path / "spec", tmp_path / "data", GOOD_ROW, BROKEN_ROW, seed=6)
    good, broken = (row.trial_id for row in expansion.rows)
    settings = RunSettings(
        storage=tmp_path / "store",
        tracking_uri=default_tracking_uri(tmp_path),
        faults={good: Fault(at_iter=1, times=10)},  # the same RuntimeError every attempt
    )
    launcher = RayTuneLauncher(
        RaySettings(
            num_cpus=2, cpus_per_trial=1, max_retries=3, storage=str(tmp_path / "ray"), verbose=0
        )
    )
    result = run_expansion(expansion, settings=settings, launcher=launcher)

    outcomes = {o.trial_id: o for o in result.outcomes}
    assert outcomes[broken].status == "failed"
    assert "missing.json" in outcomes[broken].error
    assert "not retried: it failed before its first training iteration" in outcomes[broken].error
    assert len(previous_failures(settings.storage / broken)) == 1  # one attempt
    assert not (settings.storage / broken / ITERATED_FILE).exists()

    assert outcomes[good].status == "failed"
    assert "not retried: it failed twice with the same error" in outcomes[good].error
    assert (
        previous_failures(settings.storage / good)
        == ["RuntimeError: injected fault before iteration 1"] * 2
    )  # two attempts of the four allowed
    assert (settings.storage / good / ".faults").read_text() == "2"

    tracker = Tracker(settings.tracking_uri)
    for trial in (good, broken):
        (run,) = tracker.search({M.TAG_TRIAL: trial, M.TAG_KIND: "training"})
        assert run.info.status == "FAILED" and run.data.tags[M.TAG_STATUS] == "failed"
