"""Per-iteration overhead of sbr's training paths against a bare loop (``sbr bench overhead``).

One trial (a table row or a config, under a preset) is trained by six paths, each in
fresh Python processes with this process' environment, one after the other:

- ``bare``: a loop over the trial's own model, data loader and optimizer wrapper
  (``model.train_step``: data_preprocessor -> forward -> parse_losses -> update_params);
- ``cores``: the same loop with a torch thread per core of this machine. Its speed over
  the bare loop's is what a trial would gain from more threads (the parallel speed-up
  ``S``); without threads that spin while they wait, a trial's CPU use is about ``S``;
- ``train``: ``sbr train`` on the same composed config;
- ``side``: as many ``sbr train`` runs of that config at once as the trial's threads fit
  on this machine's cores (2 one-thread trials on 2 cores): what a machine full of such
  trials does. Its s/iteration is each copy's, its CPU use that of all copies together;
- ``local``: ``sbr run-ablation --local`` of the same row and preset;
- ``ray``: ``sbr run-ablation`` (a local Ray, one Tune trial).

``bare`` and ``train`` run with the trial's threads (the preset's ``cpus`` over its
workers, as ``--local`` and Ray set them), so that every ratio compares like with like.

The bench preset is the preset with every schedule cut to ``skip + iters + 1``
iterations, a small evaluation, and :class:`~sbr.models.hooks.SBRTimingHook` added to the
config's hooks. Each path times iterations ``[skip, skip + iters)`` only (wall and CPU
time of the training process; for the Runner paths, also each hook's
``before/after_train_iter``): start-up, the first ``skip`` iterations, the last one
(final checkpoint) and the evaluation are left out. The results are ratios to the bare
loop of the same round.
"""

from __future__ import annotations

import copy
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: The paths timed, in the order they run in odd rounds (:func:`round_order`), and their labels.
PATHS = ("bare", "cores", "train", "side", "local", "ray")
PATH_LABELS = {
    "bare": "bare loop",
    "cores": "bare loop, all cores",
    "train": "sbr train",
    "side": "sbr train, side by side",
    "local": "run-ablation --local",
    "ray": "run-ablation (Ray)",
}
#: What ``sbr bench overhead`` times when given neither a row nor a config.
DEFAULT_ROW = "table4:row1"
#: Validation images of the bench trials (the evaluation is not timed; keep it short).
BENCH_VAL_IMAGES = 4
TIMING_FILE = "sbr_timing.json"  # = sbr.models.hooks.sbr_timing_hook.TIMING_FILE (no mmdet import)


