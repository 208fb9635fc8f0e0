"""Summary frame + table layout -> booktabs LaTeX and CSV (pure string functions).

Every metric cell prints the reproduced value with the paper's printed value and
the difference beside it, ``41.2 {\\scriptsize(41.7, $-$0.5)}``; several seeds print
``mean$\\pm$std``. Rows or cells without a finished value print a dash and a
footnote saying why. In ranked columns (AP metrics) the best reproduced value is
bold and the second best underlined, as the paper's Table 11 does.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd

from sbr.reports.aggregate import (
    STATUS_FAILED,
    STATUS_MISSING,
    STATUS_NOT_RECORDED,
    STATUS_OK,
    STATUS_RUNNING,
)
from sbr.reports.bootstrap import INTERVAL_METHOD
from sbr.reports.significance import CI_NO_DATA, CI_OK, CI_REFERENCE, is_true
from sbr.reports.tables import Column, RowLayout, TableLayout, paper_number

#: Footnote marker and text of every non-ok status, in print order.
FOOTNOTES = {
    STATUS_MISSING: ("a", "no run in the tracking store"),
    STATUS_FAILED: ("b", "the run failed"),
    STATUS_RUNNING: ("c", "the run has not finished"),
    STATUS_NOT_RECORDED: ("d", "the run did not record this metric"),
    CI_NO_DATA: (
        "e",
        "no per-image evaluation data (a run made before they were stored): "
        "no interval, no significance test",
    ),
}
#: Mark of a value whose paired difference to the reference row is significant.
DAGGER = "$^\\dagger$"
#: Fields :func:`table_frame` adds from :func:`sbr.reports.significance.with_intervals`.
CI_FIELDS = (
    "ci_low", "ci_high", "delta", "delta_ci_low", "delta_ci_high", "significant",
    "same_training", "ci_status",
)  # fmt: skip
DASH = "--"

_LATEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
_UNICODE = {
    "³": "$^3$",
    "²": "$^2$",
    "×": r"$\times$",
    "→": r"$\rightarrow$",
    "✓": r"\checkmark{}",
    "±": r"$\pm$",
    "−": "-",
}


def escape(text: Any) -> str:
    """Escape LaTeX specials and map the paper's unicode symbols (³, ×, →, ✓)."""
    escaped = "".join(_LATEX_SPECIALS.get(ch, ch) for ch in str(text))
    return "".join(_UNICODE.get(ch, ch) for ch in escaped)


def format_number(value: float, column: Column) -> str:
    """A reproduced value as the column prints it (decimals, truncation, thousands)."""
    factor = 10**column.decimals
    if column.truncate:
        value = math.floor(value * factor + 1e-9) / factor
    spec = f"{',' if column.thousands else ''}.{column.decimals}f"
    return format(value, spec)


def format_difference(diff: float, column: Column) -> str:
    """A signed difference, ``+0.3`` / ``$-$0.5`` / ``0.0``."""
    text = format_number(abs(diff), Column(column.name, "", decimals=column.decimals))
    if float(text.replace(",", "")) == 0:
        return text
    return ("+" if diff > 0 else "$-$") + text


def _paper_text(row: RowLayout, column: Column) -> str:
    value = row.paper.get(column.name)
    return "lost" if value is None else escape(value)


def _annotation(row: RowLayout, column: Column, mean: float | None) -> str:
    if column.name not in row.paper:
        return ""
    paper = _paper_text(row, column)
    number = paper_number(row.paper.get(column.name))
    if mean is not None and number is not None:
        paper += ", " + format_difference(mean - number, column)
    return f" {{\\scriptsize({paper})}}"


def rank_marks(values: Mapping[str, float], column: Column) -> dict[str, str]:
    """``{row_id: "best" | "second"}`` for the displayed (rounded) values, higher is better."""
    shown = {row: round(v, column.decimals) for row, v in values.items() if not math.isnan(v)}
    if not shown:
        return {}
    best = max(shown.values())
    below = [v for v in shown.values() if v < best]
    second = max(below) if below else None
    marks = {row: "best" for row, v in shown.items() if v == best}
    marks.update({row: "second" for row, v in shown.items() if second is not None and v == second})
    return marks


