"""Check every trial against the real MMEngine configs before anything is launched.

For each trial (and each of its evaluations) this module takes the config that
:mod:`sbr.specs.compose` builds (which checks every override path as it applies it)
and checks what came out: the loop schedule (L_t, L_e, H, alternation), the paper's
structural and flag columns; optionally each trial's model is built on the CPU to count
its trainable parameters (cached per model config).

mmengine/mmdet/torch are imported inside the functions: importing this module is cheap.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sbr.specs.compose import ConfigCache, compose_eval_config, compose_trial_config, quoted
from sbr.specs.expand import EvalSpec, Expansion, PlannedRow, content_hash
from sbr.specs.schema import Override
from sbr.yamlspec.errors import SpecError

_LETTERS = "abcdefghijklmnopqrstuvwxyz"


# --------------------------------------------------------------------------- loops (pure)


@dataclass(frozen=True)
class LoopSummary:
    """Loop structure of a RoI head config: L_t, L_e, H and the alternation string."""

    L_t: int
    L_e: int
    H: int
    stages: Any = None
    per_loop: tuple[tuple[str, int], ...] = ()

    @property
    def alternation(self) -> str | None:
        """``stages`` as letters; with no ``stages``: ``'aaa'`` for H=1, ``'abc'`` for a cascade."""
        loops = max(self.L_t, self.L_e)
        if self.stages is None:
            return "a" * loops if self.H == 1 else _LETTERS[: self.H]
        if isinstance(self.stages, str):
            return self.stages
        return "".join(_LETTERS[i] if 0 <= i < 26 else "?" for i in self.stages)


def loop_summary(roi_head: Any) -> LoopSummary | None:
    """Read L_t (``num_stages``), L_e (``num_stages_test``), H and ``stages`` of a RoI head."""
    if not isinstance(roi_head, Mapping):
        return None
    bbox_head = roi_head.get("bbox_head")
    heads = len(bbox_head) if isinstance(bbox_head, (list, tuple)) else 1
    train_loops = roi_head.get("num_stages") or 1
    eval_loops = roi_head.get("num_stages_test") or train_loops
    per_loop = tuple(
        (key, len(roi_head[key]))
        for key in ("stage_loss_weights", "loop_iou_thrs")
        if isinstance(roi_head.get(key), (list, tuple)) and "stages" in _r3_keys(roi_head)
    )
    return LoopSummary(train_loops, eval_loops, heads, roi_head.get("stages"), per_loop)


def _r3_keys(roi_head: Mapping) -> set[str]:
    """Keys that mark an R3 head (``stages``/``loop_iou_thrs`` exist only there)."""
    marker = {"stages", "loop_iou_thrs", "num_stages_test"} & set(roi_head)
    return {"stages"} if marker or roi_head.get("type") == "R3RoIHead" else set()


def loop_problem(summary: LoopSummary) -> str | None:
    """What is wrong with the loop schedule, or None (paper Sec. 3, reference Sec. 2.4)."""
    needed = max(summary.L_t, summary.L_e)
    for key, length in summary.per_loop:
        if length != summary.L_t:
            return (
                f"{key} has {length} entries but L_t (num_stages) is {summary.L_t};"
                " give one per loop"
            )
    if summary.stages is None:
        if summary.H == 1 or (summary.L_t <= summary.H and summary.L_e <= summary.H):
            return None
        return (
            f"{summary.H} head pairs and {needed} loops need an explicit alternation "
            "(model.roi_head.stages, e.g. 'aab')"
        )
    if isinstance(summary.stages, str):
        for position, letter in enumerate(summary.stages):
            if letter not in _LETTERS:
                return (
                    f"alternation {summary.stages!r}: {letter!r} at position {position} is not a-z"
                )
        indices = [_LETTERS.index(letter) for letter in summary.stages]
    else:
        indices = list(summary.stages)
    for position, index in enumerate(indices):
        if not isinstance(index, int) or not 0 <= index < summary.H:
            return (
                f"alternation {summary.stages!r}: loop {position} uses head "
                f"{_LETTERS[index] if isinstance(index, int) and 0 <= index < 26 else index!r}"
                f" but only H={summary.H} head pair(s) are configured"
            )
    if len(indices) < needed:
        return (
            f"alternation {summary.stages!r} covers {len(indices)} loops but must cover "
            f"max(L_t={summary.L_t}, L_e={summary.L_e}) = {needed}; the heads allow L_e <= "
            f"{len(indices)}"
        )
    return None


def _blame(overrides: Sequence[Override], paths: Sequence[str]) -> Override | None:
    for path in paths:
        for override in overrides:
            if override.path == f"model.roi_head.{path}":
                return override
    return None


def _check_loops(cfg: Any, row: PlannedRow, evaluation: EvalSpec | None, row_key: str) -> None:
    summary = loop_summary(cfg.get("model", {}).get("roi_head"))
    problem = loop_problem(summary) if summary else None
    if problem is None:
        return
    culprit = evaluation and _blame(evaluation.overrides, ("num_stages_test", "stages"))
    section = "eval_overrides"
    if not culprit:
        order = ("stages", "num_stages", "num_stages_test")
        if "entries but L_t" in problem:
            order = ("num_stages", "stage_loss_weights", "loop_iou_thrs")
        culprit = _blame(row.row.overrides, order)
        section = "overrides"
    if culprit:
        raise SpecError(culprit.loc, f"{row_key}.{section}{quoted(culprit.path)}", problem)
    raise SpecError(row.row.loc_of("config"), f"{row_key}.config", problem)


#: Flag columns of the FCC tables (paper Tables 6, 7): a blank cell means "not in the model".
FLAG_COLUMNS = ("M_IoU", "L2C", "NL_b", "NL_a")
_TICK = "✓"
#: L2C as the paper prints it, per ``fcc_type`` of an FCC head.
_L2C_PRINTED = {"square": "7×7", "rect": "7×3→3×7"}
_FCC_HEADS = ("SBRFCCBBoxHead", "SBRFCCMaskIoUHead")


def fcc_flags(head: Any) -> dict[str, str | None]:
    """``L2C``, ``NL_b``, ``NL_a`` of one head config as the paper prints them (None: blank)."""
    if not isinstance(head, Mapping) or head.get("type") not in _FCC_HEADS:
        return {"L2C": None, "NL_b": None, "NL_a": None}
    fcc_type = head.get("fcc_type", "square")
    return {
        "L2C": _L2C_PRINTED.get(fcc_type, fcc_type),
        "NL_b": _TICK if head.get("nl_before") else None,
        "NL_a": _TICK if head.get("nl_after") else None,
    }


def flag_values(roi_head: Any, columns: Sequence[str]) -> list[tuple[str, dict[str, Any]]]:
    """(config path, flag columns) of each head the flags of a table describe.

    With an ``M_IoU`` column (Table 7) the flags describe the Mask IoU branch, otherwise
    (Table 6) the detection head, each of the H bbox heads.
    """
    roi_head = roi_head if isinstance(roi_head, Mapping) else {}
    mask_iou = roi_head.get("mask_iou_head")
    if "M_IoU" in columns:
        flags = {"M_IoU": _TICK if mask_iou else None, **fcc_flags(mask_iou)}
        return [("model.roi_head.mask_iou_head", flags)]
    heads = roi_head.get("bbox_head")
    if isinstance(heads, (list, tuple)):
        return [(f"model.roi_head.bbox_head[{i}]", fcc_flags(h)) for i, h in enumerate(heads)]
    return [("model.roi_head.bbox_head", fcc_flags(heads))]


def _check_flag_columns(cfg: Any, row: PlannedRow, row_key: str) -> None:
    """The flag cells of the row (a blank cell too) must match the composed config."""
    columns = row.columns or tuple(column for column, _ in row.row.paper)
    flags = [c for c in FLAG_COLUMNS if c in columns]
    if not flags:
        return
    printed = row.row.paper_values
    for where, actual in flag_values(cfg.get("model", {}).get("roi_head"), columns):
        for column in flags:
            if column in printed and printed[column] is None:  # lost in the paper
                continue
            expected = printed.get(column)
            if expected != actual[column]:
                paper = f"prints {expected!r}" if expected else f"leaves {column} blank"
                has = "no such part" if actual[column] is None else repr(actual[column])
                raise SpecError(
                    row.row.loc_of("paper"),
                    f"{row_key}.paper.{column}",
                    f"the paper {paper} but the composed config has {has} ({where})",
                )


def _check_paper_columns(cfg: Any, row: PlannedRow, row_key: str) -> None:
    _check_flag_columns(cfg, row, row_key)
    summary = loop_summary(cfg.get("model", {}).get("roi_head"))
    if summary is None:
        return
    actual = {"L_t": summary.L_t, "L_e": summary.L_e, "H": summary.H, "Alt": summary.alternation}
    for column, printed in row.row.paper:
        if column in actual and printed is not None and printed != actual[column]:
            raise SpecError(
                row.row.loc_of("paper"),
                f"{row_key}.paper.{column}",
                f"the paper prints {printed!r} but the composed config has {actual[column]!r}",
            )


# --------------------------------------------------------------------------- params


def default_cache_dir() -> Path:
    """``$SBR_CACHE_DIR`` or ``~/.cache/sbr``."""
    return Path(os.environ.get("SBR_CACHE_DIR") or Path.home() / ".cache" / "sbr")


class ParamCache:
    """Trainable-parameter counts keyed by a hash of the model config, kept on disk."""

    def __init__(self, directory: str | Path | None = None) -> None:
        self.file = Path(directory or default_cache_dir()) / "param-counts.json"
        try:
            self._counts: dict[str, int] = json.loads(self.file.read_text())
        except (OSError, ValueError):
            self._counts = {}

    def count(self, model_cfg: Any) -> int:
        """Trainable parameters of ``model_cfg`` (built on the CPU on a cache miss)."""
        key = content_hash(json.loads(json.dumps(model_cfg.to_dict(), default=str)), chars=20)
        if key not in self._counts:
            self._counts[key] = build_and_count(model_cfg)
            self._save()
        return self._counts[key]

    def _save(self) -> None:
        try:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            self.file.write_text(json.dumps(self._counts, indent=0, sort_keys=True))
        except OSError:  # a read-only home must not break validation
            pass


def build_and_count(model_cfg: Any) -> int:
    """Build ``model_cfg`` on the CPU (no pretrained weights) and count trainable parameters."""
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules

    import sbr.models  # noqa: F401  (registers sbr's components)
    from sbr.models.params import count_trainable, strip_pretrained

    register_all_modules(init_default_scope=True)
    model = MODELS.build(strip_pretrained(copy.deepcopy(model_cfg)))
    return count_trainable(model)


# --------------------------------------------------------------------------- validation


@dataclass(frozen=True)
class ValidationReport:
    """What :func:`validate_expansion` checked."""

    trials: int
    evaluations: int
    params: Mapping[str, int] = field(default_factory=dict)


def _row_key(row: PlannedRow) -> str:
    return f"rows[{row.row_id}]"


def _count_params(cache: ParamCache, cfg: Any, row: PlannedRow) -> int:
    """Build the trial's model; a model that does not build is an error of its row."""
    try:
        return cache.count(cfg.model)
    except Exception as exc:  # noqa: BLE001 - whatever the build raises, the row is wrong
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        raise SpecError(
            row.row.loc_of("config"),
            f"{_row_key(row)}.config",
            f"the model does not build: {type(exc).__name__}: {first}",
        ) from exc


