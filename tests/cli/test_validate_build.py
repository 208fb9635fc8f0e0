"""``sbr validate`` with model builds (no ``--no-build``): each trial's model is built on the
CPU and counted, and a model that composes but does not build is a one-line spec error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from sbr.cli.ablation import EXIT_SPEC_ERROR, validate

SPEC = """\
schema_version: 1
name: built
columns: [B_AP]
rows:
  - id: smoke
    label: smoke Mask R-CNN
    config: smoke/mask-rcnn_r18_fpn_smoke
    overrides: {model.backbone.depth: 18}
    paper: {B_AP: 1.0}
"""


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SBR_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache" / "param-counts.json"


def test_validate_builds_the_model_and_counts_its_parameters(tmp_path: Path, cache: Path):
    spec = tmp_path / "built.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    result = CliRunner().invoke(validate, [str(spec), "--preset", "smoke"])
    assert result.exit_code == 0, result.output
    assert "ok: 1 rows, 1 trainings and 1 evaluations composed and built" in result.stdout
    (count,) = json.loads(cache.read_text()).values()  # built once, cached by model config
    assert 10**6 < count < 10**8  # a ResNet-18 Mask R-CNN


def test_a_model_that_does_not_build_fails_only_with_builds(tmp_path: Path, cache: Path):
    spec = tmp_path / "built.yaml"
    spec.write_text(SPEC.replace("depth: 18", "depth: 19"), encoding="utf-8")
    composed = CliRunner().invoke(validate, [str(spec), "--preset", "smoke", "--no-build"])
    assert composed.exit_code == 0, composed.output  # the config composes...
    built = CliRunner().invoke(validate, [str(spec), "--preset", "smoke"])
    assert built.exit_code == EXIT_SPEC_ERROR, built.output  # ...but the model does not build
    (line,) = built.stderr.strip().splitlines()
    assert line.startswith("error: ") and "built.yaml:7: rows[smoke].config:" in line, line
    assert "the model does not build" in line and "invalid depth 19" in line
    assert not cache.exists()
