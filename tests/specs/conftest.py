"""Fixtures for the spec tests: a small valid spec and a writer for (broken) variants."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

#: A two-row spec; tests replace single lines to break it (line numbers are fixed).
MINI_SPEC = """\
schema_version: 1
name: mini
columns: [L_t, H, L_e, B_AP]
rows:
  - id: naive
    label: R³-CNN
    config: r3_cnn/r3-cnn_r50_fpn_1x_coco.py
    paper: {L_t: 3, H: 1, B_AP: 40.9}
  - id: deeper
    label: R³-CNN (deeper)
    config: r3_cnn/r3-cnn_r50_fpn_h2-aab_1x_coco.py
    overrides:
      model.roi_head.stages: aab
    eval_overrides:
      model.roi_head.num_stages_test: 3
"""

#: Minimal defaults written next to every test spec, so tests do not depend on ablations/.
MINI_DEFAULTS = """\
schema_version: 1
preset: paper
schedule: 1x
seeds: [0]
assumed_speed: 3.4
"""


@pytest.fixture
def write_spec(tmp_path: Path) -> Callable[..., Path]:
    """Write a spec (default: MINI_SPEC with ``replace`` applied) and defaults into tmp_path."""

    def write(
        text: str = MINI_SPEC, *, replace: tuple[str, str] | None = None, name: str = "mini.yaml"
    ) -> Path:
        if replace is not None:
            assert replace[0] in text, f"{replace[0]!r} not in the spec"
            text = text.replace(replace[0], replace[1], 1)
        (tmp_path / "defaults.yaml").write_text(MINI_DEFAULTS)
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def param_cache_dir(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """An empty parameter-count cache for the test (never the user's ~/.cache)."""
    directory = tmp_path_factory.mktemp("param-cache")
    monkeypatch.setenv("SBR_CACHE_DIR", str(directory))
    return directory
