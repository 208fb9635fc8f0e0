"""Fig. 1: % of ground-truth boxes for which no RPN anchor has an IoU in a given bin.

For every non-crowd box of a COCO annotation file the image is resized as the
training pipeline does (keep ratio into 1333x800, pad to 32), and for each 0.05-wide
IoU bin it is recorded whether at least one RPN anchor of that image falls in it.

The computation is exact (the same float64 IoU, bit for bit, as every anchor against
every box) and vectorised over boxes. Anchors lie on a grid per level and base anchor,
so along each axis the overlap of a box with the anchors of one grid column is a ramp
up, a plateau (the anchor inside the box or the box inside the anchor, one value) and
a ramp down of at most ``floor(min(box, anchor) / stride) + 1`` columns each: those
columns and one of the plateau give every distinct overlap (:func:`_axis`). The IoU
grows with both overlaps, so the smallest and the largest candidates give the lowest
and highest bin a (box, base anchor) reaches; only where a bin between them is not
known yet are all candidate pairs evaluated. Anchors that do not overlap give IoU 0.
``sbr bench fig1`` measures it end to end at COCO train2017's size.
"""

from __future__ import annotations

import math
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
#: Number of IoU values computed at once (candidate pairs).
CHUNK_ELEMENTS = 1 << 20
#: Boxes handled together (each makes one row per level and base anchor).
CHUNK_BOXES = 8192


@dataclass(frozen=True)
class AnchorCoverage:
    """Result of :func:`anchor_coverage`."""

    bins: tuple[float, ...]  # bin edges, n_bins + 1 values
    percent_missing: tuple[float, ...]  # per bin, % of boxes with no anchor's IoU in it
    n_boxes: int  # boxes counted
    n_images: int  # images with at least one counted box
    n_shapes: int  # distinct resized image shapes
    seconds: float  # wall time of the computation

    @property
    def boxes_per_second(self) -> float:
        return self.n_boxes / self.seconds if self.seconds > 0 else math.inf


def resized_shape(height: int, width: int, scale: Sequence[int] = DEFAULT_SCALE) -> tuple[int, int]:
    """Shape after mmcv's keep-ratio rescale into ``scale`` (long edge, short edge)."""
    factor = min(max(scale) / max(height, width), min(scale) / min(height, width))
    return int(height * factor + 0.5), int(width * factor + 0.5)


def load_annotations(path: str | Path, *, segmentation: bool = False) -> dict[str, Any]:
    """Parse a COCO annotation file for Fig. 1: boxes only unless ``segmentation``
    (:func:`sbr.data.layout.parse_coco`; fast on train2017's 0.4 GB)."""
    from sbr.data.layout import parse_coco

    return parse_coco(Path(path).read_bytes(), segmentation=segmentation)


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
    """:func:`boxes_and_shapes` grouped by resized shape: ``{(h, w): (n, 4) boxes}``."""
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
    """(a, 4) anchors (float64, exact) of mmdet's ``AnchorGenerator`` for an image of
    resized ``shape`` (h, w) padded to ``pad_divisor``: those inside the image grown by
    ``allowed_border`` pixels, or all when it is negative (mmdet's convention)."""
    sizes = _featmap_sizes(generator, shape, pad_divisor)
    anchors = torch.cat(generator.grid_priors(sizes, dtype=torch.float64, device=device))
    if allowed_border >= 0:
        limit = torch.tensor([shape[1], shape[0]], dtype=torch.float64, device=device)
        inside = (anchors[:, :2] >= -allowed_border) & (anchors[:, 2:] < limit + allowed_border)
        anchors = anchors[inside.all(1)]
    return anchors


def _featmap_sizes(generator: Any, shape: tuple[int, int], pad: int) -> list[tuple[int, int]]:
    """(h, w) of each level's feature map for an image of ``shape`` padded to ``pad``."""
    pad_h, pad_w = (math.ceil(side / pad) * pad for side in shape)
    return [(math.ceil(pad_h / s[1]), math.ceil(pad_w / s[0])) for s in generator.strides]


