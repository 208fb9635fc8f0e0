"""Does the paper hold here? Each claim of the specs gets a measured delta and a verdict.

A claim (:class:`sbr.specs.claims.Claim`) reads "``a`` ``relation`` ``b`` on ``metric``".
Its delta ``a - b`` is measured on the reproduced runs with the paired bootstrap of
:mod:`sbr.reports.bootstrap` (both rows on one validation set, the same image weights,
across tables too) and given a verdict:

- ``reproduced``: the 95% interval of the delta lies on the claimed side of 0 (``~``:
  within +-margin);
- ``contradicted``: it lies wholly on the other side (``~``: wholly outside +-margin);
- ``inconclusive``: anything else, or too few seeds: two different trainings need
  ``min_seeds`` seeds per side (evaluation-only variants of one training pair per seed
  and need one). The note says which;
- ``not run``: a row has no reproduced value.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from sbr.reports.bootstrap import (
    DEFAULT_SEED,
    INTERVAL_METHOD,
    Samples,
    delta_samples,
    same_training,
)
from sbr.reports.tables import TableLayout
from sbr.specs.claims import CONTRADICTED, INCONCLUSIVE, NOT_RUN, REPRODUCED, Claim

#: Columns of ``claims.csv``, in order.
CLAIM_COLUMNS = (
    "table", "id", "a", "b", "metric", "relation", "margin", "paper_delta", "delta",
    "delta_ci_low", "delta_ci_high", "seeds_a", "seeds_b", "same_training", "verdict", "note",
)  # fmt: skip


@dataclass(frozen=True)
class TableData:
    """What the claims need of one table: its layout, summary and bootstrap samples."""

    layout: TableLayout
    summary: pd.DataFrame
    samples: Mapping[tuple[str, str], Samples]


def verdict_of(relation: str, low: float, high: float, margin: float | None) -> tuple[str, str]:
    """``(verdict, note)`` of a delta whose 95% interval is ``[low, high]`` (AP points)."""
    if relation == "~":
        m = margin or 0.0
        if -m <= low and high <= m:
            return REPRODUCED, f"interval within +-{m:g}"
        if high < -m or low > m:
            return CONTRADICTED, f"interval outside +-{m:g}"
        return INCONCLUSIVE, f"inconclusive (interval overlaps +-{m:g})"
    sign = 1.0 if relation == ">" else -1.0
    claimed, other = (low, high) if sign > 0 else (-high, -low)
    if claimed > 0:
        return REPRODUCED, "interval excludes 0"
    if other < 0:
        return CONTRADICTED, "interval on the other side of 0"
    return INCONCLUSIVE, "inconclusive (interval includes 0)"


def _mean(data: TableData, row: str, column: str) -> float:
    match = data.summary[(data.summary["row"] == row) & (data.summary["column"] == column)]
    if match.empty or match["status"].iloc[0] != "ok":
        return math.nan
    return float(match["mean"].iloc[0])


def _base(claim: Claim) -> dict[str, Any]:
    return {
        "table": claim.table, "id": claim.id, "a": str(claim.a), "b": str(claim.b),
        "metric": claim.metric, "relation": claim.relation,
        "margin": math.nan if claim.margin is None else claim.margin,
        "paper_delta": claim.paper_delta, "delta": math.nan, "delta_ci_low": math.nan,
        "delta_ci_high": math.nan, "seeds_a": 0, "seeds_b": 0, "same_training": False,
    }  # fmt: skip


def _without_samples(record: dict[str, Any], means: tuple[float, float]) -> dict[str, Any]:
    if any(math.isnan(m) for m in means):
        return record | {"verdict": NOT_RUN, "note": "no reproduced value"}
    return record | {
        "delta": means[0] - means[1],
        "verdict": INCONCLUSIVE,
        "note": "inconclusive (no per-image evaluation data: no interval)",
    }


def _few_seeds(n: int) -> str:
    return f"inconclusive ({n} seed{'s' if n != 1 else ''})"


def judge(
    claim: Claim,
    tables: Mapping[str, TableData],
    min_seeds: int,
    seed: int = DEFAULT_SEED,
) -> dict[str, Any]:
    """One record of :data:`CLAIM_COLUMNS` for ``claim`` (``tables``: by spec name)."""
    record = _base(claim)
    sides = [(tables.get(ref.table), ref) for ref in (claim.a, claim.b)]
    if any(data is None for data, _ in sides):
        return record | {"verdict": NOT_RUN, "note": "table not reported"}
    means = tuple(_mean(data, ref.row, claim.metric) for data, ref in sides)
    found = [data.samples.get((ref.row, claim.metric)) for data, ref in sides]
    if any(s is None for s in found) or any(math.isnan(m) for m in means):
        return _without_samples(record, means)
    a, b = found
    scale = _scale(sides[0][0], claim.metric)
    record.update(seeds_a=len(a.seeds), seeds_b=len(b.seeds), same_training=same_training(a, b))
    if not a.images or a.images != b.images:
        return record | {"delta": means[0] - means[1], "verdict": INCONCLUSIVE,
                         "note": "inconclusive (different validation sets)"}  # fmt: skip
    difference = delta_samples(a, b, seed)
    delta, (low, high) = difference.estimate, difference.interval()
    record.update(delta=delta * scale, delta_ci_low=low * scale, delta_ci_high=high * scale)
    if not record["same_training"] and min(len(a.seeds), len(b.seeds)) < min_seeds:
        return record | {"verdict": INCONCLUSIVE,
                         "note": _few_seeds(min(len(a.seeds), len(b.seeds)))}  # fmt: skip
    verdict, note = verdict_of(claim.relation, low * scale, high * scale, claim.margin)
    return record | {"verdict": verdict, "note": note}


def _scale(data: TableData, metric: str) -> float:
    column = next((c for c in data.layout.columns if c.name == metric), None)
    return column.scale if column is not None else 100.0


def claims_frame(
    tables: Mapping[str, TableData],
    min_seeds: Callable[[TableLayout], int] = lambda layout: layout.min_seeds,
    seed: int = DEFAULT_SEED,
) -> pd.DataFrame:
    """Every claim of the given tables' layouts, judged, as a :data:`CLAIM_COLUMNS` frame."""
    records = [
        judge(claim, tables, min_seeds(data.layout), seed)
        for data in tables.values()
        for claim in data.layout.claims
    ]
    return pd.DataFrame.from_records(records, columns=list(CLAIM_COLUMNS))


