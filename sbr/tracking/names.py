"""Display names of sbr's MLflow runs, from plain data (no mlflow, no specs).

Names are for people reading the MLflow UI; nothing looks a run up by its name (the
``sbr.*`` tags do that, the trial id stays the ``sbr.trial`` tag):

- a training run: ``R³-CNN · T2 r4, T3 r4, T4 r2-r6 · s1`` (label, rows served, seed);
- an evaluation-only run: ``R³-CNN L_e=2 · T4 r3 · s1``;
- an ablation (parent) run: ``table4 · mini · synth · 2026-12-03``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

#: MLflow refuses longer run names.
MAX_RUN_NAME = 250
SEPARATOR = " · "
ELLIPSIS = "…"

_ROW_NUMBER = re.compile(r"row(\d+)")
_TABLE_NUMBER = re.compile(r"table(\d+)")


def _table_short(table: str) -> str:
    """``table4`` -> ``T4``; a user ablation keeps its name."""
    match = _TABLE_NUMBER.fullmatch(table)
    return f"T{match.group(1)}" if match else table


def _row_pieces(row_ids: Sequence[str]) -> list[str]:
    """``[row2, row3, row4, row6, g1-2]`` -> ``[r2-r4, r6, g1-2]``: runs of numbered rows
    become ranges (in the order given); other ids stay as they are."""
    pieces: list[str] = []
    start = end = None
    for row_id in [*row_ids, None]:
        match = _ROW_NUMBER.fullmatch(row_id) if row_id is not None else None
        number = int(match.group(1)) if match else None
        if number is not None and end is not None and number == end + 1:
            end = number
            continue
        if start is not None:
            pieces.append(f"r{start}" if start == end else f"r{start}-r{end}")
        start = end = number
        if number is None and row_id is not None:
            pieces.append(row_id)
    return pieces


def compress_rows(rows: Iterable[str]) -> str:
    """``table2/row4,table3/row4,table4/row2..row6`` -> ``T2 r4, T3 r4, T4 r2-r6``.

    Args:
        rows: ``table/row`` items (the ``sbr.rows`` tag, split); tables keep first-seen order.
    """
    by_table: dict[str, list[str]] = {}
    for item in rows:
        table, _, row = item.partition("/")
        if row and row not in by_table.setdefault(table, []):
            by_table[table].append(row)
    return ", ".join(
        f"{_table_short(table)} {','.join(_row_pieces(ids))}" for table, ids in by_table.items()
    )


def cut(text: str, limit: int) -> str:
    """``text``, cut to ``limit`` characters with a trailing ``…`` when longer."""
    return text if len(text) <= limit else text[: max(0, limit - 1)] + ELLIPSIS


def run_name(label: str, rows: Iterable[str], seed: int | str) -> str:
    """``<label> · <rows> · s<seed>``, the row list cut with ``…`` to fit MLflow's limit."""
    head, tail = f"{label}{SEPARATOR}", f"{SEPARATOR}s{seed}"
    room = MAX_RUN_NAME - len(head) - len(tail)
    if room < 8:  # a label too long to leave room for rows: cut the whole name
        return cut(head + compress_rows(rows) + tail, MAX_RUN_NAME)
    return head + cut(compress_rows(rows), room) + tail


def parent_name(
    tables: Sequence[str], presets: Sequence[str], datasets: Sequence[str], day: str
) -> str:
    """``table4 · mini · synth · 2026-12-03``: an ablation run's tables, preset(s),
    dataset name(s) and date; empty parts are left out."""
    parts = (",".join(tables), ",".join(presets), ",".join(datasets), day)
    return cut(SEPARATOR.join(part for part in parts if part), MAX_RUN_NAME)


__all__ = ["MAX_RUN_NAME", "compress_rows", "cut", "parent_name", "run_name"]
