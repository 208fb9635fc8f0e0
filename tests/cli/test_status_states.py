"""``sbr status`` on a real MLflow store: every state a row can be in, and its iteration.

The store is written through :class:`sbr.tracking.mlflow.Tracker` exactly as a trial
writes it (tags, loss history), without training anything.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from sbr import metrics as M
from sbr.cli.ablation import EXIT_SPEC_ERROR
from sbr.cli.status import status

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runners"))
from tiny_trials import BROKEN_ROW, GOOD_ROW, write_preset, write_spec  # noqa: E402

LOSS = f"{M.LOSS_PREFIX}loss"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Four trials (two rows x two seeds) in four states, and one of a dead driver."""
    from sbr.specs.expand import expand
    from sbr.specs.presets import load_preset
    from sbr.specs.schema import load_spec
    from sbr.tracking.mlflow import KIND_ABLATION, KIND_TRAINING, Tracker

    root = tmp_path_factory.mktemp("status")
    (root / "spec").mkdir()
    spec, preset = write_spec(root / "spec", GOOD_ROW, BROKEN_ROW), write_preset(root)
    data = root / "data"
    expansion = expand([load_spec(spec)], load_preset(preset), data_root=str(data), seeds=range(3))
    trial = {(r.row_id, r.seed): r.trial_id for r in expansion.rows}
    uri = f"sqlite:///{root}/mlflow.db"
    tracker = Tracker(uri)
    live = f"{socket.gethostname()}:{os.getpid()}"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    parents = {
        name: tracker.start_run(
            tags={
                M.TAG_KIND: KIND_ABLATION,
                M.TAG_TABLES: "tiny",
                M.TAG_DRIVER: driver,
                M.TAG_PRESET_FILE: str(preset),
            },
            name=f"ablation-{name}",
        )  # fmt: skip
        for name, driver in (("live", live), ("dead", f"{socket.gethostname()}:{dead}"))
    }

    def training(key, state: str, losses: int, parent: str = "live") -> str:
        run = tracker.start_run(
            tags={M.TAG_KIND: KIND_TRAINING, M.TAG_TRIAL: trial[key], M.TAG_STATUS: state},
            parent=parents[parent],
            name=trial[key],
        )
        for step in range(1, losses + 1):
            tracker.log_metrics(run, {LOSS: 2.0 / step}, step)
        return run

    training(("good", 0), "running", losses=3)
    failed = training(("good", 1), "failed", losses=2)
    tracker.end_run(failed, failed=True)
    finished = training(("broken", 0), "finished", losses=4)
    tracker.log_metrics(finished, {M.BBOX_AP: 0.25, M.SEGM_AP: 0.125}, 4)
    tracker.end_run(finished)
    training(("good", 2), "running", losses=5, parent="dead")
    # ("broken", 1) and ("broken", 2): never started
    args = [str(spec), "--preset", str(preset), "--data", str(data), "--seeds", "3",
            "--tracking-uri", uri]  # fmt: skip
    return {"args": args, "trial": trial}


EXPECTED = [
    (("good", 0), "running", 3, "running @ iter 3"),
    (("good", 1), "failed", 2, "failed @ iter 2"),
    (("broken", 0), "finished", None, "finished"),
    (("broken", 1), "not started", None, "not started"),
    (("good", 2), "interrupted", 5, "interrupted @ iter 5"),
]


def test_status_json_states_and_iterations(store: dict) -> None:
    result = CliRunner().invoke(status, [*store["args"], "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rows = {(r["row"], r["trial"]): r for r in json.loads(result.stdout)}
    for key, state, iteration, _ in EXPECTED:
        row = rows[(key[0], store["trial"][key])]
        assert (row["status"], row["iteration"]) == (state, iteration), key
    finished = rows[("broken", store["trial"][("broken", 0)])]
    assert (finished["bbox_mAP"], finished["segm_mAP"]) == (0.25, 0.125)


def test_status_text_states(store: dict) -> None:
    result = CliRunner().invoke(status, store["args"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    for key, _, _, text in EXPECTED:
        (line,) = [line for line in lines if store["trial"][key] in line]
        assert f"  {text} " in line, line
    (finished,) = [line for line in lines if store["trial"][("broken", 0)] in line]
    assert "bbox 0.250" in finished and "segm 0.125" in finished


@pytest.fixture(scope="module")
def store_with_classes(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Runs of trials whose ids hash a real dataset's classes (two seeds of one row)."""
    from sbr.data.synth import synthesize
    from sbr.specs.expand import expand
    from sbr.specs.presets import load_preset
    from sbr.specs.schema import load_spec
    from sbr.tracking.mlflow import KIND_TRAINING, Tracker

    root = tmp_path_factory.mktemp("status_classes")
    (root / "spec").mkdir()
    spec, preset = write_spec(root / "spec", GOOD_ROW), write_preset(root)
    synthesize(root / "data", seed=0, images=4, val_images=2)
    expansion = expand([load_spec(spec)], load_preset(preset), data_root=str(root / "data"),
                       seeds=range(2))  # fmt: skip
    assert all(t.classes for t in expansion.trials)
    uri = f"sqlite:///{root}/mlflow.db"
    tracker = Tracker(uri)
    for trial in expansion.trials:
        tags = {
            M.TAG_KIND: KIND_TRAINING, M.TAG_TRIAL: trial.trial_id, M.TAG_ROWS: "tiny/good",
            M.TAG_STATUS: "finished", M.TAG_SEED: str(trial.seed), M.TAG_PRESET: "tiny",
        }  # fmt: skip
        run = tracker.start_run(tags=tags, name=trial.trial_id)
        tracker.log_metrics(run, {M.BBOX_AP: 0.5 + trial.seed / 10}, 2)
        tracker.end_run(run)
    args = [str(spec), "--preset", str(preset), "--seeds", "2", "--tracking-uri", uri, "--json"]
    return {"args": args, "tracker": tracker, "trials": expansion.trials, "root": root}


def test_status_without_the_data_folder_finds_runs_by_their_row_tags(
    store_with_classes: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the preset's data/synth/ does not exist here
    result = CliRunner().invoke(status, store_with_classes["args"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rows = {r["trial"]: r for r in json.loads(result.stdout)}
    for trial in store_with_classes["trials"]:
        assert rows[trial.trial_id]["status"] == "finished", rows
        assert rows[trial.trial_id]["bbox_mAP"] == pytest.approx(0.5 + trial.seed / 10)


def test_status_without_data_names_the_flag_when_rows_match_several_trials(
    store_with_classes: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sbr.tracking.mlflow import KIND_TRAINING

    tracker = store_with_classes["tracker"]
    tags = {M.TAG_KIND: KIND_TRAINING, M.TAG_TRIAL: "0123456789ab", M.TAG_STATUS: "running",
            M.TAG_ROWS: "tiny/good", M.TAG_SEED: "0", M.TAG_PRESET: "tiny"}  # fmt: skip
    other = tracker.start_run(tags=tags)  # another dataset's trial of the same row and seed
    try:
        monkeypatch.chdir(tmp_path)
        result = CliRunner().invoke(status, store_with_classes["args"], catch_exceptions=False)
    finally:
        tracker.client.delete_run(other)
    assert result.exit_code == EXIT_SPEC_ERROR
    (line,) = result.stderr.strip().splitlines()
    assert "tiny/good seed 0 has runs of 2 trials" in line and "--data DIR" in line, line
