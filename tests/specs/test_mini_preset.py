"""The ``mini`` preset: its file parses, its shrink rule reaches every paper training."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sbr.specs.errors import SpecError
from sbr.specs.expand import expand
from sbr.specs.presets import load_preset
from sbr.specs.schema import load_spec, resolve_spec_file

TABLES = [f"table{n}" for n in range(2, 12)]


@pytest.fixture(scope="module")
def mini_expansion():
    specs = [load_spec(resolve_spec_file(name)) for name in TABLES]
    return expand(specs, load_preset("mini"), data_root="data/synth")


def test_mini_preset_file() -> None:
    preset = load_preset("mini")
    rule = preset.shrink
    assert (rule.width, rule.reference_width, rule.factor) == (64, 256, 0.25)
    assert (rule.backbone_depth, rule.base_channels) == (18, 32)  # the smoke config's backbone
    assert (rule.anchor_scales, rule.rcnn_samples) == ((4,), 64)
    assert {name: s.iters for name, s in preset.schedules.items()} == {
        "1x": 300,
        "3x": 900,  # three times the 1x schedule, as in the paper
        "90k": 300,
    }
    assert preset.identity()["shrink"] == preset.shrink.identity()


def test_presets_without_shrink_keep_their_identity() -> None:
    # adding the rule must not change the trial ids of the existing presets
    assert "shrink" not in load_preset("smoke").identity()
    assert "shrink" not in load_preset("paper").identity()


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("widht", "64", "widht"),
        ("width", "-64", "positive integer"),
        ("anchor_scales", "4", "list of positive integers"),
        ("train_proposals", "[500]", "two positive integers"),
        ("backbone_depth", "20", "ResNet depths"),
    ],
    ids=["misspelt-key", "negative-width", "scalar-scales", "short-pair", "depth"],
)
def test_bad_shrink_section_names_file_line_and_key(tmp_path: Path, key, value, message) -> None:
    source = Path(resolve_spec_file("table4")).parent / "presets" / "mini.yaml"
    lines = source.read_text().splitlines(keepends=True)
    start = lines.index("shrink:\n")
    mine = next(
        (i for i in range(start + 1, len(lines)) if lines[i].startswith(f"  {key}:")), start + 1
    )
    new = f"  {key}: {value}\n"
    if mine == start + 1 and not lines[mine].startswith(f"  {key}:"):
        lines.insert(mine, new)
    else:
        lines[mine] = new
    path = tmp_path / "broken.yaml"
    path.write_text("".join(lines))
    with pytest.raises(SpecError) as info:
        load_preset(path)
    rendered = str(info.value)
    assert "broken.yaml:" in rendered and "shrink" in rendered and message in rendered
    if key != "backbone_depth":  # a rule across fields points at the section
        assert f"broken.yaml:{mine + 1}:" in rendered


def test_mini_trials_differ_from_smoke_trials(mini_expansion) -> None:
    smoke = expand(
        [load_spec(resolve_spec_file("table4"))], load_preset("smoke"), data_root="data/synth"
    )
    assert not {t.trial_id for t in smoke.trials} & {t.trial_id for t in mini_expansion.trials}


@pytest.mark.slow
def test_every_paper_training_builds_under_mini(mini_expansion) -> None:
    """All 56 unique trainings of Tables 2-11: composed, shrunk and built on the CPU."""
    from sbr.specs.compose import ConfigCache, compose_trial_config
    from sbr.specs.validate import build_and_count

    cache = ConfigCache()
    assert len(mini_expansion.trials) == 56
    counts = {}
    for trial in mini_expansion.trials:
        cfg = compose_trial_config(trial, cache=cache)
        model = cfg["model"]
        assert model["backbone"]["init_cfg"] is None, trial.config
        assert model["backbone"]["depth"] in (18, 50), trial.config
        counts[trial.config] = build_and_count(model)
    # CPU scale: every model between 2 M and 8 M trainable parameters (the paper's: 42-77 M)
    assert all(2e6 < n < 8e6 for n in counts.values()), counts
    # what the rows ablate still changes the model: FCC, NL and Mask IoU variants differ
    r3 = "r3_cnn/r3-cnn_r50_fpn_{}_1x_coco.py"
    assert len({counts[r3.format(v)] for v in ("fcc-7x7", "fcc-rect", "fcc-7x7-nlb")}) == 3


@pytest.mark.slow
def test_dry_run_gives_the_cpu_cost_of_the_whole_study(tmp_path: Path, synth_root: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "sbr", "run-ablation", "all", "--preset", "mini", "--dry-run",
         "--json", "--no-params", "--data", str(synth_root),
         "--tracking-uri", f"sqlite:///{tmp_path}/absent.db"],
        capture_output=True, text=True, check=True, cwd=tmp_path,
    )  # fmt: skip
    plan = json.loads(out.stdout)
    assert plan["preset"] == "mini" and plan["trainings"] == 56
    estimate = plan["estimate"]
    assert estimate["unit"] == "cpu_minutes"
    # calibrated on this machine: the whole study costs CPU-hours, dedup saves some of them
    assert 0 < estimate["trainings"] < estimate["total"] < estimate["without_dedup"]
