"""Trials as Ray Tune trials on a real local Ray: a killed worker is retried, and its
trial's MLflow history holds one value per step whether the retry resumes or starts over."""

from __future__ import annotations

from pathlib import Path

import pytest
from ci_gate import require
from tiny_trials import EVEN_ROW, GOOD_ROW, RESTART_ROW, tiny_expansion, two_node_cluster

from sbr import metrics as M
from sbr.runners.base import Fault
from sbr.runners.execute import RunSettings, run_expansion

pytestmark = pytest.mark.slow


ITERS = 4
#: (row, SIGKILL before this iteration, iteration the retry starts from, steps it aborted)
KILLS = {
    "restart": (RESTART_ROW, 2, 0, [1, 2]),  # before the first checkpoint: starts over
    "even": (EVEN_ROW, 3, 2, [1, 2, 3]),  # past the checkpoint of iteration 2
}
#: The run name each retried training keeps (its row label, its row, its seed).
NAMES = {
    "restart": "Mask no checkpoint · tiny restart · s1",
    "even": "Mask checkpoint 2 · tiny even · s1",
}


def test_killed_trial_workers_are_retried_with_one_value_per_step(tmp_path: Path) -> None:
    """A real SIGKILL of each trial's Ray worker, before and after its first checkpoint:
    the retry finishes it, and MLflow holds one finished run with loss steps 1..N once."""
    require("ray")
    from mlflow.entities import ViewType

    from sbr.data.synth import synthesize
    from sbr.runners.ray_tune import RaySettings, RayTuneLauncher
    from sbr.tracking.mlflow import Tracker, default_tracking_uri

    synthesize(tmp_path / "data", seed=0, images=8, val_images=4)
    rows = [row for row, *_ in KILLS.values()]
    expansion = tiny_expansion(tmp_path / "spec", tmp_path / "data", *rows, seed=1, iters=ITERS)
    trials = {r.row_id: r.trial_id for r in expansion.rows}
    settings = RunSettings(
        storage=tmp_path / "store",
        tracking_uri=default_tracking_uri(tmp_path),
        faults={trials[k]: Fault(at_iter=at, kill=True) for k, (_, at, *_) in KILLS.items()},
    )
    launcher = RayTuneLauncher(
        RaySettings(
            num_cpus=2, cpus_per_trial=1, max_retries=1, storage=str(tmp_path / "ray"), verbose=0
        )
    )
    result = run_expansion(expansion, settings=settings, launcher=launcher)

    tracker = Tracker(settings.tracking_uri)
    outcomes = {o.trial_id: o for o in result.outcomes}
    loss = f"{M.LOSS_PREFIX}loss"
    for name, (_, _, start, aborted) in KILLS.items():
        trial = trials[name]
        assert (settings.storage / trial / ".faults").read_text() == "1"  # it was killed
        outcome = outcomes[trial]
        assert outcome.status == "finished", outcome.error
        assert (outcome.start_iter, outcome.end_iter) == (start, ITERS), name
        (run,) = tracker.search({M.TAG_TRIAL: trial, M.TAG_KIND: "training"})
        assert (run.info.status, run.data.tags[M.TAG_STATUS]) == ("FINISHED", "finished")
        assert M.BBOX_AP in run.data.metrics
        metrics = run.data.metrics
        assert metrics["B_AP"] == pytest.approx(100 * metrics[M.BBOX_AP])  # paper names
        assert metrics["S_AP"] == pytest.approx(100 * metrics[M.SEGM_AP])
        assert run.info.run_name == NAMES[name]  # a replaced run keeps the readable name
        history = tracker.metric_history(run.info.run_id, loss)
        assert [s for s, _ in history] == list(range(1, ITERS + 1)), (name, history)
        lr = tracker.metric_history(run.info.run_id, M.METRIC_LR)
        assert [s for s, _ in lr] == list(range(1, ITERS + 1)), (name, lr)
        # The killed attempt's run is deleted; the kept steps are its values.
        (old,) = tracker.client.search_runs(
            [tracker.experiment_id],
            f"tags.`{M.TAG_TRIAL}` = '{trial}'",
            run_view_type=ViewType.DELETED_ONLY,
        )
        old_history = tracker.metric_history(old.info.run_id, loss)
        assert [s for s, _ in old_history] == aborted, (name, old_history)
        assert history[:start] == old_history[:start], name
    experiment = tracker.client.get_experiment(tracker.experiment_id)
    assert experiment.tags[M.TAG_EXPERIMENT_KIND] == M.EXPERIMENT_KIND_TRAINING
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
