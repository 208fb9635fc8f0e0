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

from sbr.yamlspec.errors import SpecError

#: Exit status when a spec, preset, claim or override is wrong (one line on stderr; the
#: same status as other bad input found before anything starts).
EXIT_SPEC_ERROR = 2
#: Exit status when the input is unusable before any trial starts (data, tracking, Ray).
EXIT_PREFLIGHT = 2
#: Exit status when at least one trial failed for good (the others finished).
EXIT_TRIALS_FAILED = 3


def _table_files(table: str, specs_dir: Path | None) -> list[Path]:
    from sbr.specs.schema import resolve_spec_file, specs_dirs

    if table != "all":
        return [resolve_spec_file(table, specs_dir)]
    found: dict[str, Path] = {}  # a user's table*.yaml replaces sbr's of the same name
    for folder in reversed(specs_dirs(specs_dir)):
        found.update({p.name: p for p in folder.glob("table*.yaml")})
    files = list(found.values())
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


def _fail_data(exc: ValueError) -> None:
    """A dataset that cannot be used (layout, classes): one line, exit 2, nothing launched."""
    click.echo(f"error: {exc}", err=True)
    sys.exit(EXIT_PREFLIGHT)


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
    help="Folder of your own specs, searched before sbr's (default: $SBR_SPECS).",
)


@click.command()
@click.argument("specs", nargs=-1, required=True)
@_PRESET
@_DATA
@_SEEDS
@click.option("--no-build", is_flag=True, help="Compose the configs but do not build the models.")
@_SPECS_DIR
def validate(
    specs: tuple[str, ...],
    preset: str | None,
    data: Path | None,
    seeds: int | None,
    no_build: bool,
    specs_dir: Path | None,
) -> None:
    """Check SPECS (files or names such as table2) without launching anything.

    Every row is parsed against the schema, every override path is checked against the
    composed MMEngine config, and every trial's config (and model, on the CPU) is built.
    """
    from sbr.data.layout import DataError
    from sbr.specs.validate import validate_expansion

    try:
        files = [f for spec in specs for f in _table_files(spec, specs_dir)]
        _, _, expansion = _load(files, preset, data, seeds)
        report = validate_expansion(expansion, build_models=not no_build)
    except SpecError as exc:
        _fail(exc)
        return
    except DataError as exc:
        _fail_data(exc)
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


def _tracking_status(tracking_uri: str | None):
    """MLflow status lookup for the plan, or the stub when no store exists yet."""
    from sbr.specs.plan import no_tracking_store

    try:
        from sbr.tracking.mlflow import Tracker, resolve_tracking_uri
    except ImportError:  # mlflow not installed
        return no_tracking_store
    uri = resolve_tracking_uri(tracking_uri)
    if uri.startswith("sqlite:///") and not Path(uri[len("sqlite:///") :]).is_file():
        return no_tracking_store  # never create a store for a dry run
    try:
        statuses = Tracker(uri).statuses()
    except Exception as exc:  # noqa: BLE001 - the plan is still useful without status
        click.echo(f"warning: no status from {uri}: {str(exc).splitlines()[0]}", err=True)
        return no_tracking_store
    return lambda trial: statuses.get(trial.trial_id, "not started")


def _print_plan(table, preset, data, seeds, specs_dir, ctx) -> None:
    specs, preset_obj, expansion, report, as_json, no_calibrate, tracking_uri = ctx
    from sbr.specs.plan import build_plan, render_text

    seconds = None if no_calibrate else _calibrate(preset_obj, expansion)
    plan = build_plan(
        expansion,
        preset_obj,
        params=(lambda t: report.params.get(t.trial_id)),
        coco_params=_coco_counter() if report.params else None,
        status=_tracking_status(tracking_uri),
        seconds_per_iter=seconds,
        resources=_resources(specs, preset_obj),
        sharing=_sharing(table, specs_dir, preset, data, seeds, expansion),
    )
    click.echo(
        json.dumps(plan.to_json(), indent=2, ensure_ascii=False) if as_json else render_text(plan)
    )


