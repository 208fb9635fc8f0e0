"""Pure tensor helpers shared by the SBR-CNN model components.

Nothing here owns parameters or state: every function maps tensors to tensors,
so each can be tested on a handful of numbers.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

#: Number of IoU bins of the paper's Fig. 3 (width 0.05 over [0, 1]).
DEFAULT_IOU_BINS = 20


def iou_bin_edges(num_bins: int = DEFAULT_IOU_BINS) -> list[float]:
    """Edges of ``num_bins`` equal-width IoU bins over [0, 1].

    Args:
        num_bins: Number of bins. Defaults to 20 (width 0.05).

    Returns:
        list[float]: ``num_bins + 1`` edges, ``[0.0, 0.05, ..., 1.0]`` for 20 bins,
        rounded to 6 decimals so that they serialise cleanly to JSON.

    Raises:
        ValueError: if ``num_bins`` is not a positive integer.
    """
    _check_num_bins(num_bins)
    return [round(i / num_bins, 6) for i in range(num_bins + 1)]


def iou_histogram_boundaries(
    num_bins: int = DEFAULT_IOU_BINS,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> Tensor:
    """Bucket boundaries for :func:`iou_histogram` (compute once, reuse per call).

    Args:
        num_bins: Number of bins over [0, 1]. Defaults to 20.
        dtype: Floating dtype of the IoUs that will be binned.
        device: Device of the IoUs that will be binned.

    Returns:
        Tensor: shape (num_bins + 1,): the ``dtype`` value nearest ``i / num_bins``
        for ``i < num_bins`` and, last, the value just above 1.0 so that IoU 1.0
        falls in the last bin.

    Raises:
        ValueError: if ``num_bins`` is not a positive integer.
    """
    _check_num_bins(num_bins)
    # i / num_bins correctly rounded (linspace's i * step can land one ulp off)
    edges = (torch.arange(num_bins + 1, dtype=torch.float64) / num_bins).to(dtype)
    edges = edges.to(device)
    edges[-1] = torch.nextafter(edges[-1], edges[-1] + 1)
    return edges


_NUMPY_FLOATS = (torch.float32, torch.float64)


def _cpu_histogram(values: Tensor, boundaries: Tensor, num_bins: int) -> Tensor:
    """:func:`iou_histogram` of a 1-D float32/float64 CPU tensor, in numpy.

    Same bins as ``torch.bucketize(right=True)`` (numpy's ``side="right"``; NaN sorts
    last, so it lands above 1 as there), but on one thread: torch opens an OpenMP
    region even for a few hundred values, and waking the other threads for it costs
    ~1 ms per call on a busy 2-core machine (28 us on one thread).
    """
    index = np.searchsorted(boundaries.numpy(), values.numpy(), side="right")
    counts = np.bincount(index, minlength=num_bins + 2)
    return torch.from_numpy(counts[1 : num_bins + 1].astype(np.int64))


def iou_histogram(
    ious: Tensor, num_bins: int = DEFAULT_IOU_BINS, boundaries: Tensor | None = None
) -> Tensor:
    """Count IoU values per equal-width bin over [0, 1].

    Bin ``i`` holds values in ``[i / num_bins, (i + 1) / num_bins)`` (edges as
    floating-point numbers of the IoUs' dtype, so a value equal to an edge goes to
    the bin that starts there); the last bin is closed so that IoU 1.0 is counted.
    Values outside [0, 1] (e.g. the ``-1`` that :class:`MaxIoUAssigner` writes for
    ignored boxes) and NaNs are dropped. One ``bucketize`` plus one ``scatter_add_``
    into a fixed-size tensor: no data-dependent size, so no CUDA synchronisation,
    and both ops have deterministic implementations. Float32/float64 CPU tensors take
    the same bins in numpy (``searchsorted`` + ``bincount``), on one thread.

    Args:
        ious (Tensor): IoU values of any shape, floating point.
        num_bins: Number of bins. Defaults to 20.
        boundaries (Tensor, optional): :func:`iou_histogram_boundaries` for this
            ``num_bins``, dtype and device, to skip rebuilding them.

    Returns:
        Tensor: int64 counts, shape (num_bins,), on the device of ``ious``.

    Raises:
        ValueError: if ``num_bins`` is not a positive integer, ``ious`` is not a
            floating-point tensor or ``boundaries`` has the wrong length.
    """
    _check_num_bins(num_bins)
    if not torch.is_floating_point(ious):
        raise ValueError(f"ious must be a floating-point tensor, got dtype {ious.dtype}")
    if boundaries is None:
        boundaries = iou_histogram_boundaries(num_bins, ious.dtype, ious.device)
    elif boundaries.numel() != num_bins + 1:
        raise ValueError(
            f"boundaries must have num_bins + 1 = {num_bins + 1} values, got {boundaries.numel()}"
        )
    values = ious.detach().reshape(-1)
    if values.device.type == "cpu" and values.dtype in _NUMPY_FLOATS:
        return _cpu_histogram(values, boundaries, num_bins)
    # 0: below 0, 1..num_bins: the bins, num_bins + 1: above 1 or NaN
    index = torch.bucketize(values, boundaries, right=True)
    counts = torch.zeros(num_bins + 2, dtype=torch.long, device=ious.device)
    counts.scatter_add_(0, index, torch.ones_like(index))
    return counts[1 : num_bins + 1]


def _check_num_bins(num_bins: int) -> None:
    if isinstance(num_bins, bool) or not isinstance(num_bins, int) or num_bins < 1:
        raise ValueError(f"num_bins must be a positive int, got {num_bins!r}")
