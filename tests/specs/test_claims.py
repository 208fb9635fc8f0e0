"""The paper's claims in the specs: parsed and checked at load time, one-line errors.

Every packaged table carries its claims and the paper's own numbers agree with each;
a wrong claim (unknown key or row, a metric that is no AP column, a relation the paper
contradicts...) fails with ``file:line`` and the key. ``min_seeds`` comes from the spec,
else the preset, else the default, and never changes a trial id.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from sbr.cli.ablation import EXIT_SPEC_ERROR, validate
from sbr.specs.claims import (
    DEFAULT_MIN_SEEDS,
    RELATIONS,
    RowRef,
    effective_min_seeds,
    is_ap_column,
)
from sbr.specs.expand import expand
from sbr.specs.presets import PRESETS_DIR, load_preset
from sbr.specs.schema import ABLATIONS_DIR, load_spec
from sbr.yamlspec.errors import SpecError

TABLES = [f"table{n}" for n in range(2, 12)]

#: A spec with two claims, one across tables (line numbers are fixed: tests replace lines).
CLAIMS_SPEC = """\
schema_version: 1
name: mini
columns: [L_t, B_AP, S_AP, Speed]
rows:
  - id: naive
    label: R3-CNN
    config: r3_cnn/r3-cnn_r50_fpn_1x_coco.py
    paper: {L_t: 3, B_AP: 40.9, S_AP: 37.2, Speed: 3.4}
  - id: deeper
    label: R3-CNN (deeper)
    config: r3_cnn/r3-cnn_r50_fpn_h2-aab_1x_coco.py
    paper: {L_t: 3, B_AP: 41.8, Speed: 3.4}
claims:
  - id: deeper-wins
    a: deeper
    b: naive
    metric: B_AP
    relation: ">"
    headline: true
    source: "Sec. 4.4.1"
  - id: close-to-other
    a: deeper
    b: other:row1
    metric: B_AP
    relation: "~"
    margin: 1.0
"""

#: The table ``other:row1`` names, written next to the spec.
OTHER_SPEC = """\
schema_version: 1
name: other
columns: [B_AP]
rows:
  - id: row1
    label: Mask
    config: mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py
    paper: {B_AP: 41.5}
