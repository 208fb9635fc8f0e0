"""Claims: verdict rules, and ``sbr report claims`` on a one-seed mini run of Table 4.

The store holds Table 4 as a one-seed ``mini`` run logs it, with real per-image data from
the session's smoke model: row 1 (Mask R-CNN, its own training) and row 4 (the R³-CNN
training's final evaluation) with the smoke model's artifact made worse in two different
ways, row 2 (an evaluation-only variant of the same R³-CNN training, L_e = 1) with the
smoke model's own artifact. Acceptance (issue 19): row 4 vs row 2 has a measured delta
and ``same_training`` true; no claim between two trainings is decided from one seed;
``table4.tex`` has no dagger and no level difference to COCO.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from ci_gate import needs_pdflatex, require
from click.testing import CliRunner

from sbr.cli.report import report
from sbr.metrics import (
    ARTIFACT_PER_IMAGE_DIR,
    DEFAULT_EXPERIMENT,
    TAG_DATASET_NAME,
    TAG_EVAL,
    TAG_KIND,
    TAG_PRESET,
    TAG_ROWS,
    TAG_SEED,
    TAG_STATUS,
    TAG_TABLES,
    TAG_TRIAL,
    coco_key,
)
from sbr.reports.claims import CLAIM_COLUMNS, verdict_of
from sbr.reports.tables import load_layout, paper_number
from sbr.specs.claims import DEFAULT_MIN_SEEDS, Claim, RowRef

mlflow = require("mlflow")


@pytest.mark.parametrize(
    ("relation", "low", "high", "margin", "verdict"),
    [
        (">", 0.1, 2.0, None, "reproduced"),
        (">", -0.1, 2.0, None, "inconclusive"),
        (">", -3.0, -0.2, None, "contradicted"),
        ("<", -3.0, -0.2, None, "reproduced"),
        ("<", 0.1, 2.0, None, "contradicted"),
        ("<", 0.0, 2.0, None, "inconclusive"),
        (">", 0.0, 2.0, None, "inconclusive"),
        ("~", -0.4, 0.3, 0.5, "reproduced"),
        ("~", -0.4, 0.7, 0.5, "inconclusive"),
        ("~", 0.6, 1.7, 0.5, "contradicted"),
        ("~", -1.7, -0.6, 0.5, "contradicted"),
    ],
    ids=[
        "gt-above", "gt-straddles", "gt-below", "lt-below", "lt-above", "lt-touches-0",
        "gt-touches-0", "same-within", "same-overlaps", "same-above", "same-below",
    ],
)  # fmt: skip
def test_verdict_rules(relation, low, high, margin, verdict) -> None:
    assert verdict_of(relation, low, high, margin)[0] == verdict


def _worse(results: list[dict], keep: str) -> list[dict]:
    median = float(np.median([r["score"] for r in results]))
    if keep == "unconfident":
        return [r for r in results if r["score"] < median]
    return [r for i, r in enumerate(results) if i % 3]  # a third dropped


def _artifact(smoke_run, synth_root: Path, tmp: Path, variant: str) -> Path:
    from sbr.engine.per_image import match_coco, write_match_tables

    folder = Path(smoke_run.work_dir) / "per_image"
    if variant == "own":
        return folder / "match_tables.npz"
    gt = json.loads((synth_root / "annotations" / "instances_val.json").read_text())
    tables = {}
    for iou_type in ("bbox", "segm"):
        results = json.loads((folder / f"results.{iou_type}.json").read_text())
        if iou_type == "segm":
            results = [{k: v for k, v in r.items() if k != "bbox"} for r in results]
        tables[iou_type] = match_coco(gt, _worse(results, variant), iou_type)
    return write_match_tables(tmp / variant / "match_tables.npz", tables)


def _ap(path: Path) -> dict[str, float]:
    from sbr.engine.per_image import read_match_tables
    from sbr.reports.bootstrap import evaluate

    tables, _ = read_match_tables(path)
    return {coco_key(t, "mAP"): float(evaluate(tables[t])["mAP"][0]) for t in ("bbox", "segm")}


@pytest.fixture(scope="module")
def store(smoke_run, synth_root, tmp_path_factory) -> tuple[str, dict[str, dict[str, float]]]:
    tmp = tmp_path_factory.mktemp("claims_store")
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    client = mlflow.MlflowClient(tracking_uri=uri)
    exp = client.create_experiment(DEFAULT_EXPERIMENT, artifact_location=(tmp / "art").as_uri())
    row2 = next(r.eval_suffix for r in load_layout("table4").rows if r.id == "row2")
    paths = {v: _artifact(smoke_run, synth_root, tmp, v) for v in ("own", "unconfident", "third")}
    runs = [  # (trial, rows, kind, eval suffix, artifact)
        ("mask", "table4/row1", "training", "final", "unconfident"),
        ("r3", "table4/row2,table4/row4", "training", "final", "third"),
        ("r3", "", "evaluation", row2, "own"),
    ]
    for trial, rows, kind, suffix, variant in runs:
        run_id = client.create_run(exp).info.run_id
        tags = {
            TAG_TRIAL: trial, TAG_TABLES: "table4", TAG_ROWS: rows, TAG_STATUS: "finished",
            TAG_KIND: kind, TAG_SEED: "0", TAG_EVAL: f"{trial}/{suffix}", TAG_PRESET: "mini",
            TAG_DATASET_NAME: "synth",
        }  # fmt: skip
        for key, value in tags.items():
            client.set_tag(run_id, key, value)
        for key, value in _ap(paths[variant]).items():
            client.log_metric(run_id, key, value)
        client.log_artifact(run_id, str(paths[variant]), ARTIFACT_PER_IMAGE_DIR)
        client.set_terminated(run_id, "FINISHED")
    return uri, {v: _ap(p) for v, p in paths.items()}


def _with_table4_claims(layout):
    """Table 4's layout with the brief's two claims added (if the spec lacks them)."""
    if layout.name != "table4":
        return layout
    paper = {r.id: paper_number(r.paper.get("B_AP")) for r in layout.rows}
    extra = tuple(
        Claim(
            "table4",
            f"test-{a}-{b}",
            RowRef("table4", a),
            RowRef("table4", b),
            "B_AP",
            ">",
            paper[a] - paper[b],
            headline=True,
        )  # fmt: skip
        for a, b in (("row4", "row2"), ("row4", "row1"))
    )
    have = {(str(c.a), str(c.b), c.metric) for c in layout.claims}
    extra = tuple(c for c in extra if (str(c.a), str(c.b), c.metric) not in have)
    return dataclasses.replace(layout, claims=layout.claims + extra)


@pytest.fixture(scope="module")
def built(store, tmp_path_factory) -> Path:
    from sbr.reports import build

    uri, _ = store
    out = tmp_path_factory.mktemp("claims_report") / "reports"
    with pytest.MonkeyPatch.context() as patch:
        original = build.load_layout
        patch.setattr(build, "load_layout", lambda name: _with_table4_claims(original(name)))
        for target in ("table4", "claims"):
            result = CliRunner().invoke(
                report, [target, "--tracking-uri", uri, "--out", str(out)], catch_exceptions=False
            )
            assert result.exit_code == 0, result.output
    return out


def _claims(built: Path) -> pd.DataFrame:
    return pd.read_csv(built / "claims" / "claims.csv", comment="#")


def test_claims_csv_columns_and_the_within_training_claim(built: Path, store) -> None:
    _, ap = store
    frame = _claims(built)
    assert list(frame.columns) == list(CLAIM_COLUMNS)
    mine = frame[(frame["a"] == "table4:row4") & (frame["b"] == "table4:row2")
                 & (frame["metric"] == "B_AP")]  # fmt: skip
    assert len(mine) >= 1
    record = mine.iloc[0]
    expected = 100 * (ap["third"][coco_key("bbox")] - ap["own"][coco_key("bbox")])
    assert record["delta"] == pytest.approx(expected, abs=1e-3)
    assert bool(record["same_training"]) and (record["seeds_a"], record["seeds_b"]) == (1, 1)
    assert record["delta_ci_low"] < record["delta_ci_high"]
    assert record["verdict"] in ("reproduced", "contradicted", "inconclusive")
    assert record["paper_delta"] == pytest.approx(40.9 - 37.7)


def test_no_claim_between_two_trainings_is_decided_from_one_seed(built: Path) -> None:
    frame = _claims(built)
    across = frame[~frame["same_training"].astype(bool) & (frame["verdict"] != "not run")]
    assert len(across) >= 1  # row4 vs row1 at least
    assert set(across["verdict"]) == {"inconclusive"}
    assert set(across["note"]) == {"inconclusive (1 seed)"}


def test_table4_shows_effects_without_daggers(built: Path) -> None:
    tex = (built / "tables" / "table4.tex").read_text()
    rows = {line.split(" &")[0]: line for line in tex.splitlines() if line.endswith(r"\\")}
    assert r"$^\dagger$" not in "".join(rows.values())
    assert not re.search(r"\\scriptsize\(\d+\.\d, ", tex)  # no "(38.2, -29.2)" level diff
    assert "; paper $-$0.5)}" in rows["2"] and "; paper +2.7)}" in rows["4"]  # paper: 37.7, 40.9
    assert r"{\scriptsize(reference)}" in rows["1"]
    assert "difference to row 1 in brackets next to the paper's difference" in tex
    assert (built / "figures" / "table4_vs_paper.png").stat().st_size > 1000  # effects plot


def test_index_opens_with_the_headline_and_claims_tables(built: Path) -> None:
    html = (built / "index.html").read_text()
    body = html.split("<h1>sbr reports</h1>", 1)[1]
    first = re.search(r'<p class="headline">([^<]*)</p>', body)
    assert first and body.index(first.group(0)) < body.index("<h2>")
    pattern = (
        r"\d+ of \d+ headline claims reproduced, \d+ inconclusive, \d+ contradicted"
        r"(, \d+ not run)?"
    )
    assert re.fullmatch(pattern + r" \(synth, preset mini\)", first.group(1))
    assert "<h3>Claims of table4</h3>" in body
    assert '<tr class="inconclusive">' in body


@needs_pdflatex
def test_claims_and_table_compile(built: Path, tmp_path: Path) -> None:
    from sbr.reports.latex import standalone_document

    assert shutil.which("pdflatex"), "SBR_REQUIRE_PDFLATEX=1 but pdflatex is not installed"
    texts = [(built / p).read_text() for p in ("claims/claims.tex", "tables/table4.tex")]
    (tmp_path / "t.tex").write_text(standalone_document(texts))
    done = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "t.tex"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:]
    assert "Undefined control sequence" not in (tmp_path / "t.log").read_text(errors="replace")


@pytest.mark.parametrize(
    ("preset_min_seeds", "expected"), [(None, DEFAULT_MIN_SEEDS), (1, 1), (5, 5)], ids=str
)
def test_the_runs_preset_sets_the_seeds_rule_where_the_spec_does_not(
    tmp_path: Path, monkeypatch, preset_min_seeds, expected
) -> None:
    import pandas as pd
    import yaml

    from sbr.reports.build import layout_for_runs
    from sbr.specs.schema import SPECS_ENV, shipped_ablations_dir

    preset = yaml.safe_load((shipped_ablations_dir() / "presets" / "mini.yaml").read_text())
    preset["name"] = "mini2"
    if preset_min_seeds is not None:
        preset["min_seeds"] = preset_min_seeds
    (tmp_path / "presets").mkdir()
    (tmp_path / "presets" / "mini2.yaml").write_text(yaml.safe_dump(preset))
    monkeypatch.setenv(SPECS_ENV, str(tmp_path))
    tidy = pd.DataFrame({"table": ["table4", "table3"], "run_id": ["r1", "r2"]})
    layout = layout_for_runs("table4", tidy, {"r1": "mini2", "r2": "smoke"})
    assert layout.min_seeds == expected
    # runs of two presets in one table: no single rule to take, the default holds
    mixed = layout_for_runs("table4", tidy.assign(table="table4"), {"r1": "mini2", "r2": "smoke"})
    assert mixed.min_seeds == DEFAULT_MIN_SEEDS
