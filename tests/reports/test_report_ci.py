"""``sbr report table4`` with per-image artifacts: CI/delta columns, daggers, pdflatex, HTML.

A real MLflow store holds Table 4 runs as a trial logs them: row 1 (the reference) with
the artifact of a much better model (the smoke model's detections plus every other
ground-truth object as a detection of score 1), row 4 with the smoke model's own per-image artifact
(written by its training), clearly worse; row 2 (an evaluation-only variant) made "before
this change", without the artifact. (The smoke model alone, AP about 9 on 32 images, rests
on a few images: its studentized interval is wide, so the clear difference is to a strong
reference.)
The report must write the interval columns, mark row 4 as significantly different,
give row 2 a dash and a footnote, compile with pdflatex, and show the CSV's numbers
in the HTML index as headless Chromium renders it.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from ci_gate import needs_pdflatex, require, required
from click.testing import CliRunner

from sbr.cli.report import report
from sbr.metrics import (
    ARTIFACT_PER_IMAGE_DIR,
    DEFAULT_EXPERIMENT,
    TAG_EVAL,
    TAG_KIND,
    TAG_ROWS,
    TAG_SEED,
    TAG_STATUS,
    TAG_TABLES,
    TAG_TRIAL,
    coco_key,
)
from sbr.reports.index import number_text
from sbr.reports.tables import load_layout

mlflow = require("mlflow")

REQUIRE_CHROMIUM = required("SBR_REQUIRE_CHROMIUM")
CHROMIUM = shutil.which("chromium")


def _oracle_tables(smoke_run, synth_root: Path, tmp: Path) -> Path:
    """Match tables of the smoke model's detections plus half the ground truth at score 1."""
    from pycocotools import mask as mask_utils

    from sbr.engine.per_image import match_coco, write_match_tables

    folder = Path(smoke_run.work_dir) / "per_image"
    gt = json.loads((synth_root / "annotations" / "instances_val.json").read_text())
    size = {im["id"]: (im["height"], im["width"]) for im in gt["images"]}
    tables = {}
    for iou_type in ("bbox", "segm"):
        results = json.loads((folder / f"results.{iou_type}.json").read_text())
        for ann in gt["annotations"][::2]:  # half of the objects: AP varies with the images
            found = {"image_id": ann["image_id"], "category_id": ann["category_id"], "score": 1.0}
            if iou_type == "bbox":
                found["bbox"] = ann["bbox"]
            else:
                rle = mask_utils.merge(
                    mask_utils.frPyObjects(ann["segmentation"], *size[ann["image_id"]])
                )
                found["segmentation"] = {"size": rle["size"], "counts": rle["counts"].decode()}
            results.append(found)
        if iou_type == "segm":
            results = [{k: v for k, v in r.items() if k != "bbox"} for r in results]
        tables[iou_type] = match_coco(gt, results, iou_type)
    return write_match_tables(tmp / "oracle" / "match_tables.npz", tables)


def _metrics(path: Path) -> dict[str, float]:
    from sbr.engine.per_image import read_match_tables
    from sbr.reports.bootstrap import evaluate

    tables, _ = read_match_tables(path)
    return {coco_key(t, "mAP"): float(evaluate(tables[t])["mAP"][0]) for t in ("bbox", "segm")}


@pytest.fixture(scope="module")
def store(smoke_run, synth_root, tmp_path_factory) -> str:
    tmp = tmp_path_factory.mktemp("ci_store")
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    client = mlflow.MlflowClient(tracking_uri=uri)
    exp = client.create_experiment(DEFAULT_EXPERIMENT, artifact_location=(tmp / "art").as_uri())
    own = Path(smoke_run.work_dir) / "per_image" / "match_tables.npz"
    oracle = _oracle_tables(smoke_run, synth_root, tmp)
    row2_suffix = next(r.eval_suffix for r in load_layout("table4").rows if r.id == "row2")
    runs = [  # (trial, row, kind, eval suffix, artifact, metrics, seed): 3 seeds per training
        *((f"mask-{s}", "table4/row1", "training", "final", oracle, _metrics(oracle), s)
          for s in range(3)),
        *((f"r3-{s}", "table4/row2,table4/row4", "training", "final", own, _metrics(own), s)
          for s in range(3)),
        ("r3-0", "table4/row4", "evaluation", row2_suffix, None, _metrics(own), 0),
    ]  # fmt: skip
    for trial, rows, kind, suffix, artifact, metrics, seed in runs:
        run_id = client.create_run(exp).info.run_id
        tags = {
            TAG_TRIAL: trial, TAG_TABLES: "table4", TAG_ROWS: rows if kind == "training" else "",
            TAG_STATUS: "finished", TAG_KIND: kind, TAG_SEED: str(seed),
            TAG_EVAL: f"{trial}/{suffix}",
        }  # fmt: skip
        for key, value in tags.items():
            client.set_tag(run_id, key, value)
        for key, value in metrics.items():
            client.log_metric(run_id, key, value)
        if artifact is not None:
            client.log_artifact(run_id, str(artifact), ARTIFACT_PER_IMAGE_DIR)
        client.set_terminated(run_id, "FINISHED")
    return uri


