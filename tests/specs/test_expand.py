"""Pure expansion: rows/grids/seeds -> trials and evaluations, content-hash identities.

Nothing here needs torch, ray, mlflow, mmengine or mmdet (asserted in a subprocess).
"""

from __future__ import annotations

import dataclasses
import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from sbr.specs.expand import content_hash, expand, grid_rows, spec_rows
from sbr.specs.presets import load_preset
from sbr.specs.schema import ABLATIONS_DIR, AblationSpec, Grid, Override, Row, load_spec
from sbr.yamlspec.errors import SpecError

NAIVE = "r3_cnn/r3-cnn_r50_fpn_1x_coco.py"
DEEPER = "r3_cnn/r3-cnn_r50_fpn_h2-aab_1x_coco.py"
PAPER_ROWS = {2: 5, 3: 5, 4: 6, 5: 8, 6: 12, 7: 12, 8: 7, 9: 7, 10: 2, 11: 10}


@pytest.fixture(scope="module")
def paper():
    return load_preset("paper")


@pytest.fixture(scope="module")
def tables() -> list[AblationSpec]:
    return [load_spec(ABLATIONS_DIR / f"table{n}.yaml") for n in PAPER_ROWS]


def _spec(*rows: Row, seeds: tuple[int, ...] | None = None) -> AblationSpec:
    return AblationSpec(name="t", file="t.yaml", rows=rows, seeds=seeds)


BASE = Row(id="r", label="R3", config=NAIVE)


def _with(**changes) -> Row:
    return dataclasses.replace(BASE, id="other", **changes)


@pytest.mark.parametrize(
    ("other", "same_trial", "same_eval"),
    [
        pytest.param(_with(label="renamed", note="x"), True, True, id="label-and-note-ignored"),
        pytest.param(_with(paper=(("B_AP", 1.0),)), True, True, id="paper-numbers-ignored"),
        pytest.param(_with(assumed_speed=9.0), True, True, id="cost-figures-ignored"),
        pytest.param(
            _with(eval_overrides=(Override("model.roi_head.num_stages_test", 2),)),
            True,
            False,
            id="eval-override-same-training",
        ),
        pytest.param(
            _with(overrides=(Override("model.roi_head.num_stages", 2),)),
            False,
            False,
            id="train-override",
        ),
        pytest.param(_with(config=DEEPER), False, False, id="base-config"),
        pytest.param(
            _with(config="r3_cnn/r3-cnn_r50_fpn_1x_coco"), True, True, id="config-name-normalised"
        ),
        pytest.param(_with(schedule="3x"), False, False, id="schedule"),
    ],
)
def test_identity_covers_training_only(
    paper, other: Row, same_trial: bool, same_eval: bool
) -> None:
    result = expand([_spec(BASE, other)], paper)
    first, second = result.rows
    assert (first.trial_id == second.trial_id) is same_trial
    assert (first.eval_id == second.eval_id) is same_eval
    assert len(result.trials) == (1 if same_trial else 2)


@pytest.mark.parametrize(
    ("kwargs", "changes"),
    [
        pytest.param({"data_root": "/elsewhere"}, True, id="data-root"),
        # the paper preset says data/coco/: other spellings of the same folder, same trials
        pytest.param({"data_root": "data/coco"}, False, id="no-trailing-slash"),
        pytest.param({"data_root": "./data/coco/"}, False, id="dot-prefix"),
        pytest.param({"seeds": [1]}, True, id="seed"),
        pytest.param({"seeds": [0]}, False, id="same-seed"),
    ],
)
def test_dataset_and_seed_are_part_of_the_identity(paper, kwargs: dict, changes: bool) -> None:
    reference = expand([_spec(BASE)], paper).trials[0].trial_id
    assert (expand([_spec(BASE)], paper, **kwargs).trials[0].trial_id != reference) is changes


def test_preset_is_part_of_the_identity(paper) -> None:
    smoke = load_preset("smoke")
    assert (
        expand([_spec(BASE)], paper).trials[0].trial_id
        != expand([_spec(BASE)], smoke).trials[0].trial_id
    )


