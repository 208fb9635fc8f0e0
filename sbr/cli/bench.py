"""``sbr bench``: measurements of sbr itself."""

from __future__ import annotations

from pathlib import Path

import click


@click.group()
def bench() -> None:
    """Benchmarks of sbr's own machinery."""


# Options shared by the subcommands: one definition each, applied as decorators.


def count_option(name: str, default: int | None = None, help: str | None = None, low: int = 1):
    """An integer option ``>= low`` (with its default shown when there is one)."""
    kind = click.IntRange(min=low)
    return click.option(
        name, type=kind, default=default, show_default=default is not None, help=help
    )


def data_option(help: str = "Synthetic dataset (`sbr data synth`).", default: Path | None = None):
    """``--data``: an existing dataset folder."""
    kind = click.Path(exists=True, file_okay=False, path_type=Path)
    return click.option("--data", type=kind, default=default, show_default=True, help=help)


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of lines.")
seed_option = click.option("--seed", type=int, default=0, show_default=True)


def _progress(line: str) -> None:
    click.echo(line, err=True)


def echo_result(result, as_json: bool = False) -> None:
    """Print a bench result: its ``to_json()`` as JSON, or its ``lines()``."""
    import json

    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
        return
    for line in result.lines():
        click.echo(line)


@bench.command()
@data_option(default=Path("data/synth"))
@count_option("--trials", 2)
@count_option("--iters", 2)
@count_option("--num-cpus", help="CPUs of the local Ray.")
def orchestration(data: Path, trials: int, iters: int, num_cpus: int | None) -> None:
    """sbr's per-trial overhead vs a bare Ray Tune run of the same training (a ratio)."""
    from sbr.runners.bench import bench_orchestration

    echo_result(bench_orchestration(data_root=data, trials=trials, iters=iters, num_cpus=num_cpus))


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
    help="Spec rows (table6/row5) or tables (table6), default (tables 2, 6, 7 and SBR-CNN) or "
    "all; repeatable or comma-separated. HTC is always measured (the ratios refer to it).",
)  # fmt: skip
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda or cuda:N.")
@click.option("--size", help="Input HxW (default: 320x320 on cpu, 800x1216 on cuda).")
@count_option("--warmup", help="Inference warm-up passes.", low=0)
@count_option("--images", help="Inference passes timed (batch 1).")
@count_option("--train-steps", help="Training steps timed (batch 2).")
@count_option("--threads", help="torch CPU threads.")
@click.option("--profile", is_flag=True, help="Per-component breakdown of one pass.")
@json_option
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
    import sys

    from sbr.runners.bench_models import (
        DEVICE_DEFAULTS,
        BenchSettings,
        bench_models,
        select_models,
        spec_models,
    )

    names = tuple(name for value in names for name in value.split(",") if name)
    if list_models:
        for model in spec_models():
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
        result = bench_models(names, settings, progress=_progress)
    echo_result(result, as_json)


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
@count_option("--sample", 2000, help="Boxes compared against the brute-force reference.")
@json_option
def fig1(ann_file: Path | None, cache: Path, sample: int, as_json: bool) -> None:
    """Fig. 1's anchor coverage: speed-up over brute-force IoU on a sample, and the end-to-end
    time on a COCO-train2017-sized annotation file."""
    from sbr.runners.bench_fig1 import bench_fig1

    result = bench_fig1(ann_file, cache=cache.expanduser(), sample=sample, progress=_progress)
    echo_result(result, as_json)


@bench.command("bootstrap")
@count_option("--images", 5000, low=2)
@count_option("--classes", 80)
@count_option("--dets", 100, help="Detections per image.")
@count_option("--boot", 1000, help="Bootstrap resamples B.")
@count_option("--naive-boot", 3, help="Resamples timed with pycocotools' accumulate (baseline).")
@seed_option
def bootstrap(images: int, classes: int, dets: int, boot: int, naive_boot: int, seed: int) -> None:
    """Paired-bootstrap AP on COCO-val-sized results vs pycocotools per resample."""
    from sbr.reports.bootstrap_bench import bench_bootstrap

    result = bench_bootstrap(
        images=images, classes=classes, dets=dets, n_boot=boot, naive_boot=naive_boot, seed=seed
    )
    for line in result.lines():
        click.echo(line)


@bench.command()
@click.option("--row", help="tableN:rowM to time (default: table4:row1).")
@click.option("--config", "config_name", help="A config to time instead of a table row.")
@click.option("--preset", default="mini", show_default=True, help="Preset name or file.")
@click.option(
    "--data", type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=Path("data/synth"), show_default=True, help="Dataset of the trials.",
)  # fmt: skip
@click.option("--iters", type=click.IntRange(min=1), default=20, show_default=True,
              help="Iterations timed per path.")  # fmt: skip
@click.option("--skip", type=click.IntRange(min=0), default=2, show_default=True,
              help="Warm-up iterations before the timed ones.")  # fmt: skip
@click.option("--rounds", type=click.IntRange(min=1), default=1, show_default=True,
              help="Runs of every path, in turn, forwards and backwards by round "
                   "(medians are printed).")  # fmt: skip
@click.option("--paths", default="bare,cores,train,side,local,ray", show_default=True,
              help="Paths to time, comma-separated (cores: bare loop on every core; side: "
                   "sbr train runs side by side, as many as fit the cores).")  # fmt: skip
@click.option("--keep", type=click.Path(file_okay=False, path_type=Path),
              help="Keep the runs' files in this folder.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def overhead(
    row: str | None, config_name: str | None, preset: str, data: Path, iters: int, skip: int,
    rounds: int, paths: str, keep: Path | None, as_json: bool,
) -> None:  # fmt: skip
    """s/iteration and CPU use of a bare training loop, `sbr train`, `run-ablation --local`
    and a Ray trial of the same row, as ratios to the bare loop, with a per-hook breakdown,
    what a thread per core would gain over the trial's threads (the ceiling of its CPU use),
    and what trials side by side on every core do together."""
    import json

    from sbr.runners.bench_overhead import DEFAULT_ROW, bench_overhead

    if row and config_name:
        raise click.UsageError("give --row or --config, not both")
    try:
        result = bench_overhead(
            target=config_name or row or DEFAULT_ROW, preset=preset, data_root=data,
            iters=iters, skip=skip, rounds=rounds,
            paths=[p.strip() for p in paths.split(",") if p.strip()], keep=keep,
            progress=lambda line: click.echo(line, err=True),
        )  # fmt: skip
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
    else:
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
@click.option(
    "--truth-sets",
    type=click.IntRange(min=2),
    help="Sets averaged for the expected AP at each size [default: max(2000, 500000 / size)].",
)
@seed_option
def coverage(reps: str, n_boot: int, truth_sets: int | None, seed: int) -> None:
    """Empirical coverage of the 95% intervals (AP and a difference) on a known population."""
    from sbr.reports.coverage_bench import bench_coverage

    counts = tuple(int(r) for r in reps.split(","))
    results = bench_coverage((32, 5000), counts, n_boot=n_boot, seed=seed, truth_sets=truth_sets)
    for result in results:
        for line in result.lines():
            click.echo(line)


__all__ = ["bench"]
