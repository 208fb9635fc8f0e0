"""End to end: real MLflow stores (empty and with tiny runs) -> tables, Fig. 3, index; pdflatex."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from ci_gate import needs_pdflatex, require
from click.testing import CliRunner
from PIL import Image

from sbr.cli.report import report
from sbr.metrics import (
    ARTIFACT_IOU_DIR,
    DEFAULT_EXPERIMENT,
    METRIC_PARAMS,
    TAG_EVAL,
    TAG_KIND,
    TAG_ROWS,
    TAG_SEED,
    TAG_STATUS,
    TAG_TABLES,
    TAG_TRIAL,
    coco_key,
)
from sbr.reports.claims import CLAIM_COLUMNS
from sbr.reports.tables import TABLE_NAMES

mlflow = require("mlflow")

BINS = [round(0.05 * k, 2) for k in range(21)]


def _histogram(loops: int) -> dict:
    return {
        "bins": BINS,
        "loops": {
            f"loop{t}/pass{p}": [float(100 - 4 * k + 10 * t * k) for k in range(20)]
            for t in range(loops)
            for p in range(2)
        },
    }


def _log_run(client, exp_id, tmp, *, trial, rows, status, metrics, seed=0, hist_loops=0):
    run = client.create_run(exp_id)
    tables = ",".join(sorted({r.split("/")[0] for r in rows.split(",")}))
    tags = {
        TAG_TRIAL: trial,
        TAG_TABLES: tables,
        TAG_ROWS: rows,
        TAG_STATUS: status,
        TAG_KIND: "training",
        TAG_SEED: str(seed),
        TAG_EVAL: f"{trial}/final",
    }
    for key, value in tags.items():
        client.set_tag(run.info.run_id, key, value)
    for key, value in metrics.items():
        client.log_metric(run.info.run_id, key, value)
    if hist_loops:
        folder = tmp / f"hist-{trial}"
        folder.mkdir()
        (folder / "epoch_1.json").write_text(json.dumps(_histogram(1)))
        (folder / "epoch_12.json").write_text(json.dumps(_histogram(hist_loops)))
        client.log_artifacts(run.info.run_id, str(folder), ARTIFACT_IOU_DIR)
    client.set_terminated(run.info.run_id, "FINISHED" if status == "finished" else "FAILED")
    return run.info.run_id


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> tuple[str, dict[str, str]]:
    """A sqlite store with a Mask R-CNN 3x run, a shared B0 trial (2 seeds) and a failure."""
    tmp = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    client = mlflow.MlflowClient(tracking_uri=uri)
    exp_id = client.create_experiment(DEFAULT_EXPERIMENT, artifact_location=(tmp / "art").as_uri())
    b0_rows = "table2/row4,table3/row4,table4/row4,table6/row2"
    ids = {
        "mask3x": _log_run(
            client, exp_id, tmp, trial="mask3x", rows="table2/row2", status="finished",
            metrics={coco_key("bbox"): 0.392, coco_key("segm"): 0.351}, hist_loops=1,
        ),
        "b0s0": _log_run(
            client, exp_id, tmp, trial="b0s0", rows=b0_rows, status="finished",
            metrics={coco_key("bbox"): 0.41, coco_key("segm"): 0.371, METRIC_PARAMS: 43_912_345},
            hist_loops=3,
        ),
        "b0s1": _log_run(
            client, exp_id, tmp, trial="b0s1", rows=b0_rows, status="finished", seed=1,
            metrics={coco_key("bbox"): 0.414, coco_key("segm"): 0.373},
        ),
        "htc": _log_run(
            client, exp_id, tmp, trial="htc", rows="table2/row3,table5/row1", status="failed",
            metrics={},
        ),
    }  # fmt: skip
    return uri, ids


def _invoke(*args: str) -> str:
    result = CliRunner().invoke(report, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_report_all_on_empty_store(tmp_path):
    out = tmp_path / "reports"
    _invoke("all", "--tracking-uri", f"sqlite:///{tmp_path / 'empty.db'}", "--out", str(out))
    for name in TABLE_NAMES:
        tex = (out / "tables" / f"{name}.tex").read_text()
        assert r"--\textsuperscript{a}" in tex and "no run in the tracking store" in tex
        frame = pd.read_csv(out / "tables" / f"{name}.csv", comment="#")
        assert set(frame["status"]) <= {"missing", "paper_only"}
    assert "{\\scriptsize(40.9)}" in (out / "tables" / "table3.tex").read_text()
    claims = pd.read_csv(out / "claims" / "claims.csv", comment="#")
    assert list(claims.columns) == list(CLAIM_COLUMNS)
    assert set(claims["verdict"]) <= {"not run"}  # nothing ran: no claim is decided
    index = (out / "index.md").read_text()
    assert all(f"## {name}:" in index for name in TABLE_NAMES)
    assert "## fig3:" in index and "not generated" in index
    assert not (out / "figures" / "fig3.png").exists()


@pytest.fixture(scope="module")
def built(store, tmp_path_factory) -> Path:
    uri, _ = store
    out = tmp_path_factory.mktemp("built") / "reports"
    _invoke("all", "--tracking-uri", uri, "--out", str(out))
    return out


def test_tables_from_real_store(built, store):
    _, ids = store
    t3 = (built / "tables" / "table3.tex").read_text()
    row4 = next(line for line in t3.splitlines() if line.startswith("4 &"))
    assert r"\textbf{41.2$\pm$0.3} {\scriptsize(40.9, +0.3)}" in row4
    assert f"% mlflow_runs: {','.join(sorted([ids['b0s0'], ids['b0s1']]))}" in t3
    assert "% spec: ablations/table3.yaml" in t3 and "% command: sbr report all" in t3
    t2 = (built / "tables" / "table2.tex").read_text()
    assert r"--\textsuperscript{b} {\scriptsize(41.7)}" in t2  # HTC failed
    assert r"43,912 K {\scriptsize(43,912 K, 0)}" in t2
    assert r"\underline{39.2} {\scriptsize(39.2, 0.0)}" in t2  # Mask 3x second best
    t5 = pd.read_csv(built / "tables" / "table5.csv", comment="#")
    assert set(t5[t5["row"] == "row1"].dropna(subset=["reproduced_std"])["status"]) <= {"failed"}
    assert "failed" in set(t5["status"])


def test_fig3_from_real_store_artifacts(built, store):
    _, ids = store
    meta = json.loads((built / "figures" / "fig3.json").read_text())
    assert sorted(meta["mlflow_runs"]) == sorted([ids["mask3x"], ids["b0s0"]])
    with Image.open(built / "figures" / "fig3.png") as png:
        assert json.loads(png.info["Description"])["command"].startswith("sbr report all ")
    assert (built / "figures" / "fig3.pdf").read_bytes().startswith(b"%PDF")
    html = (built / "index.html").read_text()
    assert '<img src="figures/fig3.png"' in html and "table11" in html


def test_fig1_command(tmp_path):
    require("mmdet")
    from sbr.data.synth import synthesize

    summary = synthesize(tmp_path / "synth", images=6, val_images=0)
    ann = summary["splits"]["train"]["ann_file"]
    out = tmp_path / "reports"
    output = _invoke("fig1", "--data", ann, "--out", str(out))
    assert "boxes/s" in output
    meta = json.loads((out / "figures" / "fig1.json").read_text())
    assert len(meta["percent_missing"]) == 20 and meta["n_boxes"] > 0
    assert "![fig1](figures/fig1.png)" in (out / "index.md").read_text()


@needs_pdflatex
def test_every_table_compiles_with_pdflatex(built, tmp_path):
    from sbr.reports.latex import standalone_document

    assert shutil.which("pdflatex"), "pdflatex is required (SBR_REQUIRE_PDFLATEX=1, CI)"
    tables = [(built / "tables" / f"{name}.tex").read_text() for name in TABLE_NAMES]
    (tmp_path / "all.tex").write_text(standalone_document(tables))
    result = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "all.tex"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert (tmp_path / "all.pdf").stat().st_size > 1000
    log = (tmp_path / "all.log").read_text(errors="replace")
    assert "Undefined control sequence" not in log and "Missing" not in log


def test_a_single_table_report_also_refreshes_fig3(store, tmp_path):
    """`sbr report table3` after a run: table, CSV, Fig. 3 and the index (issue acceptance)."""
    uri, ids = store
    out = tmp_path / "reports"
    _invoke("table3", "--tracking-uri", uri, "--out", str(out))
    assert (out / "tables" / "table3.tex").is_file() and (out / "tables" / "table3.csv").is_file()
    meta = json.loads((out / "figures" / "fig3.json").read_text())
    assert ids["b0s0"] in meta["mlflow_runs"]
    assert '<img src="figures/fig3.png"' in (out / "index.html").read_text()