def headline_counts(frame: pd.DataFrame, claims: Iterable[Claim]) -> dict[str, int]:
    """Verdict counts of the headline claims (and ``n``, how many there are)."""
    headline = {(c.table, c.id) for c in claims if c.headline}
    mask = [(t, i) in headline for t, i in zip(frame["table"], frame["id"], strict=True)]
    mine = frame.loc[pd.Series(mask, index=frame.index, dtype=bool)]
    counts = {v: int((mine["verdict"] == v).sum()) for v in (REPRODUCED, INCONCLUSIVE,
                                                             CONTRADICTED, NOT_RUN)}  # fmt: skip
    return counts | {"n": len(mine)}


def headline_line(counts: Mapping[str, int], dataset: str, preset: str) -> str:
    """The headline: ``k of n headline claims reproduced, j inconclusive, m contradicted``
    followed by ``(dataset, preset name)``."""
    text = (
        f"{counts.get(REPRODUCED, 0)} of {counts.get('n', 0)} headline claims reproduced, "
        f"{counts.get(INCONCLUSIVE, 0)} inconclusive, {counts.get(CONTRADICTED, 0)} contradicted"
    )
    if counts.get(NOT_RUN, 0):
        text += f", {counts[NOT_RUN]} not run"
    return text + f" ({dataset or 'COCO'}, preset {preset or 'paper'})"


def claims_csv(frame: pd.DataFrame, provenance_text: str = "") -> str:
    """``claims.csv`` (read back with ``pandas.read_csv(path, comment="#")``)."""
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, float_format="%.4f")
    return provenance_text + buffer.getvalue()


def _tex_value(value: Any) -> str:
    from sbr.reports.latex import escape

    if isinstance(value, float):
        return "--" if math.isnan(value) else f"{value:.2f}"
    return escape(value)


def claims_tex(frame: pd.DataFrame, provenance_text: str = "") -> str:
    """``claims.tex``: one booktabs table with the columns of ``claims.csv``."""
    from sbr.reports.latex import escape

    header = " & ".join(escape(c) for c in CLAIM_COLUMNS) + r" \\"
    body = [" & ".join(_tex_value(r[c]) for c in CLAIM_COLUMNS) + r" \\"
            for r in frame.to_dict("records")]  # fmt: skip
    return provenance_text + "\n".join([
        r"\begin{table}[htbp]", r"\centering",
        r"\caption{The paper's claims: measured delta (AP points) with its paired 95\% "
        + INTERVAL_METHOD
        + r" "
        r"bootstrap interval and the verdict; two trainings need min\_seeds seeds per side.}",
        r"\label{tab:claims}", r"\resizebox{\linewidth}{!}{%",
        r"\begin{tabular}{" + "l" * 6 + "r" * 7 + "lll}", r"\toprule", header, r"\midrule",
        *(body or [r"\multicolumn{16}{l}{No claims.} \\"]), r"\bottomrule", r"\end{tabular}}",
        r"\end{table}",
    ]) + "\n"  # fmt: skip


__all__ = [
    "CLAIM_COLUMNS",
    "TableData",
    "claims_csv",
    "claims_frame",
    "claims_tex",
    "headline_counts",
    "headline_line",
    "judge",
    "verdict_of",
]
