"""``sbr bench``: measurements of sbr itself."""

from __future__ import annotations

from pathlib import Path

import click


@click.group()
def bench() -> None:
    """Benchmarks of sbr's own machinery."""


@bench.command()
@click.option(
    "--data",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=Path("data/synth"),
    show_default=True,
    help="Synthetic dataset (`sbr data synth`).",
)
@click.option("--trials", type=click.IntRange(min=1), default=2, show_default=True)
@click.option("--iters", type=click.IntRange(min=1), default=2, show_default=True)
@click.option("--num-cpus", type=click.IntRange(min=1), help="CPUs of the local Ray.")
def orchestration(data: Path, trials: int, iters: int, num_cpus: int | None) -> None:
    """sbr's per-trial overhead vs a bare Ray Tune run of the same training (a ratio)."""
    from sbr.runners.bench import bench_orchestration

    result = bench_orchestration(data_root=data, trials=trials, iters=iters, num_cpus=num_cpus)
    for line in result.lines():
        click.echo(line)


__all__ = ["bench"]
