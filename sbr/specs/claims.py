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
report layer (verdicts); it imports nothing heavy.
"""

from __future__ import annotations

from dataclasses import dataclass

from sbr.specs.errors import Loc

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
