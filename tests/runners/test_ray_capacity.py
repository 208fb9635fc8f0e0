"""Placement policy on a real (local) Ray: the cap on concurrent data-parallel trials, and
a trial larger than the cluster (refused on a local Ray, a warning on a cluster)."""

from __future__ import annotations

import warnings

import pytest
from ci_gate import require

from sbr.runners.ray_tune import RaySettings, RayTuneLauncher, RayUnavailable

pytestmark = pytest.mark.slow

#: Resources of the Ray the tests start: 5 CPUs and 2 (declared) GPUs.
CPUS, GPUS = 5, 2


@pytest.fixture(scope="module")
def ray_session():
    ray = require("ray")
    ray.init(address="local", num_cpus=CPUS, num_gpus=GPUS, include_dashboard=False)
    try:
        yield ray
    finally:
        ray.shutdown()


def _launcher(workers: int, cpus: float, gpus: float = 0.0) -> RayTuneLauncher:
    return RayTuneLauncher(
        RaySettings(workers_per_trial=workers, cpus_per_trial=cpus, gpus_per_trial=gpus)
    )


@pytest.mark.parametrize(
    ("workers", "cpus", "gpus", "expected"),
    [
        (1, 2, 0, None),  # one-process trials: Tune's own reservations limit them
        (2, 2, 0, 2),  # 5 CPUs hold two 2-CPU data-parallel trials
        (2, 4, 0, 1),
        (2, 1, 1, 2),  # CPUs allow 5, the 2 GPUs two
        (2, 1, 2, 1),  # one trial takes both GPUs
        (4, 8, 0, 1),  # larger than the cluster: still one at a time, never zero
    ],
    ids=["single-worker", "cpu-bound-2", "cpu-bound-1", "gpu-bound-2", "gpu-bound-1", "too-big"],
)
def test_concurrent_data_parallel_trials_are_capped_by_the_cluster(
    ray_session, workers: int, cpus: float, gpus: float, expected: int | None
) -> None:
    assert _launcher(workers, cpus, gpus)._concurrency() == expected


@pytest.mark.parametrize(
    ("cpus", "gpus", "message"),
    [
        (8, 0, f"a trial needs 8 CPUs but this Ray cluster has {CPUS} CPUs"),
        (1, 3, f"a trial needs 3 GPUs but this Ray cluster has {GPUS} GPUs"),
    ],
    ids=["cpus", "gpus"],
)
def test_trial_larger_than_the_cluster(ray_session, cpus: float, gpus: float, message: str):
    launcher = _launcher(2, cpus, gpus)
    with pytest.warns(UserWarning, match=message + ".*trials wait until the cluster grows"):
        launcher._check_fits(local=False)  # a cluster: it may still grow
    with pytest.raises(RayUnavailable, match=message):
        launcher._check_fits(local=True)  # a local Ray never grows: refused


def test_a_trial_that_fits_passes_silently(ray_session) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _launcher(2, CPUS, GPUS)._check_fits(local=True)
        _launcher(2, CPUS, GPUS)._check_fits(local=False)