def test_hash_is_deterministic_and_order_independent_for_dict_keys() -> None:
    assert content_hash({"a": 1, "b": [1, 2]}) == content_hash({"b": [1, 2], "a": 1})
    assert content_hash({"a": 1}) != content_hash({"a": 1.5})
    assert len(content_hash({})) == 12
    # hand-computed: sorted keys, no spaces, non-ASCII escaped (ids do not depend on locale)
    text = '{"a":[1,2],"b":"R\\u00b3"}'
    assert content_hash({"b": "R³", "a": [1, 2]}) == hashlib.sha256(text.encode()).hexdigest()[:12]
    assert content_hash([1], chars=8) == hashlib.sha256(b"[1]").hexdigest()[:8]


@pytest.mark.parametrize(
    ("seeds", "rows", "trials"),
    [
        pytest.param(None, 2, 1, id="spec-default-one-seed"),
        pytest.param((0, 1, 2), 6, 3, id="three-seeds"),
    ],
)
def test_seeds_repeat_every_row(paper, seeds, rows: int, trials: int) -> None:
    evaluated = _with(eval_overrides=(Override("model.roi_head.num_stages_test", 2),))
    result = expand([_spec(BASE, evaluated, seeds=seeds)], paper)
    assert (len(result.rows), len(result.trials), len(result.evaluations)) == (
        rows,
        trials,
        2 * trials,
    )


@pytest.mark.parametrize(
    ("axes", "eval_axes", "expected_ids", "trainings"),
    [
        pytest.param(((2, 3),), (), ["g-1", "g-2"], 2, id="one-train-axis"),
        pytest.param(((2, 3), (0.5, 0.6)), (), ["g-1", "g-2", "g-3", "g-4"], 4, id="product"),
        pytest.param(
            ((3,),), ((1, 2, 3),), ["g-1", "g-2", "g-3"], 1, id="eval-axis-shares-training"
        ),
    ],
)
def test_grid_product(paper, axes, eval_axes, expected_ids, trainings) -> None:
    train_paths = ["model.roi_head.num_stages", "model.roi_head.loop_iou_thrs"]
    grid = Grid(
        id="g",
        label="L",
        config=NAIVE,
        axes=tuple((Override(p, None), v) for p, v in zip(train_paths, axes, strict=False)),
        eval_axes=tuple((Override("model.roi_head.num_stages_test", None), v) for v in eval_axes),
    )
    rows = grid_rows(grid)
    assert [r.id for r in rows] == expected_ids
    assert grid.row_ids() == tuple(expected_ids)  # what `reference:` is checked against
    assert rows[0].label.startswith("L (num_stages=")
    spec = AblationSpec(name="t", file="t.yaml", grids=(grid,))
    assert len(expand([spec], paper).trials) == trainings


def test_unknown_schedule_is_a_spec_error(paper) -> None:
    with pytest.raises(SpecError, match="schedule '2x' is not defined by preset 'paper'"):
        expand([_spec(_with(schedule="2x"))], paper)


def test_paper_tables_list_exactly_the_paper_rows(tables) -> None:
    assert {int(t.name.removeprefix("table")): len(spec_rows(t)) for t in tables} == PAPER_ROWS


def test_all_tables_deduplicate_to_56_trainings_and_60_evaluations(tables, paper) -> None:
    result = expand(tables, paper)
    assert (len(result.rows), len(result.trials), len(result.evaluations)) == (74, 56, 60)
    by_row = {(r.table, r.row_id): r for r in result.rows}
    # B0 (R3-CNN naive) serves Table 2 row 4, Table 3 row 4, Table 4 rows 2-6, Table 6 row 2.
    naive = by_row["table2", "row4"].trial_id
    users = {key for key, row in by_row.items() if row.trial_id == naive}
    assert users == {("table2", "row4"), ("table3", "row4"), ("table6", "row2")} | {
        ("table4", f"row{n}") for n in range(2, 7)
    }
    assert len({by_row["table4", f"row{n}"].eval_id for n in range(2, 7)}) == 5


