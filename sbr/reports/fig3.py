"""Fig. 3: IoU distribution of training RoIs per loop, R³-CNN against Mask R-CNN.

Input: the histogram JSON of :class:`SBRIoUHistogramHook`,
``{"bins": [0.0, ..., 1.0], "loops": {"loop0/pass0": [counts], ...}}``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from matplotlib.figure import Figure

from sbr.reports.plots import iou_distribution_figure

#: Rows whose runs give the two panels: (a) Mask R-CNN 3x, (b) R³-CNN B0 (u 0.5/0.6/0.7).
FIG3_ROWS = (("Mask R-CNN (3x)", "table2", "row2"), ("R³-CNN", "table2", "row4"))
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


def fig3_figure(histograms: Mapping[str, Mapping[str, Any]], *, pass_index: int = 0) -> Figure:
    """The figure from ``{panel title: histogram dict}`` (all with the same bins)."""
    if not histograms:
        raise ValueError("histograms must hold at least one model")
    bins = next(iter(histograms.values()))["bins"]
    panels = {title: loop_series(hist, pass_index=pass_index) for title, hist in histograms.items()}
    return iou_distribution_figure(panels, bins)


__all__ = ["FIG3_ROWS", "fig3_figure", "loop_series"]
