"""Two live ``sbr run-ablation --local`` drivers on one unfinished trial.

The first driver (a real process, no Ray: ``--local``) is training the trial and holds
its lock; a second driver with the same command starts meanwhile (in this process). It
must wait for the lock, find the training finished, and skip it: one training run in
MLflow, one MMEngine run in the work dir, checkpoints untouched by the second driver.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from sbr import metrics as M
from sbr.cli.ablation import run_ablation

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runners"))
from tiny_trials import GOOD_ROW, write_preset, write_spec  # noqa: E402

pytestmark = pytest.mark.slow

ITERS = 6
TIMEOUT_S = 600


def _logged_iters(work: Path) -> int:
    text = "".join(p.read_text(errors="replace") for p in work.glob("*/*.log"))
    return max((int(n) for n in re.findall(r"Iter\(train\) \[(\d+)/", text)), default=0)


def test_second_driver_waits_for_the_first_and_never_trains_its_trial(tmp_path: Path) -> None:
    from sbr.data.synth import synthesize
    from sbr.tracking.mlflow import Tracker

    synthesize(tmp_path / "data", seed=0, images=8, val_images=4)
    (tmp_path / "spec").mkdir()
    spec = write_spec(tmp_path / "spec", GOOD_ROW)
    preset = write_preset(tmp_path, iters=ITERS)
    storage, uri = tmp_path / "store", f"sqlite:///{tmp_path / 'mlflow.db'}"
    args = [str(spec), "--preset", str(preset), "--data", str(tmp_path / "data"),
            "--storage", str(storage), "--tracking-uri", uri, "--no-params", "--local"]  # fmt: skip
    env = {**os.environ, "SBR_CACHE_DIR": str(tmp_path / "cache")}
    log = tmp_path / "first.log"
    with log.open("wb") as out:
        first = subprocess.Popen(
            [str(Path(sys.executable).with_name("sbr")), "run-ablation", *args],
            stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + TIMEOUT_S
        while not (
            storage.is_dir()
            and (trial := next((d for d in storage.iterdir() if (d / ".lock").is_file()), None))
            and 1 <= _logged_iters(trial / "work") < ITERS - 1
        ):
            assert first.poll() is None, f"first driver exited:\n{log.read_text()[-4000:]}"
            assert time.monotonic() < deadline, log.read_text()[-4000:]
            time.sleep(0.2)
        # the first driver is mid-training and holds the lock: start the second one
        started = time.time()
        second = CliRunner().invoke(run_ablation, args, catch_exceptions=False)
        assert first.wait(timeout=TIMEOUT_S) == 0, log.read_text()[-4000:]
    finally:
        if first.poll() is None:
            os.killpg(first.pid, 9)
            first.wait()
    output = log.read_text(errors="replace")

    assert second.exit_code == 0, second.output
    # the trial was still unfinished when the second driver started: the first driver
    # saved its last checkpoint after that
    assert (trial / "work" / f"iter_{ITERS}.pth").stat().st_mtime > started
    assert "1 skipped" in second.stdout and "1 finished" in output, (second.stdout, output)
    assert "Iter(train)" not in second.output  # the second driver trained nothing
    work = trial / "work"
    assert len(list(work.glob("*/*.log"))) == 1  # one MMEngine run: the first driver's
    # --local: no Ray; the progress of the trial as lines of the driver's own output
    assert "Ray" not in output and f"{trial.name}  {ITERS}/{ITERS}" in output, output[-3000:]

    tracker = Tracker(uri)
    (run,) = tracker.search({M.TAG_TRIAL: trial.name, M.TAG_KIND: "training"})
    assert run.data.tags[M.TAG_STATUS] == "finished" and run.info.status == "FINISHED"
    steps = [s for s, _ in tracker.metric_history(run.info.run_id, f"{M.LOSS_PREFIX}loss")]
    assert steps == list(range(1, ITERS + 1))
    parents = tracker.search({M.TAG_KIND: "ablation"})
    assert sorted(p.info.status for p in parents) == ["FINISHED", "FINISHED"]  # none killed
