"""sbr installed as a package (not editable) finds its specs; users point at their own.

The install test builds sbr from a copy of the sources (so no ``build/`` lands in the
checkout) into a temporary ``--target`` offline, then runs ``sbr run-ablation table3
--dry-run`` from another folder with only that target on ``PYTHONPATH``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from sbr.cli.ablation import EXIT_SPEC_ERROR, run_ablation, validate
from sbr.specs.schema import ABLATIONS_DIR, SPECS_ENV, load_spec

REPO = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "sbr", "ablations")
DRY_RUN = ["--dry-run", "--json", "--no-params", "--no-calibrate"]


def _copy_sources(folder: Path) -> Path:
    folder.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "_ablations")
    for name in SOURCES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, folder / name, ignore=ignore)
        else:
            shutil.copy2(source, folder / name)
    return folder


def _rows_of(spec: Path) -> int:
    return len(load_spec(spec).rows)


@pytest.mark.slow
def test_non_editable_install_runs_a_shipped_table_from_another_folder(tmp_path: Path) -> None:
    source = _copy_sources(tmp_path / "src")
    target = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation",
         "--no-index", "--quiet", "--target", str(target), str(source)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
    assert (target / "sbr" / "_ablations" / "table3.yaml").is_file()
    assert (target / "sbr" / "_ablations" / "presets" / "paper.yaml").is_file()

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in (SPECS_ENV, "MLFLOW_TRACKING_URI")}
    env["PYTHONPATH"] = str(target)
    code = "import sys, sbr; from sbr.cli import main; print(sbr.__file__, file=sys.stderr); main()"
    result = subprocess.run(
        [sys.executable, "-c", code, "run-ablation", "table3", *DRY_RUN],
        cwd=elsewhere, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert str(target / "sbr") in result.stderr  # the installed copy, not the checkout
    plan = json.loads(result.stdout)
    assert len(plan["rows"]) == _rows_of(ABLATIONS_DIR / "table3.yaml") > 0
    assert {row["table"] for row in plan["rows"]} == {"table3"}


MINE = """\
schema_version: 1
name: mine
title: my own ablation
columns: [B_AP]
rows:
  - {id: r1, label: smoke, config: smoke/mask-rcnn_r18_fpn_smoke, paper: {B_AP: 1.0}}
"""


@pytest.fixture
def user_specs(tmp_path: Path) -> Path:
    folder = tmp_path / "my-specs"
    (folder / "presets").mkdir(parents=True)
    (folder / "mine.yaml").write_text(MINE, encoding="utf-8")
    smoke = (ABLATIONS_DIR / "presets" / "smoke.yaml").read_text(encoding="utf-8")
    (folder / "presets" / "mypreset.yaml").write_text(
        smoke.replace("name: smoke", "name: mypreset"), encoding="utf-8"
    )
    return folder


@pytest.mark.parametrize("how", ["env", "flag"], ids=["SBR_SPECS", "--specs-dir"])
def test_users_own_specs_folder(user_specs: Path, monkeypatch, how: str) -> None:
    """A user's spec by name; sbr's own tables stay reachable; presets from SBR_SPECS."""
    monkeypatch.delenv(SPECS_ENV, raising=False)
    extra: list[str] = []
    if how == "env":
        monkeypatch.setenv(SPECS_ENV, str(user_specs))
    else:
        extra = ["--specs-dir", str(user_specs)]
    preset = "mypreset" if how == "env" else str(user_specs / "presets" / "mypreset.yaml")
    runner = CliRunner()
    mine = runner.invoke(run_ablation, ["mine", "--preset", preset, *extra, *DRY_RUN])
    assert mine.exit_code == 0, mine.output
    (row,) = json.loads(mine.stdout)["rows"]
    assert (row["table"], row["row"]) == ("mine", "r1")
    shipped = runner.invoke(run_ablation, ["table3", *extra, *DRY_RUN])
    assert shipped.exit_code == 0, shipped.output
    assert {r["table"] for r in json.loads(shipped.stdout)["rows"]} == {"table3"}
    checked = runner.invoke(validate, ["mine", "--preset", preset, "--no-build", *extra])
    assert checked.exit_code == 0, checked.output
    assert "ok: 1 rows" in checked.stdout


def test_sbr_specs_naming_no_folder_is_one_line(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(SPECS_ENV, str(tmp_path / "nowhere"))
    result = CliRunner().invoke(run_ablation, ["table3", *DRY_RUN])
    assert result.exit_code == EXIT_SPEC_ERROR, result.output
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: ") and SPECS_ENV in line and "nowhere" in line
