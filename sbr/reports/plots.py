"""Pure plotting: data -> :class:`matplotlib.figure.Figure` (Agg, no pyplot state).

Figures are built with ``Figure()`` directly, never through ``matplotlib.pyplot``, so
nothing global is touched and no display is needed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure  # noqa: E402  (after selecting the backend)


def _bin_labels(edges: Sequence[float]) -> list[str]:
    return [f"{lo:.2f}" for lo in edges[:-1]]


def _check_edges(edges: Sequence[float], counts: Sequence[float], name: str) -> None:
    if len(counts) != len(edges) - 1:
        raise ValueError(
            f"{name} has {len(counts)} counts but bins has {len(edges)} edges "
            f"(expected {len(edges) - 1} counts)"
        )


def iou_distribution_figure(
    panels: Mapping[str, Mapping[str, Sequence[float]]],
    bins: Sequence[float],
    *,
    normalize: bool = True,
) -> Figure:
    """Fig. 3: IoU distribution of training RoIs, one axes per model, one line per loop.

    Args:
        panels: Panel title -> {series label (``loop 1``...) -> counts per bin}.
        bins: Bin edges, ``len(counts) + 1`` values (``0.0, 0.05, ..., 1.0``).
        normalize: Plot each series as a percentage of its RoIs (else raw counts).

    Returns:
        A figure with ``len(panels)`` axes sharing the y axis.

    Raises:
        ValueError: If ``panels`` is empty or a series does not match ``bins``.
    """
    if not panels:
        raise ValueError("panels must name at least one model")
    fig = Figure(figsize=(5.0 * len(panels), 3.6), layout="constrained")
    axes = fig.subplots(1, len(panels), sharey=True, squeeze=False)[0]
    centers = [(lo + hi) / 2 for lo, hi in zip(bins[:-1], bins[1:], strict=True)]
    for letter, (ax, (title, series)) in enumerate(zip(axes, panels.items(), strict=True)):
        for label, counts in series.items():
            _check_edges(bins, counts, f"series {label!r} of {title!r}")
            total = float(sum(counts)) or 1.0
            values = [100.0 * c / total for c in counts] if normalize else list(counts)
            ax.plot(centers, values, marker="o", markersize=3, label=label)
        ax.set_title(f"({chr(ord('a') + letter)}) {title}")
        ax.set_xlabel("IoU with the ground truth")
        ax.set_xlim(bins[0], bins[-1])
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    axes[0].set_ylabel("% of training RoIs" if normalize else "training RoIs")
    return fig


def anchor_coverage_figure(bins: Sequence[float], percent_missing: Sequence[float]) -> Figure:
    """Fig. 1: % of ground-truth boxes with no anchor in each IoU bin.

    Args:
        bins: Bin edges (``0.0, 0.05, ..., 1.0``).
        percent_missing: One percentage per bin.

    Raises:
        ValueError: If the lengths do not match.
    """
    _check_edges(bins, percent_missing, "percent_missing")
    fig = Figure(figsize=(7.0, 3.6), layout="constrained")
    ax = fig.subplots()
    widths = [hi - lo for lo, hi in zip(bins[:-1], bins[1:], strict=True)]
    ax.bar(bins[:-1], percent_missing, width=widths, align="edge", edgecolor="black", lw=0.5)
    ax.set_xlabel("IoU between a ground-truth box and its anchors (bin start)")
    ax.set_ylabel("% of ground-truth boxes with no anchor")
    ax.set_xlim(bins[0], bins[-1])
    ax.set_ylim(0, 100)
    ax.grid(axis="y", alpha=0.3)
    return fig


def reproduced_vs_paper_figure(
    points: Sequence[Mapping[str, object]],
    title: str,
    *,
    xlabel: str = "paper AP",
    ylabel: str = "reproduced AP (95% bootstrap interval)",
) -> Figure:
    """Reproduced vs paper AP per row, with 95% bootstrap intervals as error bars.

    Args:
        points: One mapping per (row, column): ``row`` (printed number), ``column``,
            ``paper``, ``reproduced``, ``low``/``high`` (NaN: no interval) and
            ``significant`` (the paired difference to the reference row excludes 0).
        title: Axes title.

    Raises:
        ValueError: If ``points`` is empty.
    """
    if not points:
        raise ValueError("points must hold at least one (row, column) value")
    fig = Figure(figsize=(6.0, 4.8), layout="constrained")
    ax = fig.subplots()
    columns = list(dict.fromkeys(str(p["column"]) for p in points))
    markers = "osD^vP*X"
    for number, column in enumerate(columns):
        mine = [p for p in points if p["column"] == column]
        x = [float(p["paper"]) for p in mine]
        y = [float(p["reproduced"]) for p in mine]
        below = [max(y_ - float(p["low"]), 0.0) if p["low"] == p["low"] else 0.0
                 for p, y_ in zip(mine, y, strict=True)]  # fmt: skip
        above = [max(float(p["high"]) - y_, 0.0) if p["high"] == p["high"] else 0.0
                 for p, y_ in zip(mine, y, strict=True)]  # fmt: skip
        ax.errorbar(x, y, yerr=[below, above], fmt=markers[number % len(markers)], capsize=3,
                    label=column)  # fmt: skip
        for p, x_, y_ in zip(mine, x, y, strict=True):
            mark = "\u2020" if p.get("significant") else ""
            ax.annotate(f"{p['row']}{mark}", (x_, y_), textcoords="offset points",
                        xytext=(4, 4), fontsize="small")  # fmt: skip
    values = [float(p["paper"]) for p in points] + [float(p["reproduced"]) for p in points]
    values += [float(p[k]) for p in points for k in ("low", "high") if p[k] == p[k]]
    lo, hi = min(values), max(values)
    pad = max(1.0, 0.05 * (hi - lo))
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="grey", lw=0.8, ls="--",
            label="reproduced = paper")  # fmt: skip
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize="medium")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return fig


def effects_figure(points: Sequence[Mapping[str, object]], title: str) -> Figure:
    """Effects: each row's difference to the reference, reproduced vs paper, with intervals.

    Args:
        points: As :func:`reproduced_vs_paper_figure`'s, with ``paper`` the paper's
            difference, ``reproduced`` the reproduced one and ``low``/``high`` its paired
            95% interval (AP points). On the diagonal the effect carries over as it is.
    """
    fig = reproduced_vs_paper_figure(
        points, title, xlabel="paper: difference to the reference row (AP points)",
        ylabel="reproduced difference (paired 95% bootstrap interval)",
    )  # fmt: skip
    ax = fig.axes[0]
    ax.axhline(0.0, color="black", lw=0.6)
    ax.axvline(0.0, color="black", lw=0.6)
    return fig


__all__ = [
    "anchor_coverage_figure",
    "effects_figure",
    "iou_distribution_figure",
    "reproduced_vs_paper_figure",
]