@dataclass(frozen=True)
class PathTiming:
    """One path's timed window (see :func:`~sbr.models.hooks.sbr_timing_hook.window_record`)."""

    path: str
    iters: int
    wall_s: float
    cpu_s: float
    torch_threads: int
    env: Mapping[str, str] = field(default_factory=dict)
    hooks_s: Mapping[str, float] = field(default_factory=dict)
    nice: int = 0
    #: Evaluation wall seconds and each hook's seconds in ``before/after_val_epoch``.
    val_s: float = 0.0
    val_hooks_s: Mapping[str, float] = field(default_factory=dict)
    #: Runs timed at once (``side``): ``wall_s`` is their mean, ``cpu_s`` their sum.
    copies: int = 1

    @property
    def s_per_iter(self) -> float:
        """Wall seconds per iteration."""
        return self.wall_s / self.iters

    @property
    def cpu_use(self) -> float:
        """CPU seconds (user + system, all threads, all copies) per wall second."""
        return self.cpu_s / self.wall_s

    @classmethod
    def together(cls, timings: Sequence[PathTiming]) -> PathTiming:
        """Runs timed at once as one: mean wall time, summed CPU time, the first's rest."""
        first = timings[0]
        return cls(
            path=first.path, iters=first.iters,
            wall_s=statistics.fmean(t.wall_s for t in timings),
            cpu_s=sum(t.cpu_s for t in timings), torch_threads=first.torch_threads,
            env=first.env, hooks_s=first.hooks_s, nice=first.nice, val_s=first.val_s,
            val_hooks_s=first.val_hooks_s, copies=len(timings),
        )  # fmt: skip

    @classmethod
    def from_record(cls, path: str, record: Mapping[str, Any]) -> PathTiming:
        """From the JSON the timing hook (or the bare loop) wrote."""
        if int(record["iters"]) < 1:
            raise ValueError(f"{path}: no iteration was timed ({record})")
        return cls(
            path=path,
            iters=int(record["iters"]),
            wall_s=float(record["wall_s"]),
            cpu_s=float(record["cpu_s"]),
            torch_threads=int(record["torch_threads"]),
            env=dict(record.get("env", {})),
            hooks_s=dict(record.get("hooks_s", {})),
            nice=int(record.get("nice", 0)),
            val_s=float(record.get("val", {}).get("wall_s", 0.0)),
            val_hooks_s=dict(record.get("val", {}).get("hooks_s", {})),
        )

    def to_json(self) -> dict[str, Any]:
        """Plain data, with the derived figures."""
        return {
            "path": self.path,
            "iters": self.iters,
            "wall_s": self.wall_s,
            "cpu_s": self.cpu_s,
            "s_per_iter": self.s_per_iter,
            "cpu_use": self.cpu_use,
            "torch_threads": self.torch_threads,
            "nice": self.nice,
            "env": dict(self.env),
            "hooks_s": dict(self.hooks_s),
            "val_s": self.val_s,
            "val_hooks_s": dict(self.val_hooks_s),
            "copies": self.copies,
        }


@dataclass(frozen=True)
class OverheadBench:
    """Timings of every path in every round (a round runs each path once)."""

    target: str
    preset: str
    iters: int
    skip: int
    rounds: tuple[Mapping[str, PathTiming], ...]

    @property
    def paths(self) -> list[str]:
        """Paths timed, in run order."""
        return [p for p in PATHS if p in self.rounds[0]]

    def s_per_iter(self, path: str) -> float:
        """Median over rounds of the path's seconds per iteration."""
        return statistics.median(r[path].s_per_iter for r in self.rounds)

    def cpu_use(self, path: str) -> float:
        """Median over rounds of the path's CPU utilisation."""
        return statistics.median(r[path].cpu_use for r in self.rounds)

    def ratios(self, path: str) -> list[float]:
        """The path's s/iteration over the bare loop's, one per round."""
        return [r[path].s_per_iter / r["bare"].s_per_iter for r in self.rounds]

    def ratio(self, path: str) -> float:
        """Median over rounds of :meth:`ratios`."""
        return statistics.median(self.ratios(path))

    def parallel_speedup(self) -> float:
        """Median over rounds of the bare loop's s/iteration over the all-cores loop's."""
        return statistics.median(r["bare"].s_per_iter / r["cores"].s_per_iter for r in self.rounds)

    def side_work(self) -> float:
        """Median over rounds of the iterations per second of the ``side`` runs together
        over those of ``train`` alone."""
        return statistics.median(
            r["side"].copies * r["train"].s_per_iter / r["side"].s_per_iter for r in self.rounds
        )

    def hook_ms(self, path: str) -> dict[str, float]:
        """Median over rounds of each hook's milliseconds per iteration."""
        names = sorted({name for r in self.rounds for name in r[path].hooks_s})
        return {
            name: statistics.median(
                1000 * r[path].hooks_s.get(name, 0.0) / r[path].iters for r in self.rounds
            )
            for name in names
        }

    def to_json(self) -> dict[str, Any]:
        """Plain data: settings, every round, and the medians."""
        return {
            "target": self.target,
            "preset": self.preset,
            "iters": self.iters,
            "skip": self.skip,
            "rounds": [{p: t.to_json() for p, t in r.items()} for r in self.rounds],
            "summary": {
                p: {
                    "s_per_iter": self.s_per_iter(p),
                    "cpu_use": self.cpu_use(p),
                    "ratio": self.ratio(p) if "bare" in self.rounds[0] else None,
                    "hooks_ms_per_iter": self.hook_ms(p),
                }
                for p in self.paths
            },
            "parallel_speedup": (
                self.parallel_speedup() if {"bare", "cores"} <= set(self.paths) else None
            ),
            "side_work": self.side_work() if {"train", "side"} <= set(self.paths) else None,
        }

    def lines(self) -> list[str]:
        """Human-readable report."""
        return _report_lines(self)


