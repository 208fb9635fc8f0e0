"""Compose, train and read back paper rows under the ``mini`` preset (learning tests)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

MINI = "mini"


def compose_row(table: str, row: str, data_root: Path, **options: Any) -> Any:
    """The MMEngine config the ``mini`` preset gives ``table``/``row``, plus ``options``."""
    from sbr.specs.compose import compose_trial_config
    from sbr.specs.expand import expand
    from sbr.specs.presets import load_preset
    from sbr.specs.schema import load_spec, resolve_spec_file

    expansion = expand(
        [load_spec(resolve_spec_file(table))], load_preset(MINI), data_root=str(data_root)
    )
    planned = next(p for p in expansion.rows if p.row.id == row)
    cfg = compose_trial_config(expansion.trial(planned.trial_id))
    if options:
        cfg.merge_from_dict(options)
    return cfg


def short_schedule(iters: int, warmup: int) -> dict[str, Any]:
    """Options for an ``iters``-iteration run with one evaluation at the end."""
    return {
        "train_cfg": {
            "_delete_": True,
            "type": "IterBasedTrainLoop",
            "max_iters": iters,
            "val_interval": iters,
        },
        "param_scheduler": [
            {"type": "LinearLR", "start_factor": 0.1, "by_epoch": False, "begin": 0, "end": warmup}
        ],
        "default_hooks.logger.interval": 1,
        "log_processor.window_size": 1,
        "default_hooks.checkpoint.interval": iters,
    }


def dump(cfg: Any, folder: Path, name: str = "config.py") -> Path:
    """Write ``cfg`` where the Runner can load it."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    cfg.dump(str(path))
    return path


def logged_losses(work_dir: Path) -> list[float]:
    """Total training loss per logged iteration (MMEngine's ``vis_data/scalars.json``)."""
    files = sorted(Path(work_dir).glob("*/vis_data/scalars.json"))
    if not files:
        raise FileNotFoundError(f"no vis_data/scalars.json under {work_dir}")
    losses = []
    for line in files[-1].read_text().splitlines():
        record = json.loads(line)
        if "loss" in record:
            losses.append(float(record["loss"]))
    return losses


def logged_loss_keys(work_dir: Path) -> set[str]:
    """Every loss name MMEngine logged during the training (``vis_data/scalars.json``)."""
    files = sorted(Path(work_dir).glob("*/vis_data/scalars.json"))
    if not files:
        raise FileNotFoundError(f"no vis_data/scalars.json under {work_dir}")
    records = [json.loads(line) for line in files[-1].read_text().splitlines()]
    return {key for record in records for key in record if "loss" in key}


def iou_share_above(histogram: dict[str, Any], threshold: float = 0.5) -> dict[int, float]:
    """Share of training RoIs with IoU >= ``threshold`` per loop (assignment pass 0)."""
    from sbr.reports.fig3 import loop_series, share_above

    shares = share_above(loop_series(histogram, pass_index=0), histogram["bins"], threshold)
    return {int(label.split()[-1]): share for label, share in shares.items()}


def final_histogram(work_dir: Path) -> dict[str, Any]:
    """The last IoU-histogram JSON the training wrote."""
    files = sorted(Path(work_dir, "iou_histograms").glob("*.json"), key=lambda p: p.stat().st_mtime)
    if not files:
        raise FileNotFoundError(f"no IoU histogram under {work_dir}/iou_histograms")
    return json.loads(files[-1].read_text())
