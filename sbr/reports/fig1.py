"""Fig. 1: % of ground-truth boxes for which no RPN anchor has an IoU in a given bin.

For every non-crowd box of a COCO annotation file the image is resized as the
training pipeline does (keep ratio into 1333x800, pad to 32), the RPN anchors of
that shape are generated once per distinct shape, and for each 0.05-wide IoU bin
it is recorded whether at least one anchor falls in it. The IoU matrix is
computed in chunks of boxes so memory stays bounded.

Anchors lie on a regular grid per level and base anchor, so only a window of them
can overlap a box (:func:`windowed_bins_with_anchor`), and inside that window the
1-D overlap along each axis is constant over a plateau (anchor inside the box, or box
inside the anchor): one column / row of the plateau stands for all of them. A box
then costs at most ~(2 x 8 + 2)^2 IoU values per level and base anchor, whatever its
size. ``sbr bench fig1`` measures it against the brute-force reference.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

#: Config whose ``model.rpn_head.anchor_generator`` is used by default (sbr's Mask R-CNN).
DEFAULT_CONFIG = "mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py"
#: Resize target (long edge, short edge) and pad divisor of the paper's pipeline.
DEFAULT_SCALE = (1333, 800)
DEFAULT_PAD = 32
#: Number of IoU values computed at once (boxes x anchors).
CHUNK_ELEMENTS = 1 << 20


@dataclass(frozen=True)
class AnchorCoverage:
    """Result of :func:`anchor_coverage`.

    Attributes:
        bins: Bin edges, ``n_bins + 1`` values.
        percent_missing: Per bin, % of boxes with no anchor whose IoU falls in the bin.
        n_boxes: Boxes counted.
        n_images: Images with at least one counted box.
        n_shapes: Distinct resized shapes (anchor sets generated).
        seconds: Wall time of the computation.
    """

    bins: tuple[float, ...]
    percent_missing: tuple[float, ...]
    n_boxes: int
    n_images: int
    n_shapes: int
    seconds: float

    @property
    def boxes_per_second(self) -> float:
        """Throughput of the computation."""
        return self.n_boxes / self.seconds if self.seconds > 0 else math.inf


def box_iou(boxes1: torch.Tensor, boxes2: torch.Tensor) -> torch.Tensor:
    """IoU of every pair.

    Args:
        boxes1: (n, 4) boxes ``x1, y1, x2, y2``.
        boxes2: (m, 4) boxes.

    Returns:
        (n, m) IoU.
    """
    area1 = (boxes1[:, 2] - boxes1[:, 0]) * (boxes1[:, 3] - boxes1[:, 1])
    area2 = (boxes2[:, 2] - boxes2[:, 0]) * (boxes2[:, 3] - boxes2[:, 1])
    lt = torch.maximum(boxes1[:, None, :2], boxes2[None, :, :2])
    rb = torch.minimum(boxes1[:, None, 2:], boxes2[None, :, 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    return inter / (area1[:, None] + area2[None, :] - inter).clamp(min=1e-6)


def bins_with_anchor(
    gt_boxes: torch.Tensor,
    anchors: torch.Tensor,
    *,
    n_bins: int = 20,
    chunk_elements: int = CHUNK_ELEMENTS,
) -> torch.Tensor:
    """For each box and IoU bin, whether at least one anchor's IoU falls in the bin.

    Bin ``k`` is ``[k / n_bins, (k + 1) / n_bins)``; IoU 1 falls in the last bin.

    Args:
        gt_boxes: (g, 4) ground-truth boxes ``x1, y1, x2, y2``.
        anchors: (a, 4) anchors.
        n_bins: Number of equal bins over [0, 1].
        chunk_elements: Upper bound of the IoU values held at once.

    Returns:
        (g, n_bins) bool.
    """
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    present = torch.zeros(gt_boxes.shape[0], n_bins, dtype=torch.bool, device=gt_boxes.device)
    if anchors.shape[0] == 0 or gt_boxes.shape[0] == 0:
        return present
    step = max(1, chunk_elements // anchors.shape[0])
    for start in range(0, gt_boxes.shape[0], step):
        iou = box_iou(gt_boxes[start : start + step], anchors)
        index = (iou * n_bins + 1e-4).floor().clamp_(0, n_bins - 1).long()
        present[start : start + step].scatter_(1, index, True)
    return present


def resized_shape(height: int, width: int, scale: Sequence[int] = DEFAULT_SCALE) -> tuple[int, int]:
    """Shape after mmcv's keep-ratio rescale into ``scale`` (long edge, short edge)."""
    factor = min(max(scale) / max(height, width), min(scale) / min(height, width))
    return int(height * factor + 0.5), int(width * factor + 0.5)