def _first(value: torch.Tensor, offset: torch.Tensor, stride: torch.Tensor, strict: bool):
    """Smallest grid index ``j`` with ``j * stride + offset`` above ``value`` (``strict``)
    or at least ``value``: a float estimate corrected by one step either way with the
    anchors' own arithmetic (mmdet's ``base + j * stride`` in float64), so exact."""

    def holds(j: torch.Tensor) -> torch.Tensor:
        coord = j.double() * stride + offset
        return coord > value if strict else coord >= value

    j = torch.ceil((value - offset) / stride).long()
    j = torch.where(holds(j - 1), j - 1, j)
    return torch.where(holds(j), j, j + 1)


def _valid_columns(lo, hi, stride, grid, limit, border: float) -> tuple[torch.Tensor, ...]:
    """First and last grid column whose anchor ``[lo, hi] + j * stride`` exists: inside
    ``[-border, limit + border)`` when ``border >= 0`` (mmdet's ``allowed_border``)."""
    first, last = torch.zeros_like(grid), grid - 1
    if border >= 0:
        first = torch.maximum(first, _first(torch.full_like(lo, -border), lo, stride, False))
        last = torch.minimum(last, _first(limit + border, hi, stride, False) - 1)
    return first, last


def _overlap(col: torch.Tensor, extent: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """(r, k) overlap of the box with the anchors of grid columns ``col`` (r, k) along one
    axis; ``extent`` = (p, q, lo, hi, stride), each (r,): box, base anchor, stride."""
    p, q, lo, hi, stride = (t[:, None] for t in extent)
    x = col.double() * stride
    return torch.minimum(x + hi, q) - torch.maximum(x + lo, p)


def _axis(
    extent: tuple[torch.Tensor, ...], grid: torch.Tensor, limit: torch.Tensor, border: float
) -> tuple[torch.Tensor, ...]:
    """Along one axis, per row (``extent``: see :func:`_overlap`; ``grid`` columns, image
    side ``limit``): ``(first, last, n_valid, n_overlap, lowest, highest)``, each (r,), the
    existing columns that overlap the box, how many exist and overlap, and the extreme
    overlaps. The overlap rises, stays and falls with the column: the lowest is at an
    end, the highest next to ``[p - lo, q - hi] / stride``."""
    p, q, lo, hi, stride = extent
    v_first, v_last = _valid_columns(lo, hi, stride, grid, limit, border)
    first = torch.maximum(_first(p, hi, stride, strict=True), v_first)  # ends after p
    last = torch.minimum(_first(q, lo, stride, strict=False) - 1, v_last)  # starts before q
    a = torch.ceil(torch.minimum(p - lo, q - hi) / stride).long()
    b = torch.floor(torch.maximum(p - lo, q - hi) / stride).long()
    peak = torch.stack([a - 1, a, a + 1, b, b + 1], 1).clamp(first[:, None], last[:, None])
    lowest = _overlap(torch.stack([first, last], 1), extent).amin(1)
    n_valid, n_overlap = (v_last - v_first + 1).clamp(min=0), (last - first + 1).clamp(min=0)
    return first, last, n_valid, n_overlap, lowest, _overlap(peak, extent).amax(1)


def _candidates(first, last, extent: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    """``(overlap (r, k), used (r, k))``: the overlaps of the columns that give every
    distinct one, the ramp up, one plateau column and the ramp down (each at most
    ``floor(min(box, anchor) / stride) + 1`` columns), in the first ``used`` entries."""
    p, q, lo, hi, stride = extent
    ramp = torch.floor(torch.minimum(q - p, hi - lo) / stride).long() + 1
    count = torch.minimum(2 * ramp + 1, last - first + 1)
    r = torch.arange(int(count.max()) if count.numel() else 0, device=p.device)[None, :]
    col = torch.where(r <= ramp[:, None], first[:, None] + r, last[:, None] + ramp[:, None] + 1 - r)
    return _overlap(col, extent), r < count[:, None]


def _bins(ox, oy, anchor_area, box_area, n_bins: int) -> torch.Tensor:
    """IoU bin of the overlaps ``ox`` x ``oy`` (broadcast): the dense IoU's arithmetic."""
    inter = ox * oy
    return (inter / (box_area + anchor_area - inter) * n_bins).floor().clamp_(0, n_bins - 1).long()


def _pair_bins(x: tuple, y: tuple, areas: tuple, n_bins: int, chunk_elements: int):
    """(r, n_bins + 1) bins reached by every pair of candidate columns and rows."""
    (ox, ux), (oy, uy) = x, y
    kx, ky = ux.sum(1), uy.sum(1)
    order = torch.argsort(kx * 64 + ky)  # rows of alike sizes pad alike
    out = torch.zeros(ox.shape[0], n_bins + 1, dtype=torch.bool, device=ox.device)
    step = max(1, chunk_elements // max(1, ox.shape[1] * oy.shape[1]))
    for idx in torch.split(order, step):
        mx, my = int(kx[idx].max()), int(ky[idx].max())
        bins = _bins(ox[idx, None, :mx], oy[idx, :my, None], areas[0][idx, None, None],
                     areas[1][idx, None, None], n_bins)  # fmt: skip
        bins.masked_fill_(~(ux[idx, None, :mx] & uy[idx, :my, None]), n_bins)
        out[idx] = out[idx].scatter_(1, bins.flatten(1), True)
    return out


def _widest_per_box(rows: torch.Tensor, box: torch.Tensor, span: torch.Tensor) -> torch.Tensor:
    """Of ``rows``, the one of widest ``span`` per box."""
    key = box[rows] * 64 - span[rows]
    rows = rows[torch.argsort(key, stable=True)]
    _, counts = torch.unique_consecutive(box[rows], return_counts=True)
    return rows[torch.cumsum(counts, 0) - counts]


def _combos(generator: Any, device: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per (level, base anchor): level (c,), base anchor (c, 4) and stride (c, 2), float64."""
    bases = [b.to(device=device, dtype=torch.float64) for b in generator.base_anchors]
    level = torch.cat([torch.full((b.shape[0],), k, device=device) for k, b in enumerate(bases)])
    strides = [[float(v) for v in s[:2]] for s in generator.strides]
    return level, torch.cat(bases), torch.tensor(strides, dtype=torch.float64, device=device)[level]


def _chunk_bins(
    boxes: torch.Tensor, shapes: torch.Tensor, grids: torch.Tensor, combos: tuple, *,
    border: float, n_bins: int, chunk_elements: int,
) -> torch.Tensor:  # fmt: skip
    """(g, n_bins) bins reached, one row per (box, level, base anchor); see the module doc."""
    (level, base, stride), g, c, dev = combos, boxes.shape[0], combos[0].numel(), boxes.device
    box, combo = torch.arange(g * c, device=dev) // c, torch.arange(g * c, device=dev) % c
    b, base, stride = boxes.double()[box], base[combo], stride[combo]
    grid, side = grids[box, level[combo]], shapes[box].double()  # (r, 2) h, w
    ex = (b[:, 0], b[:, 2], base[:, 0], base[:, 2], stride[:, 0])
    ey = (b[:, 1], b[:, 3], base[:, 1], base[:, 3], stride[:, 1])
    fx, lx, vx, nx, low_x, high_x = _axis(ex, grid[:, 1], side[:, 1], border)
    fy, ly, vy, ny, low_y, high_y = _axis(ey, grid[:, 0], side[:, 0], border)
    areas = ((base[:, 2] - base[:, 0]) * (base[:, 3] - base[:, 1]),
             (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]))  # fmt: skip
    present = torch.zeros(g, n_bins + 1, dtype=torch.bool, device=dev)
    present[box[vx * vy > nx * ny], 0] = True  # an anchor that does not overlap: IoU 0
    hit = (nx > 0) & (ny > 0)
    low, high = _bins(low_x, low_y, *areas, n_bins), _bins(high_x, high_y, *areas, n_bins)
    present[box[hit].repeat(2), torch.cat([low[hit], high[hit]])] = True
    todo = hit & (high - low > 1)
    k = torch.arange(n_bins, device=dev)[None, :]
    while (rows := todo.nonzero().flatten()).numel():  # a bin between low and high unknown?
        between = (k > low[rows, None]) & (k < high[rows, None])
        todo[rows[~(between & ~present[box[rows], :n_bins]).any(1)]] = False
        if (rows := todo.nonzero().flatten()).numel():
            rows = _widest_per_box(rows, box, high - low)
            todo[rows] = False
            cx = _candidates(fx[rows], lx[rows], tuple(t[rows] for t in ex))
            cy = _candidates(fy[rows], ly[rows], tuple(t[rows] for t in ey))
            present[box[rows]] |= _pair_bins(cx, cy, (areas[0][rows], areas[1][rows]), n_bins,
                                              chunk_elements)  # fmt: skip
    return present[:, :n_bins]


def anchor_count(
    generator: Any,
    shape: tuple[int, int],
    *,
    pad_divisor: int = DEFAULT_PAD,
    allowed_border: float = -1,
) -> int:
    """``anchors_for_shape(...).shape[0]`` without generating the anchors (validity under
    ``allowed_border`` is separable: valid columns x valid rows per base anchor)."""
    level, base, stride = _combos(generator, "cpu")
    grid = torch.tensor(_featmap_sizes(generator, shape, pad_divisor))[level]
    side = torch.tensor(shape, dtype=torch.float64)
    count = 1
    for dim in (0, 1):  # x, then y
        first, last = _valid_columns(base[:, dim], base[:, dim + 2], stride[:, dim],
            grid[:, 1 - dim], side[1 - dim].expand(level.numel()), allowed_border)  # fmt: skip
        count = count * (last - first + 1).clamp(min=0)
    return int(count.sum())


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
    """(g, n_bins) bool: for each box, whether an anchor of its image has its IoU in bin
    ``k`` = ``[k / n_bins, (k + 1) / n_bins)`` (IoU 1: the last bin), the same bins as the
    float64 IoU of every anchor of :func:`anchors_for_shape` against the box.

    Args:
        boxes: (g, 4) boxes ``x1, y1, x2, y2`` in resized-image pixels.
        generator: mmdet ``AnchorGenerator``.
        shapes: Resized image (h, w) of all boxes, or (g, 2) one per box.
        pad_divisor, allowed_border: As :func:`anchors_for_shape`.
        chunk_elements: Upper bound of the IoU values held at once.
    """
    device = boxes.device
    shapes = torch.as_tensor(shapes, dtype=torch.long, device=device).reshape(-1, 2)
    shapes = shapes.expand(boxes.shape[0], 2) if shapes.shape[0] == 1 else shapes
    present = torch.zeros(boxes.shape[0], n_bins, dtype=torch.bool, device=device)
    if not boxes.shape[0]:
        return present
    unique, inverse = torch.unique(shapes, dim=0, return_inverse=True)
    sizes = [_featmap_sizes(generator, (h, w), pad_divisor) for h, w in unique.tolist()]
    grids = torch.tensor(sizes, dtype=torch.long, device=device)[inverse]  # (g, L, 2)
    combos = _combos(generator, device)
    for rows in torch.split(torch.arange(boxes.shape[0], device=device), CHUNK_BOXES):
        present[rows] = _chunk_bins(
            boxes[rows], shapes[rows], grids[rows], combos, border=allowed_border,
            n_bins=n_bins, chunk_elements=chunk_elements,
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
    n_boxes = boxes.shape[0]
    present = windowed_bins_with_anchor(
        boxes.to(device), generator, shapes.to(device), pad_divisor=pad_divisor,
        allowed_border=allowed_border, n_bins=n_bins,
    )  # fmt: skip
    missing = (~present).sum(0).double().cpu()
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
    "DEFAULT_CONFIG", "DEFAULT_PAD", "DEFAULT_SCALE", "AnchorCoverage", "anchor_count",
    "anchor_coverage", "anchors_for_shape", "boxes_and_shapes", "boxes_by_shape",
    "default_anchor_generator", "load_annotations", "resized_shape",
    "windowed_bins_with_anchor",
]  # fmt: skip
