"""The paper's claims as testable statements: the data model shared by specs and reports.

A spec's ``claims:`` list states comparisons that the paper makes in its text or that its
tables directly show, e.g. "three evaluation loops give more box AP than one"::

    claims:
      - id: loops-help-boxes
        a: row4               # or table3:row4 where the paper compares across tables
        b: row2
        metric: B_AP          # one of the spec's AP columns
        relation: ">"         # ">", "<" or "~" (no difference)
        margin: 0.5           # AP points, "~" only
        headline: true        # the abstract or the conclusion rests on it
        source: "Sec. 4.3: ..."

A claim reads "``a`` ``relation`` ``b`` on ``metric``": its delta is ``a - b`` in AP points.
The paper's delta comes from the rows' ``paper:`` values. The reports measure the same
delta on the reproduced runs and give the claim a verdict (:data:`VERDICTS`).

This module is the contract between the spec layer (parsing and validation) and the
report layer (verdicts); it imports nothing heavy. :func:`parse_claims` validates a
``claims:`` list at spec load time; :func:`effective_min_seeds` gives the seeds rule.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from sbr.metrics import PAPER_AP_STATS, paper_ap_column
from sbr.specs.checks import (
    BOOL,
    LIST,
    MAPPING,
    OPT_STR,
    POS_NUMBER,
    STR,
    Path_,
    check_keys,
    expect,
    get,
    is_number,
    loc_of,
)
from sbr.yamlspec.errors import Loc, SpecError, format_key

#: Comparisons a claim can state: a above b, a below b, a and b the same within a margin.
RELATIONS = (">", "<", "~")
#: Seeds per side that a comparison between two different trainings needs for a verdict
#: (evaluation-only variants of one training pair per seed and need one).
DEFAULT_MIN_SEEDS = 3

REPRODUCED = "reproduced"
CONTRADICTED = "contradicted"
INCONCLUSIVE = "inconclusive"
NOT_RUN = "not run"
VERDICTS = (REPRODUCED, CONTRADICTED, INCONCLUSIVE, NOT_RUN)


@dataclass(frozen=True)
class RowRef:
    """A row of a table: ``row4`` of the claim's own table, or ``table3:row4``."""

    table: str
    row: str

    def __str__(self) -> str:
        return f"{self.table}:{self.row}"


@dataclass(frozen=True)
class Claim:
    """One comparison the paper states.

    Attributes:
        table: Spec name of the table that states it (``table4``).
        id: Unique within the table.
        a, b: The compared rows; the delta is ``a - b``.
        metric: A column of the spec (``B_AP``, ``S_AP50``...).
        relation: One of :data:`RELATIONS`.
        margin: AP points within which ``~`` holds; None for ``>`` and ``<``.
        headline: The abstract or the conclusion rests on it.
        source: Where the paper says it.
        paper_delta: ``paper[a][metric] - paper[b][metric]`` in AP points.
        loc: Where the claim sits in its spec file.
    """

    table: str
    id: str
    a: RowRef
    b: RowRef
    metric: str
    relation: str
    paper_delta: float
    margin: float | None = None
    headline: bool = False
    source: str = ""
    loc: Loc | None = None


# --------------------------------------------------------------------------- parsing

#: COCO statistics a claim can compare (``AP_s``...), alone (Tables 8-10, box AP) or
#: after ``B_`` (box) / ``S_`` (mask): the columns the reports measure per image.
AP_STATS = tuple(PAPER_AP_STATS)

#: The paper's values of a table's rows: row id -> column -> value.
PaperRows = Mapping[str, Mapping[str, Any]]
#: Paper rows of a table by spec name (``table3``), None when there is no such table.
PaperLookup = Callable[[str], "PaperRows | None"]

_CLAIM_KEYS = ("id", "a", "b", "metric", "relation", "margin", "headline", "source")
_REQUIRED = ("id", "a", "b", "metric", "relation")


def is_ap_column(name: str) -> bool:
    """``B_AP``, ``S_AP50``, ``AP_s``...: a COCO AP column (not ``Speed``, ``L_t``...)."""
    return paper_ap_column(name) is not None


def parse_claims(
    node: Any, *, table: str, columns: tuple[str, ...], paper_rows: PaperLookup
) -> tuple[Claim, ...]:
    """Validate a spec's ``claims:`` list against the paper's numbers.

    Args:
        node: The loaded ``claims`` value (None: no claims).
        table: The spec's name; rows without a ``tableN:`` prefix are its own.
        columns: The spec's columns (a claim's metric must be one, and an AP column).
        paper_rows: The paper's values of a table's rows, by spec name.

    Raises:
        SpecError: At the first wrong claim, with ``file:line`` and ``claims[i].key``.
    """
    if node is None:
        return ()
    expect(node, LIST, where=loc_of(node), path=("claims",))
    claims: list[Claim] = []
    first_line: dict[str, int] = {}
    for index, item in enumerate(node):
        claim = parse_claim(item, index, table, columns, paper_rows, where=loc_of(node, index))
        if claim.id in first_line:
            raise SpecError(
                loc_of(item, "id"),
                format_key(("claims", index, "id")),
                f"duplicate claim id {claim.id!r} (already used at line {first_line[claim.id]})",
            )
        first_line[claim.id] = claim.loc.line if claim.loc else 0
        claims.append(claim)
    return tuple(claims)