#: Classes of COCO, which the paper's parameter counts are for.
COCO_CLASSES = 80


def _with_num_classes(node, count: int):
    """A copy of a config tree with every ``num_classes`` set to ``count``."""
    if isinstance(node, dict):
        return {
            k: count if k == "num_classes" else _with_num_classes(v, count) for k, v in node.items()
        }
    if isinstance(node, list):
        return [_with_num_classes(v, count) for v in node]
    return node


def _coco_counter():
    """Trainable parameters of a trial's model with COCO's 80 classes (None: it has 80)."""
    from mmengine.config import ConfigDict

    from sbr.specs.compose import ConfigCache, compose_trial_config
    from sbr.specs.validate import ParamCache

    cache, counts = ConfigCache(), ParamCache()

    def count(trial) -> int | None:
        if trial.classes is None or len(trial.classes) == COCO_CLASSES:
            return None
        model = compose_trial_config(trial, cache=cache).model.to_dict()
        return counts.count(ConfigDict(_with_num_classes(model, COCO_CLASSES)))

    return count


def _resources(specs, preset_obj) -> dict:
    return dict(preset_obj.resources or specs[0].defaults.resources)


def _sharing(table, specs_dir, preset, data, seeds, expansion):
    """Every shipped table's expansion: one table's trainings may serve the others' rows.

    None when it does not cover ``expansion`` (a spec file outside the shipped tables).
    """
    if table == "all":
        return None
    try:
        wider = _load(_table_files("all", specs_dir), preset, data, seeds)[2]
    except (SpecError, ValueError):  # another table (or its data) is broken: its own problem
        return None
    known = {t.trial_id for t in wider.trials}
    return wider if all(t.trial_id in known for t in expansion.trials) else None


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
@click.option("--address", metavar="HOST:PORT", help="Join this Ray cluster (default: local Ray).")
@click.option(
    "--tracking-uri",
    metavar="URI",
    help="MLflow store (default: $MLFLOW_TRACKING_URI, else sqlite:///<cwd>/mlflow.db).",
)
@click.option(
    "--max-retries",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    help="Restarts of a failing trial (each resumes from its last checkpoint); a failure "
    "before the first iteration, or the same error twice, is not retried.",
)
@click.option(
    "--storage",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("work_dirs/ablations"),
    show_default=True,
    help="Work dirs and checkpoints, one folder per trial id (every node must reach it).",
)
@click.option("--num-cpus", type=click.IntRange(min=1), help="CPUs of the local Ray.")
@click.option("--local", "in_process", is_flag=True, help="Run trials in this process, no Ray.")
@click.option("--worker-logs", is_flag=True, help="Show the trials' MMEngine output live.")
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
    address: str | None,
    tracking_uri: str | None,
    max_retries: int,
    storage: Path,
    num_cpus: int | None,
    in_process: bool,
    worker_logs: bool,
) -> None:
    """Plan or run the ablation TABLE (table2 ... table11, a spec file, or all).

    Every not-yet-finished training runs as a Ray Tune trial and logs to MLflow;
    finished trials (by trial hash) are skipped, unfinished ones resume.

    \b
    Examples:
      sbr run-ablation table4 --dry-run
      sbr run-ablation all --dry-run --json --no-params
      sbr run-ablation table3 --preset smoke --data data/synth
      sbr run-ablation all --address head:6379 --tracking-uri http://mlflow:5000
    """
    loaded = _load_and_validate(table, preset, data, seeds, specs_dir, build_models=not no_params)
    if loaded is None:
        return
    specs, preset_obj, expansion, report = loaded
    if dry_run:
        ctx = (specs, preset_obj, expansion, report, as_json, no_calibrate, tracking_uri)
        _print_plan(table, preset, data, seeds, specs_dir, ctx)
        return
    sharing = _sharing(table, specs_dir, preset, data, seeds, expansion)
    tracking = dict(tracking_uri=tracking_uri, max_retries=max_retries, storage=storage)
    ray = dict(address=address, num_cpus=num_cpus, in_process=in_process, worker_logs=worker_logs)
    _execute(expansion, sharing=sharing, resources=_resources(specs, preset_obj), **tracking, **ray)


