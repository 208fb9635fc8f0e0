"""The dry-run plan built without models: injected params, status lookup and calibration."""

from __future__ import annotations

import pytest

from sbr.specs.expand import Expansion, expand
from sbr.specs.plan import UNKNOWN_STATUS, build_plan, estimate_cost, render_text
from sbr.specs.presets import load_preset
from sbr.specs.schema import ABLATIONS_DIR, load_spec

TABLES = range(2, 12)


@pytest.fixture(scope="module")
def specs():
    return [load_spec(ABLATIONS_DIR / f"table{n}.yaml") for n in TABLES]


@pytest.fixture(scope="module")
def paper():
    return load_preset("paper")


def test_all_tables_plan_counts_and_dedup_savings(specs, paper) -> None:
    expansion = expand(specs, paper)
    plan = build_plan(expansion, paper, params=lambda trial: len(trial.config))
    doc = plan.to_json()
    assert (len(doc["rows"]), doc["trainings"], doc["evaluations"]) == (74, 56, 60)
    assert set(doc["rows"][0]) >= {"table", "row", "label", "trial", "params", "paper", "status"}
    assert {row["status"] for row in doc["rows"]} == {UNKNOWN_STATUS}
    est = plan.estimate
    assert est.unit == "gpu_hours"
    assert est.total == pytest.approx(est.trainings + est.evaluations)
    assert est.saved == pytest.approx(est.without_dedup - est.total)
    assert 0 < est.saved < est.without_dedup
    mask = next(r for r in plan.rows if (r.table, r.row) == ("table2", "row1"))
    assert set(mask.shared_with) == {"table3/row1", "table4/row1", "table11/row1"}
    assert mask.paper["Params"] == "44,170 K"
    assert "74 rows -> 56 unique trainings, 60 evaluations" in render_text(plan)


def test_gpu_hours_follow_the_documented_formula(specs, paper) -> None:
    expansion = expand(specs[:1], paper)  # Table 2; row 1 is Mask R-CNN 1x at 11.6 img/s
    only_row1 = Expansion(expansion.trials[:1], expansion.evaluations[:1], expansion.rows[:1])
    est = estimate_cost(only_row1, paper)
    assert est.trainings == pytest.approx(117266 * 12 * 3.0 / 11.6 / 3600)
    assert est.evaluations == pytest.approx(5000 / 11.6 / 3600)
    assert est.saved == pytest.approx(0)


def test_status_lookup_is_pluggable(specs, paper) -> None:
    expansion = expand(specs[:1], paper)
    finished = {expansion.trials[0].trial_id}
    plan = build_plan(
        expansion, paper, status=lambda t: "finished" if t.trial_id in finished else None
    )
    assert [r.status for r in plan.rows][:2] == ["finished", UNKNOWN_STATUS]


@pytest.mark.parametrize(
    ("seconds", "has_total"),
    [pytest.param(0.5, True, id="calibrated"), pytest.param(None, False, id="not-calibrated")],
)
def test_smoke_estimate_needs_a_calibration(specs, seconds, has_total: bool) -> None:
    smoke = load_preset("smoke")
    expansion = expand(specs[:1], smoke)
    est = estimate_cost(expansion, smoke, seconds_per_iter=seconds)
    assert est.unit == "cpu_minutes"
    assert (est.total is not None) is has_total
    if has_total:
        # Mask R-CNN 1x (11.6 img/s = the reference): 4 iterations x 0.5 s x factor 1.
        mask = 4 * 0.5 * 1.0 / 60
        assert est.trainings > mask
    else:
        assert "could not calibrate" in est.note
        assert "estimate: unavailable (could not calibrate" in render_text(
            build_plan(expansion, smoke)
        )


@pytest.mark.parametrize(
    ("count", "printed", "expected"),
    [
        pytest.param(44_170_992, "44,170 K", "44,170 K", id="thousands"),
        pytest.param(37_910_516, "37.9 M", "37.9 M", id="millions-truncated"),
        pytest.param(54_250_820, "54.9 M", "54.2 M", id="table7-row3-as-configured"),
        pytest.param(60_604_761, None, None, id="lost-in-the-paper"),
        pytest.param(None, "37.9 M", None, id="not-built"),
    ],
)
def test_params_as_printed(count, printed, expected) -> None:
    from sbr.specs.plan import params_as_printed

    assert params_as_printed(count, printed) == expected