def validate_expansion(
    expansion: Expansion,
    *,
    build_models: bool = True,
    param_cache: ParamCache | None = None,
    progress: Callable[[str], None] | None = None,
) -> ValidationReport:
    """Compose (and optionally build) every trial and evaluation of an expansion.

    Args:
        expansion: From :func:`sbr.specs.expand.expand`.
        build_models: Build each trial's model on the CPU and count its trainable parameters.
        param_cache: Where counts are cached (default :class:`ParamCache` in ``default_cache_dir``).
        progress: Called with one short line per trial.

    Raises:
        SpecError: At the first problem (nothing has been launched or recorded).
    """
    cache = ConfigCache()
    params: dict[str, int] = {}
    if build_models and param_cache is None:
        param_cache = ParamCache()
    for trial in expansion.trials:
        rows = [r for r in expansion.rows if r.trial_id == trial.trial_id]
        cfg = compose_trial_config(trial, cache=cache, row_key=_row_key(rows[0]))
        _check_loops(cfg, rows[0], None, _row_key(rows[0]))
        evaluated: dict[str, Any] = {}
        for row in rows:
            evaluation = next(e for e in expansion.evaluations if e.eval_id == row.eval_id)
            if evaluation.eval_id not in evaluated:
                eval_cfg = compose_eval_config(cfg, evaluation, row_key=_row_key(row))
                _check_loops(eval_cfg, row, evaluation, _row_key(row))
                evaluated[evaluation.eval_id] = eval_cfg
            _check_paper_columns(evaluated[evaluation.eval_id], row, _row_key(row))
        if build_models and param_cache is not None:
            params[trial.trial_id] = _count_params(param_cache, cfg, rows[0])
        if progress:
            progress(f"ok {trial.trial_id} {trial.config}")
    return ValidationReport(len(expansion.trials), len(expansion.evaluations), params)