def parse_claim(
    node: Any,
    index: int,
    table: str,
    columns: tuple[str, ...],
    paper_rows: PaperLookup,
    *,
    where: Loc | None = None,
) -> Claim:
    """One entry of ``claims`` (see :func:`parse_claims`)."""
    path: Path_ = ("claims", index)
    expect(node, MAPPING, where=where, path=path)
    check_keys(node, path, _CLAIM_KEYS, required=_REQUIRED)
    claim_id = get(node, "id", STR, path)
    metric = _parse_metric(node, path, columns)
    relation, margin = _parse_relation(node, path)
    a, b = (_parse_ref(node, key, path, table) for key in ("a", "b"))
    value_a, value_b = (
        _paper_value(node, key, ref, metric, path, paper_rows) for key, ref in (("a", a), ("b", b))
    )
    delta = round(value_a - value_b, 6)
    _check_paper_agrees(node, path, relation, margin, delta, (a, value_a), (b, value_b), metric)
    return Claim(
        table=table,
        id=claim_id,
        a=a,
        b=b,
        metric=metric,
        relation=relation,
        paper_delta=delta,
        margin=margin,
        headline=get(node, "headline", BOOL, path, False),
        source=get(node, "source", OPT_STR, path, "") or "",
        loc=loc_of(node) if where is None else where,
    )


def _parse_metric(node: dict, path: Path_, columns: tuple[str, ...]) -> str:
    metric = get(node, "metric", STR, path)
    where, key = loc_of(node, "metric"), format_key((*path, "metric"))
    if metric not in columns:
        close = difflib.get_close_matches(metric, columns, n=2, cutoff=0.6)
        raise SpecError(
            where, key, f"{metric!r} is not a column of this spec ({', '.join(columns)})", close
        )
    if not is_ap_column(metric):
        aps = ", ".join(c for c in columns if is_ap_column(c)) or "none here"
        raise SpecError(
            where, key, f"{metric!r} is not an AP column; claims compare COCO AP ({aps})"
        )
    return metric


def _parse_relation(node: dict, path: Path_) -> tuple[str, float | None]:
    relation = get(node, "relation", STR, path)
    if relation not in RELATIONS:
        raise SpecError(
            loc_of(node, "relation"),
            format_key((*path, "relation")),
            f"expected one of {', '.join(repr(r) for r in RELATIONS)}, got {relation!r}",
        )
    if relation == "~" and "margin" not in node:
        raise SpecError(
            loc_of(node, "relation"),
            format_key((*path, "margin")),
            "missing key 'margin': relation '~' needs a margin in AP points",
        )
    if relation != "~" and "margin" in node:
        raise SpecError(
            loc_of(node, "margin"),
            format_key((*path, "margin")),
            f"a margin is only for relation '~' (this claim's relation is {relation!r})",
        )
    return relation, get(node, "margin", POS_NUMBER, path)


def _parse_ref(node: dict, key: str, path: Path_, table: str) -> RowRef:
    text = str(get(node, key, STR, path))
    parts = text.split(":")
    if len(parts) > 2 or not all(parts):
        raise SpecError(
            loc_of(node, key),
            format_key((*path, key)),
            f"expected a row id (row4) or table:row (table3:row4), got {text!r}",
        )
    return RowRef(table, parts[0]) if len(parts) == 1 else RowRef(parts[0], parts[1])


def _paper_value(
    node: dict, key: str, ref: RowRef, metric: str, path: Path_, paper_rows: PaperLookup
) -> float:
    where, key_path = loc_of(node, key), format_key((*path, key))
    rows = paper_rows(ref.table)
    if rows is None:
        raise SpecError(
            where, key_path, f"unknown table {ref.table!r} (no {ref.table}.yaml next to this spec)"
        )
    if ref.row not in rows:
        known = list(rows)
        close = difflib.get_close_matches(ref.row, known, n=2, cutoff=0.6)
        raise SpecError(
            where, key_path, f"no row {ref.row!r} in {ref.table} (rows: {', '.join(known)})", close
        )
    value = rows[ref.row].get(metric)
    if not is_number(value):
        raise SpecError(where, key_path, f"{ref} has no paper value for {metric}")
    return float(value)


def _check_paper_agrees(
    node: dict,
    path: Path_,
    relation: str,
    margin: float | None,
    delta: float,
    a: tuple[RowRef, float],
    b: tuple[RowRef, float],
    metric: str,
) -> None:
    """Refuse a claim whose relation the rows' own ``paper:`` values contradict."""
    holds = {">": delta > 0, "<": delta < 0, "~": margin is not None and abs(delta) <= margin}
    if holds[relation]:
        return
    numbers = f"{a[0]} {metric} {a[1]:g} - {b[0]} {metric} {b[1]:g} = {delta:+g}"
    expected = f"within +-{margin:g}" if relation == "~" else f"{relation} 0"
    raise SpecError(
        loc_of(node, "relation"),
        format_key((*path, "relation")),
        f"the paper's own numbers contradict {relation!r}: {numbers}, not {expected}",
    )


# --------------------------------------------------------------------------- seeds


class _HasMinSeeds(Protocol):
    min_seeds: int | None


def effective_min_seeds(
    spec: _HasMinSeeds | None = None, preset: _HasMinSeeds | None = None
) -> int:
    """Seeds per side a cross-training claim needs: the spec's ``min_seeds`` if set, else
    the preset's, else :data:`DEFAULT_MIN_SEEDS`."""
    for source in (spec, preset):
        value = getattr(source, "min_seeds", None)
        if value is not None:
            return int(value)
    return DEFAULT_MIN_SEEDS