def _report_lines(bench: OverheadBench) -> list[str]:
    rounds = len(bench.rounds)
    lines = [
        f"{bench.target}, preset {bench.preset}: {bench.iters} timed iterations per path "
        f"(start-up, the first {bench.skip} iterations, the last one and the evaluation "
        f"are not timed); {rounds} round(s), medians",
        f"{'path':24} {'s/iter':>7} {'CPU use':>8} {'threads':>8} {'ratio':>6}  environment",
    ]
    has_bare = "bare" in bench.rounds[0]
    for path in bench.paths:
        first = bench.rounds[0][path]
        ratio = f"{bench.ratio(path):6.2f}" if has_bare else f"{'-':>6}"
        env = [f"{k}={v}" for k, v in sorted(first.env.items())]
        env = " ".join(env + ([f"nice={first.nice}"] if first.nice else [])) or "-"
        lines.append(
            f"{PATH_LABELS[path]:24} {bench.s_per_iter(path):7.3f} {bench.cpu_use(path):8.2f} "
            f"{first.torch_threads:8d} {ratio}  {env}"
        )
    # the side-by-side runs are `sbr train` runs: their hooks are train's
    hooked = [p for p in bench.paths if p != "side" and bench.rounds[0][p].hooks_s]
    if hooked:
        lines.append("hooks, ms per iteration (before_train_iter + after_train_iter):")
        lines.append(f"{'hook':28}" + "".join(f"{PATH_LABELS[p]:>22}" for p in hooked))
        table = {p: bench.hook_ms(p) for p in hooked}
        for name in sorted({n for ms in table.values() for n in ms}):
            cells = "".join(f"{table[p].get(name, 0.0):22.2f}" for p in hooked)
            lines.append(f"{name:28}{cells}")
    lines.extend(_evaluation_lines(bench, hooked))
    lines.extend(_speedup_lines(bench))
    lines.extend(_side_lines(bench))
    return lines


def _speedup_lines(bench: OverheadBench) -> list[str]:
    """The all-cores loop's speed-up over the bare loop, and what it means for CPU use."""
    if not {"bare", "cores"} <= set(bench.paths):
        return []
    threads = bench.rounds[0]["bare"].torch_threads
    cores = bench.rounds[0]["cores"].torch_threads
    if cores <= threads:
        return [f"parallel speed-up: none to measure (the trial's {threads} threads use "
                f"every core)"]  # fmt: skip
    speedup = bench.parallel_speedup()
    share = (1 - 1 / speedup) / (1 - threads / cores)  # Amdahl's law solved for p
    copies = cores // threads
    return [
        f"parallel speed-up on {cores} threads over the trial's {threads}: {speedup:.2f} "
        f"({bench.s_per_iter('cores'):.3f} s/iteration): {100 * max(share, 0.0):.0f}% of the "
        f"work runs in parallel (Amdahl); without spin-waiting, a {cores}-thread trial's "
        f"CPU use stays near {threads * speedup:.2f}, and {copies} trials of "
        f"{threads} thread(s) side by side do up to {copies / speedup:.1f}x its work"
    ]


def _side_lines(bench: OverheadBench) -> list[str]:
    """What the trials side by side did together, against one ``sbr train`` alone."""
    if not {"train", "side"} <= set(bench.paths):
        return []
    side = bench.rounds[0]["side"]
    work = bench.side_work()
    return [
        f"side by side: {side.copies} `sbr train` runs of {side.torch_threads} thread(s) at "
        f"once, {bench.s_per_iter('side'):.3f} s/iteration each, did {work:.2f}x the "
        f"iterations per second of one alone; CPU use of them all {bench.cpu_use('side'):.2f}"
    ]


