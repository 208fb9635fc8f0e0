"""Trials as Ray Tune trials on a real local Ray: a killed worker is retried and resumes."""

from __future__ import annotations

from pathlib import Path

import pytest
from ci_gate import require
from tiny_trials import GOOD_ROW, tiny_expansion, two_node_cluster

from sbr import metrics as M
from sbr.runners.base import Fault
from sbr.runners.execute import RunSettings, run_expansion

pytestmark = pytest.mark.slow


def test_killed_trial_worker_is_retried_and_resumes_from_its_checkpoint(tmp_path: Path) -> None:
    require("ray")
    from sbr.data.synth import synthesize
    from sbr.runners.ray_tune import RaySettings, RayTuneLauncher
    from sbr.tracking.mlflow import Tracker, default_tracking_uri

    synthesize(tmp_path / "data", seed=0, images=8, val_images=4)
    expansion = tiny_expansion(tmp_path / "spec", tmp_path / "data", GOOD_ROW, seed=1)
    trial = expansion.trials[0].trial_id
    settings = RunSettings(
        storage=tmp_path / "store",
        tracking_uri=default_tracking_uri(tmp_path),
        faults={trial: Fault(at_iter=1, kill=True)},  # SIGKILL of the Ray worker process
    )
    launcher = RayTuneLauncher(
        RaySettings(
            num_cpus=2, cpus_per_trial=1, max_retries=1, storage=str(tmp_path / "ray"), verbose=0
        )
    )
    result = run_expansion(expansion, settings=settings, launcher=launcher)

    (outcome,) = result.outcomes
    assert outcome.status == "finished", outcome.error
    assert (outcome.start_iter, outcome.end_iter) == (1, 2)
    tracker = Tracker(settings.tracking_uri)
    (run,) = tracker.search({M.TAG_TRIAL: trial, M.TAG_KIND: "training"})
    assert run.data.tags[M.TAG_STATUS] == "finished"
    steps = [s for s, _ in tracker.metric_history(run.info.run_id, f"{M.LOSS_PREFIX}loss")]
    assert steps == [1, 2]
    assert M.BBOX_AP in run.data.metrics
    import ray

    assert not ray.is_initialized()  # the launcher shut down the Ray it started


def test_trials_run_on_both_nodes_of_a_two_node_cluster(tmp_path: Path) -> None:
    require("ray")
    from sbr.data.synth import synthesize
    from sbr.runners.ray_tune import NODE_FILE, RaySettings, RayTuneLauncher
    from sbr.tracking.mlflow import default_tracking_uri

    synthesize(tmp_path / "data", seed=0, images=8, val_images=4)
    expansion = tiny_expansion(tmp_path / "spec", tmp_path / "data", GOOD_ROW, seed=3)
    expansion = type(expansion)(
        expansion.trials
        + tiny_expansion(tmp_path / "s4", tmp_path / "data", GOOD_ROW, seed=4).trials,
        expansion.evaluations,
        expansion.rows,
    )
    settings = RunSettings(storage=tmp_path / "store", tracking_uri=default_tracking_uri(tmp_path))
    with two_node_cluster() as address:
        launcher = RayTuneLauncher(
            RaySettings(address=address, cpus_per_trial=1, storage=str(tmp_path / "ray"), verbose=0)
        )
        result = run_expansion(expansion, settings=settings, launcher=launcher)
    assert [o.status for o in result.outcomes] == ["finished", "finished"], result.outcomes
    nodes = {(settings.storage / t.trial_id / NODE_FILE).read_text() for t in expansion.trials}
    assert len(nodes) == 2