#: ``(row, column, reproduced mean or None) -> " {\\scriptsize(...)}"`` of a cell.
Annotate = Callable[[RowLayout, Column, "float | None"], str]


def effect_annotation(
    reference: RowLayout | None, reference_means: Mapping[str, float]
) -> Annotate:
    """Under a non-paper preset: each row's difference to the reference row, then the paper's.

    ``(+1.2; paper +2.7)``; the reference row prints ``(reference)``. Levels are not
    compared with COCO's: a small-scale recipe changes them, the effects are what carry over.
    """

    def annotate(row: RowLayout, column: Column, mean: float | None) -> str:
        if reference is None or column.name not in row.paper:
            return ""
        if row.id == reference.id:
            return " {\\scriptsize(reference)}"
        pa, pb = (paper_number(r.paper.get(column.name)) for r in (row, reference))
        paper = DASH if pa is None or pb is None else format_difference(pa - pb, column)
        ref_mean = reference_means.get(column.name, math.nan)
        if mean is None or math.isnan(mean) or math.isnan(ref_mean):
            return f" {{\\scriptsize(paper {paper})}}"
        return f" {{\\scriptsize({format_difference(mean - ref_mean, column)}; paper {paper})}}"

    return annotate


def _metric_cell(
    row: RowLayout, column: Column, cell: Mapping[str, Any], mark: str, annotate: Annotate
) -> str:
    if cell["status"] != STATUS_OK:
        marker = FOOTNOTES[cell["status"]][0]
        return f"{DASH}\\textsuperscript{{{marker}}}" + annotate(row, column, None)
    text = format_number(cell["mean"], column)
    if cell["n"] > 1 and not math.isnan(cell["std"]):
        text += "$\\pm$" + format_number(cell["std"], column)
    text += column.unit
    if mark == "best":
        text = f"\\textbf{{{text}}}"
    elif mark == "second":
        text = f"\\underline{{{text}}}"
    return text + _interval_text(cell, column) + annotate(row, column, cell["mean"])


def _interval_text(cell: Mapping[str, Any], column: Column) -> str:
    """Dagger when the paired difference is significant; ``[low, high]`` with ``--ci``."""
    status = cell.get("ci_status")
    if not isinstance(status, str):  # no intervals were computed
        return ""
    text = DAGGER if is_true(cell.get("significant")) else ""
    if is_true(cell.get("show_ci")):
        if status == CI_NO_DATA:
            text += f" {{\\scriptsize[{DASH}]}}\\textsuperscript{{{FOOTNOTES[CI_NO_DATA][0]}}}"
        elif not math.isnan(cell.get("ci_low", math.nan)):
            low, high = (format_number(cell[k], column) for k in ("ci_low", "ci_high"))
            text += f" {{\\scriptsize[{low}, {high}]}}"
    return text


def _interval_caption(summary: pd.DataFrame, layout: TableLayout) -> str:
    """Caption text on the intervals ("" when none were computed)."""
    if (
        "ci_status" not in summary.columns
        or not summary["ci_status"].isin([CI_OK, CI_REFERENCE]).any()
    ):
        return ""
    reference = next((r for r in layout.rows if r.id == layout.reference_row), None)
    name = f"row {reference.number}" if reference else "the reference row"
    text = (
        f" {DAGGER}: the difference to {name} is significant at 5\\%, Holm-corrected over"
        f" the table's comparisons (paired {INTERVAL_METHOD} bootstrap, 1000 resamples of the"
        " validation images, two-level over seeds); a difference between two trainings is"
        f" tested only with at least {layout.min_seeds} seeds per side."
    )
    if "show_ci" in summary.columns and summary["show_ci"].map(is_true).any():
        text += f" In square brackets: the value's 95\\% {INTERVAL_METHOD} bootstrap interval."
    return text


