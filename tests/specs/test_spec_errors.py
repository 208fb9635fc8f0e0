"""Broken specs: each fails with ONE line naming file:line and the key; nothing is launched.

Schema errors (misspelled key, wrong type, duplicate row id, unknown base config) come
from the pure loader; override paths and loop schedules are checked against the composed
MMEngine config (mmengine/mmdet needed, no model is built).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sbr.specs.expand import expand
from sbr.specs.presets import load_preset
from sbr.specs.schema import load_spec
from sbr.yamlspec.errors import SpecError

SCHEMA_CASES = [
    pytest.param(
        ("    label: R³-CNN\n", "    lable: R³-CNN\n"),
        6,
        "rows[0].lable",
        ["unknown key", "did you mean 'label'"],
        id="misspelled-key",
    ),
    pytest.param(
        ("    config: r3_cnn/r3-cnn_r50_fpn_1x_coco.py\n", "    config: 7\n"),
        7,
        "rows[0].config",
        ["expected a non-empty string, got int 7"],
        id="wrong-type",
    ),
    pytest.param(
        ("    paper: {L_t: 3, H: 1, B_AP: 40.9}", "    paper: {L_t: 3, H: 1, B_AP: [40.9]}"),
        8,
        "rows[0].paper.B_AP",
        ["expected a number, a string or null, got a list"],
        id="wrong-type-paper-value",
    ),
    pytest.param(
        ("  - id: deeper\n", "  - id: naive\n"),
        9,
        "rows[1].id",
        ["duplicate row id 'naive' (already used at line 5)"],
        id="duplicate-row-id",
    ),
    pytest.param(
        ("r3_cnn/r3-cnn_r50_fpn_1x_coco.py", "r3_cnn/r3-cnn_r50_fpn_2x_coco.py"),
        7,
        "rows[0].config",
        ["unknown base config", "did you mean 'r3_cnn/r3-cnn_r50_fpn_1x_coco.py'"],
        id="unknown-base-config",
    ),
    pytest.param(
        ("    paper: {L_t: 3, H: 1, B_AP: 40.9}", "    paper: {L_t: 3, H: 1, BAP: 40.9}"),
        8,
        "rows[0].paper.BAP",
        ["unknown key", "did you mean 'B_AP'"],
        id="paper-column-not-declared",
    ),
]


def _assert_one_line(message: str, path: Path, line: int, key: str, fragments: list[str]) -> None:
    assert "\n" not in message
    assert re.match(rf"^.*{re.escape(path.name)}:{line}: {re.escape(key)}: ", message), message
    for fragment in fragments:
        assert fragment in message


@pytest.mark.parametrize(("replace", "line", "key", "fragments"), SCHEMA_CASES)
def test_schema_errors(write_spec, replace, line: int, key: str, fragments: list[str]) -> None:
    path = write_spec(replace=replace)
    with pytest.raises(SpecError) as info:
        load_spec(path)
    _assert_one_line(str(info.value), path, line, key, fragments)


CONFIG_CASES = [
    pytest.param(
        ("      model.roi_head.stages: aab\n", "      model.roi_head.num_stagez: 3\n"),
        13,
        'rows[deeper].overrides."model.roi_head.num_stagez"',
        ["unknown config key 'num_stagez' in model.roi_head", "did you mean 'num_stages'"],
        id="unknown-override-path",
    ),
    pytest.param(
        ("      model.roi_head.stages: aab\n", "      model.roi_head.stages: abz\n"),
        13,
        'rows[deeper].overrides."model.roi_head.stages"',
        ["alternation 'abz': loop 2 uses head 'z' but only H=2"],
        id="alternation-unknown-head",
    ),
    pytest.param(
        ("      model.roi_head.stages: aab\n", "      model.roi_head.stages: aa\n"),
        13,
        'rows[deeper].overrides."model.roi_head.stages"',
        ["covers 2 loops but must cover max(L_t=3, L_e=3) = 3"],
        id="alternation-too-short",
    ),
    pytest.param(
        ("      model.roi_head.stages: aab\n", "      model.roi_head.stages: a1b\n"),
        13,
        'rows[deeper].overrides."model.roi_head.stages"',
        ["'1' at position 1 is not a-z"],
        id="alternation-not-letters",
    ),
    pytest.param(
        ("num_stages_test: 3\n", "num_stages_test: 4\n"),
        15,
        'rows[deeper].eval_overrides."model.roi_head.num_stages_test"',
        ["must cover max(L_t=3, L_e=4) = 4", "the heads allow L_e <= 3"],
        id="L_e-larger-than-heads-allow",
    ),
    pytest.param(
        ("    paper: {L_t: 3, H: 1, B_AP: 40.9}", "    paper: {L_t: 3, H: 2, B_AP: 40.9}"),
        8,
        "rows[naive].paper.H",
        ["the paper prints 2 but the composed config has 1"],
        id="paper-column-disagrees-with-config",
    ),
]


@pytest.mark.parametrize(("replace", "line", "key", "fragments"), CONFIG_CASES)
def test_config_errors(write_spec, replace, line: int, key: str, fragments: list[str]) -> None:
    from sbr.specs.validate import validate_expansion

    path = write_spec(replace=replace)
    expansion = expand([load_spec(path)], load_preset("paper"))
    with pytest.raises(SpecError) as info:
        validate_expansion(expansion, build_models=False)
    _assert_one_line(str(info.value), path, line, key, fragments)


def test_new_key_marker_allows_absent_paths(write_spec) -> None:
    from sbr.specs.validate import validate_expansion

    path = write_spec(
        replace=("      model.roi_head.stages: aab\n", "      +model.roi_head.my_new_flag: 3\n")
    )
    spec = load_spec(path)
    assert spec.rows[1].overrides[0].new
    report = validate_expansion(expand([spec], load_preset("paper")), build_models=False)
    assert (report.trials, report.evaluations) == (2, 2)


def test_good_mini_spec_validates(write_spec) -> None:
    from sbr.specs.validate import validate_expansion

    report = validate_expansion(
        expand([load_spec(write_spec())], load_preset("paper")), build_models=False
    )
    assert (report.trials, report.evaluations, dict(report.params)) == (2, 2, {})


RESOURCE_CASES = [
    pytest.param("  gpus: 8\n  workers: 3\n", "resources.workers",
                 ["8 GPUs do not divide among 3 workers"], id="gpus-not-divisible"),
    pytest.param("  gpus: 8\n  worker: 4\n", "resources.worker",
                 ["unknown key", "did you mean 'workers'"], id="misspelled-workers"),
    pytest.param("  cpus: 2\n  gpus: -1\n", "resources.gpus",
                 ["expected a non-negative number"], id="negative-gpus"),
    pytest.param("  gpus: 8\n  workers: 0\n", "resources.workers",
                 ["expected a positive integer"], id="zero-workers"),
]  # fmt: skip


@pytest.mark.parametrize(("block", "key", "fragments"), RESOURCE_CASES)
def test_preset_resource_errors(tmp_path: Path, block: str, key: str, fragments) -> None:
    from sbr.specs.presets import PRESETS_DIR

    text = (PRESETS_DIR / "paper.yaml").read_text(encoding="utf-8")
    head, rest = text.split("resources:", 1)
    path = tmp_path / "paper.yaml"
    path.write_text(f"{head}resources:\n{block}cost:{rest.split('cost:', 1)[1]}")
    wrong = key.rsplit(".", 1)[1] + ":"
    line = head.count("\n") + 2 + next(i for i, t in enumerate(block.splitlines()) if wrong in t)
    with pytest.raises(SpecError) as info:
        load_preset(path)
    _assert_one_line(str(info.value), path, line, key, fragments)


@pytest.mark.parametrize(
    ("resources", "workers"),
    [({}, 1), ({"cpus": 2}, 1), ({"gpus": 0.5}, 1), ({"gpus": 8}, 8),
     ({"gpus": 8, "workers": 2}, 2), ({"cpus": 2, "workers": 2}, 2)],
    ids=["none", "cpu-only", "fractional-gpu", "one-per-gpu", "explicit", "cpu-ddp"],
)  # fmt: skip
def test_trial_workers(resources: dict, workers: int) -> None:
    from sbr.specs.schema import trial_workers

    assert trial_workers(resources) == workers