#: A COCO ``segmentation`` value: polygon lists ``[[x, y, ...], ...]`` or an RLE dict.
_SEGMENTATION = re.compile(rb'"segmentation"\s*:\s*(?:\[(?:\s*\[[^\[\]]*\]\s*,?)*\s*\]|\{[^{}]*\})')


def load_annotations(path: str | Path, *, segmentation: bool = False) -> dict[str, Any]:
    """Parse a COCO annotation file for Fig. 1 (boxes only: fast on train2017's 0.4 GB).

    Polygons are most of COCO's bytes and Python objects, and Fig. 1 never reads them:
    unless ``segmentation``, every ``"segmentation"`` value is replaced by ``0`` in the
    raw bytes before parsing (a value this pattern does not recognise is kept as it is).
    Parsed with orjson when installed, else :mod:`json`.
    """
    data = Path(path).read_bytes()
    if not segmentation:
        data = _SEGMENTATION.sub(b'"segmentation":0', data)
    try:
        import orjson
    except ImportError:
        import json

        return json.loads(data)
    return orjson.loads(data)


def boxes_and_shapes(
    coco: Mapping[str, Any], scale: Sequence[int] = DEFAULT_SCALE
) -> tuple[torch.Tensor, torch.Tensor]:
    """Non-crowd boxes (w, h >= 1) rescaled with their image, and their resized shapes.

    Vectorised over the annotations (COCO train2017's 860k take ~1 s); the rescale is
    the same double-precision arithmetic as :func:`resized_shape`.

    Returns:
        ``(boxes (n, 4) float32 x1, y1, x2, y2, shapes (n, 2) long resized h, w)``.
    """
    import numpy as np

    images = coco.get("images", [])
    anns = coco.get("annotations", [])
    ids = np.array([img["id"] for img in images], dtype=np.int64)
    hw = np.array([[img["height"], img["width"]] for img in images], dtype=np.float64)
    if not anns or not len(ids):
        return torch.zeros(0, 4), torch.zeros(0, 2, dtype=torch.long)
    bbox = np.array([a["bbox"] for a in anns], dtype=np.float64).reshape(-1, 4)
    crowd = np.array([bool(a.get("iscrowd", 0)) for a in anns])
    image_id = np.array([a["image_id"] for a in anns], dtype=np.int64)
    order = np.argsort(ids, kind="stable")
    pos = np.clip(np.searchsorted(ids[order], image_id), 0, len(ids) - 1)
    found = ids[order][pos] == image_id
    keep = ~crowd & (bbox[:, 2] >= 1) & (bbox[:, 3] >= 1) & found
    hw = hw[order][pos[keep]]
    bbox = bbox[keep]
    factor = np.minimum(max(scale) / hw.max(1), min(scale) / hw.min(1))
    new_hw = np.floor(hw * factor[:, None] + 0.5)  # int(x + 0.5) for x >= 0
    sx, sy = new_hw[:, 1] / hw[:, 1], new_hw[:, 0] / hw[:, 0]
    x, y, w, h = bbox.T
    boxes = np.stack([x * sx, y * sy, (x + w) * sx, (y + h) * sy], 1)
    return (
        torch.from_numpy(boxes.astype(np.float32)),
        torch.from_numpy(new_hw.astype(np.int64)),
    )


def boxes_by_shape(
    coco: Mapping[str, Any], scale: Sequence[int] = DEFAULT_SCALE
) -> dict[tuple[int, int], torch.Tensor]:
    """:func:`boxes_and_shapes` grouped by resized shape.

    Returns:
        ``{(resized_h, resized_w): (n, 4) float boxes}``.
    """
    boxes, shapes = boxes_and_shapes(coco, scale)
    if not boxes.shape[0]:
        return {}
    unique, inverse = torch.unique(shapes, dim=0, return_inverse=True)
    order = torch.argsort(inverse, stable=True)
    counts = torch.bincount(inverse, minlength=unique.shape[0]).tolist()
    return {
        (int(h), int(w)): group
        for (h, w), group in zip(unique.tolist(), torch.split(boxes[order], counts), strict=True)
    }


