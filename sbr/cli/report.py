"""``sbr report``: rebuild the paper's tables and figures from the tracking store."""

from __future__ import annotations

import shlex
from pathlib import Path

import click

_TABLES = [f"table{n}" for n in range(2, 12)]
_TARGETS = ["all", *_TABLES, "claims", "fig1", "fig3", "index"]


def _command_line(target: str, options: dict[str, object]) -> str:
    """The command as it could be retyped: target plus the options given (not defaults)."""
    parts = ["sbr", "report", target]
    for name, value in options.items():
        if value is not None:
            parts += [f"--{name.replace('_', '-')}", shlex.quote(str(value))]
    return " ".join(parts)


def _fig1(
    ann_file: Path, out: Path, command: str, config: str | None, allowed_border: float,
    device: str,
) -> list[Path]:  # fmt: skip
    """Fig. 1 from the annotations, with a one-line summary of its cost."""
    from sbr.reports.build import build_fig1

    paths, result = build_fig1(
        ann_file, out=out, command=command, config=config, allowed_border=allowed_border,
        device=device,
    )  # fmt: skip
    click.echo(
        f"fig1: {result.n_boxes} boxes, {result.n_shapes} shapes, "
        f"{result.seconds:.1f} s ({result.boxes_per_second:.0f} boxes/s)"
    )
    return paths


@click.command("report")
@click.argument("target", type=click.Choice(_TARGETS))
@click.option(
    "--tracking-uri",
    default=None,
    help="MLflow store (default: $MLFLOW_TRACKING_URI or ./mlflow.db).",
)
@click.option(
    "--out",
    "out",
    type=click.Path(path_type=Path),
    default=Path("reports"),
    show_default=True,
    help="Output folder.",
)
@click.option(
    "--data",
    "ann_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="fig1: COCO annotation JSON (e.g. instances_train2017.json).",
)
@click.option(
    "--config",
    default=None,
    help="fig1: config whose RPN anchor generator is used (default: sbr's Mask R-CNN).",
)
@click.option(
    "--allowed-border",
    type=float,
    default=-1.0,
    show_default=True,
    help="fig1: keep anchors within this many pixels of the image; negative keeps all.",
)
@click.option(
    "--device", default="cpu", show_default=True, help="fig1: torch device for the IoU computation."
)
@click.option(
    "--ci",
    is_flag=True,
    default=False,
    help="Print each value's 95% bootstrap interval in the LaTeX cells (the CSV and the "
    "HTML index always have them).",
)
def report(
    target: str,
    tracking_uri: str | None,
    out: Path,
    ann_file: Path | None,
    config: str | None,
    allowed_border: float,
    device: str,
    ci: bool,
) -> None:
    """Write TARGET (all, table2..table11, claims, fig1, fig3, index) under --out.

    Tables compare the reproduced values with the paper's; rows without a finished
    run print dashes with a footnote. A dagger marks a difference to the reference row
    that is significant after Holm's correction over the table (a difference between two
    trainings only with min_seeds seeds per side). `claims` judges the paper's claims
    (reports/claims/claims.csv and .tex). `all` writes every table, Fig. 3 and the
    claims, plus Fig. 1 when --data is given; every command rewrites reports/index.md
    and index.html.
    """
    from sbr.reports.build import build_report, write_index

    command = _command_line(
        target,
        {
            "tracking_uri": tracking_uri,
            "out": out if out != Path("reports") else None,
            "data": ann_file,
            "config": config,
            "allowed_border": allowed_border if allowed_border != -1.0 else None,
            "device": device if device != "cpu" else None,
        },
    ) + (" --ci" if ci else "")
    if target == "fig1" and ann_file is None:
        raise click.UsageError("fig1 needs --data ANNOTATIONS.json")
    paths: list[Path] = []
    if target == "fig1" or (target == "all" and ann_file is not None):
        paths += _fig1(ann_file, out, command, config, allowed_border, device)
    if target not in ("fig1", "index"):
        paths += build_report([target], out=out, command=command, tracking_uri=tracking_uri, ci=ci)
    else:
        paths += write_index(out)
    for path in paths:
        click.echo(str(path))


__all__ = ["report"]
