"""`sbr validate` checks the paper's flag columns (M_IoU, L2C, NL_b, NL_a) against the
composed config: a row whose config does not match its printed flags (a blank cell
included) fails with file:line and the key, before anything launches."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from sbr.cli.ablation import EXIT_SPEC_ERROR, validate
from sbr.specs.expand import expand
from sbr.specs.presets import load_preset
from sbr.specs.schema import load_spec
from sbr.specs.validate import validate_expansion
from sbr.yamlspec.errors import SpecError

R3 = "r3_cnn/r3-cnn_r50_fpn"
#: Table 6: the flags describe the detection head (the rows' paper values on lines 5-7, 9).
FLAG_SPEC = f"""\
schema_version: 1
name: flags
columns: [L_t, H, L2C, NL_b, NL_a, B_AP]
rows:
  - {{id: plain, label: R3, config: {R3}_1x_coco.py, paper: {{L_t: 3, B_AP: 1}}}}
  - {{id: square, label: R3, config: {R3}_fcc-7x7_1x_coco.py, paper: {{L2C: 7×7}}}}
  - {{id: rect, label: R3, config: {R3}_fcc-rect_1x_coco.py, paper: {{L2C: 7×3→3×7}}}}
  - {{id: nla, label: R3, config: {R3}_fcc-7x7-nlb-nla_1x_coco.py,
      paper: {{L2C: 7×7, NL_b: ✓, NL_a: ✓}}}}
"""
#: Table 7: with an M_IoU column the flags describe the Mask IoU branch (lines 8 and 12).
MASK_IOU_SPEC = f"""\
schema_version: 1
name: maskiou
columns: [L_t, H, M_IoU, L2C, NL_b, NL_a, B_AP]
rows:
  - id: head-only
    label: R3
    config: {R3}_fcc-rect-slim-nlb_1x_coco.py
    paper: {{L_t: 3, H: 1}}
  - id: branch
    label: R3
    config: {R3}_fcc-rect-slim-nlb_maskiou-fcc-7x7-nlb_1x_coco.py
    paper: {{M_IoU: ✓, L2C: 7×7, NL_b: ✓}}
"""
DEFAULTS = "schema_version: 1\npreset: paper\nschedule: 1x\nseeds: [0]\nassumed_speed: 3.4\n"


def _write(tmp_path: Path, text: str, replace: tuple[str, str] | None) -> Path:
    if replace is not None:
        assert replace[0] in text, replace[0]
        text = text.replace(*replace)
    (tmp_path / "defaults.yaml").write_text(DEFAULTS, encoding="utf-8")
    path = tmp_path / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    return path


CASES = [
    pytest.param(FLAG_SPEC, None, None, None, id="table6-flags-match"),
    pytest.param(MASK_IOU_SPEC, None, None, None, id="table7-flags-match"),
    pytest.param(
        FLAG_SPEC,
        ("paper: {L2C: 7×7}}", "paper: {L2C: 7×3→3×7}}"),
        6,
        "rows[square].paper.L2C",
        id="L2C-square-printed-rect",
    ),
    pytest.param(
        FLAG_SPEC,
        ("paper: {L_t: 3, B_AP: 1}", "paper: {L_t: 3, L2C: 7×7, B_AP: 1}"),
        5,
        "rows[plain].paper.L2C",
        id="L2C-on-a-plain-head",
    ),
    pytest.param(
        FLAG_SPEC,
        ("fcc-7x7_1x_coco.py, paper", "fcc-7x7-nlb_1x_coco.py, paper"),
        6,
        "rows[square].paper.NL_b",
        id="NL_b-in-config-blank-in-paper",
    ),
    pytest.param(
        FLAG_SPEC,
        ("NL_b: ✓, NL_a: ✓}", "NL_b: ✓}"),
        9,
        "rows[nla].paper.NL_a",
        id="NL_a-in-config-blank-in-paper",
    ),
    pytest.param(
        MASK_IOU_SPEC,
        ("paper: {L_t: 3, H: 1}", "paper: {L_t: 3, H: 1, M_IoU: ✓}"),
        8,
        "rows[head-only].paper.M_IoU",
        id="M_IoU-printed-without-branch",
    ),
    pytest.param(
        MASK_IOU_SPEC,
        ("L2C: 7×7, NL_b: ✓}", "L2C: 7×7, NL_b: ✓, NL_a: ✓}"),
        12,
        "rows[branch].paper.NL_a",
        id="NL_a-printed-missing-in-branch",
    ),
]


@pytest.mark.parametrize(("text", "replace", "line", "key"), CASES)
def test_flag_columns_against_the_composed_config(tmp_path, text, replace, line, key) -> None:
    path = _write(tmp_path, text, replace)
    expansion = expand([load_spec(path)], load_preset("paper"))
    if key is None:
        report = validate_expansion(expansion, build_models=False)
        assert report.trials == len(expansion.rows)
    else:
        with pytest.raises(SpecError) as info:
            validate_expansion(expansion, build_models=False)
        message = str(info.value)
        assert "\n" not in message
        assert re.match(rf"^.*{re.escape(path.name)}:{line}: {re.escape(key)}: ", message), message
        assert "the composed config has" in message and "model.roi_head." in message


def test_validate_cli_reports_a_flag_mismatch_as_one_line(tmp_path) -> None:
    path = _write(tmp_path, FLAG_SPEC, ("NL_b: ✓, NL_a: ✓}", "NL_b: ✓}"))
    result = CliRunner().invoke(validate, [str(path), "--no-build"])
    assert result.exit_code == EXIT_SPEC_ERROR, result.output
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: ") and f"{path.name}:9" in line and "paper.NL_a" in line