def anchors_for_shape(
    generator: Any,
    shape: tuple[int, int],
    *,
    pad_divisor: int = DEFAULT_PAD,
    allowed_border: float = -1,
    device: str = "cpu",
) -> torch.Tensor:
    """All anchors of an image of ``shape`` (h, w) padded to ``pad_divisor``.

    Args:
        generator: mmdet ``AnchorGenerator`` (``strides``, ``grid_priors``).
        shape: Resized, unpadded (h, w).
        pad_divisor: Padding divisor of the pipeline.
        allowed_border: Keep anchors inside the image grown by this many pixels;
            negative keeps all (mmdet's convention).
        device: Torch device.

    Returns:
        (a, 4) anchors.
    """
    sizes = _featmap_sizes(generator, shape, pad_divisor)
    anchors = torch.cat(generator.grid_priors(sizes, device=device))
    if allowed_border >= 0:
        inside = (
            (anchors[:, 0] >= -allowed_border)
            & (anchors[:, 1] >= -allowed_border)
            & (anchors[:, 2] < shape[1] + allowed_border)
            & (anchors[:, 3] < shape[0] + allowed_border)
        )
        anchors = anchors[inside]
    return anchors


def _featmap_sizes(
    generator: Any, shape: tuple[int, int], pad_divisor: int
) -> list[tuple[int, int]]:
    """(h, w) of each level's feature map for an image of ``shape`` padded to ``pad_divisor``."""
    pad_h = math.ceil(shape[0] / pad_divisor) * pad_divisor
    pad_w = math.ceil(shape[1] / pad_divisor) * pad_divisor
    return [(math.ceil(pad_h / s[1]), math.ceil(pad_w / s[0])) for s in generator.strides]


def anchor_count(
    generator: Any,
    shape: tuple[int, int],
    *,
    pad_divisor: int = DEFAULT_PAD,
    allowed_border: float = -1,
) -> int:
    """``anchors_for_shape(...).shape[0]`` without generating the anchors.

    Validity under ``allowed_border`` is separable in x and y, so the count is a sum
    over levels and base anchors of (valid columns) x (valid rows).
    """
    total = 0
    for (grid_h, grid_w), stride, bases in zip(
        _featmap_sizes(generator, shape, pad_divisor),
        generator.strides,
        generator.base_anchors,
        strict=True,
    ):
        if allowed_border < 0:
            total += grid_h * grid_w * bases.shape[0]
            continue
        xs = torch.arange(grid_w, dtype=torch.float32) * float(stride[0])
        ys = torch.arange(grid_h, dtype=torch.float32) * float(stride[1])
        for base in bases:
            cols = (
                (xs + base[0] >= -allowed_border) & (xs + base[2] < shape[1] + allowed_border)
            ).sum()
            rows = (
                (ys + base[1] >= -allowed_border) & (ys + base[3] < shape[0] + allowed_border)
            ).sum()
            total += int(cols) * int(rows)
    return total