"""


@pytest.fixture
def write_claims(write_spec):
    """Write CLAIMS_SPEC (with one replacement) and the ``other`` table next to it."""

    def write(replace: tuple[str, str] | None = None) -> Path:
        path = write_spec(CLAIMS_SPEC, replace=replace)
        (path.parent / "other.yaml").write_text(OTHER_SPEC, encoding="utf-8")
        return path

    return write


@pytest.fixture(scope="module")
def packaged():
    return {name: load_spec(ABLATIONS_DIR / f"{name}.yaml") for name in TABLES}


@pytest.mark.parametrize("name", TABLES)
def test_packaged_table_parses_with_its_claims(packaged, name: str) -> None:
    spec = packaged[name]
    assert spec.claims, f"{name} states no claim"
    rows = {row.id: row.paper_values for row in spec.rows}
    for claim in spec.claims:
        assert claim.table == name and claim.relation in RELATIONS and claim.source
        assert is_ap_column(claim.metric) and claim.metric in spec.columns
        other = packaged[claim.b.table] if claim.b.table != name else spec
        b_value = {r.id: r.paper_values for r in other.rows}[claim.b.row][claim.metric]
        if claim.a.table == name:
            assert claim.paper_delta == pytest.approx(rows[claim.a.row][claim.metric] - b_value)
        assert (claim.margin is None) == (claim.relation != "~")
    ids = [claim.id for claim in spec.claims]
    assert len(ids) == len(set(ids))


def test_packaged_claims_count_and_headlines(packaged) -> None:
    claims = [claim for spec in packaged.values() for claim in spec.claims]
    headlines = [claim for claim in claims if claim.headline]
    assert 60 <= len(claims) <= 90
    assert 12 <= len(headlines) <= 20
    # cross-table claims resolve against the other table's rows
    crossing = [c for c in claims if c.a.table != c.table or c.b.table != c.table]
    assert RowRef("table8", "row4") in {c.b for c in crossing}


def test_claim_reads_both_rows(write_claims) -> None:
    spec = load_spec(write_claims())
    wins, close = spec.claims
    assert (wins.a, wins.b) == (RowRef("mini", "deeper"), RowRef("mini", "naive"))
    assert wins.paper_delta == pytest.approx(0.9) and wins.headline and wins.margin is None
    assert close.b == RowRef("other", "row1") and close.paper_delta == pytest.approx(0.3)
    assert close.margin == 1.0 and not close.headline and close.loc.line == 21


ERROR_CASES = [
    pytest.param(
        ("    headline: true\n", "    headlin: true\n"),
        19,
        "claims[0].headlin",
        ["unknown key", "did you mean 'headline'"],
        id="unknown-key",
    ),
    pytest.param(
        ('    metric: B_AP\n    relation: ">"\n', '    relation: ">"\n'),
        14,
        "claims[0]",
        ["missing key 'metric'"],
        id="missing-key",
    ),
    pytest.param(
        ("  - id: close-to-other\n", "  - id: deeper-wins\n"),
        21,
        "claims[1].id",
        ["duplicate claim id 'deeper-wins' (already used at line 14)"],
        id="duplicate-id",
    ),
    pytest.param(
        ("    b: naive\n", "    b: naiv\n"),
        16,
        "claims[0].b",
        ["no row 'naiv' in mini (rows: naive, deeper)", "did you mean 'naive'"],
        id="unknown-row",
    ),
    pytest.param(
        ("    b: other:row1\n", "    b: other:row9\n"),
        23,
        "claims[1].b",
        ["no row 'row9' in other (rows: row1)"],
        id="unknown-row-other-table",
    ),
    pytest.param(
        ("    b: other:row1\n", "    b: table13:row1\n"),
        23,
        "claims[1].b",
        ["unknown table 'table13'"],
        id="unknown-table",
    ),
    pytest.param(
        ("    b: other:row1\n", "    b: other:row1:x\n"),
        23,
        "claims[1].b",
        ["expected a row id (row4) or table:row (table3:row4)"],
        id="malformed-row",
    ),
    pytest.param(
        ("    metric: B_AP\n", "    metric: B_AP50\n"),
        17,
        "claims[0].metric",
        ["'B_AP50' is not a column of this spec", "did you mean 'B_AP'"],
        id="metric-not-a-column",
    ),
    pytest.param(
        ("    metric: B_AP\n", "    metric: Speed\n"),
        17,
        "claims[0].metric",
        ["'Speed' is not an AP column", "(B_AP, S_AP)"],
        id="metric-not-ap",
    ),
    pytest.param(
        ('    relation: ">"\n', '    relation: ">="\n'),
        18,
        "claims[0].relation",
        ["expected one of '>', '<', '~', got '>='"],
        id="unknown-relation",
    ),
    pytest.param(
        ("    margin: 1.0\n", ""),
        25,
        "claims[1].margin",
        ["missing key 'margin'", "'~' needs a margin"],
        id="margin-missing-for-same",
    ),
    pytest.param(
        ('    relation: ">"\n', '    relation: ">"\n    margin: 0.5\n'),
        19,
        "claims[0].margin",
        ["only for relation '~'", "is '>'"],
        id="margin-given-for-above",
    ),
    pytest.param(
        ("    margin: 1.0\n", "    margin: -1\n"),
        26,
        "claims[1].margin",
        ["expected a positive number, got int -1"],
        id="margin-not-positive",
    ),
    pytest.param(
        ('    relation: ">"\n', '    relation: "<"\n'),
        18,
        "claims[0].relation",
        ["contradict '<'", "mini:deeper B_AP 41.8 - mini:naive B_AP 40.9 = +0.9", "not < 0"],
        id="paper-contradicts-below",
    ),
    pytest.param(
        ("    margin: 1.0\n", "    margin: 0.2\n"),
        25,
        "claims[1].relation",
        ["contradict '~'", "mini:deeper B_AP 41.8 - other:row1 B_AP 41.5 = +0.3", "+-0.2"],
        id="paper-contradicts-same",
    ),
    pytest.param(
        ("    metric: B_AP\n", "    metric: S_AP\n"),
        15,
        "claims[0].a",
        ["mini:deeper has no paper value for S_AP"],
        id="no-paper-value",
    ),
    pytest.param(
        ("    headline: true\n", "    headline: 1\n"),
        19,
        "claims[0].headline",
        ["expected true or false, got int 1"],
        id="headline-not-bool",
    ),
    pytest.param(
        ("claims:\n", "min_seeds: 0\nclaims:\n"),
        13,
        "min_seeds",
        ["expected a positive integer, got int 0"],
        id="min-seeds-not-positive",
    ),
]


@pytest.mark.parametrize(("replace", "line", "key", "fragments"), ERROR_CASES)
def test_claim_errors(write_claims, replace, line: int, key: str, fragments: list[str]) -> None:
    path = write_claims(replace)
    with pytest.raises(SpecError) as info:
        load_spec(path)
    message = str(info.value)
    assert "\n" not in message
    assert re.match(rf"^.*{re.escape(path.name)}:{line}: {re.escape(key)}: ", message), message
    for fragment in fragments:
        assert fragment in message, message


def test_validate_refuses_a_contradicted_claim(write_claims) -> None:
    path = write_claims(('    relation: ">"\n', '    relation: "<"\n'))
    result = CliRunner().invoke(validate, [str(path), "--no-build"])
    assert result.exit_code == EXIT_SPEC_ERROR, result.output
    (line,) = result.stderr.strip().splitlines()
    assert f"{path.name}:18: claims[0].relation: " in line
    assert "41.8" in line and "40.9" in line


def _preset_file(folder: Path, min_seeds: int | None) -> Path:
    text = (PRESETS_DIR / "mini.yaml").read_text(encoding="utf-8")
    if min_seeds is not None:
        text += f"min_seeds: {min_seeds}\n"
    path = folder / f"mini-{min_seeds}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("in_spec", "in_preset", "expected"),
    [
        pytest.param(None, None, DEFAULT_MIN_SEEDS, id="default"),
        pytest.param(None, 5, 5, id="preset"),
        pytest.param(4, None, 4, id="spec"),
        pytest.param(2, 5, 2, id="spec-over-preset"),
    ],
)
def test_min_seeds_precedence(write_claims, tmp_path, in_spec, in_preset, expected) -> None:
    replace = ("claims:\n", f"min_seeds: {in_spec}\nclaims:\n") if in_spec else None
    spec = load_spec(write_claims(replace))
    preset = load_preset(_preset_file(tmp_path, in_preset))
    assert (spec.min_seeds, preset.min_seeds) == (in_spec, in_preset)
    assert effective_min_seeds(spec, preset) == expected


def test_min_seeds_keeps_trial_ids(packaged, tmp_path) -> None:
    without = load_preset(_preset_file(tmp_path, None))
    with_seeds = load_preset(_preset_file(tmp_path, 7))
    assert with_seeds.min_seeds == 7 and without.identity() == with_seeds.identity()
    ids = [
        [t.trial_id for t in expand([packaged["table4"]], preset, seeds=range(2)).trials]
        for preset in (without, with_seeds)
    ]
    assert ids[0] == ids[1] and len(set(ids[0])) == 4  # Mask R-CNN and R3-CNN, 2 seeds
