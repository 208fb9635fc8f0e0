"""Per-loop training configs of the R³ RoI head (config manipulation only)."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence

from mmengine.config import ConfigDict

_IOU_KEYS = ("pos_iou_thr", "neg_iou_thr", "min_pos_iou")


def expand_loop_train_cfg(
    train_cfg: Mapping | Sequence[Mapping] | None,
    num_stages: int,
    loop_iou_thrs: Sequence[float] | None = None,
) -> list[ConfigDict] | None:
    """Return one rcnn training config per loop.

    Args:
        train_cfg: The detector's ``train_cfg.rcnn``: a list with at least
            ``num_stages`` entries (mmdet style, entry ``t`` = loop ``t``), or a
            single dict used as a template for every loop (needs
            ``loop_iou_thrs``). None at test time.
        num_stages: ``L_t``.
        loop_iou_thrs: Optional IoU threshold ``u^t`` per loop; when given, it
            overrides ``pos_iou_thr``, ``neg_iou_thr`` and ``min_pos_iou`` of each
            loop's assigner.

    Returns:
        A list of ``len(train_cfg)`` (list input) or ``num_stages`` (dict input)
        ConfigDicts, or None when ``train_cfg`` is None.

    Raises:
        ValueError: On a length mismatch, or a single dict without ``loop_iou_thrs``.
    """
    if loop_iou_thrs is not None and len(loop_iou_thrs) != num_stages:
        raise ValueError(
            f"loop_iou_thrs has {len(loop_iou_thrs)} entries but num_stages is {num_stages}"
        )
    if train_cfg is None:
        return None
    if isinstance(train_cfg, Mapping):
        if loop_iou_thrs is None:
            raise ValueError(
                "train_cfg (the detector's train_cfg.rcnn) is a single dict: give "
                "loop_iou_thrs to expand it per loop, or make it a list of num_stages dicts"
            )
        loop_cfgs = [ConfigDict(copy.deepcopy(dict(train_cfg))) for _ in range(num_stages)]
    else:
        if len(train_cfg) < num_stages:
            raise ValueError(
                f"train_cfg (the detector's train_cfg.rcnn) has {len(train_cfg)} entries "
                f"but num_stages is {num_stages}; give one entry per training loop"
            )
        loop_cfgs = [ConfigDict(copy.deepcopy(dict(cfg))) for cfg in train_cfg]
    if loop_iou_thrs is not None:
        _set_iou_thrs(loop_cfgs, loop_iou_thrs)
    return loop_cfgs


def _set_iou_thrs(loop_cfgs: Sequence[ConfigDict], loop_iou_thrs: Sequence[float]) -> None:
    """Set each loop's assigner IoU thresholds (:data:`_IOU_KEYS`) to its ``u^t``."""
    for cfg, thr in zip(loop_cfgs, loop_iou_thrs, strict=False):
        if "assigner" not in cfg:
            raise ValueError("train_cfg: loop_iou_thrs needs an 'assigner' entry to update")
        for key in _IOU_KEYS:
            cfg.assigner[key] = float(thr)
