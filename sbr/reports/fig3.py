"""Fig. 3: IoU distribution of training RoIs per loop, R³-CNN against Mask R-CNN.

Input: the histogram JSON of :class:`SBRIoUHistogramHook`,
``{"bins": [0.0, ..., 1.0], "loops": {"loop0/pass0": [counts], ...}}``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from matplotlib.figure import Figure

from sbr.reports.plots import iou_distribution_figure

#: Rows whose runs give the two panels, best first: (a) Mask R-CNN (the paper's 3x, else
#: the 1x baseline of Tables 2-4), (b) R³-CNN B0 (L_t = 3, u 0.5/0.6/0.7; one trial serves
#: Table 2 row 4, Table 3 row 4 and Table 4 rows 2-6). The first row with a run wins.
FIG3_ROWS = (
    ("Mask R-CNN", "table2", "row2"),
    ("Mask R-CNN", "table2", "row1"),
    ("Mask R-CNN", "table4", "row1"),
    ("Mask R-CNN", "table3", "row1"),
    ("R³-CNN", "table2", "row4"),
    ("R³-CNN", "table4", "row4"),
    ("R³-CNN", "table3", "row4"),
)
#: Presets whose runs are the paper's recipe on the paper's data (COCO); others are named.
PAPER_PRESETS = ("paper",)
_KEY = re.compile(r"loop(\d+)/pass(\d+)")


def loop_series(histogram: Mapping[str, Any], *, pass_index: int = 0) -> dict[str, list[float]]:
    """``{"loop 1": counts, "loop 2": ...}`` of one assigner pass (0: the bbox pass).

    Args:
        histogram: The hook's JSON dict.
        pass_index: Which assignment pass of each loop (interleaved heads assign twice).

    Raises:
        ValueError: If ``histogram`` lacks ``bins``/``loops`` or has no loop for the pass.
    """
    if "bins" not in histogram or "loops" not in histogram:
        raise ValueError(f"histogram must have 'bins' and 'loops', got keys {sorted(histogram)}")
    series = {}
    for key, counts in histogram["loops"].items():
        match = _KEY.fullmatch(key)
        if match and int(match.group(2)) == pass_index:
            series[int(match.group(1))] = [float(c) for c in counts]
    if not series:
        raise ValueError(f"histogram has no loop for pass {pass_index}: {list(histogram['loops'])}")
    return {f"loop {loop + 1}": series[loop] for loop in sorted(series)}


#: IoU from which a training RoI counts as positive (the legend gives each loop's share).
SHARE_IOU = 0.5


def share_above(
    series: Mapping[str, Sequence[float]], bins: Sequence[float], iou: float = SHARE_IOU
) -> dict[str, float]:
    """Fraction of each series' RoIs in the bins at or above ``iou`` (a bin edge)."""
    first = min(range(len(bins)), key=lambda i: abs(bins[i] - iou))
    if abs(bins[first] - iou) > 1e-9:
        raise ValueError(f"{iou} is not a bin edge of {list(bins)}")
    return {
        label: (sum(counts[first:]) / total if (total := sum(counts)) else 0.0)
        for label, counts in series.items()
    }


def fig3_caption(presets: Iterable[str], datasets: Iterable[str] = ()) -> str:
    """Where the figure's numbers come from, in plain words (any preset but ``paper``)."""
    base = "IoU of training RoIs with their ground truth, per loop"
    names = sorted({p for p in presets if p})
    given = ", ".join(sorted({d for d in datasets if d}))
    data = f"the {given} data" if given else "the synthetic data"
    if names and all(p in PAPER_PRESETS for p in names):
        return f"{base} (paper recipe)"
    return (
        f"{base}. Preset {', '.join(names) or 'unknown'}: a CPU-scale recipe on {data},"
        " not the paper's COCO training"
    )


def fig3_figure(
    histograms: Mapping[str, Mapping[str, Any]], *, pass_index: int = 0, caption: str = ""
) -> Figure:
    """The figure from ``{panel title: histogram dict}`` (all with the same bins)."""
    if not histograms:
        raise ValueError("histograms must hold at least one model")
    bins = next(iter(histograms.values()))["bins"]
    panels = {}
    for title, hist in histograms.items():
        series = loop_series(hist, pass_index=pass_index)
        shares = share_above(series, bins)
        panels[title] = {
            f"{label} ({100 * shares[label]:.1f}% >= {SHARE_IOU})": counts
            for label, counts in series.items()
        }
    fig = iou_distribution_figure(panels, bins)
    if caption:
        fig.suptitle(caption, fontsize="small", wrap=True)
    return fig


__all__ = [
    "FIG3_ROWS",
    "PAPER_PRESETS",
    "SHARE_IOU",
    "fig3_caption",
    "fig3_figure",
    "loop_series",
    "share_above",
]
