"""`sbr bench overhead`: the five training paths of one trial, timed for real at tiny size.

The end-to-end test trains Table 4 row 1 under the mini preset for one iteration per
path on a tiny dataset (bare loop with the trial's threads and on every core, `sbr train`,
`run-ablation --local`, Ray) and checks
what can go wrong: a path missing, the hooks not broken down, ratios not computed from
that run's timings. No timing threshold is asserted.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from ci_gate import require
from click.testing import CliRunner

from sbr.cli.bench import bench
from sbr.runners.bench_overhead import (
    PATH_LABELS,
    PATHS,
    OverheadBench,
    PathTiming,
    bench_preset_node,
    round_order,
)


def _timing(path: str, wall: float, hooks: dict | None = None) -> PathTiming:
    threads = 2 if path == "cores" else 1
    copies = 2 if path == "side" else 1
    return PathTiming(path, iters=4, wall_s=wall, cpu_s=wall * 1.5 * copies,
                      torch_threads=threads, env={"OMP_NUM_THREADS": "2"}, hooks_s=hooks or {},
                      copies=copies)  # fmt: skip


def _bench(walls: list[dict[str, float]]) -> OverheadBench:
    rounds = tuple(
        {p: _timing(p, w, {} if p in ("bare", "cores") else {"HookA": 0.004}) for p, w in r.items()}
        for r in walls
    )
    return OverheadBench("table4:row1", "mini", 4, 2, rounds)


@pytest.mark.parametrize(
    ("walls", "ratio_train", "s_per_iter_bare"),
    [
        (
            [{"bare": 2.0, "cores": 1.6, "train": 2.2, "side": 2.75, "local": 2.4, "ray": 3.0}],
            1.1,
            0.5,
        ),
        (
            [
                {"bare": 2.0, "cores": 1.6, "train": 2.2, "side": 2.75, "local": 2.0, "ray": 2.0},
                {"bare": 4.0, "cores": 3.2, "train": 4.0, "side": 5.0, "local": 4.0, "ray": 4.0},
                {"bare": 2.0, "cores": 1.6, "train": 3.0, "side": 3.75, "local": 2.0, "ray": 2.0},
            ],
            1.1,  # median of the per-round ratios 1.1, 1.0, 1.5
            0.5,  # median of 0.5, 1.0, 0.5
        ),
    ],
    ids=["one-round", "three-rounds-medians"],
)
def test_ratios_and_report_come_from_the_rounds(walls, ratio_train, s_per_iter_bare) -> None:
    result = _bench(walls)
    assert result.ratio("train") == pytest.approx(ratio_train)
    assert result.s_per_iter("bare") == pytest.approx(s_per_iter_bare)
    assert result.cpu_use("ray") == pytest.approx(1.5)
    assert result.hook_ms("train") == {"HookA": pytest.approx(1.0)}  # 4 ms over 4 iterations
    text = "\n".join(result.lines())
    for path in PATHS:
        assert PATH_LABELS[path] in text
    assert f"{ratio_train:6.2f}" in text and "HookA" in text
    summary = result.to_json()["summary"]
    assert summary["train"]["ratio"] == pytest.approx(ratio_train)
    # 2 threads are 1.25x as fast as the trial's 1: 40% of the work runs in parallel, and
    # two 1-thread trials side by side do 2 / 1.25 = 1.6x the work of one 2-thread trial
    assert result.parallel_speedup() == pytest.approx(1.25)
    assert "parallel speed-up on 2 threads over the trial's 1: 1.25" in text
    assert "40% of the work runs in parallel" in text and "do up to 1.6x its work" in text
    # two runs side by side, each 1.25x as slow as train alone: 2 / 1.25 = 1.6x its work;
    # the CPU use of both is twice one's
    assert result.side_work() == pytest.approx(1.6)
    assert result.cpu_use("side") == pytest.approx(3.0)
    assert "did 1.60x the iterations per second of one alone; CPU use of them all 3.00" in text
    assert result.to_json()["side_work"] == pytest.approx(1.6)


def test_runs_side_by_side_count_as_one_timing() -> None:
    runs = [PathTiming("side", iters=4, wall_s=w, cpu_s=c, torch_threads=1) for w, c in
            [(2.0, 1.9), (3.0, 2.9)]]  # fmt: skip
    together = PathTiming.together(runs)
    assert together.copies == 2 and together.iters == 4
    assert together.s_per_iter == pytest.approx(2.5 / 4)  # each run's, averaged
    assert together.cpu_use == pytest.approx(4.8 / 2.5)  # both runs' CPU time


def test_no_speedup_line_without_the_one_thread_loop() -> None:
    result = _bench([{"bare": 2.0, "train": 2.2}])
    assert not any("speed-up" in line or "side by side" in line for line in result.lines())
    assert result.to_json()["parallel_speedup"] is None
    assert result.to_json()["side_work"] is None


@pytest.mark.parametrize(
    ("paths", "round_index", "order"),
    [
        (["ray", "bare", "train"], 0, ["bare", "train", "ray"]),
        (["ray", "bare", "train"], 1, ["ray", "train", "bare"]),
        (["ray", "bare", "train"], 2, ["bare", "train", "ray"]),
        (list(PATHS), 3, list(PATHS)[::-1]),
    ],
    ids=["first-forwards", "second-backwards", "third-forwards", "all-paths-backwards"],
)
def test_rounds_alternate_the_order_of_the_paths(paths, round_index, order) -> None:
    assert round_order(paths, round_index) == order


def test_from_record_refuses_an_empty_window() -> None:
    record = {"iters": 0, "wall_s": 0.0, "cpu_s": 0.0, "torch_threads": 2}
    with pytest.raises(ValueError, match="no iteration"):
        PathTiming.from_record("train", record)


_PRESET = {
    "name": "mini",
    "overrides": {"+sbr_speed": {"images": 16}, "default_hooks.logger.interval": 10},
    "schedules": {"1x": {"iters": 300, "overrides": {"train_cfg": {}, "x": 1}}},
}


@pytest.mark.parametrize(
    ("hooks", "new", "key"),
    [
        (None, False, None),
        ([{"type": "SBRTimingHook"}], True, "+custom_hooks"),
        ([{"type": "A"}, {"type": "SBRTimingHook"}], False, "custom_hooks"),
    ],
    ids=["config-hooks", "config-without-hooks", "config-with-hooks"],
)
def test_bench_preset_cuts_the_schedules_and_adds_the_hooks(hooks, new, key) -> None:
    node = bench_preset_node(_PRESET, iters=5, hooks=hooks, new=new)
    schedule = node["schedules"]["1x"]
    assert schedule["iters"] == 5 and schedule["overrides"]["x"] == 1
    assert schedule["overrides"]["train_cfg"]["max_iters"] == 5
    assert node["name"] == "mini-bench"
    overrides = node["overrides"]
    assert overrides["default_hooks.logger.interval"] == 10  # the trial's own settings stay
    hook_keys = [k for k in overrides if k.lstrip("+") == "custom_hooks"]
    assert hook_keys == ([] if key is None else [key])
    if key:
        assert overrides[key] == hooks
    assert _PRESET["schedules"]["1x"]["iters"] == 300  # not modified in place
    assert "train_dataloader.sampler" not in overrides  # an iteration-based trial's own


def test_bench_cut_of_an_epoch_based_trial_draws_from_an_endless_sampler() -> None:
    sampler = bench_preset_node(_PRESET, iters=5, endless=True)["overrides"][
        "train_dataloader.sampler"
    ]
    assert sampler == {"_delete_": True, "type": "InfiniteSampler", "shuffle": True}


def _mini_with_finite_sampler(folder: Path) -> str:
    """The mini preset without its InfiniteSampler (an iteration-based user preset)."""
    from sbr.specs.presets import resolve_preset_file

    lines = resolve_preset_file("mini").read_text(encoding="utf-8").splitlines()
    kept = [line for line in lines if not line.lstrip().startswith("train_dataloader.sampler")]
    assert len(kept) == len(lines) - 1
    path = folder / "finite.yaml"
    path.write_text("\n".join(kept) + "\n", encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(
    ("preset", "sampler"),
    [("paper", "InfiniteSampler"), ("mini", "InfiniteSampler"), ("finite", "DefaultSampler")],
    ids=["epoch-based-gets-endless", "iteration-based-own-endless", "iteration-based-own-finite"],
)
def test_bench_config_pauses_only_where_the_trial_does(
    preset: str, sampler: str, synth_root: Path, tmp_path: Path
) -> None:
    from mmengine import Config

    from sbr.runners.bench_overhead import prepare_bench

    name = _mini_with_finite_sampler(tmp_path) if preset == "finite" else preset
    files = prepare_bench(
        tmp_path, target="table4:row1", preset=name, data_root=synth_root, iters=3, skip=1
    )
    config = Config.fromfile(files.config)
    assert config.train_cfg.type == "IterBasedTrainLoop" and config.train_cfg.max_iters == 5
    assert config.train_dataloader.sampler.type == sampler


@pytest.mark.parametrize(
    "args",
    [["--row", "table4:row99"], ["--row", "table4:row1", "--config", "x"], ["--paths", "gpu"]],
    ids=["unknown-row", "row-and-config", "unknown-path"],
)
def test_bad_arguments_exit_2_before_training(args: list[str], tmp_path: Path) -> None:
    result = CliRunner().invoke(bench, ["overhead", "--data", str(tmp_path), *args])
    assert result.exit_code == 2, result.output


@pytest.mark.slow
def test_overhead_bench_times_every_path_for_real(tmp_path: Path) -> None:
    require("ray")
    from sbr.data.synth import synthesize

    data = tmp_path / "data"
    synthesize(data, seed=0, images=8, val_images=2)
    args = ["overhead", "--row", "table4:row1", "--preset", "mini", "--data", str(data),
            "--iters", "1", "--skip", "0", "--json", "--keep", str(tmp_path / "runs")]  # fmt: skip
    result = CliRunner().invoke(bench, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    (timings,) = report["rounds"]
    assert list(timings) == list(PATHS)
    bare = timings["bare"]["wall_s"] / timings["bare"]["iters"]
    for path, timing in timings.items():
        assert timing["iters"] == 1 and timing["wall_s"] > 0 and timing["cpu_s"] > 0
        assert timing["torch_threads"] >= 1
        assert timing["nice"] == os.nice(0), path  # Ray's workers too: not niced down
        ratio = timing["wall_s"] / timing["iters"] / bare
        assert report["summary"][path]["ratio"] == pytest.approx(ratio)
    for path in ("train", "local", "ray"):  # the Runner paths break their hooks down
        assert "SBRIoUHistogramHook" in timings[path]["hooks_s"], timings[path]["hooks_s"]
        assert "LoggerHook" in timings[path]["hooks_s"]
    assert timings["bare"]["hooks_s"] == {}
    cores = os.cpu_count()
    assert timings["cores"]["torch_threads"] == cores  # the loop really ran on every core
    assert timings["cores"]["env"]["OMP_NUM_THREADS"] == str(cores)
    for path in ("bare", "train", "side", "local", "ray"):  # the trial's threads: mini's cpus
        assert timings[path]["torch_threads"] == 1, path
    assert timings["side"]["copies"] == cores  # one 1-thread run per core, at once
    assert (
        len(list((tmp_path / "runs" / "round1" / "side").glob("copy*/**/sbr_timing.json"))) == cores
    )
    for path in ("train", "local", "ray"):  # and time their evaluation, per-image hook too
        assert timings[path]["val_s"] > 0
        assert "_SBRPerImageHook" in timings[path]["val_hooks_s"], timings[path]