def _load_and_validate(table, preset, data, seeds, specs_dir, *, build_models: bool):
    """``(specs, preset, expansion, validation report)``, or None after reporting a spec or
    data error (the exit status is set by ``_fail`` / ``_fail_data``)."""
    from sbr.data.layout import DataError
    from sbr.specs.validate import validate_expansion

    try:
        specs, preset_obj, expansion = _load(_table_files(table, specs_dir), preset, data, seeds)
        report = validate_expansion(expansion, build_models=build_models)
        return specs, preset_obj, expansion, report
    except SpecError as exc:
        _fail(exc)
    except DataError as exc:
        _fail_data(exc)
    return None


def _preflight(expansion, *, address: str | None, uri: str) -> None:
    """Data, Ray address and tracking store, in that order (the store is created last)."""
    from sbr.runners.execute import PreflightError, check_data
    from sbr.runners.ray_tune import RayUnavailable, check_address
    from sbr.tracking.mlflow import TrackingError, check_tracking

    try:
        check_data(expansion)
        if address is not None:
            check_address(address)
        check_tracking(uri)
    except (PreflightError, RayUnavailable, TrackingError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_PREFLIGHT)


def _ray_settings(resources, workers, address, num_cpus, max_retries, storage, worker_logs):
    """The Ray Tune launcher's settings for ``run-ablation`` (one trial: the spec's resources)."""
    from sbr.runners.ray_tune import RaySettings

    return RaySettings(
        address=address,
        num_cpus=num_cpus,
        cpus_per_trial=float(resources.get("cpus", 1)),
        gpus_per_trial=float(resources.get("gpus", 0)),
        workers_per_trial=workers,
        max_retries=max_retries,
        storage=str(storage / "_ray"),
        worker_logs=worker_logs,
    )


def _execute(
    expansion,
    *,
    sharing,
    resources,
    address,
    tracking_uri,
    max_retries,
    storage,
    num_cpus,
    in_process,
    worker_logs,
) -> None:
    from sbr.runners.execute import RunSettings, run_expansion, summary_lines
    from sbr.runners.local import LocalLauncher, progress_line
    from sbr.runners.ray_tune import RayTuneLauncher, RayUnavailable
    from sbr.specs.schema import trial_workers
    from sbr.tracking.mlflow import resolve_tracking_uri

    uri = resolve_tracking_uri(tracking_uri)
    _preflight(expansion, address=address, uri=uri)
    cpus = float(resources.get("cpus", 1))
    workers = trial_workers(resources)
    if in_process and workers > 1:
        click.echo(f"note: --local trains each trial in one process, not {workers} workers")
        workers = 1
    settings = RunSettings(
        storage=storage, tracking_uri=uri, cpus_per_trial=cpus, workers_per_trial=workers
    )
    if in_process:
        launcher = LocalLauncher(
            max_retries=max_retries,
            progress=lambda trial, metrics: click.echo(progress_line(trial, metrics)),
        )
    else:
        launcher = RayTuneLauncher(
            _ray_settings(resources, workers, address, num_cpus, max_retries, storage, worker_logs)
        )
    try:
        result = run_expansion(expansion, settings=settings, launcher=launcher, sharing=sharing)
    except RayUnavailable as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_PREFLIGHT)
    for line in summary_lines(result):
        click.echo(line)
    click.echo(f"mlflow: {uri} (parent run {result.parent_run_id})")
    if result.failed:
        sys.exit(EXIT_TRIALS_FAILED)


__all__ = ["run_ablation", "validate"]
