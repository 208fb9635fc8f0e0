"""Layouts of the paper's Tables 2-11, built from the ablation specs.

A layout says which columns a table has, how each column's reproduced value is
read from MLflow (metric key, scale, unit) and which rows it lists with their
labels and printed paper values. It holds no results: see :mod:`sbr.reports.latex`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sbr.metrics import (
    METRIC_PARAMS,
    METRIC_PEAK_MEMORY_MB,
    PAPER_SPEED,
    paper_ap_column,
    paper_column_metric,
)
from sbr.specs.claims import DEFAULT_MIN_SEEDS, Claim, effective_min_seeds

_NUMBER = re.compile(r"^\s*(-?[\d,]*\.?\d+)")

#: The paper tables ``sbr report all`` rebuilds, in order.
TABLE_NAMES = tuple(f"table{number}" for number in range(2, 12))


@dataclass(frozen=True)
class Column:
    """One table column.

    Attributes:
        name: The spec's column name (``B_AP``).
        header: LaTeX header text.
        metric: MLflow metric key; None for columns that describe the model
            (L_t, H, flags): those print the paper's value only.
        scale: Factor applied to the metric (COCO fractions -> percent: 100).
        decimals: Digits after the point.
        unit: Suffix printed after numbers (`` M``, ``G``).
        thousands: Group thousands with commas (``44,170``).
        truncate: Truncate instead of rounding (the paper's #Params).
        rank: Mark the best (bold) and second-best (underlined) reproduced values,
            higher is better.
    """

    name: str
    header: str
    metric: str | None = None
    scale: float = 1.0
    decimals: int = 1
    unit: str = ""
    thousands: bool = False
    truncate: bool = False
    rank: bool = False


@dataclass(frozen=True)
class RowLayout:
    """One table row: its id, the paper's label and the paper's printed values.

    ``eval_suffix`` is the last part of the evaluation id serving the row
    (``final``: the training's own evaluation; ``eval-<hash>``: an evaluation-only
    variant such as Table 4's L_e), matched against the runs' ``sbr.eval`` tag.
    """

    id: str
    label: str
    paper: Mapping[str, Any] = field(default_factory=dict)
    note: str = ""
    eval_suffix: str = "final"

    @property
    def number(self) -> str:
        """The printed row number (``row3`` -> ``3``; other ids unchanged)."""
        match = re.fullmatch(r"row(\d+)", self.id)
        return match.group(1) if match else self.id


@dataclass(frozen=True)
class TableLayout:
    """Everything needed to print one table except the results.

    Attributes:
        name: Spec name (``table2``).
        title: Caption text.
        columns: Data columns in the paper's order.
        rows: Rows in the paper's order.
        numbered: Print a ``#`` column with the row numbers.
        label_header: Header of the label column (``Model`` or ``Method``).
        groups: Column groups printed above the headers, ``(text, n_columns)``.
        spec_file: The spec it was built from.
        spec_hash: Short SHA-256 of the spec file's bytes.
        reference: Row id the differences and their intervals compare with
            (the spec's ``reference``; empty: the first row).
        min_seeds: Seeds per side a comparison between two trainings needs for a
            dagger or a verdict (:func:`sbr.specs.claims.effective_min_seeds`; the
            runs' preset may set it where the spec does not, ``spec_min_seeds`` None).
        claims: The paper's claims stated by the table (its spec's ``claims:``).
    """

    name: str
    title: str
    columns: tuple[Column, ...]
    rows: tuple[RowLayout, ...]
    numbered: bool = True
    label_header: str = "Model"
    groups: tuple[tuple[str, int], ...] = ()
    spec_file: str = ""
    spec_hash: str = ""
    reference: str = ""
    min_seeds: int = DEFAULT_MIN_SEEDS
    spec_min_seeds: int | None = None
    claims: tuple[Claim, ...] = ()

    @property
    def reference_row(self) -> str:
        """The reference row's id (the first row unless the spec names one)."""
        return self.reference or (self.rows[0].id if self.rows else "")

    @property
    def number(self) -> str:
        """The paper's table number (``table2`` -> ``2``)."""
        return self.name.removeprefix("table")


_STAT_HEADERS = {
    "AP": "AP",
    "AP50": "AP$_{50}$",
    "AP75": "AP$_{75}$",
    "AP_s": "AP$_S$",
    "AP_m": "AP$_M$",
    "AP_l": "AP$_L$",
}
_DESCRIPTIVE = {
    "L_t": "$L_t$",
    "L_e": "$L_e$",
    "H": "$H$",
    "Alt": "Alt.",
    "L2C": "L2C",
    "NL_b": "NL$_b$",
    "NL_a": "NL$_a$",
    "M_IoU": "M$_{IoU}$",
    "Model": "Model",
}


def paper_number(value: Any) -> float | None:
    """The number in a printed paper cell (``41.7``, ``"44,170 K"``, ``"4.4G"``), else None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    match = _NUMBER.match(str(value))
    return float(match.group(1).replace(",", "")) if match else None


def _paper_metric_column(name: str, header: str, **style: Any) -> Column:
    """A column read from the metric :func:`sbr.metrics.paper_column_metric` maps it to."""
    metric, scale = paper_column_metric(name)  # type: ignore[misc]
    return Column(name, header, metric, scale=scale, **style)


def column_for(name: str, *, table: str = "", paper_values: Sequence[Any] = ()) -> Column:
    """The :class:`Column` of a spec column name.

    Args:
        name: Spec column (``B_AP``, ``S_AP50``, ``AP_s``, ``Params``, ``L_t``...).
        table: Table name (only used in error messages).
        paper_values: The column's printed values; ``Params`` printed as ``44,170 K``
            is shown in thousands, otherwise in millions.

    Raises:
        ValueError: If ``name`` is not a known column.
    """
    if name in _DESCRIPTIVE:
        return Column(name, _DESCRIPTIVE[name])
    ap = paper_ap_column(name)
    if ap is not None:
        stat = ap[1]
        prefix = name.partition("_")[0] if name != stat else ""
        header = f"{prefix}$_{{AP}}$" if prefix and stat == "AP" else _STAT_HEADERS[stat]
        return _paper_metric_column(name, header, rank=True)
    if name == PAPER_SPEED:
        # The paper's definition: images/s at batch 1 on one device, after warm-up, on the
        # first N val images (sbr.runners.speed; ablations/README.md, "Speed").
        return _paper_metric_column(name, "Speed")
    if name == "Mem":
        return Column(name, "Mem", METRIC_PEAK_MEMORY_MB, scale=1 / 1024, unit="G")
    if name == "Params":
        in_thousands = any(isinstance(v, str) and v.strip().endswith("K") for v in paper_values)
        if in_thousands:
            return Column(
                name, "\\#Params", METRIC_PARAMS, 1e-3, 0, " K", thousands=True, truncate=True
            )
        return Column(name, "\\#Params", METRIC_PARAMS, 1e-6, 1, " M", truncate=True)
    raise ValueError(f"column {name!r} of {table or 'a table'} has no known layout")


def _groups(columns: Sequence[str]) -> tuple[tuple[str, int], ...]:
    boxes = sum(1 for c in columns if c.startswith("B_"))
    masks = sum(1 for c in columns if c.startswith("S_"))
    if boxes > 2 and masks > 2 and boxes + masks == len(columns):
        return (("Box", boxes), ("Mask", masks))
    return ()


def file_hash(path: str | Path) -> str:
    """Short SHA-256 (12 hex digits) of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


def _display_path(path: Path) -> str:
    """``ablations/table2.yaml`` for the repository's specs, else the path as given."""
    try:
        return path.resolve().relative_to(Path(__file__).resolve().parents[2]).as_posix()
    except ValueError:
        return str(path)


def _eval_suffix(row: Any) -> str:
    from sbr.specs.expand import evaluation_suffix

    return evaluation_suffix(row.eval_overrides)


def layout_from_spec(spec: Any) -> TableLayout:
    """Build the layout of one spec (an :class:`sbr.specs.AblationSpec`).

    Rows come from the explicit rows and the grids of the spec, in order.
    """
    from sbr.specs.expand import spec_rows

    rows = tuple(
        RowLayout(row.id, row.label, dict(row.paper_values), row.note, _eval_suffix(row))
        for row in spec_rows(spec)
    )
    columns = tuple(
        column_for(name, table=spec.name, paper_values=[r.paper.get(name) for r in rows if r.paper])
        for name in spec.columns
    )
    groups = _groups(spec.columns)
    if groups:  # "Box" / "Mask" above the columns: plain AP headers below them
        columns = tuple(replace(c, header=_STAT_HEADERS[c.name[2:]]) for c in columns)
    descriptive_label = not all(c.rank for c in columns)
    spec_path = Path(spec.file)
    return TableLayout(
        name=spec.name,
        title=spec.title or spec.name,
        columns=columns,
        rows=rows,
        numbered=descriptive_label or bool(groups),
        label_header="Model" if descriptive_label or groups else "Method",
        groups=groups,
        spec_file=_display_path(spec_path),
        spec_hash=file_hash(spec_path) if spec_path.is_file() else "",
        reference=getattr(spec, "reference", None) or (rows[0].id if rows else ""),
        min_seeds=effective_min_seeds(spec),
        spec_min_seeds=getattr(spec, "min_seeds", None),
        claims=tuple(getattr(spec, "claims", None) or ()),
    )


def load_layout(name_or_path: str | Path) -> TableLayout:
    """Load a spec by name (``table2``) or path and return its layout."""
    from sbr.specs.schema import load_spec, resolve_spec_file

    return layout_from_spec(load_spec(resolve_spec_file(name_or_path)))


__all__ = [
    "TABLE_NAMES",
    "Column",
    "RowLayout",
    "TableLayout",
    "column_for",
    "file_hash",
    "layout_from_spec",
    "load_layout",
    "paper_number",
]
