"""``sbr validate`` and ``sbr run-ablation``: ablation specs on the command line.

Heavy libraries (mmengine, mmdet, torch) are only imported inside the commands,
through :mod:`sbr.specs.validate`.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import click

from sbr.specs.errors import SpecError

#: Exit status when a spec, preset or override is wrong (one line on stderr).
EXIT_SPEC_ERROR = 1
#: Exit status of ``run-ablation`` without ``--dry-run`` until the execution layer exists.
EXIT_NOT_AVAILABLE = 2


def _table_files(table: str, specs_dir: Path | None) -> list[Path]:
    from sbr.specs.schema import ABLATIONS_DIR, resolve_spec_file

    if table != "all":
        return [resolve_spec_file(table, specs_dir)]
    folder = specs_dir or ABLATIONS_DIR
    files = [p for p in folder.glob("table*.yaml")]
    return sorted(files, key=lambda p: int(re.sub(r"\D", "", p.stem) or 0))


def _load(files: list[Path], preset_name: str | None, data: Path | None, seeds: int | None):
    from sbr.specs.expand import expand
    from sbr.specs.presets import load_preset
    from sbr.specs.schema import load_spec

    specs = [load_spec(f) for f in files]
    preset = load_preset(preset_name or specs[0].defaults.preset)
    expansion = expand(
        specs,
        preset,
        data_root=str(data) if data else None,
        seeds=range(seeds) if seeds else None,
    )
    return specs, preset, expansion


def _fail(exc: SpecError) -> None:
    click.echo(f"error: {exc.one_line()}", err=True)
    sys.exit(EXIT_SPEC_ERROR)


_PRESET = click.option(
    "--preset",
    metavar="smoke|paper|NAME|PATH",
    help="Preset (ablations/presets/NAME.yaml or a file); default: the specs' defaults.",
)
_DATA = click.option(
    "--data",
    type=click.Path(file_okay=False, path_type=Path),
    help="Dataset root replacing the preset's.",
)
_SEEDS = click.option(
    "--seeds", type=click.IntRange(min=1), help="Repeat every row with seeds 0..N-1."
)
_SPECS_DIR = click.option(
    "--specs-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder holding table*.yaml (default: the repository's ablations/).",
)


@click.command()
@click.argument("specs", nargs=-1, required=True)
@_PRESET
@_DATA
@_SEEDS
@click.option("--no-build", is_flag=True, help="Compose the configs but do not build the models.")
def validate(
    specs: tuple[str, ...], preset: str | None, data: Path | None, seeds: int | None, no_build: bool
) -> None:
    """Check SPECS (files or names such as table2) without launching anything.

    Every row is parsed against the schema, every override path is checked against the
    composed MMEngine config, and every trial's config (and model, on the CPU) is built.
    """
    from sbr.specs.validate import validate_expansion

    try:
        files = [f for spec in specs for f in _table_files(spec, None)]
        _, _, expansion = _load(files, preset, data, seeds)
        report = validate_expansion(expansion, build_models=not no_build)
    except SpecError as exc:
        _fail(exc)
        return
    built = "composed" if no_build else "composed and built"
    click.echo(
        f"ok: {len(expansion.rows)} rows, {report.trials} trainings and "
        f"{report.evaluations} evaluations {built}"
    )


def _calibrate(preset, expansion) -> float | None:
    from sbr.specs.validate import calibrate_seconds_per_iter

    if preset.cost.unit != "cpu_minutes" or not preset.cost.calibration_config:
        return None
    root = expansion.trials[0].data_root if expansion.trials else None
    try:
        return calibrate_seconds_per_iter(
            preset.cost.calibration_config, data_root=root, iters=preset.cost.calibration_iters
        )
    except (OSError, RuntimeError, ValueError, KeyError) as exc:
        click.echo(f"warning: calibration failed: {exc}", err=True)
        return None


@click.command("run-ablation")
@click.argument("table")
@_PRESET
@_DATA
@_SEEDS
@click.option("--dry-run", is_flag=True, help="Print the plan; train nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@click.option("--no-params", is_flag=True, help="Skip model builds (no parameter counts).")
@click.option("--no-calibrate", is_flag=True, help="Do not time smoke iterations for the estimate.")
@_SPECS_DIR
def run_ablation(
    table: str,
    preset: str | None,
    data: Path | None,
    seeds: int | None,
    dry_run: bool,
    as_json: bool,
    no_params: bool,
    no_calibrate: bool,
    specs_dir: Path | None,
) -> None:
    """Plan (and, later, run) the ablation TABLE (table2 ... table11, a spec file, or all).

    \b
    Examples:
      sbr run-ablation table4 --dry-run
      sbr run-ablation all --dry-run --json --no-params
      sbr run-ablation table2 --preset smoke --data data/synth --dry-run
    """
    from sbr.specs.plan import build_plan, render_text
    from sbr.specs.validate import validate_expansion

    try:
        specs, preset_obj, expansion = _load(_table_files(table, specs_dir), preset, data, seeds)
        report = validate_expansion(expansion, build_models=not no_params)
    except SpecError as exc:
        _fail(exc)
        return
    if not dry_run:
        click.echo(
            "error: the plan is valid, but execution arrives with the Ray/MLflow layer"
            " (not built yet); "
            "use --dry-run to see the plan",
            err=True,
        )
        sys.exit(EXIT_NOT_AVAILABLE)
    seconds = None if no_calibrate else _calibrate(preset_obj, expansion)
    # One table's trainings may also serve rows of the other tables: say so in its plan.
    sharing = None
    if table != "all":
        try:
            sharing = _load(_table_files("all", specs_dir), preset, data, seeds)[2]
        except SpecError:  # another table is broken: that is its own run's problem
            sharing = None
    plan = build_plan(
        expansion,
        preset_obj,
        params=(lambda t: report.params.get(t.trial_id)),
        seconds_per_iter=seconds,
        resources=dict(preset_obj.resources or specs[0].defaults.resources),
        sharing=sharing,
    )
    click.echo(
        json.dumps(plan.to_json(), indent=2, ensure_ascii=False) if as_json else render_text(plan)
    )


__all__ = ["run_ablation", "validate"]
