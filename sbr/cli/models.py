"""``sbr models``: inspect the shipped model configs (owned by the model-library work)."""

from __future__ import annotations

import json

import click

_MATCH_MARK = {True: "✓", False: "✗", None: "n/a"}


@click.group()
def models() -> None:
    """Inspect sbr's model configs."""


@models.command("params")
@click.argument("configs", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
def params(configs: tuple[str, ...], as_json: bool) -> None:
    """Trainable parameters of model configs next to the paper's #Params.

    CONFIGS are config paths, absolute or relative to sbr/configs; default: every
    shipped model config. Each model is built on the CPU without pretrained
    weights. "match" compares the count, truncated like the paper prints it
    (44,170 K; 37.9 M), with the paper's value (n/a: the paper gives none).
    """
    from sbr.models.params import params_report

    try:
        report = params_report(configs or None)
    except FileNotFoundError as exc:
        raise click.BadParameter(str(exc), param_hint="CONFIGS") from exc
    if as_json:
        click.echo(json.dumps(report, indent=2, ensure_ascii=False))
        return
    click.echo(_format_table(report))


def _format_table(report: list[dict]) -> str:
    """Render the report as an aligned text table."""
    header = ("config", "trainable", "paper", "match", "paper rows")
    rows = [
        (
            item["config"],
            f"{item['trainable']:,}",
            item["paper"] or "-",
            _MATCH_MARK[item["match"]],
            ", ".join(item["rows"]),
        )
        for item in report
    ]
    widths = [max(len(str(row[i])) for row in (header, *rows)) for i in range(len(header))]
    lines = []
    for row in (header, *rows):
        cells = [
            str(cell).rjust(width) if i == 1 else str(cell).ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)
