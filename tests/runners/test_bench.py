"""Figures of the orchestration benchmark (the benchmark itself runs from `sbr bench`)."""

from __future__ import annotations

import pytest

from sbr.runners.bench import OrchestrationBench


def test_ratio_and_overhead_per_trial() -> None:
    bench = OrchestrationBench(trials=2, iters=2, bare_s=40.0, sbr_s=50.0)
    assert bench.ratio == pytest.approx(1.25)
    assert bench.overhead_per_trial_s == pytest.approx(5.0)
    assert bench.lines()[-1] == "ratio sbr/bare: 1.25, overhead per trial: +5.0 s"