def test_expansion_imports_no_heavy_library() -> None:
    code = (
        "import sys\n"
        "from sbr.specs import build_plan, expand, load_preset, load_spec\n"
        "from sbr.specs.schema import ABLATIONS_DIR\n"
        "specs = [load_spec(p) for p in sorted(ABLATIONS_DIR.glob('table*.yaml'))]\n"
        "preset = load_preset('paper')\n"
        "build_plan(expand(specs, preset), preset)\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & "
        "{'torch', 'ray', 'mlflow', 'mmengine', 'mmdet', 'mmcv'})\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_readme_example_is_a_valid_spec(tmp_path: Path, paper) -> None:
    readme = (ABLATIONS_DIR / "README.md").read_text(encoding="utf-8")
    example = readme.split("## Annotated example", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "example.yaml"
    path.write_text(example, encoding="utf-8")
    spec = load_spec(path)
    result = expand([spec], paper)
    # 1 row + a grid of 2 train x 2 eval values, each with seeds 0 and 1.
    assert (len(result.rows), len(result.trials), len(result.evaluations)) == (10, 6, 10)


@pytest.mark.parametrize(
    ("paper_speed", "assumed", "expected"),
    [
        pytest.param(11.6, 5.0, 11.6, id="printed-speed-wins"),
        pytest.param(7, None, 7.0, id="integer-speed"),
        pytest.param(0.5, 5.0, 0.5, id="slow-model"),
        pytest.param(None, 5.0, 5.0, id="lost-speed-row-assumption"),
        pytest.param(0.0, 5.0, 5.0, id="zero-is-no-speed"),
        pytest.param(True, 5.0, 5.0, id="a-flag-is-no-speed"),
        pytest.param("n/a", None, 2.5, id="text-spec-default"),
    ],
)
def test_row_speed_for_the_cost_estimate(paper, paper_speed, assumed, expected) -> None:
    from sbr.specs.schema import Defaults

    row = _with(paper=(("Speed", paper_speed),), assumed_speed=assumed)
    spec = dataclasses.replace(_spec(row), defaults=Defaults(assumed_speed=2.5))
    (planned,) = expand([spec], paper).rows
    assert planned.speed == expected and isinstance(planned.speed, float)


def test_planned_rows_carry_table_seed_and_columns(paper) -> None:
    spec = dataclasses.replace(_spec(BASE, seeds=(3, 4)), name="tbl", columns=("B_AP", "H"))
    result = expand([spec], paper)
    assert [(r.table, r.row_id, r.seed, r.columns) for r in result.rows] == [
        ("tbl", "r", 3, ("B_AP", "H")),
        ("tbl", "r", 4, ("B_AP", "H")),
    ]
    assert [t.seed for t in result.trials] == [3, 4]
    assert "preset=" not in repr(result.trials[0])  # the preset is long: left out of reprs
    assert result.trial(result.rows[1].trial_id) is result.trials[1]
    assert result.evaluations[0].eval_id == f"{result.trials[0].trial_id}/final"


def test_expansion_results_are_immutable(paper) -> None:
    """Trials are shared by several rows and hashed: nothing may change one in place."""
    result = expand([_spec(BASE)], paper)
    for obj, name in [
        (result, "rows"),
        (result.trials[0], "seed"),
        (result.evaluations[0], "eval_id"),
        (result.rows[0], "seed"),
    ]:
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(obj, name, None)


def test_evaluation_suffix_hashes_the_eval_overrides() -> None:
    from sbr.specs.expand import evaluation_suffix

    assert evaluation_suffix(()) == "final"
    expected = hashlib.sha256(b'[["model.x",2]]').hexdigest()[:8]  # hand-computed
    assert evaluation_suffix((Override("model.x", 2),)) == f"eval-{expected}"


def test_grid_labels_name_each_axis_by_its_last_key() -> None:
    grid = Grid(
        id="g",
        label="L",
        config=NAIVE,
        axes=((Override("model.roi_head.num_stages", None), (2,)), (Override("lr", None), (0.1,))),
    )
    (row,) = grid_rows(grid)
    assert row.label == "L (num_stages=2, lr=0.1)"
    assert row.overrides == (Override("model.roi_head.num_stages", 2), Override("lr", 0.1))