@pytest.fixture(scope="module")
def built(store, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ci_report") / "reports"
    result = CliRunner().invoke(
        report, ["table4", "--ci", "--tracking-uri", store, "--out", str(out)],
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return out


def test_a_table_is_resampled_once_per_report(store: str) -> None:
    """`sbr report all` asks for each table's samples twice (the table, then the claims)."""
    from sbr.reports.aggregate import summarize
    from sbr.reports.build import _read_store, layout_for_runs
    from sbr.reports.significance import TableSamples, mlflow_loader

    load, calls = mlflow_loader(store), []
    samples_of = TableSamples(lambda run_id: calls.append(run_id) or load(run_id))
    tidy, _, presets = _read_store(store)
    layout = layout_for_runs("table4", tidy, presets)
    first = samples_of(summarize(tidy, layout), layout)
    loads = len(calls)
    assert ("row4", "B_AP") in first and loads >= 6  # 3 seeds of each of the two trainings
    assert samples_of(summarize(tidy, layout), layout) is first
    assert len(calls) == loads


def _csv(built: Path) -> pd.DataFrame:
    return pd.read_csv(built / "tables" / "table4.csv", comment="#")


def test_csv_has_interval_and_delta_columns(built: Path) -> None:
    frame = _csv(built).set_index(["row", "column"])
    for name in ("ci_low", "ci_high", "delta", "delta_ci_low", "delta_ci_high", "significant"):
        assert name in frame.columns
    ref = frame.loc[("row1", "B_AP")]
    assert ref["ci_status"] == "reference" and ref["delta"] == 0
    worse = frame.loc[("row4", "B_AP")]
    assert ref["ci_high"] > ref["ci_low"] and worse["ci_high"] > worse["ci_low"]
    assert (worse["ci_low"], worse["ci_high"]) != (ref["ci_low"], ref["ci_high"])  # its own
    assert worse["n_seeds"] == 3 and not bool(worse["same_training"])
    assert worse["ci_status"] == "ok" and bool(worse["significant"])
    assert worse["delta"] < 0 and worse["delta_ci_low"] <= worse["delta_ci_high"] < 0
    old = frame.loc[("row2", "S_AP")]  # a run made before the artifact existed
    assert old["status"] == "ok" and old["ci_status"] == "no_per_image"
    assert math.isnan(old["ci_low"]) and not bool(old["significant"])
    assert frame.loc[("row3", "B_AP"), "status"] == "missing"


def test_latex_marks_significance(built: Path) -> None:
    tex = (built / "tables" / "table4.tex").read_text()
    rows = {line.split(" &")[0]: line for line in tex.splitlines() if line.endswith(r"\\")}
    assert r"$^\dagger$ {\scriptsize[" in rows["4"]
    assert r"{\scriptsize[--]}\textsuperscript{e}" in rows["2"]
    assert r"$^\dagger$" not in rows["1"]
    assert "the difference to row 1 is significant at 5\\%, Holm-corrected" in tex
    assert "at least 3 seeds per side" in tex
    assert r"\textsuperscript{e}\,no per-image evaluation data" in tex


@needs_pdflatex
def test_latex_with_intervals_compiles(built: Path, tmp_path: Path) -> None:
    from sbr.reports.latex import standalone_document

    assert shutil.which("pdflatex"), "SBR_REQUIRE_PDFLATEX=1 but pdflatex is not installed"
    tex = (built / "tables" / "table4.tex").read_text()
    (tmp_path / "t.tex").write_text(standalone_document([tex]))
    done = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "t.tex"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:]
    assert "Undefined control sequence" not in (tmp_path / "t.log").read_text(errors="replace")


def test_figure_with_error_bars_is_linked(built: Path) -> None:
    for suffix in (".png", ".pdf"):
        assert (built / "figures" / f"table4_vs_paper{suffix}").stat().st_size > 1000
    html = (built / "index.html").read_text()
    assert '<img src="figures/table4_vs_paper.png"' in html
    assert 'href="figures/table4_vs_paper.pdf"' in html


def _expected_numbers(frame: pd.DataFrame) -> list[str]:
    ok = frame[frame["status"] == "ok"]
    columns = ["reproduced_mean", "ci_low", "ci_high", "delta", "delta_ci_low", "delta_ci_high"]
    return [number_text(v) for c in columns for v in ok[c] if not math.isnan(v)]


def _chromium_text(page: Path, profile: Path) -> str:
    command = [
        CHROMIUM or "chromium", "--headless=new", "--no-sandbox", "--disable-gpu",
        "--disable-dev-shm-usage", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run",
        f"--user-data-dir={profile}", "--dump-dom", page.as_uri(),
    ]  # fmt: skip
    process = subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip
    try:
        out, err = process.communicate(timeout=90)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
    assert out.strip(), f"chromium dumped no DOM:\n{err.decode()[-3000:]}"
    text = re.sub(r"<script\b.*?</script>|<style\b.*?</style>", " ", out.decode(), flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text))


@pytest.mark.skipif(
    CHROMIUM is None and not REQUIRE_CHROMIUM,
    reason="chromium not installed (scripts/install_system_deps.sh installs it; "
    "set SBR_REQUIRE_CHROMIUM=1 to make this a failure)",
)
def test_chromium_shows_the_csv_numbers(built: Path, tmp_path: Path) -> None:
    assert CHROMIUM, "SBR_REQUIRE_CHROMIUM=1 but chromium is not installed"
    text = _chromium_text(built / "index.html", tmp_path / "profile")
    frame = _csv(built)
    expected = _expected_numbers(frame)
    assert len(expected) >= 10
    missing = [n for n in expected if n.replace("&ndash;", "\u2013") not in text]
    assert not missing, f"numbers of table4.csv not on the page: {missing}\n{text[:3000]}"
    assert "\u2020" in text  # the significance mark (row 4)
    assert "no run in the tracking store" in text  # rows 3, 5, 6: missing, with the reason
    assert "no per-image evaluation data" in text  # row 2
    rows = frame[frame["status"] == "ok"]["label"].unique()
    assert all(label in text for label in rows)
