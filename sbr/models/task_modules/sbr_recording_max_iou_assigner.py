"""MaxIoUAssigner that also histograms the IoU of every candidate RoI (paper Fig. 3)."""

from __future__ import annotations

import numpy as np
from mmdet.models.task_modules.assigners import AssignResult, MaxIoUAssigner
from mmdet.registry import TASK_UTILS
from torch import Tensor

from ..functional import (
    DEFAULT_IOU_BINS,
    iou_bin_edges,
    iou_histogram,
    iou_histogram_boundaries,
)

DEFAULT_RECORD_KEY = "pass0"


@TASK_UTILS.register_module()
class SBRRecordingMaxIoUAssigner(MaxIoUAssigner):
    """:class:`MaxIoUAssigner` plus a histogram of each candidate's best IoU.

    Every call of :meth:`assign` (through :meth:`assign_wrt_overlaps`) adds the
    ``max_overlaps`` it has already computed (IoU of each prior/proposal with its
    best ground truth) to an int64 counter of ``num_bins`` bins over [0, 1], stored
    under the current record key. The counters stay on the device of the IoUs and
    the update does not synchronise it, so the cost is one small kernel per call.

    What is counted: all candidates given to the assigner, positives and negatives,
    before sampling. In mmdet 3.3 the ground-truth boxes are added as proposals by
    the sampler (``BaseSampler.sample``, after ``assign``), so they are not counted,
    as in the authors' ``debug_iou`` code. Images without ground truth are skipped
    (their IoUs are undefined); ignored candidates (``ignore_iof_thr``, IoU -1) fall
    outside [0, 1] and are dropped. Bins are ``[a, b)`` with the last closed
    (the authors' pandas bins were ``(a, b]`` and dropped IoU > 0.95).

    Args:
        *args: :class:`MaxIoUAssigner` arguments (``pos_iou_thr``, ``neg_iou_thr``...).
        record: Record histograms. Defaults to True.
        num_bins: Number of bins over [0, 1]. Defaults to 20 (width 0.05).
        **kwargs: :class:`MaxIoUAssigner` keyword arguments.
    """

    def __init__(
        self, *args, record: bool = True, num_bins: int = DEFAULT_IOU_BINS, **kwargs
    ) -> None:
        super().__init__(*args, **kwargs)
        iou_bin_edges(num_bins)  # validates
        self.record = record
        self.num_bins = num_bins
        self._record_key = DEFAULT_RECORD_KEY
        self._counts: dict[str, Tensor] = {}
        self._boundaries: dict[tuple, Tensor] = {}

    @property
    def record_key(self) -> str:
        """Key under which the next assignments are counted."""
        return self._record_key

    def set_record_key(self, key: str) -> None:
        """Count the following assignments under ``key`` (e.g. ``'pass0'``/``'pass1'``).

        Raises:
            ValueError: if ``key`` is not a non-empty string.
        """
        if not isinstance(key, str) or not key:
            raise ValueError(f"key must be a non-empty string, got {key!r}")
        self._record_key = key

    def assign_wrt_overlaps(self, overlaps: Tensor, gt_labels: Tensor) -> AssignResult:
        """Assign as :class:`MaxIoUAssigner`, then count ``max_overlaps``.

        Args:
            overlaps (Tensor): IoUs between k gts and n priors, shape (k, n).
            gt_labels (Tensor): Labels of the k gts, shape (k,).

        Returns:
            :obj:`AssignResult`: unchanged result of the parent.
        """
        result = super().assign_wrt_overlaps(overlaps, gt_labels)
        if self.record and overlaps.size(0) > 0:
            self._accumulate(result.max_overlaps)
        return result

    def _accumulate(self, max_overlaps: Tensor) -> None:
        cache_key = (max_overlaps.dtype, max_overlaps.device)
        boundaries = self._boundaries.get(cache_key)
        if boundaries is None:
            boundaries = iou_histogram_boundaries(self.num_bins, *cache_key)
            self._boundaries[cache_key] = boundaries
        counts = iou_histogram(max_overlaps, self.num_bins, boundaries)
        previous = self._counts.get(self._record_key)
        if previous is None:
            self._counts[self._record_key] = counts
        else:
            previous.add_(counts.to(previous.device))

    def histogram_tensors(self) -> dict[str, Tensor]:
        """Counters as int64 tensors of shape (num_bins,), on their recording device."""
        return dict(self._counts)

    def histograms(self) -> dict[str, np.ndarray]:
        """Counters as int64 numpy arrays of shape (num_bins,), keyed by record key."""
        return {key: counts.cpu().numpy().astype(np.int64) for key, counts in self._counts.items()}

    def reset_histograms(self) -> None:
        """Forget all counts (the record key is kept)."""
        self._counts = {}
