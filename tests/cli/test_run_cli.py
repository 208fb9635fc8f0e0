"""``sbr run-ablation`` (execution), ``sbr status`` and ``sbr ui`` end to end."""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from sbr.cli.ablation import EXIT_PREFLIGHT, run_ablation
from sbr.cli.status import status
from sbr.cli.ui import server_command
from sbr.specs.presets import PRESETS_DIR

SPEC = """\
schema_version: 1
name: clitiny
title: CLI execution test
columns: [B_AP]
seeds: [2]
rows:
  - id: row1
    label: Mask
    config: smoke/mask-rcnn_r18_fpn_smoke
    paper: {B_AP: 1.0}
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A spec, a 2-iteration preset and a small synthetic dataset."""
    from sbr.data.synth import synthesize

    root = tmp_path_factory.mktemp("cli")
    (root / "clitiny.yaml").write_text(SPEC, encoding="utf-8")
    text = (PRESETS_DIR / "smoke.yaml").read_text(encoding="utf-8")
    for old, new in [
        ("name: smoke", "name: clitiny"),
        ("iters: 4\n", "iters: 2\n"),
        ("max_iters: 4, val_interval: 4", "max_iters: 2, val_interval: 2"),
        ("end: 4}", "end: 2}"),
        ("cpus: 2", "cpus: 1"),
    ]:
        assert old in text
        text = text.replace(old, new)
    (root / "preset.yaml").write_text(text, encoding="utf-8")
    synthesize(root / "data", seed=0, images=8, val_images=4)
    return {"root": root, "spec": root / "clitiny.yaml", "preset": root / "preset.yaml"}


def _args(lab: dict[str, Path], *extra: str, data: Path | None = None) -> list[str]:
    root = lab["root"]
    return [
        str(lab["spec"]), "--preset", str(lab["preset"]), "--data", str(data or root / "data"),
        "--storage", str(root / "store"), "--tracking-uri", f"sqlite:///{root}/mlflow.db",
        "--no-params", *extra,
    ]  # fmt: skip


@pytest.mark.slow
def test_run_ablation_on_ray_then_status_then_rerun_skips(lab: dict[str, Path]) -> None:
    runner = CliRunner()
    first = runner.invoke(run_ablation, _args(lab, "--num-cpus", "2"), catch_exceptions=False)
    assert first.exit_code == 0, first.output
    assert "1 finished" in first.stdout and "bbox_mAP=" in first.stdout

    uri = ["--tracking-uri", f"sqlite:///{lab['root']}/mlflow.db"]
    shown = runner.invoke(
        status,
        [str(lab["spec"]), "--preset", str(lab["preset"]), "--data", str(lab["root"] / "data"),
         *uri, "--json"],
        catch_exceptions=False,
    )  # fmt: skip
    (row,) = json.loads(shown.stdout)
    assert row["status"] == "finished" and row["bbox_mAP"] is not None
    # without --preset: the preset of the last run-ablation of this table, not the default
    implicit = runner.invoke(status, [str(lab["spec"]), "--data", str(lab["root"] / "data"), *uri])
    assert implicit.exit_code == 0, implicit.output
    assert f"(preset {lab['preset'].resolve()}" in implicit.stdout
    assert row["trial"] in implicit.stdout and "finished" in implicit.stdout

    _report_from_the_store_of_this_run(lab, row["bbox_mAP"])

    plan = runner.invoke(run_ablation, _args(lab, "--dry-run", "--json", "--no-calibrate"))
    assert json.loads(plan.stdout)["rows"][0]["status"] == "finished"

    again = runner.invoke(run_ablation, _args(lab), catch_exceptions=False)
    assert again.exit_code == 0, again.output
    assert "1 skipped" in again.stdout


def _report_from_the_store_of_this_run(lab: dict[str, Path], bbox_map: float) -> None:
    """The report layer reads what the tracking layer wrote (names shared via sbr.metrics)."""
    from sbr.reports.aggregate import summarize
    from sbr.reports.latex import table
    from sbr.reports.tables import load_layout
    from sbr.tracking.runs import collect

    layout = load_layout(lab["spec"])
    summary = summarize(collect(f"sqlite:///{lab['root']}/mlflow.db"), layout)
    tex = table(summary, layout, provenance={"command": "test"})
    row1 = next(line for line in tex.splitlines() if line.startswith("Mask &"))
    assert f"{100 * bbox_map:.1f}" in row1 and "{\\scriptsize(1.0," in row1, row1
    assert "--\\textsuperscript" not in row1  # a reproduced value, not a dash


def _broken_copy(lab: dict[str, Path]) -> Path:
    broken = lab["root"] / "broken-data"
    if not broken.exists():
        shutil.copytree(lab["root"] / "data", broken)
        next((broken / "train").iterdir()).unlink()
    return broken


@pytest.mark.parametrize(
    ("case", "message"),
    [
        pytest.param("no-data", "does not exist", id="missing-dataset"),
        pytest.param("broken-data", "fails `sbr data check`", id="broken-dataset"),
        pytest.param("tracking", "is unreachable", id="unreachable-tracking"),
        pytest.param("ray", "Ray address", id="unreachable-ray"),
    ],
)
def test_bad_input_is_one_line_before_any_trial(lab: dict[str, Path], case: str, message: str):
    data = {"no-data": lab["root"] / "nowhere", "broken-data": _broken_copy(lab)}.get(case)
    store, db = lab["root"] / f"store-{case}", lab["root"] / f"{case}.db"
    args = [*_args(lab, data=data), "--storage", str(store), "--tracking-uri", f"sqlite:///{db}"]
    if case == "tracking":
        args += ["--tracking-uri", f"http://127.0.0.1:{_free_port()}"]
    if case == "ray":
        args += ["--address", f"127.0.0.1:{_free_port()}"]
    result = CliRunner().invoke(run_ablation, args)
    assert result.exit_code == EXIT_PREFLIGHT, result.output
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: ") and message in line
    assert not store.exists() and not db.exists()  # nothing started, no store created


def test_status_of_an_unreachable_store_is_one_line(lab: dict[str, Path]) -> None:
    args = [str(lab["spec"]), "--preset", str(lab["preset"]), "--tracking-uri"]
    result = CliRunner().invoke(status, [*args, f"http://127.0.0.1:{_free_port()}"])
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.strip().splitlines()  # one line, no traceback
    assert line.startswith("error: ") and "unreachable" in line
    assert result.stdout == ""


def test_ui_serves_the_store_given() -> None:
    command = server_command("sqlite:////x/mlflow.db", host="127.0.0.1", port=5123)
    assert command[1:4] == ["-m", "mlflow", "server"]
    assert command[command.index("--backend-store-uri") + 1] == "sqlite:////x/mlflow.db"
    assert command[command.index("--port") + 1] == "5123"


def test_trial_larger_than_the_local_ray_is_refused_before_training(lab: dict[str, Path]) -> None:
    big = lab["root"] / "big.yaml"
    big.write_text(lab["preset"].read_text().replace("cpus: 1", "cpus: 3"), encoding="utf-8")
    store = lab["root"] / "store-big"
    args = [*_args(lab, "--num-cpus", "2"), "--preset", str(big), "--storage", str(store),
            "--tracking-uri", f"sqlite:///{lab['root']}/big.db"]  # fmt: skip
    result = CliRunner().invoke(run_ablation, args)
    assert result.exit_code == EXIT_PREFLIGHT, result.output
    assert "a trial needs 3 CPUs but this Ray cluster has 2 CPUs" in result.stderr
    assert not list(store.glob("*/work"))  # no training started
