"""Dump the IoU histograms of :class:`SBRRecordingMaxIoUAssigner` (paper Fig. 3)."""

from __future__ import annotations

import json
import logging
import os.path as osp

import torch
from mmdet.registry import HOOKS
from mmengine.dist import all_gather_object, all_reduce, is_main_process
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.runner import EpochBasedTrainLoop
from mmengine.utils import mkdir_or_exist

from ..functional import iou_bin_edges
from ..task_modules.sbr_recording_max_iou_assigner import SBRRecordingMaxIoUAssigner

MESSAGE_HUB_KEY = "sbr/iou_histograms"


def find_recording_assigners(model) -> list[tuple[int, SBRRecordingMaxIoUAssigner]]:
    """Recording assigners of ``model.roi_head.bbox_assigner`` with their loop index.

    ``bbox_assigner`` is one assigner (StandardRoIHead: loop 0) or a list with one
    entry per loop (CascadeRoIHead-based heads). Model wrappers are unwrapped.

    Returns:
        list: ``(loop_index, assigner)`` for every :class:`SBRRecordingMaxIoUAssigner`.
    """
    if is_model_wrapper(model):
        model = model.module
    assigners = getattr(getattr(model, "roi_head", None), "bbox_assigner", None)
    if assigners is None:
        return []
    if not isinstance(assigners, (list, tuple)):
        assigners = [assigners]
    return [
        (loop, assigner)
        for loop, assigner in enumerate(assigners)
        if isinstance(assigner, SBRRecordingMaxIoUAssigner)
    ]


@HOOKS.register_module()
class SBRIoUHistogramHook(Hook):
    """Write the per-(loop, pass) IoU histograms of the RoI assigners to JSON.

    At the end of each training epoch (and, for iteration-based loops, every
    ``interval`` iterations and at the end of training) the counts of every
    :class:`SBRRecordingMaxIoUAssigner` in ``model.roi_head.bbox_assigner`` are
    summed over ranks and written (main process only) to
    ``{out_dir}/epoch_{n}.json`` or ``{out_dir}/iter_{n}.json`` as::

        {"bins": [0.0, 0.05, ..., 1.0],
         "loops": {"loop0/pass0": [c0, ..., c19], "loop0/pass1": [...], ...}}

    The same dict is stored in ``runner.message_hub`` under ``'sbr/iou_histograms'``
    and the counters are reset. A flush with no counts at all writes nothing, so the
    end-of-training flush only writes what earlier flushes did not.

    Args:
        interval: Also flush every ``interval`` training iterations. Defaults to None
            (epoch ends and end of training only).
        out_dir: Output folder. Defaults to ``{work_dir}/iou_histograms``.
    """

    priority = "LOW"

    def __init__(self, interval: int | None = None, out_dir: str | None = None) -> None:
        if interval is not None and (isinstance(interval, bool) or int(interval) < 1):
            raise ValueError(f"interval must be a positive int or None, got {interval!r}")
        self.interval = None if interval is None else int(interval)
        self.out_dir = out_dir

    def before_train(self, runner) -> None:
        """Warn when the model has no recording assigner (the hook would do nothing)."""
        if not find_recording_assigners(runner.model):
            print_log(
                "SBRIoUHistogramHook: model.roi_head.bbox_assigner has no "
                "SBRRecordingMaxIoUAssigner; no IoU histogram will be written",
                logger="current",
                level=logging.WARNING,
            )

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        """Flush every ``interval`` iterations when an interval is set."""
        if self.interval is not None and self.every_n_train_iters(runner, self.interval):
            self.flush(runner, f"iter_{runner.iter + 1}")

    def after_train_epoch(self, runner) -> None:
        """Flush at the end of an epoch (named by epoch for epoch-based loops)."""
        if isinstance(runner.train_loop, EpochBasedTrainLoop):
            self.flush(runner, f"epoch_{runner.epoch + 1}")
        else:
            self.flush(runner, f"iter_{runner.iter}")

    def after_train(self, runner) -> None:
        """Flush whatever is left (iteration-based loops without an interval)."""
        self.flush(runner, f"iter_{runner.iter}")

    def flush(self, runner, name: str) -> dict | None:
        """Reduce, write, publish and reset the histograms.

        Args:
            runner: The mmengine runner.
            name: File stem, e.g. ``'epoch_3'``.

        Returns:
            dict | None: The written payload, or None when there was nothing to write.
        """
        assigners = find_recording_assigners(runner.model)
        keys, counts = self._reduced_counts(assigners)
        for _, assigner in assigners:
            assigner.reset_histograms()
        if not keys or int(counts.sum()) == 0:
            return None
        num_bins = counts.shape[1]
        payload = {
            "bins": iou_bin_edges(num_bins),
            "loops": {key: row.tolist() for key, row in zip(keys, counts, strict=True)},
        }
        runner.message_hub.update_info(MESSAGE_HUB_KEY, payload)
        if is_main_process():
            out_dir = self.out_dir or osp.join(runner.work_dir, "iou_histograms")
            mkdir_or_exist(out_dir)
            with open(osp.join(out_dir, f"{name}.json"), "w") as f:
                json.dump(payload, f)
        return payload

    @staticmethod
    def _reduced_counts(assigners) -> tuple[list[str], torch.Tensor]:
        """Stack the counters as (K, num_bins) int64 on CPU, summed over ranks.

        Keys are ``loop{i}/{record_key}``; the union of all ranks' keys is used so
        that every rank joins the same all-reduce.
        """
        local = {
            f"loop{loop}/{key}": counts.detach().cpu()
            for loop, assigner in assigners
            for key, counts in assigner.histogram_tensors().items()
        }
        keys = sorted(set().union(*[set(k) for k in all_gather_object(sorted(local))]))
        num_bins = max([a.num_bins for _, a in assigners], default=1)
        stacked = torch.zeros(len(keys), num_bins, dtype=torch.long)
        for row, key in enumerate(keys):
            if key in local:
                stacked[row] = local[key]
        all_reduce(stacked)
        return keys, stacked
