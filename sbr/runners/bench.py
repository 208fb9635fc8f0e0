"""Orchestration overhead: sbr's Ray Tune trials vs a bare Ray Tune run of the same training.

Both runs train the same trials (the smoke config, a few iterations, one per seed) in
the same Ray session, one after the other; sbr's run adds the lock, MLflow logging,
the final COCO evaluation and artifacts. The result is a ratio, not an absolute figure.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sbr.specs.presets import PRESETS_DIR

BENCH_CONFIG = "smoke/mask-rcnn_r18_fpn_smoke"


@dataclass(frozen=True)
class OrchestrationBench:
    """Timings of one benchmark (seconds)."""

    trials: int
    iters: int
    bare_s: float
    sbr_s: float

    @property
    def ratio(self) -> float:
        """sbr's wall time over the bare Ray Tune run's."""
        return self.sbr_s / self.bare_s

    @property
    def overhead_per_trial_s(self) -> float:
        """Extra seconds per trial."""
        return (self.sbr_s - self.bare_s) / self.trials

    def lines(self) -> list[str]:
        """Human-readable report."""
        return [
            f"{self.trials} trials x {self.iters} iterations of {BENCH_CONFIG}",
            f"bare Ray Tune: {self.bare_s:.1f} s, sbr: {self.sbr_s:.1f} s",
            f"ratio sbr/bare: {self.ratio:.2f}, overhead per trial: "
            f"{self.overhead_per_trial_s:+.1f} s",
        ]


def _bench_preset(folder: Path, iters: int) -> Path:
    text = (PRESETS_DIR / "smoke.yaml").read_text(encoding="utf-8")
    for old, new in [
        ("name: smoke", "name: bench"),
        ("iters: 4\n", f"iters: {iters}\n"),
        ("max_iters: 4, val_interval: 4", f"max_iters: {iters}, val_interval: {iters}"),
        ("end: 4}", f"end: {iters}}}"),
        ("cpus: 2", "cpus: 1"),
    ]:
        if old not in text:
            raise ValueError(f"smoke preset changed: cannot derive the bench preset ({old!r})")
        text = text.replace(old, new)
    path = folder / "bench.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _bench_expansion(folder: Path, data_root: str | Path, trials: int, iters: int) -> Any:
    """The ``trials`` seeds of a one-row spec of :data:`BENCH_CONFIG`, written to ``folder``."""
    from sbr.specs.expand import expand
    from sbr.specs.presets import load_preset
    from sbr.specs.schema import load_spec

    spec_file = folder / "bench-spec.yaml"
    spec_file.write_text(
        "schema_version: 1\nname: bench\ntitle: bench\ncolumns: [B_AP]\nrows:\n"
        f"  - {{id: r1, label: bench, config: {BENCH_CONFIG}, paper: {{B_AP: 0}}}}\n"
    )
    return expand(
        [load_spec(spec_file)],
        load_preset(_bench_preset(folder, iters)),
        data_root=str(data_root),
        seeds=range(trials),
    )


def bench_orchestration(
    *, data_root: str | Path, trials: int = 2, iters: int = 2, num_cpus: int | None = None
) -> OrchestrationBench:
    """Time a bare Ray Tune run and sbr's run of the same ``trials`` trainings."""
    from sbr.runners.execute import RunSettings, prepare_task, run_expansion, users_of
    from sbr.runners.ray_tune import (
        RaySettings,
        RayTuneLauncher,
        bare_tune_seconds,
        connect,
        disconnect,
    )
    from sbr.tracking.mlflow import default_tracking_uri

    with tempfile.TemporaryDirectory(prefix="sbr-bench-") as tmp:
        folder = Path(tmp)
        expansion = _bench_expansion(folder, data_root, trials, iters)
        settings = RunSettings(storage=folder / "store", tracking_uri=default_tracking_uri(folder))
        ray_settings = RaySettings(
            num_cpus=num_cpus, storage=str(folder / "ray"), verbose=0, cpus_per_trial=1
        )
        connect(ray_settings)
        try:
            tasks = [
                prepare_task(
                    t, expansion, settings=settings, users=users_of(expansion),
                    experiment_id="0", parent_run_id=None,
                )
                for t in expansion.trials
            ]  # fmt: skip
            bare = bare_tune_seconds(tasks, ray_settings)
            start = time.perf_counter()
            result = run_expansion(
                expansion, settings=settings, launcher=RayTuneLauncher(ray_settings)
            )
            sbr = time.perf_counter() - start
            unfinished = [o for o in result.outcomes if o.status != "finished"]
            if unfinished or len(result.outcomes) != trials:
                raise RuntimeError(f"sbr's run did not finish every trial: {unfinished}")
        finally:
            disconnect()
    return OrchestrationBench(trials, iters, bare, sbr)


__all__ = ["BENCH_CONFIG", "OrchestrationBench", "bench_orchestration"]