# --------------------------------------------------------------------------- calibration


def calibrate_seconds_per_iter(
    config: str, *, data_root: str | Path | None, iters: int = 3
) -> float | None:
    """Seconds per training iteration of ``config``, timed on this machine.

    Runs ``iters + 1`` real iterations (the first, with its warm-up, is not counted) with
    no evaluation and no checkpoint, in a temporary work dir.

    Returns:
        The mean seconds per iteration, or None when ``data_root`` has no training
        annotations (nothing to train on).
    """
    root = Path(data_root) if data_root else None
    if root is None or not any(root.glob("annotations/instances_train*.json")):
        return None
    from mmengine.hooks import Hook

    from sbr.engine.train import build_runner

    stamps: list[float] = []

    class _Timer(Hook):
        def after_train_iter(
            self, runner: Any, batch_idx: int, data_batch: Any = None, outputs: Any = None
        ) -> None:
            stamps.append(time.perf_counter())

    options = {
        "train_cfg.max_iters": iters + 1,
        "train_cfg.val_interval": 10**9,
        "val_cfg": None,
        "val_dataloader": None,
        "val_evaluator": None,
        "test_cfg": None,
        "test_dataloader": None,
        "test_evaluator": None,
        "default_hooks.checkpoint": None,
        "default_hooks.logger.interval": 10**9,
    }
    # Training logs go to stderr: stdout carries the plan (possibly JSON).
    with (
        tempfile.TemporaryDirectory(prefix="sbr-calibrate-") as work_dir,
        contextlib.redirect_stdout(sys.stderr),
    ):
        runner = build_runner(config, work_dir=work_dir, data_root=root, options=options)
        runner.register_hook(_Timer())
        runner.train()
    if len(stamps) < 2:
        return None
    return (stamps[-1] - stamps[0]) / (len(stamps) - 1)


__all__ = [
    "LoopSummary",
    "ParamCache",
    "ValidationReport",
    "build_and_count",
    "calibrate_seconds_per_iter",
    "fcc_flags",
    "flag_values",
    "loop_problem",
    "loop_summary",
    "validate_expansion",
]
