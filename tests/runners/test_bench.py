"""The orchestration benchmark (`sbr bench orchestration`), run for real at its smallest size.

One trial of one iteration, bare Ray Tune then sbr, in one local Ray: the figures come
from real runs (a benchmark whose trainings failed raises instead of printing a ratio).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from ci_gate import require
from click.testing import CliRunner

from sbr.cli.bench import bench

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sbr.data.synth import synthesize

    root = tmp_path_factory.mktemp("bench") / "data"
    synthesize(root, seed=0, images=4, val_images=2)
    return root


def test_ratio_and_overhead_of_hand_made_timings() -> None:
    from sbr.runners.bench import OrchestrationBench

    result = OrchestrationBench(trials=2, iters=1, bare_s=10.0, sbr_s=15.0)
    assert (result.ratio, result.overhead_per_trial_s) == (1.5, 2.5)
    assert result.lines()[1:] == [
        "bare Ray Tune: 10.0 s, sbr: 15.0 s",
        "ratio sbr/bare: 1.50, overhead per trial: +2.5 s",
    ]


def test_orchestration_bench_measures_both_runs(tiny_data: Path) -> None:
    require("ray")
    args = ["orchestration", "--data", str(tiny_data), "--trials", "1", "--iters", "1",
            "--num-cpus", "2"]  # fmt: skip
    start = time.perf_counter()
    result = CliRunner().invoke(bench, args, catch_exceptions=False)
    elapsed = time.perf_counter() - start
    assert result.exit_code == 0, result.output
    times = re.search(r"bare Ray Tune: ([\d.]+) s, sbr: ([\d.]+) s", result.stdout)
    assert times, result.stdout
    bare, sbr = float(times[1]), float(times[2])
    # Both are wall times of runs inside this command, one after the other; sbr's run
    # trains the same iteration as the bare one, then evaluates and logs to MLflow.
    assert 0 < bare < sbr and bare + sbr <= elapsed + 0.1, (bare, sbr, elapsed)
    assert "1 trials x 1 iterations" in result.stdout