def _with_interval_caption(lines: list[str], summary: pd.DataFrame, layout: TableLayout) -> None:
    extra = _interval_caption(summary, layout)
    for number, line in enumerate(lines):
        if extra and line.startswith("\\caption{") and line.endswith("}"):
            lines[number] = line[:-1] + extra + "}"


def _ci_fields(cell: Mapping[str, Any] | None, layout: TableLayout) -> dict[str, Any]:
    """The interval fields of a CSV record (NaN / empty when none were computed)."""
    fields: dict[str, Any] = {"reference": layout.reference_row}
    for name in CI_FIELDS:
        value = (cell or {}).get(name, math.nan)
        if name in ("significant", "same_training"):
            value = is_true(value)
        elif name == "ci_status":
            value = value if isinstance(value, str) else ""
        fields[name] = value
    if fields["ci_status"] == CI_REFERENCE:
        fields.update(delta_ci_low=0.0, delta_ci_high=0.0)
    return fields


def _cells(summary: pd.DataFrame) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["row"], r["column"]): r for r in summary.to_dict("records")}


def _missing_cell() -> dict[str, Any]:
    return {"status": STATUS_MISSING, "mean": math.nan, "std": math.nan, "n": 0}


def _annotator(
    cells: Mapping[tuple[str, str], Any], layout: TableLayout, effects: bool
) -> Annotate:
    if not effects:
        return _annotation
    reference = next((r for r in layout.rows if r.id == layout.reference_row), None)
    means = {
        column: cell["mean"] for (row, column), cell in cells.items()
        if row == layout.reference_row and cell.get("status") == STATUS_OK
    }  # fmt: skip
    return effect_annotation(reference, means)


def _body_rows(
    summary: pd.DataFrame, layout: TableLayout, effects: bool = False
) -> tuple[list[str], set[str]]:
    cells = _cells(summary)
    annotate = _annotator(cells, layout, effects)
    marks: dict[str, dict[str, str]] = {}
    for column in layout.columns:
        if column.rank:
            ok = {
                r.id: cells[(r.id, column.name)]["mean"]
                for r in layout.rows
                if cells.get((r.id, column.name), {}).get("status") == STATUS_OK
            }
            marks[column.name] = rank_marks(ok, column)
    lines, used = [], set()
    for row in layout.rows:
        parts = [row.number] if layout.numbered else []
        parts.append(escape(row.label))
        for column in layout.columns:
            if column.metric is None:
                value = row.paper.get(column.name)
                parts.append("" if value is None else escape(value))
                continue
            cell = cells.get((row.id, column.name), _missing_cell())
            if cell["status"] != STATUS_OK:
                used.add(cell["status"])
            elif cell.get("ci_status") == CI_NO_DATA:
                used.add(CI_NO_DATA)
            mark = marks.get(column.name, {}).get(row.id)
            parts.append(_metric_cell(row, column, cell, mark, annotate))
        lines.append(" & ".join(parts) + r" \\")
    return lines, used


def _header(layout: TableLayout) -> list[str]:
    lead = (["\\#"] if layout.numbered else []) + [layout.label_header]
    lines = []
    if layout.groups:
        start = len(lead) + 1
        cells, rules = [""] * len(lead), []
        for text, width in layout.groups:
            cells.append(f"\\multicolumn{{{width}}}{{c}}{{{text}}}")
            rules.append(f"\\cmidrule(lr){{{start}-{start + width - 1}}}")
            start += width
        lines += [" & ".join(cells) + r" \\", " ".join(rules)]
    lines.append(" & ".join(lead + [c.header for c in layout.columns]) + r" \\")
    return lines