def _evaluation_lines(bench: OverheadBench, paths: Sequence[str]) -> list[str]:
    """The evaluation of each Runner path (first round; not part of the ratios)."""
    lines = []
    for path in paths:
        timing = bench.rounds[0][path]
        if not timing.val_s:
            continue
        slow = sorted(timing.val_hooks_s.items(), key=lambda kv: -kv[1])
        hooks = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in slow if seconds >= 0.005)
        lines.append(
            f"evaluation, {PATH_LABELS[path]}: {timing.val_s:.1f} s; hooks in "
            f"before/after_val_epoch: {hooks or 'none over 5 ms'}"
        )
    return lines


# ----------------------------------------------------------------------- set-up


def _plain(node: Any) -> Any:
    """The loader's located YAML nodes as plain dicts and lists (for ``yaml.safe_dump``)."""
    return json.loads(json.dumps(node))


def _row_spec(target: str) -> dict[str, Any]:
    """A one-row spec (plain data) for ``tableN:rowM`` or a config name."""
    from sbr.specs.schema import resolve_spec_file
    from sbr.yamlspec.loader import load_yaml_file

    base = {"schema_version": 1, "name": "bench-overhead", "title": "sbr bench overhead"}
    if ":" not in target:
        row = {"id": "r1", "label": "bench", "config": target, "paper": {"B_AP": 0}}
        return {**base, "columns": ["B_AP"], "rows": [row]}
    table, row_id = target.split(":", 1)
    spec = _plain(load_yaml_file(resolve_spec_file(table)))
    rows = [r for r in spec.get("rows", []) if r.get("id") == row_id]
    if not rows:
        known = ", ".join(str(r.get("id")) for r in spec.get("rows", []))
        raise ValueError(f"{table} has no row {row_id!r} (rows: {known})")
    row = {k: v for k, v in rows[0].items() if k != "eval_overrides"}
    extra = {k: spec[k] for k in ("columns", "defaults") if k in spec}
    return {**base, **extra, "rows": [row]}


def _schedules(schedules: Mapping[str, Any], iters: int) -> dict[str, Any]:
    """Every schedule cut to ``iters`` iterations (one evaluation at the end)."""
    out = {}
    for name, schedule in schedules.items():
        overrides = dict(schedule.get("overrides") or {})
        overrides["train_cfg"] = {
            "_delete_": True, "type": "IterBasedTrainLoop", "max_iters": iters,
            "val_interval": iters,
        }  # fmt: skip
        overrides["param_scheduler"] = [
            {"type": "ConstantLR", "factor": 1.0, "by_epoch": False, "begin": 0, "end": iters}
        ]
        out[name] = {"iters": iters, "overrides": overrides}
    return out


#: The sampler of a bench cut from an epoch-based trial (see :func:`bench_preset_node`).
ENDLESS_SAMPLER = {"_delete_": True, "type": "InfiniteSampler", "shuffle": True}


def bench_preset_node(
    preset: Mapping[str, Any],
    *,
    iters: int,
    hooks: Sequence[Mapping[str, Any]] | None = None,
    new: bool = False,
    endless: bool = False,
) -> dict[str, Any]:
    """The bench preset (plain data): ``preset`` cut to ``iters`` iterations, ``hooks`` as
    the configs' ``custom_hooks`` (None: the config's own; ``new``: the config has none),
    a short evaluation.

    ``endless``: the trial's own loop is epoch-based, so its training never pauses
    between passes over the data; the iteration-based cut then draws from an
    ``InfiniteSampler``, as MMEngine sleeps 2 s whenever it restarts a finite one. An
    iteration-based trial keeps its own sampler, pauses and all.
    """
    node = copy.deepcopy(dict(preset))
    node["name"] = f"{preset.get('name', 'preset')}-bench"
    node["schedules"] = _schedules(node.get("schedules") or {}, iters)
    overrides = {k: v for k, v in (node.get("overrides") or {}).items() if k != "+sbr_speed"}
    if endless:
        overrides["train_dataloader.sampler"] = dict(ENDLESS_SAMPLER)
    if hooks is not None:
        overrides["+custom_hooks" if new else "custom_hooks"] = [dict(h) for h in hooks]
    overrides["+val_dataloader.dataset.indices"] = BENCH_VAL_IMAGES
    overrides["+sbr_speed"] = {"images": 1, "warmup": 0}
    node["overrides"] = overrides
    return node


