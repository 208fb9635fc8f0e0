"""The spec key ``reference: rowN`` (the baseline of the reports' paired differences)."""

from __future__ import annotations

import pytest

from sbr.reports.tables import layout_from_spec
from sbr.specs.schema import parse_spec
from sbr.yamlspec.errors import SpecError
from sbr.yamlspec.loader import load_yaml

SPEC = """\
schema_version: 1
name: loops
columns: [B_AP]
{reference}
rows:
  - id: row1
    label: Mask
    config: mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py
  - id: row2
    label: R3
    config: r3_cnn/r3-cnn_r50_fpn_1x_coco.py
grids:
  - id: lt
    label: R3
    config: r3_cnn/r3-cnn_r50_fpn_1x_coco.py
    axes:
      model.roi_head.with_mask_loop: [true, false]
"""


def _spec(reference: str):
    text = SPEC.format(reference=reference)
    return parse_spec(load_yaml(text, source="loops.yaml"), file="loops.yaml")


@pytest.mark.parametrize(
    ("line", "expected"),
    [("", "row1"), ("reference: row2", "row2"), ("reference: lt-2", "lt-2")],
    ids=["default-first-row", "explicit-row", "grid-row"],
)
def test_reference_row_of_the_layout(line: str, expected: str) -> None:
    spec = _spec(line)
    assert spec.reference == (expected if line else None)
    assert layout_from_spec(spec).reference_row == expected


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("reference: row3", r"loops\.yaml:4: reference: no row 'row3' in this spec"),
        ("reference: 2", r"loops\.yaml:4: reference: expected a non-empty string"),
    ],
    ids=["unknown-row", "not-a-string"],
)
def test_bad_reference_names_file_line_and_key(line: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        _spec(line)