def provenance_comment(provenance: Mapping[str, Any], prefix: str = "% ") -> str:
    """Leading comment lines: one ``key: value`` per entry (lists comma-joined)."""
    lines = [f"{prefix}Generated by sbr report; do not edit by hand."]
    for key, value in provenance.items():
        if isinstance(value, (list, tuple)):
            value = ",".join(str(v) for v in value) or "(none)"
        lines.append(f"{prefix}{key}: {value}")
    return "\n".join(lines) + "\n"


def _recipe_sentence(preset: str | None) -> str:
    if not preset:
        return ""
    return (
        f" Trained with the {escape(preset)} preset: a small-scale recipe (CPU-scale models,"
        " few iterations), not the paper's 12-epoch training, so compare differences between"
        " rows rather than levels."
    )


def _caption(layout: TableLayout, dataset: str | None = None, preset: str | None = None) -> str:
    if preset:  # a small-scale recipe: effects, not levels
        reference = next((r for r in layout.rows if r.id == layout.reference_row), None)
        name = f"row {reference.number}" if reference else "the reference row"
        where = f" on {escape(dataset)} (not COCO)" if dataset else ""
        paper = (
            f"Reproduced values{where}, with each row's difference to {name} in brackets next"
            " to the paper's difference (on COCO)"
        )
    elif dataset:  # not COCO: say so, the paper's bracketed values stay COCO's
        paper = (
            f"Reproduced on {escape(dataset)} (not COCO), with the paper's value on COCO "
            "and the difference in brackets"
        )
    else:
        paper = "Reproduced values with the paper's value and the difference in brackets"
    return (
        f"Table {layout.number}: {escape(layout.title)}. {paper}; mean$\\pm$std over seeds; "
        "best reproduced value in bold, second best underlined." + _recipe_sentence(preset)
    )


def table(
    summary: pd.DataFrame,
    layout: TableLayout,
    *,
    provenance: Mapping[str, Any] | None = None,
    dataset: str | None = None,
    preset: str | None = None,
) -> str:
    """Render one paper table as a booktabs ``table`` environment.

    Args:
        summary: Frame from :func:`sbr.reports.aggregate.summarize` (may be empty).
        layout: The table's layout.
        provenance: Entries written as leading ``%`` comments.
        dataset: Name of the (non-COCO) dataset the runs trained on, for the caption;
            None: COCO, or unknown.
        preset: Name(s) of the presets of the runs when not the paper's recipe (the
            caption says so); None: the paper preset, or unknown.

    Returns:
        LaTeX needing ``booktabs`` and ``graphicx`` (``\\checkmark`` is provided
        when ``amssymb`` is not loaded).
    """
    body, used = _body_rows(summary, layout, effects=bool(preset))
    lead = "ll" if layout.numbered else "l"
    align = lead + "".join("c" if c.metric is None else "r" for c in layout.columns)
    lines = [
        provenance_comment(provenance or {}).rstrip("\n"),
        r"\providecommand{\checkmark}{$\surd$}",
        r"\begin{table}[htbp]",
        r"\centering",
        f"\\caption{{{_caption(layout, dataset, preset)}}}",
        f"\\label{{tab:{layout.name}}}",
        r"\resizebox{\linewidth}{!}{%",
        f"\\begin{{tabular}}{{{align}}}",
        r"\toprule",
        *_header(layout),
        r"\midrule",
        *body,
        r"\bottomrule",
        r"\end{tabular}}",
    ]
    _with_interval_caption(lines, summary, layout)
    notes = [f"\\textsuperscript{{{m}}}\\,{t}." for s, (m, t) in FOOTNOTES.items() if s in used]
    if notes:
        lines += [r"\par\smallskip", r"{\footnotesize " + " ".join(notes) + r"\par}"]
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"


