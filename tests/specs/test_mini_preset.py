"""The ``mini`` preset: its file parses, its shrink rule reaches every paper training."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sbr.specs.expand import expand
from sbr.specs.presets import load_preset
from sbr.specs.schema import load_spec, resolve_spec_file
from sbr.yamlspec.errors import SpecError

TABLES = [f"table{n}" for n in range(2, 12)]


def _expand(preset, tables=TABLES):
    specs = [load_spec(resolve_spec_file(name)) for name in tables]
    return expand(specs, preset, data_root="data/synth")


@pytest.fixture(scope="module")
def mini_expansion():
    return _expand(load_preset("mini"))


def test_mini_shrinks_every_model_to_the_smoke_config_scale() -> None:
    """The rule's CPU scale is the smoke Mask R-CNN's (the config shown to learn the data),
    read from that config file, and its schedules keep the paper's ratios."""
    from mmengine.config import Config

    from sbr.engine.config import resolve_config_path

    smoke = Config.fromfile(str(resolve_config_path("smoke/mask-rcnn_r18_fpn_smoke"))).model
    preset = load_preset("mini")
    rule = preset.shrink
    assert (rule.backbone_depth, rule.base_channels) == (
        smoke.backbone.depth,
        smoke.backbone.base_channels,
    )
    assert rule.width == smoke.neck.out_channels
    assert list(rule.anchor_scales) == list(smoke.rpn_head.anchor_generator.scales)
    assert (rule.rpn_samples, rule.rcnn_samples) == (
        smoke.train_cfg.rpn.sampler.num,
        smoke.train_cfg.rcnn.sampler.num,
    )
    iters = {name: s.iters for name, s in preset.schedules.items()}
    assert iters["3x"] == 3 * iters["1x"] and iters["90k"] == iters["1x"]  # as in the paper
    for name, schedule in preset.schedules.items():  # lr x 0.1 at 80 % of each schedule
        (steps,) = [o.value for o in schedule.overrides if o.path == "param_scheduler"]
        (milestones,) = [s["milestones"] for s in steps if s["type"] == "MultiStepLR"]
        assert milestones == [int(0.8 * iters[name])], name


def test_the_shrink_rule_is_part_of_every_mini_trial_id() -> None:
    """Another rule (here: a wider FPN) is another training, hence other trial ids."""
    import dataclasses

    preset = load_preset("mini")
    wider = dataclasses.replace(preset, shrink=dataclasses.replace(preset.shrink, width=128))
    ids = {t.trial_id for t in _expand(preset, ["table4"]).trials}
    assert ids and not ids & {t.trial_id for t in _expand(wider, ["table4"]).trials}


def _shared_trainings(expansion) -> list[list[tuple[str, str, int]]]:
    """The rows grouped by the training they share: (table, row, seed) per group."""
    groups: dict[str, set[tuple[str, str, int]]] = {}
    for row in expansion.rows:
        groups.setdefault(row.trial_id, set()).add((row.table, row.row_id, row.seed))
    return sorted(sorted(group) for group in groups.values())


def test_mini_shares_trainings_between_rows_exactly_as_the_paper_preset(mini_expansion) -> None:
    """Shrinking neither merges two trainings of the paper nor splits one of them."""
    paper = _expand(load_preset("paper"))
    assert _shared_trainings(mini_expansion) == _shared_trainings(paper)
    assert len(mini_expansion.trials) < len(mini_expansion.rows)  # some rows share


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
    """All unique trainings of Tables 2-11 (56): composed, shrunk and built on the CPU."""
    from sbr.specs.compose import ConfigCache, compose_trial_config
    from sbr.specs.validate import build_and_count

    cache = ConfigCache()
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
def test_dry_run_gives_the_cpu_cost_of_the_whole_study(
    tmp_path: Path, synth_root: Path, mini_expansion
) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "sbr", "run-ablation", "all", "--preset", "mini", "--dry-run",
         "--json", "--no-params", "--data", str(synth_root),
         "--tracking-uri", f"sqlite:///{tmp_path}/absent.db"],
        capture_output=True, text=True, check=True, cwd=tmp_path,
    )  # fmt: skip
    plan = json.loads(out.stdout)
    assert plan["preset"] == "mini" and plan["trainings"] == len(mini_expansion.trials)
    estimate = plan["estimate"]
    assert estimate["unit"] == "cpu_minutes"
    # calibrated on this machine: the whole study costs CPU-hours, dedup saves some of them
    assert 0 < estimate["trainings"] < estimate["total"] < estimate["without_dedup"]


@pytest.mark.parametrize("preset", ["mini", "smoke"])
def test_iteration_based_presets_draw_from_an_endless_sampler(preset: str) -> None:
    """MMEngine's IterBasedTrainLoop sleeps 2 s whenever a finite sampler runs out (every 32
    iterations of the synthetic set): every schedule of these presets must not."""
    from sbr.specs.compose import compose_trial_config

    expansion = _expand(load_preset(preset), tables=["table2"])  # schedules 1x and 3x
    assert {t.schedule for t in expansion.trials} >= {"1x", "3x"}
    for trial in expansion.trials:
        cfg = compose_trial_config(trial)
        assert cfg.train_cfg.type == "IterBasedTrainLoop", trial.trial_id
        assert cfg.train_dataloader.sampler.type == "InfiniteSampler", trial.trial_id


def test_the_smoke_config_draws_from_an_endless_sampler() -> None:
    from mmengine.config import Config

    from sbr.engine.config import resolve_config_path

    cfg = Config.fromfile(str(resolve_config_path("smoke/mask-rcnn_r18_fpn_smoke")))
    assert cfg.train_cfg.type == "IterBasedTrainLoop"
    assert dict(cfg.train_dataloader.sampler) == {"type": "InfiniteSampler", "shuffle": True}