def _window(
    lo: torch.Tensor,
    hi: torch.Tensor,
    base_lo: float,
    base_hi: float,
    stride: float,
    size: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """First grid index and window length of the anchors that can overlap ``[lo, hi]``.

    Args:
        lo, hi: (g,) box extent along one axis.
        base_lo, base_hi: The base anchor's extent along that axis (centred at 0).
        stride: Grid step.
        size: (g,) grid length per box.

    Returns:
        ``(start (g,), length (g,))``, start clamped into the grid, length >= 1.
    """
    start = torch.ceil((lo - base_hi) / stride).long()
    start = torch.minimum(start.clamp(min=0), (size - 1).clamp(min=0))
    length = (torch.floor((hi - base_lo) / stride).long() - start + 1).clamp(min=1)
    return start, length


def _max_iou(boxes: torch.Tensor, base: torch.Tensor) -> torch.Tensor:
    """(g,) upper bound of the IoU of each box with any translate of the anchor ``base``.

    The intersection is at most ``min(w, aw) * min(h, ah)`` (``P``), so IoU <= P / (area
    box + area anchor - P); a translate that puts the smaller side inside the larger one
    on both axes reaches it.
    """
    aw, ah = float(base[2] - base[0]), float(base[3] - base[1])
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    inter = w.clamp(max=aw) * h.clamp(max=ah)
    return inter / (w * h + aw * ah - inter).clamp(min=1e-6)


def _reachable_bins(boxes: torch.Tensor, base: torch.Tensor, n_bins: int) -> torch.Tensor:
    """(g,) highest bin any translate of ``base`` can reach (0: the window can be skipped).

    Where it is 0 the whole window is skipped: its anchors are counted as bin 0 by the
    caller like every anchor outside a window (this removes the large windows of big boxes
    on fine levels, which dominate the cost). A margin of 1e-4 bin keeps the decision on
    the safe side of float rounding.
    """
    return (_max_iou(boxes, base) * n_bins + 2e-4).floor().long().clamp(max=n_bins - 1)


def _best_anchor_window(
    lo: torch.Tensor,
    hi: torch.Tensor,
    base_lo: float,
    base_hi: float,
    stride: float,
    plateau: tuple[torch.Tensor, torch.Tensor],
    size: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(start, length)`` of the 1 or 2 grid indices with the largest 1-D overlap.

    The overlap is maximal on the plateau (``(first, last)`` from
    :func:`_plateau_indices`); when no grid index falls on it, at one of the two indices
    around it (or at the grid's edge).
    """
    first, last = plateau
    around = torch.floor(torch.minimum(lo - base_lo, hi - base_hi) / stride).long()
    on_plateau = last >= first
    best = torch.where(on_plateau, first, around).clamp(min=0)
    best = torch.minimum(best, (size - 1).clamp(min=0))
    return best, 2 - on_plateau.long()


def _size_buckets(
    kx: torch.Tensor, ky: torch.Tensor, keep: torch.Tensor | None = None
) -> list[torch.Tensor]:
    """Indices of the ``keep`` boxes grouped by (log2 kx, log2 ky), so padding a chunk
    to its largest window costs at most 4x the exact work."""
    key = torch.log2(kx.double()).floor().long() * 64 + torch.log2(ky.double()).floor().long()
    if keep is not None:
        key = key.masked_fill(~keep, -1)
    order = torch.argsort(key, stable=True)
    values, counts = torch.unique_consecutive(key[order], return_counts=True)
    groups = torch.split(order, counts.tolist())
    return [g for v, g in zip(values.tolist(), groups, strict=True) if v >= 0]


def _plateau_indices(
    lo: torch.Tensor,
    hi: torch.Tensor,
    base_lo: float,
    base_hi: float,
    stride: float,
    window: tuple[torch.Tensor, torch.Tensor],
    size: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """First and last grid index of the plateau inside the window (last < first: none).

    The overlap of ``[lo, hi]`` with the anchor ``[c + base_lo, c + base_hi]`` is the
    anchor's width for centres ``c`` in ``[lo - base_lo, hi - base_hi]`` (anchor inside)
    and the box's width for ``c`` in ``[hi - base_hi, lo - base_lo]`` (box inside): the
    grid indices of that plateau give one value, so one of them stands for all.

    Args:
        lo, hi: (g,) box extent along one axis.
        base_lo, base_hi: The base anchor's extent along that axis.
        stride: Grid step.
        window: ``(start, length)`` from :func:`_window`.
        size: (g,) grid length per box.
    """
    start, length = window
    a, b = lo - base_lo, hi - base_hi
    first = torch.ceil(torch.minimum(a, b) / stride).long()
    last = torch.floor(torch.maximum(a, b) / stride).long()
    first = torch.maximum(first, start)
    last = torch.minimum(last, torch.minimum(start + length, size) - 1)
    return first, last


def _chunk_bins(
    boxes: torch.Tensor,
    base: torch.Tensor,
    stride: tuple[float, float],
    windows: tuple[torch.Tensor, ...],
    grids: torch.Tensor,
    shapes: torch.Tensor,
    allowed_border: float,
    n_bins: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Bins hit by the anchors in the windows of a chunk of boxes (see :func:`_level_bins`).

    ``windows`` holds, per axis, ``(start, length, skip_at, skip)``: ``length`` grid
    indices from ``start``, jumping ``skip`` indices after offset ``skip_at``.
    """
    (j0, kx, jat, jskip), (i0, ky, iat, iskip) = windows
    sx, sy = stride
    mx, my = int(kx.max()), int(ky.max())
    rx = torch.arange(mx, device=boxes.device)[None, :]
    ry = torch.arange(my, device=boxes.device)[None, :]
    cols = j0[:, None] + rx + (rx > jat[:, None]) * jskip[:, None]  # (c, mx)
    rows = i0[:, None] + ry + (ry > iat[:, None]) * iskip[:, None]  # (c, my)
    x1, x2 = (cols * sx + base[0])[:, None, :], (cols * sx + base[2])[:, None, :]
    y1, y2 = (rows * sy + base[1])[:, :, None], (rows * sy + base[3])[:, :, None]
    in_x = (cols < grids[:, 1:2]) & (rx < kx[:, None])  # (c, mx)
    in_y = (rows < grids[:, 0:1]) & (ry < ky[:, None])  # (c, my)
    if allowed_border >= 0:  # validity is separable in x and y
        in_x &= (x1[:, 0] >= -allowed_border) & (x2[:, 0] < shapes[:, 1:2] + allowed_border)
        in_y &= (y1[..., 0] >= -allowed_border) & (y2[..., 0] < shapes[:, 0:1] + allowed_border)
    exists = in_x[:, None, :] & in_y[:, :, None]  # (c, my, mx)
    b = boxes[:, :, None, None]
    iw = (torch.minimum(x2, b[:, 2]) - torch.maximum(x1, b[:, 0])).clamp(min=0)  # (c, 1, mx)
    ih = (torch.minimum(y2, b[:, 3]) - torch.maximum(y1, b[:, 1])).clamp(min=0)  # (c, my, 1)
    inter = iw * ih
    union = (base[2] - base[0]) * (base[3] - base[1]) + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    scaled = inter.div_((union - inter).clamp_(min=1e-6)).mul_(n_bins).add_(1e-4)
    index = scaled.long().clamp_(max=n_bins - 1)  # non-negative: truncation is floor
    index = index.masked_fill_(~exists, n_bins).flatten(1)
    present = torch.zeros(boxes.shape[0], n_bins + 1, dtype=torch.bool, device=boxes.device)
    counted = (in_x.sum(1) + jskip) * (in_y.sum(1) + iskip)  # skipped indices all exist
    return present.scatter_(1, index, True), counted


def _level_bins(
    boxes: torch.Tensor,
    base: torch.Tensor,
    stride: tuple[float, float],
    grids: torch.Tensor,
    shapes: torch.Tensor,
    *,
    allowed_border: float,
    n_bins: int,
    chunk_elements: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Bins reached by one base anchor's grid, looking only at anchors that can overlap.

    Anchors outside a box's window have IoU 0; the caller accounts for them.

    Args:
        boxes: (g, 4) boxes.
        base: (4,) base anchor centred at the origin.
        stride: (sx, sy).
        grids: (g, 2) feature map (h, w) of each box's image at this level.
        shapes: (g, 2) resized image (h, w) of each box (for ``allowed_border``).
        allowed_border: See :func:`anchors_for_shape`.
        n_bins: Number of bins.
        chunk_elements: Upper bound of the IoU values held at once.

    Returns:
        ``(present (g, n_bins) bool, counted (g,) int)``: bins reached and the number
        of existing anchors looked at per box.
    """
    j0, kx = _window(
        boxes[:, 0], boxes[:, 2], float(base[0]), float(base[2]), stride[0], grids[:, 1]
    )
    i0, ky = _window(
        boxes[:, 1], boxes[:, 3], float(base[1]), float(base[3]), stride[1], grids[:, 0]
    )
    present = torch.zeros(boxes.shape[0], n_bins + 1, dtype=torch.bool, device=boxes.device)
    counted = torch.zeros(boxes.shape[0], dtype=torch.long, device=boxes.device)
    reachable = _reachable_bins(boxes, base, n_bins) > 0
    if not reachable.any():
        return present[:, :n_bins], counted
    zero = torch.zeros_like(kx)
    for members in _size_buckets(kx, ky, reachable):
        step = max(1, chunk_elements // int(kx[members].max() * ky[members].max()))
        for idx in torch.split(members, step):
            windows = ((j0[idx], kx[idx], zero[idx], zero[idx]),
                       (i0[idx], ky[idx], zero[idx], zero[idx]))  # fmt: skip
            chunk_present, chunk_counted = _chunk_bins(
                boxes[idx], base, stride, windows, grids[idx], shapes[idx], allowed_border, n_bins,
            )  # fmt: skip
            present[idx] |= chunk_present
            counted[idx] += chunk_counted
    return present[:, :n_bins], counted


def _level_bins_fast(
    boxes: torch.Tensor,
    base: torch.Tensor,
    stride: tuple[float, float],
    grids: torch.Tensor,
    *,
    n_bins: int,
    chunk_elements: int,
    known: torch.Tensor,
    tops: tuple[int, int],
) -> tuple[torch.Tensor, torch.Tensor]:
    """Bins 1 and up reached by one base anchor's grid when every anchor exists.

    Like :func:`_level_bins`, with three shortcuts that find the same bins: one index
    of each plateau stands for all (:func:`_plateau_indices`); a window that can only
    reach bins 0 and 1 evaluates its best anchor only; a window whose reachable bins
    (1 up to its top) are all in ``known`` is skipped. Bin 0 is left to the caller.

    Args:
        boxes, base, stride, grids, n_bins, chunk_elements: As :func:`_level_bins`.
        known: (g, n_bins) bins already reached by other windows.
        tops: ``(low, high)``: only windows whose top reachable bin is in [low, high).

    Returns:
        ``(rows (k,), present (k, n_bins + 1))``: the boxes handled and their bins.
    """
    top = _reachable_bins(boxes, base, n_bins)
    chosen = (top >= max(1, tops[0])) & (top < tops[1])
    chosen &= known[:, 1:].long().cumprod(1).sum(1) < top  # else nothing new to find
    rows = chosen.nonzero().flatten()
    present = torch.zeros(rows.shape[0], n_bins + 1, dtype=torch.bool, device=boxes.device)
    if not rows.numel():
        return rows, present
    boxes, grids, top = boxes[rows], grids[rows], top[rows]
    x_extent = (boxes[:, 0], boxes[:, 2], float(base[0]), float(base[2]), stride[0])
    y_extent = (boxes[:, 1], boxes[:, 3], float(base[1]), float(base[3]), stride[1])
    j0, kx = _window(*x_extent, grids[:, 1])
    i0, ky = _window(*y_extent, grids[:, 0])
    jfirst, jlast = _plateau_indices(*x_extent, (j0, kx), grids[:, 1])
    ifirst, ilast = _plateau_indices(*y_extent, (i0, ky), grids[:, 0])
    jat, jskip = jfirst - j0, (jlast - jfirst).clamp(min=0)
    iat, iskip = ifirst - i0, (ilast - ifirst).clamp(min=0)
    best = top == 1  # bins 0 and 1 only: the best anchor decides bin 1
    bj, bkx = _best_anchor_window(*x_extent, (jfirst, jlast), grids[:, 1])
    bi, bky = _best_anchor_window(*y_extent, (ifirst, ilast), grids[:, 0])
    j0, kx, jskip = torch.where(best, bj, j0), torch.where(best, bkx, kx), jskip * ~best
    i0, ky, iskip = torch.where(best, bi, i0), torch.where(best, bky, ky), iskip * ~best
    kx, ky = kx - jskip, ky - iskip
    for members in _size_buckets(kx, ky):
        step = max(1, chunk_elements // int(kx[members].max() * ky[members].max()))
        for idx in torch.split(members, step):
            windows = ((j0[idx], kx[idx], jat[idx], jskip[idx]),
                       (i0[idx], ky[idx], iat[idx], iskip[idx]))  # fmt: skip
            # every anchor exists (allowed_border -1): the shapes argument is not read
            chunk_present, _ = _chunk_bins(
                boxes[idx], base, stride, windows, grids[idx], grids[idx], -1, n_bins,
            )  # fmt: skip
            present[idx] |= chunk_present
    return rows, present


def _far_anchor(
    boxes: torch.Tensor, generator: Any, grids: torch.Tensor, n_bins: int
) -> torch.Tensor:
    """(g,) bool: an anchor of the finest level has IoU bin 0 with the box, for sure.

    True where that level cannot reach bin 1 at all, or where some of its anchors lie
    outside the box's window (IoU 0): every box of an image larger than a few hundred
    pixels. Boxes where it is False take the exact path.
    """
    base = generator.base_anchors[0][0].to(boxes.device)
    stride = generator.strides[0]
    unreachable = _reachable_bins(boxes, base, n_bins) == 0
    j0, kx = _window(boxes[:, 0], boxes[:, 2], float(base[0]), float(base[2]),
                     float(stride[0]), grids[:, 1])  # fmt: skip
    i0, ky = _window(boxes[:, 1], boxes[:, 3], float(base[1]), float(base[3]),
                     float(stride[1]), grids[:, 0])  # fmt: skip
    in_x = torch.minimum(kx, grids[:, 1] - j0).clamp(min=0)
    in_y = torch.minimum(ky, grids[:, 0] - i0).clamp(min=0)
    return unreachable | (in_x * in_y < grids[:, 0] * grids[:, 1])


def _exact_bins(
    boxes: torch.Tensor,
    generator: Any,
    shapes: torch.Tensor,
    grids: torch.Tensor,
    totals: torch.Tensor,
    *,
    allowed_border: float,
    n_bins: int,
    chunk_elements: int,
) -> torch.Tensor:
    """Every anchor of every window evaluated; bin 0 from the anchors outside them."""
    present = torch.zeros(boxes.shape[0], n_bins, dtype=torch.bool, device=boxes.device)
    counted = torch.zeros(boxes.shape[0], dtype=torch.long, device=boxes.device)
    for level, stride in enumerate(generator.strides):
        for base in generator.base_anchors[level].to(boxes.device):
            level_present, level_counted = _level_bins(
                boxes, base, (float(stride[0]), float(stride[1])), grids[:, level], shapes,
                allowed_border=allowed_border, n_bins=n_bins, chunk_elements=chunk_elements,
            )  # fmt: skip
            present |= level_present
            counted += level_counted
    present[:, 0] |= counted < totals
    return present


def _fast_bins(
    boxes: torch.Tensor, generator: Any, grids: torch.Tensor, *, n_bins: int, chunk_elements: int
) -> torch.Tensor:
    """:func:`_level_bins_fast` over every level, windows able to reach high bins first
    (afterwards most windows of the other levels can only reach bins found already)."""
    present = torch.zeros(boxes.shape[0], n_bins + 1, dtype=torch.bool, device=boxes.device)
    present[:, 0] = True  # the caller checked it (_far_anchor)
    for tops in [(n_bins // 2, n_bins), (n_bins // 4, n_bins // 2), (1, n_bins // 4)]:
        for level, stride in enumerate(generator.strides):
            for base in generator.base_anchors[level].to(boxes.device):
                rows, found = _level_bins_fast(
                    boxes, base, (float(stride[0]), float(stride[1])), grids[:, level],
                    n_bins=n_bins, chunk_elements=chunk_elements, known=present[:, :n_bins],
                    tops=tops,
                )  # fmt: skip
                present[rows] |= found
    return present[:, :n_bins]


def windowed_bins_with_anchor(
    boxes: torch.Tensor,
    generator: Any,
    shapes: tuple[int, int] | torch.Tensor,
    *,
    pad_divisor: int = DEFAULT_PAD,
    allowed_border: float = -1,
    n_bins: int = 20,
    chunk_elements: int = CHUNK_ELEMENTS,
) -> torch.Tensor:
    """Same result as ``bins_with_anchor(boxes, anchors_for_shape(...))``, much faster.

    Anchors lie on a regular grid per level and base anchor, so for each box only
    the window of anchors that can overlap it is evaluated; every other existing
    anchor has IoU 0 and only fills bin 0. Boxes of images of different shapes are
    processed together. With ``allowed_border < 0`` the shortcuts of
    :func:`_level_bins_fast` apply to every box for which :func:`_far_anchor` holds.

    Args:
        boxes: (g, 4) boxes in resized-image pixels.
        generator: mmdet ``AnchorGenerator``.
        shapes: Resized image (h, w) of all boxes, or (g, 2) one per box.
        pad_divisor: Padding divisor of the pipeline.
        allowed_border: See :func:`anchors_for_shape`.
        n_bins: Number of bins.
        chunk_elements: Upper bound of the IoU values held at once.

    Returns:
        (g, n_bins) bool.
    """
    device = boxes.device
    shapes = torch.as_tensor(shapes, dtype=torch.long, device=device).reshape(-1, 2)
    shapes = shapes.expand(boxes.shape[0], 2) if shapes.shape[0] == 1 else shapes
    unique, inverse = torch.unique(shapes, dim=0, return_inverse=True)
    totals, level_grids = [], []
    for h, w in unique.tolist():
        totals.append(
            anchor_count(generator, (h, w), pad_divisor=pad_divisor, allowed_border=allowed_border)
        )
        level_grids.append(_featmap_sizes(generator, (h, w), pad_divisor))
    grids = torch.tensor(level_grids, dtype=torch.long, device=device)[inverse]  # (g, L, 2)
    totals_per_box = torch.tensor(totals, device=device)[inverse]
    present = torch.zeros(boxes.shape[0], n_bins, dtype=torch.bool, device=device)
    fast = (
        _far_anchor(boxes, generator, grids[:, 0], n_bins)
        if allowed_border < 0
        else torch.zeros(boxes.shape[0], dtype=torch.bool, device=device)
    )
    rows = fast.nonzero().flatten()
    if rows.numel():
        present[rows] = _fast_bins(
            boxes[rows], generator, grids[rows], n_bins=n_bins, chunk_elements=chunk_elements
        )
    rows = (~fast).nonzero().flatten()
    if rows.numel():
        present[rows] = _exact_bins(
            boxes[rows], generator, shapes[rows], grids[rows], totals_per_box[rows],
            allowed_border=allowed_border, n_bins=n_bins, chunk_elements=chunk_elements,
        )  # fmt: skip
    return present


def default_anchor_generator(config: str | Path | None = None) -> Any:
    """Build the RPN anchor generator of ``config`` (default: :data:`DEFAULT_CONFIG`)."""
    from mmdet.registry import TASK_UTILS
    from mmdet.utils import register_all_modules

    from sbr.engine.config import load_config

    register_all_modules()
    cfg = load_config(config or DEFAULT_CONFIG)
    return TASK_UTILS.build(cfg.model.rpn_head.anchor_generator)


def anchor_coverage(
    coco: Mapping[str, Any],
    generator: Any,
    *,
    scale: Sequence[int] = DEFAULT_SCALE,
    pad_divisor: int = DEFAULT_PAD,
    allowed_border: float = -1,
    bin_width: float = 0.05,
    device: str = "cpu",
) -> AnchorCoverage:
    """Fig. 1's data for a COCO annotation dict (see the module docstring)."""
    n_bins = round(1 / bin_width)
    if not math.isclose(n_bins * bin_width, 1.0):
        raise ValueError(f"bin_width must divide 1, got {bin_width}")
    start = time.perf_counter()
    boxes, shapes = boxes_and_shapes(coco, scale)
    missing = torch.zeros(n_bins, dtype=torch.float64)
    n_boxes = boxes.shape[0]
    if n_boxes:
        present = windowed_bins_with_anchor(
            boxes.to(device),
            generator,
            shapes.to(device),
            pad_divisor=pad_divisor,
            allowed_border=allowed_border,
            n_bins=n_bins,
        )
        missing += (~present).sum(0).double().cpu()
    percent = (100.0 * missing / max(n_boxes, 1)).tolist()
    images = {a["image_id"] for a in coco.get("annotations", []) if not a.get("iscrowd", 0)}
    return AnchorCoverage(
        bins=tuple(round(k * bin_width, 10) for k in range(n_bins + 1)),
        percent_missing=tuple(percent),
        n_boxes=n_boxes,
        n_images=len(images),
        n_shapes=int(torch.unique(shapes, dim=0).shape[0]) if n_boxes else 0,
        seconds=time.perf_counter() - start,
    )


__all__ = [
    "DEFAULT_CONFIG",
    "DEFAULT_PAD",
    "DEFAULT_SCALE",
    "AnchorCoverage",
    "anchor_count",
    "anchor_coverage",
    "anchors_for_shape",
    "bins_with_anchor",
    "box_iou",
    "boxes_and_shapes",
    "boxes_by_shape",
    "default_anchor_generator",
    "load_annotations",
    "resized_shape",
    "windowed_bins_with_anchor",
]