@dataclass(frozen=True)
class BenchFiles:
    """What the paths run: the spec, the preset, the composed config, the data."""

    spec: Path
    preset: Path
    config: Path
    data_root: Path
    threads: int = 1  # torch threads of the trial (the preset's cpus over its workers)


def _compose(spec: Path, preset: Path, data_root: Path) -> Any:
    from sbr.specs.compose import compose_trial_config
    from sbr.specs.expand import expand
    from sbr.specs.presets import load_preset
    from sbr.specs.schema import load_spec

    expansion = expand([load_spec(spec)], load_preset(preset), data_root=str(data_root), seeds=[0])
    return compose_trial_config(expansion.trials[0])


def prepare_bench(
    folder: Path, *, target: str, preset: str, data_root: Path, iters: int, skip: int
) -> BenchFiles:
    """Write the bench spec, preset and composed config into ``folder``."""
    import yaml

    from sbr.specs.presets import resolve_preset_file
    from sbr.yamlspec.loader import load_yaml_file

    spec = folder / "bench-spec.yaml"
    spec.write_text(yaml.safe_dump(_row_spec(target), sort_keys=False), encoding="utf-8")
    raw = _plain(load_yaml_file(resolve_preset_file(preset)))
    total = skip + iters + 1  # the last iteration is not timed
    trial = _compose(spec, resolve_preset_file(preset), data_root)  # as the trial trains
    own = trial.get("custom_hooks")
    hooks = [dict(h) for h in own or []] + [{"type": "SBRTimingHook", "skip": skip}]
    endless = trial.train_cfg.get("type") != "IterBasedTrainLoop"
    node = bench_preset_node(raw, iters=total, hooks=hooks, new=own is None, endless=endless)
    preset_file = folder / "bench-preset.yaml"
    preset_file.write_text(yaml.safe_dump(node, sort_keys=False), encoding="utf-8")
    config = folder / "config.py"
    _compose(spec, preset_file, data_root).dump(str(config))
    threads = _trial_threads(dict(raw.get("resources") or {}))
    return BenchFiles(spec, preset_file, config, Path(data_root).resolve(), threads)


def _trial_threads(resources: Mapping[str, Any]) -> int:
    """torch threads of a trial under ``resources`` (as :attr:`TrialTask.threads`)."""
    from sbr.runners.base import trial_threads
    from sbr.specs.schema import trial_workers

    return trial_threads(float(resources.get("cpus", 1)), trial_workers(resources))


# ----------------------------------------------------------------------- the paths