def table_frame(summary: pd.DataFrame, layout: TableLayout) -> pd.DataFrame:
    """One record per (row, column) with paper value, reproduced mean/std, difference, status."""
    cells = _cells(summary)
    records = []
    for row in layout.rows:
        for column in layout.columns:
            cell = cells.get((row.id, column.name))
            if column.metric is not None and cell is None:
                cell = _missing_cell() | {"run_ids": ""}
            paper = row.paper.get(column.name)
            number = paper_number(paper)
            mean = cell["mean"] if cell else math.nan
            records.append(
                {
                    "table": layout.name,
                    "row": row.id,
                    "label": row.label,
                    "column": column.name,
                    "paper": "" if paper is None else paper,
                    "reproduced_mean": mean,
                    "reproduced_std": cell["std"] if cell else math.nan,
                    "n_seeds": cell["n"] if cell else 0,
                    "difference": mean - number if number is not None else math.nan,
                    "status": cell["status"] if cell else "paper_only",
                    "run_ids": cell["run_ids"] if cell else "",
                    **_ci_fields(cell, layout),
                }
            )
    return pd.DataFrame.from_records(records)


#: Per-metric columns of :func:`wide_frame`, after the metric's own (``B_AP``...).
WIDE_SUFFIXES = ("paper", "ci_low", "ci_high", "delta", "delta_ci_low", "delta_ci_high")


def wide_frame(summary: pd.DataFrame, layout: TableLayout) -> pd.DataFrame:
    """One record per row: each metric's value and ``<metric>_{paper,ci_low,...}`` columns.

    ``<metric>_delta*`` are the paired difference to the reference row and its 95%
    interval; ``<metric>_significant`` says whether that interval excludes 0.
    """
    long = table_frame(summary, layout)
    metrics = [c.name for c in layout.columns if c.metric is not None]
    records = []
    for row in layout.rows:
        cells = long[(long["row"] == row.id) & long["column"].isin(metrics)].set_index("column")
        record: dict[str, Any] = {"table": layout.name, "row": row.id, "label": row.label}
        for metric in metrics:
            cell = cells.loc[metric] if metric in cells.index else None
            record[metric] = cell["reproduced_mean"] if cell is not None else math.nan
            for suffix in WIDE_SUFFIXES:
                value = cell.get(suffix, math.nan) if cell is not None else math.nan
                record[f"{metric}_{suffix}"] = math.nan if value == "" else value
            significant = cell.get("significant", False) if cell is not None else False
            record[f"{metric}_significant"] = bool(significant)
        records.append(record)
    return pd.DataFrame.from_records(records)


def wide_csv(
    summary: pd.DataFrame, layout: TableLayout, *, provenance: Mapping[str, Any] | None = None
) -> str:
    """:func:`wide_frame` as CSV (``pandas.read_csv(path, comment="#")``)."""
    buffer = io.StringIO()
    wide_frame(summary, layout).to_csv(buffer, index=False, float_format="%.4f")
    return provenance_comment(provenance or {}, prefix="# ") + buffer.getvalue()


def table_csv(
    summary: pd.DataFrame, layout: TableLayout, *, provenance: Mapping[str, Any] | None = None
) -> str:
    """The table as CSV (read back with ``pandas.read_csv(path, comment="#")``)."""
    buffer = io.StringIO()
    table_frame(summary, layout).to_csv(buffer, index=False, float_format="%.4f")
    return provenance_comment(provenance or {}, prefix="# ") + buffer.getvalue()


def standalone_document(tables: Sequence[str]) -> str:
    """A complete LaTeX document containing ``tables`` (used to test that they compile)."""
    head = [
        r"\documentclass{article}",
        r"\usepackage[margin=1.5cm]{geometry}",
        r"\usepackage{booktabs}",
        r"\usepackage{graphicx}",
        r"\begin{document}",
    ]
    return "\n".join(head + [*tables, r"\end{document}"]) + "\n"


__all__ = [
    "CI_FIELDS",
    "DAGGER",
    "DASH",
    "FOOTNOTES",
    "escape",
    "format_difference",
    "format_number",
    "paper_number",
    "provenance_comment",
    "rank_marks",
    "standalone_document",
    "table",
    "table_csv",
    "table_frame",
]
