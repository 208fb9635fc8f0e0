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


def _size(text: str) -> tuple[int, int]:
    try:
        height, width = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise click.BadParameter(f"expected HxW such as 320x320, got {text!r}") from None
    if height < 32 or width < 32:
        raise click.BadParameter(f"each side must be >= 32 px, got {text!r}")
    return height, width


@bench.command()
@click.option(
    "--models", "names", multiple=True,
    help="Model names or groups (default, table6, table7, h2, all); repeatable or comma-separated. "
    "HTC is always measured (the ratios refer to it).",
)  # fmt: skip
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda or cuda:N.")
@click.option("--size", help="Input HxW (default: 320x320 on cpu, 800x1216 on cuda).")
@click.option("--warmup", type=click.IntRange(min=0), help="Inference warm-up passes.")
@click.option("--images", type=click.IntRange(min=1), help="Inference passes timed (batch 1).")
@click.option("--train-steps", type=click.IntRange(min=1), help="Training steps timed (batch 2).")
@click.option("--threads", type=click.IntRange(min=1), help="torch CPU threads.")
@click.option("--profile", is_flag=True, help="Per-component breakdown of one pass.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of the table.")
@click.option("--list", "list_models", is_flag=True, help="List the models and exit.")
def models(
    names: tuple[str, ...],
    device: str,
    size: str | None,
    warmup: int | None,
    images: int | None,
    train_steps: int | None,
    threads: int | None,
    profile: bool,
    as_json: bool,
    list_models: bool,
) -> None:
    """Inference img/s (batch 1), training step (batch 2) and peak memory of the paper's
    models, untrained, as ratios to HTC next to the paper's Speed."""
    import contextlib
    import json
    import sys

    from sbr.runners.bench_models import (
        BENCH_MODELS,
        DEVICE_DEFAULTS,
        BenchSettings,
        bench_models,
        select_models,
    )

    names = tuple(name for value in names for name in value.split(",") if name)
    if list_models:
        for model in BENCH_MODELS:
            click.echo(f"{model.name:32} {','.join(model.groups):22} {model.config}")
        return
    try:
        select_models(names)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--models") from None
    defaults = dict(DEVICE_DEFAULTS["cuda" if device.startswith("cuda") else "cpu"])
    if size:
        defaults["size"] = _size(size)
    for key, value in (("warmup", warmup), ("images", images), ("train_steps", train_steps)):
        if value is not None:
            defaults[key] = value
    settings = BenchSettings(device=device, profile=profile, threads=threads, **defaults)
    with contextlib.redirect_stdout(sys.stderr):  # pycocotools prints: stdout is the result's
        result = bench_models(names, settings, progress=lambda line: click.echo(line, err=True))
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
    else:
        for line in result.lines():
            click.echo(line)


@bench.command()
@click.option(
    "--data", "ann_file", type=click.Path(dir_okay=False, path_type=Path),
    help="COCO annotation JSON to time end to end (default: generate a COCO-train2017-sized "
    "one into --cache).",
)  # fmt: skip
@click.option(
    "--cache", type=click.Path(file_okay=False, path_type=Path),
    default=Path("~/.cache/sbr/bench"), show_default=True,
    help="Folder of the generated annotation file (reused across runs).",
)  # fmt: skip
@click.option("--sample", type=click.IntRange(min=1), default=2000, show_default=True,
              help="Boxes compared against the brute-force reference.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def fig1(ann_file: Path | None, cache: Path, sample: int, as_json: bool) -> None:
    """Fig. 1's anchor coverage: speed-up over brute-force IoU on a sample, and the end-to-end
    time on a COCO-train2017-sized annotation file."""
    import json

    from sbr.runners.bench_fig1 import bench_fig1

    result = bench_fig1(
        ann_file, cache=cache.expanduser(), sample=sample,
        progress=lambda line: click.echo(line, err=True),
    )  # fmt: skip
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
    else:
        for line in result.lines():
            click.echo(line)


@bench.command("bootstrap")
@click.option("--images", type=click.IntRange(min=2), default=5000, show_default=True)
@click.option("--classes", type=click.IntRange(min=1), default=80, show_default=True)
@click.option(
    "--dets",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="Detections per image.",
)
@click.option(
    "--boot",
    "n_boot",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="Bootstrap resamples B.",
)
@click.option(
    "--naive-boot",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="Resamples timed with the naive loop (the baseline).",
)
@click.option("--seed", type=int, default=0, show_default=True)
def bootstrap(
    images: int, classes: int, dets: int, n_boot: int, naive_boot: int, seed: int
) -> None:
    """Paired-bootstrap AP on COCO-val-sized results vs a naive per-resample loop."""
    from sbr.reports.bootstrap_bench import bench_bootstrap

    result = bench_bootstrap(
        images=images, classes=classes, dets=dets, n_boot=n_boot, naive_boot=naive_boot,
        seed=seed,
    )  # fmt: skip
    for line in result.lines():
        click.echo(line)


@bench.command("coverage")
@click.option(
    "--reps",
    default="1000,200",
    show_default=True,
    help="Validation sets drawn at 32 and at 5,000 images (comma-separated).",
)
@click.option("--boot", "n_boot", type=click.IntRange(min=10), default=1000, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
def coverage(reps: str, n_boot: int, seed: int) -> None:
    """Empirical coverage of the 95% intervals (AP and a difference) on a known population."""
    from sbr.reports.coverage_bench import bench_coverage

    counts = tuple(int(r) for r in reps.split(","))
    for result in bench_coverage((32, 5000), counts, n_boot=n_boot, seed=seed):
        for line in result.lines():
            click.echo(line)


__all__ = ["bench"]
