"""``sbr train``: a thin wrapper over MMEngine's Runner."""

from __future__ import annotations

from pathlib import Path

import click

from sbr.metrics import COCO_STATS, IOU_TYPES, coco_key


def format_coco_metrics(metrics: dict[str, float]) -> list[str]:
    """One line per IoU type with its six COCO statistics, for the terminal."""
    lines = []
    for iou_type in IOU_TYPES:
        if coco_key(iou_type) not in metrics:
            continue
        cells = "  ".join(
            f"{stat.replace('mAP', 'AP')}={metrics.get(coco_key(iou_type, stat), float('nan')):.3f}"
            for stat in COCO_STATS
        )
        lines.append(f"{iou_type:>5}: {cells}")
    return lines


def _check_option_paths(config: str, options: dict) -> None:
    """Refuse ``--cfg-options`` keys the config does not have (``+key`` adds one).

    MMEngine would silently add a misspelled key and train with the default.
    """
    from sbr.engine.config import load_config
    from sbr.specs.compose import check_override_path
    from sbr.specs.schema import Override
    from sbr.yamlspec.errors import SpecError

    cfg = load_config(config)
    for key in list(options):
        new = key.startswith("+")
        try:
            check_override_path(cfg, Override(key.lstrip("+"), options[key], new=new), key=key)
        except SpecError as exc:
            raise ValueError(f"--cfg-options {exc.one_line()}") from None
        if new:
            options[key.lstrip("+")] = options.pop(key)


@click.command()
@click.argument("config")
@click.option(
    "--work-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder (default: work_dirs/<config name>).",
)
@click.option(
    "--resume",
    is_flag=False,
    flag_value="auto",
    default=None,
    metavar="[CHECKPOINT]",
    help="Resume from the latest checkpoint in the work dir, or from CHECKPOINT.",
)
@click.option(
    "--data",
    "data_root",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="COCO-format dataset root replacing the config's (annotations/instances_<split>.json).",
)
@click.option(
    "--cfg-options",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a config key, e.g. train_cfg.max_iters=20 (repeatable; +key=value adds a key).",
)
def train(
    config: str,
    work_dir: Path | None,
    resume: str | None,
    data_root: Path | None,
    cfg_options: tuple[str, ...],
) -> None:
    """Train CONFIG (a path, or a config shipped in sbr/configs) and evaluate it.

    \b
    Example:
      sbr train smoke/mask-rcnn_r18_fpn_smoke --data data/synth
    """
    from sbr.engine.config import parse_cfg_options, resolve_config_path
    from sbr.engine.train import run_training

    try:
        resolve_config_path(config)
        options = parse_cfg_options(cfg_options)
        _check_option_paths(config, options)
    except (FileNotFoundError, ValueError) as exc:
        raise click.UsageError(str(exc)) from exc
    result = run_training(
        config, work_dir=work_dir, resume=resume or False, data_root=data_root, options=options
    )
    click.echo(
        f"trained {config} from iteration {result.start_iter} to {result.end_iter}"
        f" in {result.wall_time_s:.0f} s; work dir: {result.work_dir}"
    )
    for line in format_coco_metrics(result.metrics):
        click.echo(line)
