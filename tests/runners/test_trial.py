"""One ablation run in-process (LocalLauncher) against a real sqlite MLflow store.

Three rows: a training that is interrupted by a fault after its first checkpoint and
resumed by the retry, an evaluation-only variant of the same training, and a row whose
training fails for good. The module trains once; each test checks one promise.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tiny_trials import BROKEN_ROW, GOOD_ROW, VARIANT_ROW, tiny_expansion

from sbr import metrics as M
from sbr.runners.base import Fault
from sbr.runners.execute import AblationResult, RunSettings, run_expansion
from sbr.runners.local import LocalLauncher
from sbr.specs.expand import Expansion

pytestmark = pytest.mark.slow


@dataclass
class Lab:
    expansion: Expansion
    settings: RunSettings
    result: AblationResult
    tracker: Any
    progress: list[tuple[str, dict]]

    def outcome(self, row: int):
        trial = self.expansion.rows[row].trial_id
        return next(o for o in self.result.outcomes if o.trial_id == trial)

    def runs(self, row: int, kind: str = "training") -> list:
        return self.tracker.search(
            {M.TAG_TRIAL: self.expansion.rows[row].trial_id, M.TAG_KIND: kind}
        )


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Lab:
    from sbr.data.synth import synthesize
    from sbr.tracking.mlflow import Tracker, default_tracking_uri

    root = tmp_path_factory.mktemp("lab")
    synthesize(root / "data", seed=0, images=8, val_images=4)
    expansion = tiny_expansion(root / "spec", root / "data", GOOD_ROW, VARIANT_ROW, BROKEN_ROW)
    settings = RunSettings(
        storage=root / "store",
        tracking_uri=default_tracking_uri(root),
        faults={expansion.rows[0].trial_id: Fault(at_iter=1)},
    )
    progress: list[tuple[str, dict]] = []
    launcher = LocalLauncher(max_retries=1, progress=lambda t, m: progress.append((t, dict(m))))
    result = run_expansion(expansion, settings=settings, launcher=launcher)
    return Lab(expansion, settings, result, Tracker(settings.tracking_uri), progress)


def test_rows_sharing_a_training_train_it_once(lab: Lab) -> None:
    assert lab.expansion.rows[0].trial_id == lab.expansion.rows[1].trial_id
    assert len(lab.result.outcomes) == 2
    assert [o.status for o in lab.result.outcomes] == ["finished", "failed"]


def test_finished_trial_has_one_run_with_metrics_tags_and_params(lab: Lab) -> None:
    (run,) = lab.runs(0)
    tags, metrics = run.data.tags, run.data.metrics
    assert run.info.status == "FINISHED" and tags[M.TAG_STATUS] == "finished"
    assert tags["mlflow.parentRunId"] == lab.result.parent_run_id
    assert tags[M.TAG_ROWS] == "tiny/good,tiny/variant" and tags[M.TAG_TABLES] == "tiny"
    assert tags[M.TAG_PRESET] == "tiny" and tags[M.TAG_EVAL].endswith("/final")
    assert tags[M.TAG_VERSIONS["mmdet"]] == "3.3.0" and tags[M.TAG_GIT_COMMIT]
    for iou in M.IOU_TYPES:
        for stat in M.COCO_STATS:
            assert M.coco_key(iou, stat) in metrics
    assert metrics[M.METRIC_PARAMS] > 1_000_000
    assert metrics[M.METRIC_IMAGES_PER_S] > 0 and metrics[M.METRIC_PEAK_MEMORY_MB] > 100
    assert metrics[M.METRIC_LR] == pytest.approx(0.002)
    # the paper's column names too (AP points), and a name a reader understands
    assert metrics["B_AP"] == pytest.approx(100 * metrics[M.BBOX_AP])
    assert metrics["S_AP50"] == pytest.approx(100 * metrics[M.coco_key("segm", "mAP_50")])
    assert metrics["Speed"] == metrics[M.METRIC_IMAGES_PER_S]
    assert run.info.run_name == "Mask · tiny good,variant · s0"  # the resumed run kept it
    assert run.data.params["model.backbone.depth"] == "18"
    assert run.data.params["sbr.override.default_hooks.checkpoint.interval"] == "1"


def test_training_run_artifacts(lab: Lab) -> None:
    (run,) = lab.runs(0)
    client = lab.tracker.client
    listed = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"config", "logs", M.ARTIFACT_CHECKPOINT_URI} <= listed
    assert [a.path for a in client.list_artifacts(run.info.run_id, "config")] == [M.ARTIFACT_CONFIG]
    local = client.download_artifacts(run.info.run_id, M.ARTIFACT_CHECKPOINT_URI)
    checkpoint = Path(Path(local).read_text().strip().removeprefix("file://"))
    assert checkpoint.name == "iter_2.pth" and checkpoint.is_file()


def test_interrupted_training_resumes_in_the_same_run_without_metric_gaps(lab: Lab) -> None:
    outcome = lab.outcome(0)
    assert (outcome.start_iter, outcome.end_iter) == (1, 2)
    (run,) = lab.runs(0)
    for key in (f"{M.LOSS_PREFIX}loss", M.METRIC_LR):
        assert [step for step, _ in lab.tracker.metric_history(run.info.run_id, key)] == [1, 2]


def test_evaluation_only_variant_is_a_child_run_of_the_training(lab: Lab) -> None:
    (training,) = lab.runs(0)
    (evaluation,) = lab.runs(1, kind="evaluation")
    tags = evaluation.data.tags
    assert tags["mlflow.parentRunId"] == training.info.run_id
    assert tags[M.TAG_EVAL] == lab.expansion.rows[1].eval_id != training.data.tags[M.TAG_EVAL]
    assert tags[M.TAG_ROWS] == "tiny/variant" and tags[M.TAG_STATUS] == "finished"
    assert M.BBOX_AP in evaluation.data.metrics and M.SEGM_AP in evaluation.data.metrics
    assert evaluation.data.metrics[M.METRIC_IMAGES_PER_S] > 0
    metrics = evaluation.data.metrics
    assert metrics["S_AP"] == pytest.approx(100 * metrics[M.SEGM_AP])
    assert evaluation.info.run_name == "Mask 10 dets max_per_img=10 · tiny variant · s0"


def test_parent_run_name_and_the_experiment_kind(lab: Lab) -> None:
    import datetime

    parent = lab.tracker.client.get_run(lab.result.parent_run_id)
    today = datetime.date.today().isoformat()
    assert parent.info.run_name == f"tiny · tiny · data · {today}"  # tables, preset, dataset
    experiment = lab.tracker.client.get_experiment(lab.tracker.experiment_id)
    assert experiment.tags[M.TAG_EXPERIMENT_KIND] == M.EXPERIMENT_KIND_TRAINING


def test_failing_trial_is_reported_with_its_error_in_one_run(lab: Lab) -> None:
    outcome = lab.outcome(2)
    assert outcome.status == "failed" and "missing.json" in outcome.error
    (run,) = lab.runs(2)  # retried once, in the same run
    assert run.info.status == "FAILED" and run.data.tags[M.TAG_STATUS] == "failed"
    assert "missing.json" in run.data.tags[M.TAG_ERROR]
    parent = lab.tracker.client.get_run(lab.result.parent_run_id)
    assert parent.data.tags[M.TAG_KIND] == "ablation" and parent.info.status == "FAILED"


def test_rerun_skips_finished_trials_and_creates_no_run(lab: Lab) -> None:
    (finished,) = lab.runs(0)
    named = finished.info.run_name
    lab.tracker.rename_run(finished.info.run_id, lab.expansion.rows[0].trial_id)  # as of old
    again = run_expansion(lab.expansion, settings=lab.settings, launcher=LocalLauncher())
    assert lab.runs(0)[0].info.run_name == named  # a skipped finished run gets its name
    assert [o.status for o in again.outcomes] == ["skipped", "failed"]
    assert again.outcomes[0].metrics[M.BBOX_AP] == lab.outcome(0).metrics[M.BBOX_AP]
    assert len(lab.runs(0)) == 1 and len(lab.runs(1, kind="evaluation")) == 1
    assert len(lab.runs(2)) == 1


def test_trial_locked_by_another_process_waits_for_it_then_skips(lab: Lab) -> None:
    from sbr.runners.execute import prepare_task, users_of
    from sbr.runners.trial import run_trial

    trial = lab.expansion.trials[0]
    task = prepare_task(
        trial,
        lab.expansion,
        settings=lab.settings,
        users=users_of(lab.expansion),
        experiment_id=lab.tracker.experiment_id,
        parent_run_id=None,
    )
    lock = Path(task.trial_dir) / ".lock"
    script = (
        "import sys, time; from sbr.runners.lock import TrialLock\n"
        "with TrialLock(sys.argv[1]):\n    print('held', flush=True); time.sleep(3)\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", script, str(lock)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "held"
    outcome = run_trial(task)
    assert holder.poll() == 0  # the other owner was done before this trial went on
    assert outcome.status == "skipped" and not lock.exists()
    assert len(lab.runs(0)) == 1


def test_new_evaluation_variant_of_a_finished_training_runs_without_retraining(
    lab: Lab, tmp_path: Path
) -> None:
    from tiny_trials import tiny_expansion

    other = VARIANT_ROW.replace("id: variant", "id: five").replace(
        "max_per_img: 10", "max_per_img: 5"
    )
    data = Path(lab.expansion.trials[0].data_root)
    wider = tiny_expansion(tmp_path, data, GOOD_ROW, other)
    assert wider.trials[0].trial_id == lab.expansion.trials[0].trial_id
    (finished,) = lab.runs(0)
    lab.tracker.rename_run(finished.info.run_id, "named-before-run-names")
    again = run_expansion(wider, settings=lab.settings, launcher=LocalLauncher())
    assert [o.status for o in again.outcomes] == ["skipped"]
    assert len(lab.runs(0)) == 1  # not retrained
    assert lab.runs(0)[0].info.run_name == "Mask · tiny good,five · s0"  # and named
    evaluations = {r.data.tags[M.TAG_EVAL] for r in lab.runs(0, kind="evaluation")}
    assert evaluations == {lab.expansion.rows[1].eval_id, wider.rows[1].eval_id}


def test_progress_reports_iterations_eta_and_the_latest_ap(lab: Lab) -> None:
    from sbr.runners.local import progress_line

    trial = lab.expansion.rows[0].trial_id
    reports = [m for t, m in lab.progress if t == trial]
    steps = [m for m in reports if m["loss"] == m["loss"]]  # training steps: loss not NaN
    assert [m["progress"] for m in steps] == ["1/2", "2/2"]  # the resumed attempt goes on at 2
    assert steps[-1]["eta"] == "0:00:00" and isinstance(steps[-1]["loss"], float)
    # Ray Tune's live table shows the first four numbers of a trial's first report
    assert list(steps[0])[:4] == ["iteration", "eta_min", "bbox_mAP", "segm_mAP"]
    assert M.BBOX_AP.split("/")[-1] in reports[-1]  # then the AP of the evaluation
    line = progress_line(trial, steps[0])
    assert line.startswith(f"{trial}  1/2  eta ") and "loss" in line


@pytest.mark.parametrize(
    ("elapsed", "done", "remaining", "text"),
    [(10.0, 0, 5, "?"), (10.0, 2, 3, "0:00:15"), (7200.0, 1, 1, "2:00:00"), (5.0, 5, 0, "0:00:00")],
    ids=["unknown", "mean-pace", "hours", "done"],
)
def test_eta(elapsed: float, done: int, remaining: int, text: str) -> None:
    from sbr.runners.trial import eta_seconds, format_eta

    assert format_eta(eta_seconds(elapsed, done, remaining)) == text


def test_interrupted_evaluation_only_variant_is_resumed_not_duplicated(
    lab: Lab, tmp_path: Path
) -> None:
    """A variant whose evaluation died (its images vanished) is redone in the same run."""
    import shutil

    from tiny_trials import tiny_expansion

    three = VARIANT_ROW.replace("id: variant", "id: three").replace(
        "max_per_img: 10", "max_per_img: 3"
    )
    data = Path(lab.expansion.trials[0].data_root)
    wider = tiny_expansion(tmp_path / "spec", data, GOOD_ROW, three)
    eval_id = wider.rows[1].eval_id

    def variant_runs() -> list:
        return [r for r in lab.runs(0, kind="evaluation") if r.data.tags[M.TAG_EVAL] == eval_id]

    hidden = tmp_path / "val-hidden"
    shutil.move(data / "val", hidden)
    try:
        broken = run_expansion(wider, settings=lab.settings, launcher=LocalLauncher())
    finally:
        shutil.move(hidden, data / "val")
    assert [o.status for o in broken.outcomes] == ["failed"]
    (interrupted,) = variant_runs()
    assert interrupted.data.tags[M.TAG_STATUS] == "failed", interrupted.data.tags
    assert M.BBOX_AP not in interrupted.data.metrics

    again = run_expansion(wider, settings=lab.settings, launcher=LocalLauncher())
    assert [o.status for o in again.outcomes] == ["skipped"]  # the training is not redone
    (resumed,) = variant_runs()  # one run for the variant: the interrupted one, finished
    assert resumed.info.run_id == interrupted.info.run_id
    assert resumed.data.tags[M.TAG_STATUS] == "finished" and resumed.info.status == "FINISHED"
    assert M.BBOX_AP in resumed.data.metrics
    assert len(lab.runs(0)) == 1


def test_resume_point_is_the_iteration_of_the_last_checkpoint(tmp_path: Path) -> None:
    import torch

    from sbr.runners.trial import resume_point

    work = tmp_path / "work"
    assert resume_point(tmp_path) == 0  # no checkpoint: a retry starts over
    work.mkdir()
    (work / "last_checkpoint").write_text(f"{work / 'iter_6.pth'}\n")
    assert resume_point(tmp_path) == 6
    torch.save({"meta": {"iter": 9, "epoch": 1}}, work / "epoch_1.pth")
    (work / "last_checkpoint").write_text(str(work / "epoch_1.pth"))
    assert resume_point(tmp_path) == 9  # not named by its iteration: read from its meta


def test_an_attempt_that_died_while_replacing_its_run_leaves_one_run(tmp_path: Path) -> None:
    """Killed between copying into the new run and deleting the old one: the next attempt
    keeps the oldest run (the whole history), deletes the partial copy, then replaces it."""
    from sbr.runners.base import TrialTask
    from sbr.runners.trial import _open_attempt, _open_run
    from sbr.tracking.mlflow import Tracker, default_tracking_uri

    tracker = Tracker(default_tracking_uri(tmp_path))
    tags = {M.TAG_TRIAL: "t1", M.TAG_KIND: "training", M.TAG_STATUS: "running"}
    whole = tracker.start_run(tags=tags)
    for step in (1, 2, 3):
        tracker.log_metrics(whole, {"train/loss": float(step)}, step)
    partial = tracker.start_run(tags=tags)  # newer: the copy the dead attempt began
    tracker.log_metrics(partial, {"train/loss": 1.0}, 1)
    task = TrialTask(
        trial_id="t1", trial_dir=str(tmp_path), config_file="unused.py", evaluations=(),
        tags=tags, params={}, cpus=1, tracking_uri=tracker.uri,
        experiment_id=tracker.experiment_id,
    )  # fmt: skip
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "last_checkpoint").write_text(str(tmp_path / "work" / "iter_2.pth"))

    reuse, done = _open_run(task, tracker)
    assert (reuse, done) == (whole, None)
    run_id, new = _open_attempt(task, tracker, reuse)
    (run,) = tracker.search({M.TAG_TRIAL: "t1"})
    assert run.info.run_id == run_id not in (whole, partial) and new
    assert tracker.metric_history(run_id, "train/loss") == [(1, 1.0), (2, 2.0)]