def side_by_side(threads: int) -> int:
    """Trials of ``threads`` torch threads that fit on this machine's cores (at least 1)."""
    return max(1, (os.cpu_count() or 1) // max(threads, 1))


def _command(path: str, files: BenchFiles, out: Path, *, iters: int, skip: int) -> list[str]:
    sbr = [sys.executable, "-m", "sbr"]
    if path in ("bare", "cores"):
        module = "sbr.runners.bench_overhead"
        return [sys.executable, "-m", module, str(files.config), str(out), str(skip), str(iters)]
    if path in ("train", "side"):
        return [*sbr, "train", str(files.config), "--work-dir", str(out / "work")]
    ablation = [
        *sbr, "run-ablation", str(files.spec), "--preset", str(files.preset),
        "--data", str(files.data_root), "--seeds", "1", "--no-params", "--no-calibrate",
        "--max-retries", "0", "--storage", str(out / "store"),
        "--tracking-uri", f"sqlite:///{out / 'mlflow.db'}",
    ]  # fmt: skip
    return [*ablation, "--local"] if path == "local" else ablation


def _timing_file(path: str, out: Path) -> Path:
    if path in ("bare", "cores"):
        return out / TIMING_FILE
    found = sorted(out.glob(f"**/{TIMING_FILE}"))
    if len(found) != 1:
        raise RuntimeError(f"{PATH_LABELS[path]}: expected one {TIMING_FILE} under {out}, "
                           f"found {len(found)}")  # fmt: skip
    return found[0]


def _thread_env(path: str, threads: int) -> dict[str, str]:
    """Thread variables of a path: the trial's threads, or every core for ``cores``."""
    if path in ("local", "ray"):
        return {}  # the runners set the trial's threads themselves
    count = str(os.cpu_count() or 1) if path == "cores" else str(threads)
    return {"OMP_NUM_THREADS": count, "MKL_NUM_THREADS": count}


def _start(path: str, files: BenchFiles, out: Path, *, iters: int, skip: int):
    """Start one run of ``path`` in ``out``; (process, its log file)."""
    out.mkdir(parents=True, exist_ok=True)
    log = out / "output.log"
    with log.open("w", encoding="utf-8") as stream:  # the child keeps its own handle
        process = subprocess.Popen(
            _command(path, files, out, iters=iters, skip=skip),
            stdout=stream,
            stderr=subprocess.STDOUT,
            cwd=out,
            env={**os.environ, **_thread_env(path, files.threads)},
        )
    return process, log


def _finish(path: str, out: Path, process: subprocess.Popen, log: Path, iters: int) -> PathTiming:
    """Wait for one run; its timed window. Raises when the run failed."""
    code = process.wait()
    if code:
        tail = "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-15:])
        raise RuntimeError(f"{PATH_LABELS[path]} failed (exit {code}); end of {log}:\n{tail}")
    record = json.loads(_timing_file(path, out).read_text(encoding="utf-8"))
    timing = PathTiming.from_record(path, record)
    if timing.iters != iters:
        raise RuntimeError(f"{PATH_LABELS[path]} timed {timing.iters} iterations, not {iters}")
    return timing


def run_path(path: str, files: BenchFiles, out: Path, *, iters: int, skip: int) -> PathTiming:
    """Run one path in fresh processes (``side``: :func:`side_by_side` at once); its timed
    window. Raises when a run fails."""
    side = path == "side"
    outs = [out / f"copy{k + 1}" for k in range(side_by_side(files.threads))] if side else [out]
    started = [_start(path, files, o, iters=iters, skip=skip) for o in outs]
    try:
        timings = [_finish(path, o, *run, iters) for o, run in zip(outs, started, strict=True)]
    finally:
        for process, _ in started:
            if process.poll() is None:
                process.kill()
                process.wait()
    return PathTiming.together(timings) if side else timings[0]


def round_order(paths: Sequence[str], round_index: int) -> list[str]:
    """The order of ``paths`` in round ``round_index`` (from 0): :data:`PATHS`' order in even
    rounds, reversed in odd ones. A machine that slows down (or speeds up) during a round
    then weighs on the first and the last paths alike over two rounds, instead of always on
    the last ones (Ray), and each ratio's median over rounds cancels such a drift."""
    ordered = [p for p in PATHS if p in paths]
    return ordered if round_index % 2 == 0 else ordered[::-1]


def bench_overhead(
    *,
    target: str = DEFAULT_ROW,
    preset: str = "mini",
    data_root: str | Path = "data/synth",
    iters: int = 20,
    skip: int = 2,
    rounds: int = 1,
    paths: Sequence[str] = PATHS,
    keep: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> OverheadBench:
    """Time ``paths`` on ``target`` (``tableN:rowM`` or a config) under ``preset``.

    Args:
        target: A table row or a config name.
        preset: Preset name or file.
        data_root: Dataset of the trials.
        iters: Iterations timed per path.
        skip: Warm-up iterations before the window.
        rounds: Times every path runs (:func:`round_order`: forwards, then backwards...).
        paths: Which of :data:`PATHS` (the ratios need ``bare``).
        keep: Folder for the runs' files (default: a temporary folder, deleted).
        progress: Called with a line before each run.
    """
    unknown = [p for p in paths if p not in PATHS]
    if unknown:
        raise ValueError(f"unknown paths {unknown}; choose among {', '.join(PATHS)}")
    with tempfile.TemporaryDirectory(prefix="sbr-overhead-") as tmp:
        folder = Path(keep or tmp).resolve()
        folder.mkdir(parents=True, exist_ok=True)
        files = prepare_bench(
            folder, target=target, preset=preset, data_root=Path(data_root).resolve(),
            iters=iters, skip=skip,
        )  # fmt: skip
        done = []
        for round_index in range(rounds):
            timings = {}
            for path in round_order(paths, round_index):
                if progress is not None:
                    progress(f"round {round_index + 1}/{rounds}: {PATH_LABELS[path]}")
                out = folder / f"round{round_index + 1}" / path
                timings[path] = run_path(path, files, out, iters=iters, skip=skip)
            done.append(timings)
    label = target if ":" not in target else f"{target} ({_row_spec(target)['rows'][0]['config']})"
    return OverheadBench(label, preset, iters, skip, tuple(done))


# ----------------------------------------------------------------------- the bare loop


def _endless(loader: Any):
    while True:
        yield from loader


def bare_loop(config: str | Path, *, skip: int, iters: int, work_dir: str | Path) -> dict:
    """Train ``skip + iters`` steps of ``config`` without a Runner loop; the timed window.

    The model, data loader and optimizer wrapper are the ones the Runner builds from the
    config (weights initialised as in training). Each step is ``model.train_step``:
    data_preprocessor -> forward (loss) -> parse_losses -> update_params. The window
    (as :class:`~sbr.models.hooks.SBRTimingHook`'s) runs from the moment the batch of
    step ``skip`` is loaded to the moment the batch after the last timed step is.
    """
    from sbr.engine.train import build_runner
    from sbr.models.hooks.sbr_timing_hook import window_record

    runner = build_runner(config, work_dir=work_dir)
    model = runner.model
    loader = runner.build_dataloader(runner.cfg.train_dataloader, seed=runner.seed)  # as the loop
    optim_wrapper = runner.build_optim_wrapper(runner.cfg.optim_wrapper)
    model.init_weights()
    optim_wrapper.initialize_count_status(model, 0, skip + iters)
    model.train()
    batches = _endless(loader)
    start = (0.0, 0.0)
    for step in range(skip + iters + 1):
        data = next(batches)
        if step == skip:
            start = (time.perf_counter(), time.process_time())
        if step == skip + iters:
            break
        model.train_step(data, optim_wrapper=optim_wrapper)
    return window_record(
        iters=iters, wall_s=time.perf_counter() - start[0], cpu_s=time.process_time() - start[1]
    )


def _bare_main(argv: Sequence[str]) -> None:
    """``python -m sbr.runners.bench_overhead CONFIG OUT_DIR SKIP ITERS``."""
    config, out, skip, iters = argv
    record = bare_loop(config, skip=int(skip), iters=int(iters), work_dir=Path(out) / "work")
    Path(out, TIMING_FILE).write_text(json.dumps(record, indent=2), encoding="utf-8")


if __name__ == "__main__":
    _bare_main(sys.argv[1:])


__all__ = [
    "DEFAULT_ROW",
    "PATHS",
    "PATH_LABELS",
    "OverheadBench",
    "PathTiming",
    "bare_loop",
    "bench_overhead",
    "bench_preset_node",
    "prepare_bench",
    "round_order",
    "run_path",
]
