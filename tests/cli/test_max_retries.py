"""``run-ablation --local --max-retries N``: a failing trial gets exactly N + 1 attempts.

The failure is real: a training hook, added through the config's own ``custom_hooks``
(MMEngine's extension point), raises in the first attempts, after one iteration. ``--local``
runs the trial in this process, so the hook registered here is the one the trial builds.
Each attempt is counted in a file.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from sbr import metrics as M
from sbr.cli.ablation import EXIT_TRIALS_FAILED, run_ablation
from sbr.tracking.mlflow import Tracker

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runners"))
from tiny_trials import SMOKE, write_preset, write_spec  # noqa: E402

pytestmark = pytest.mark.slow


@HOOKS.register_module(force=True)
class SBRTestFailFirstAttempts(Hook):
    """Counts training attempts in ``counter``; the first ``failures`` of them raise after
    their first iteration, each with its own message (so no failure repeats itself: a
    failure before any iteration, or a repeated one, is deterministic and not retried)."""

    def __init__(self, counter: str, failures: int) -> None:
        self.counter, self.failures = Path(counter), failures
        self.attempt, self.start = 0, 0

    def before_train(self, runner) -> None:
        self.attempt = int(self.counter.read_text()) + 1 if self.counter.is_file() else 1
        self.counter.write_text(str(self.attempt))
        self.start = runner.iter

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        if runner.iter > self.start and self.attempt <= self.failures:
            raise RuntimeError(f"attempt {self.attempt} fails")


def _row(counter: Path, failures: int) -> str:
    hooks = f"[{{type: SBRTestFailFirstAttempts, counter: '{counter}', failures: {failures}}}]"
    return (
        f"  - id: flaky\n    label: flaky\n    config: {SMOKE}\n"
        f"    overrides: {{+custom_hooks: {hooks}}}\n    paper: {{B_AP: 1.0}}\n"
    )


@pytest.mark.parametrize(
    ("retries", "failures", "attempts", "exit_code", "summary"),
    [
        # the default (1) would make 2 attempts: the flag decides. Recovery after a retry
        # and resuming from the checkpoint: tests/runners/test_trial.py
        (0, 5, 1, EXIT_TRIALS_FAILED, "1 failed"),
        # N = 2 gives 3 attempts (the default would give 2, an off-by-one 2 or 4); each
        # starts over (no checkpoint before the end), so each replaces the last one's run
        (2, 5, 3, EXIT_TRIALS_FAILED, "1 failed"),
    ],
    ids=["0-retries", "2-retries"],
)
def test_max_retries_attempts(
    tmp_path: Path, synth_small: Path, retries, failures, attempts, exit_code, summary
) -> None:
    counter = tmp_path / "attempts.txt"
    spec = write_spec(tmp_path, _row(counter, failures), name="flaky")
    args = [str(spec), "--preset", str(write_preset(tmp_path)), "--data", str(synth_small),
            "--storage", str(tmp_path / "store"), "--tracking-uri",
            f"sqlite:///{tmp_path / 'mlflow.db'}", "--no-params", "--local",
            "--max-retries", str(retries)]  # fmt: skip
    result = CliRunner().invoke(run_ablation, args)
    assert result.exit_code == exit_code, result.output[-3000:]
    assert int(counter.read_text()) == attempts
    assert summary in result.stdout, result.stdout[-2000:]
    if exit_code:
        assert f"attempt {attempts} fails" in result.stdout  # the last attempt's error
    tracker = Tracker(f"sqlite:///{tmp_path / 'mlflow.db'}")
    (run,) = tracker.search({M.TAG_KIND: "training"})  # one visible run, whatever N
    assert [s for s, _ in tracker.metric_history(run.info.run_id, f"{M.LOSS_PREFIX}loss")] == [1]


@pytest.fixture(scope="module")
def synth_small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sbr.data.synth import synthesize

    root = tmp_path_factory.mktemp("retries") / "data"
    synthesize(root, seed=0, images=4, val_images=2)
    return root
