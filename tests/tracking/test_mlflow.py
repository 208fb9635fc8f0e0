"""The MLflow adapter on real stores: embedded sqlite and a real ``mlflow server``."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from sbr import metrics as M
from sbr.tracking.mlflow import (
    MAX_PARAM_CHARS,
    Tracker,
    TrackingError,
    check_tracking,
    default_tracking_uri,
    flatten,
    resolve_tracking_uri,
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_flatten_dots_nested_keys_and_truncates_long_values() -> None:
    flat = flatten({"model": {"depth": 18, "neck": {"type": "FPN"}}, "long": "x" * 7000})
    assert flat["model.depth"] == "18" and flat["model.neck.type"] == "FPN"
    assert len(flat["long"]) == MAX_PARAM_CHARS and flat["long"].endswith("...")


def test_tracking_uri_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert resolve_tracking_uri() == f"sqlite:///{tmp_path.resolve()}/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://example:5000")
    assert resolve_tracking_uri() == "http://example:5000"
    assert resolve_tracking_uri("sqlite:///x.db") == "sqlite:///x.db"


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        pytest.param("http://127.0.0.1:{port}", "is unreachable", id="no-server"),
        pytest.param("sqlite:////nonexistent/dir/mlflow.db", "does not exist", id="no-folder"),
    ],
)
def test_unusable_store_is_one_clear_line(uri: str, message: str) -> None:
    with pytest.raises(TrackingError, match=message) as info:
        check_tracking(uri.format(port=_free_port()), timeout_s=2)
    assert "\n" not in str(info.value)


def test_reopening_a_run_reuses_it_and_statuses_follow_the_tag(tmp_path: Path) -> None:
    tracker = Tracker(default_tracking_uri(tmp_path))
    tags = {M.TAG_TRIAL: "abc", M.TAG_KIND: "training", M.TAG_STATUS: "running"}
    run_id = tracker.start_run(tags=tags)
    tracker.set_tags(run_id, {M.TAG_STATUS: "failed"})
    tracker.end_run(run_id, failed=True)
    assert tracker.statuses() == {"abc": "failed"}
    assert tracker.start_run(tags={M.TAG_STATUS: "running"}, run_id=run_id) == run_id
    assert tracker.client.get_run(run_id).info.status == "RUNNING"
    tracker.set_tags(run_id, {M.TAG_STATUS: "finished"})
    tracker.end_run(run_id)
    assert len(tracker.search({M.TAG_TRIAL: "abc"})) == 1
    assert tracker.statuses(["abc", "other"]) == {"abc": "finished"}


def test_replacing_a_run_keeps_its_history_up_to_a_step_and_deletes_it(tmp_path: Path) -> None:
    tracker = Tracker(default_tracking_uri(tmp_path))
    old = tracker.start_run(tags={M.TAG_TRIAL: "abc", M.TAG_KIND: "training"})
    for step in (1, 2, 3, 4):
        tracker.log_metrics(old, {"train/loss": 10.0 - step, "lr": 0.1 * step}, step)
    tracker.log_metrics(old, {"train/loss": 99.0}, 2)  # a second value at a kept step stays
    assert tracker.last_step(old) == 4
    parent = tracker.start_run(tags={M.TAG_KIND: "ablation"})
    tags = {M.TAG_TRIAL: "abc", M.TAG_KIND: "training", M.TAG_STATUS: "running"}
    new = tracker.replace_run(old, keep_through=2, tags=tags, parent=parent, name="abc")

    (run,) = tracker.search({M.TAG_TRIAL: "abc"})  # the old run is deleted, not listed
    assert run.info.run_id == new != old
    assert tracker.client.get_run(old).info.lifecycle_stage == "deleted"
    assert tracker.metric_history(new, "train/loss") == [(1, 9.0), (2, 8.0), (2, 99.0)]
    assert tracker.metric_history(new, "lr") == [(1, pytest.approx(0.1)), (2, pytest.approx(0.2))]
    assert run.data.tags[M.TAG_STATUS] == "running" and run.info.run_name == "abc"
    assert run.data.tags["mlflow.parentRunId"] == parent
    assert tracker.last_step(new) == 2
    empty = tracker.replace_run(new, keep_through=0, tags=tags)  # a restart from zero
    assert tracker.last_step(empty) == 0 and tracker.client.get_run(empty).data.metrics == {}


#: experiment -> (its tags before sbr uses it, None: sbr creates it; the kind tag after).
KIND_CASES = {
    "created-by-the-tracker": (None, M.EXPERIMENT_KIND_TRAINING),
    "existing-without-kind": ({}, M.EXPERIMENT_KIND_TRAINING),
    "kind-the-ui-inferred": (
        {M.TAG_EXPERIMENT_KIND: "genai_development_inferred"},
        M.EXPERIMENT_KIND_TRAINING,
    ),
    "kind-someone-chose": ({M.TAG_EXPERIMENT_KIND: "genai_development"}, "genai_development"),
}


def test_the_experiment_opens_in_the_model_training_view(tmp_path: Path) -> None:
    """One store, one experiment per case (a store costs seconds to create)."""
    from mlflow.tracking import MlflowClient

    uri = default_tracking_uri(tmp_path)
    client = MlflowClient(uri)
    for name, (existing, _) in KIND_CASES.items():
        if existing is not None:
            client.create_experiment(name, tags=existing)
    found = {}
    for name in KIND_CASES:
        tracker = Tracker(uri, experiment=name)
        tracker.start_run(tags={M.TAG_KIND: "ablation"})
        tags = client.get_experiment(tracker.experiment_id).tags
        found[name] = tags.get(M.TAG_EXPERIMENT_KIND)
    assert found == {name: kind for name, (_, kind) in KIND_CASES.items()}


@pytest.fixture
def mlflow_server(tmp_path: Path):
    """A real ``mlflow server`` on a free localhost port (sqlite backend in tmp_path)."""
    from sbr.cli.ui import server_command

    port = _free_port()
    uri = f"http://127.0.0.1:{port}"
    command = server_command(default_tracking_uri(tmp_path), host="127.0.0.1", port=port)
    command += ["--default-artifact-root", (tmp_path / "artifacts").as_uri()]
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(f"{uri}/health", timeout=1):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"mlflow server did not start ({process.poll()})") from None
            time.sleep(0.5)
    yield uri
    os.killpg(process.pid, signal.SIGTERM)  # the server and its uvicorn worker
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@pytest.mark.slow
def test_runs_over_http_on_a_real_mlflow_server(mlflow_server: str) -> None:
    check_tracking(mlflow_server)
    tracker = Tracker(mlflow_server)
    parent = tracker.start_run(tags={M.TAG_KIND: "ablation"})
    child = tracker.start_run(
        tags={M.TAG_TRIAL: "t1", M.TAG_KIND: "training", M.TAG_STATUS: "running"}, parent=parent
    )
    tracker.log_params(child, {f"p{i}": str(i) for i in range(150)})  # two batches
    tracker.log_metrics(child, {M.BBOX_AP: 0.25}, step=4)
    tracker.set_tags(child, {M.TAG_STATUS: "finished"})
    tracker.end_run(child)
    assert tracker.statuses() == {"t1": "finished"}
    run = tracker.client.get_run(child)
    assert run.data.tags["mlflow.parentRunId"] == parent and len(run.data.params) == 150
    assert tracker.metric_history(child, M.BBOX_AP) == [(4, 0.25)]
