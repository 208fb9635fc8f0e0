"""The orchestration benchmark (`sbr bench orchestration`), run for real at its smallest size.

One trial of one iteration, bare Ray Tune then sbr, in one local Ray: the figures come
from real runs (a benchmark whose trainings failed raises instead of printing a ratio).
"""

from __future__ import annotations

import re
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


def test_orchestration_bench_measures_both_runs(tiny_data: Path) -> None:
    require("ray")
    args = ["orchestration", "--data", str(tiny_data), "--trials", "1", "--iters", "1",
            "--num-cpus", "2"]  # fmt: skip
    result = CliRunner().invoke(bench, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    times = re.search(r"bare Ray Tune: ([\d.]+) s, sbr: ([\d.]+) s", result.stdout)
    ratio = re.search(
        r"ratio sbr/bare: ([\d.]+), overhead per trial: ([+-][\d.]+) s", result.stdout
    )
    assert times and ratio, result.stdout
    bare, sbr = float(times[1]), float(times[2])
    assert bare > 0 and sbr > 0
    assert float(ratio[1]) == pytest.approx(sbr / bare, abs=0.02)
    assert float(ratio[2]) == pytest.approx(sbr - bare, abs=0.1)
    assert "1 trials x 1 iterations" in result.stdout
