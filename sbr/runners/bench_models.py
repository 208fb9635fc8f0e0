"""``sbr bench models``: speed, training-step time and memory of the paper's models.

Every model is built from its shipped config with **untrained** weights (nothing can be
downloaded; the compute of a pass does not depend on the weights, except through the
number of detections, see below) and measured in one process, one after the other:

* inference images/s at batch 1 after warm-up, with :func:`sbr.runners.speed.time_inference`
  (the routine that also gives every trial its Speed metric);
* the wall time of one training step at batch 2 (``model.train_step``: forward, losses,
  backward, SGD step), after warm-up steps;
* peak memory (:class:`sbr.runners.speed.PeakMemory`): CUDA ``max_memory_allocated`` on
  a GPU; on the CPU the growth of the peak RSS over the RSS before the model was built.

Inputs are real-looking images: ``sbr data synth`` shapes over textured backgrounds,
through a test/train pipeline that resizes them to ``--size`` (no keep-ratio). Untrained
classifiers score every class near 1/81, below mmdet's test ``score_thr`` of 0.05, so
they would detect nothing and skip every mask head: the bench sets ``score_thr = 0``
so that every model predicts its ``max_per_img`` (100) detections and runs its mask
branch on them, as a trained model on a COCO image typically does.

Each figure is also given as a ratio to HTC measured in the same run (HTC is added
when not requested), next to the paper's Speed (from ``ablations/table*.yaml``) and
its ratio to HTC. ``profile=True`` adds a per-component breakdown of one inference and
one training step (:mod:`sbr.runners.bench_profile`: ``torch.profiler`` ranges).
"""

from __future__ import annotations

import math
import os
import platform
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from sbr.runners.bench_profile import format_profile, profile_model
from sbr.runners.speed import PeakMemory, time_inference, time_train_steps

#: Model every ratio refers to (HTC), and the one the Tables 6-7 targets refer to (R3-CNN
#: naive): models are named by the first spec row of their config.
BASELINE = "table2/row3"
R3_NAIVE = "table2/row4"
#: What ``sbr bench models`` runs by default: the tables that print a Speed, and SBR-CNN.
DEFAULT_SELECTION = ("table2", "table6", "table7", "table11/row4")
#: Models whose inference speed relative to R3-CNN naive has a target: the 7x7 non-local
#: variants of Tables 6-7 must be no slower, relative to R3-CNN naive, than in the paper.
NL_7X7_TARGETS = ("table6/row5", "table6/row7", "table6/row11", "table7/row6", "table7/row7")

Progress = Callable[[str], None]


@dataclass(frozen=True)
class BenchModel:
    """One benchmarked model: a config of the shipped specs' rows.

    Attributes:
        name: The first spec row with this config (``table6/row5``; tables in number order).
        config: Config under ``sbr/configs``.
        label: The row's label as the paper prints it.
        rows: Every spec row with this config.
        groups: The tables of those rows (``--models table6``).
        paper_speed: The Speed of the first of those rows that prints one.
    """

    name: str
    config: str
    label: str
    rows: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    paper_speed: float | None = None


def _shipped_specs(specs_dir: Path | None = None) -> list[Any]:
    """The shipped table specs, in table number order."""
    from sbr.specs.schema import ABLATIONS_DIR, load_spec

    paths = Path(specs_dir or ABLATIONS_DIR).glob("table*.yaml")
    number = lambda path: int("".join(c for c in path.stem if c.isdigit()) or 0)  # noqa: E731
    return [load_spec(path) for path in sorted(paths, key=number)]


def spec_models(specs_dir: Path | None = None) -> tuple[BenchModel, ...]:
    """One model per config of the specs' rows that change nothing else (no overrides)."""
    from sbr.specs.schema import SPEED_COLUMN

    found: dict[str, BenchModel] = {}
    for spec in _shipped_specs(specs_dir):
        for row in spec.rows:
            if row.overrides or row.eval_overrides:
                continue
            ref = f"{spec.name}/{row.id}"
            model = found.get(row.config) or BenchModel(ref, row.config, row.label)
            groups = tuple(dict.fromkeys((*model.groups, spec.name)))
            speed = row.paper_values.get(SPEED_COLUMN)
            if model.paper_speed is None and isinstance(speed, (int, float)):
                model = replace(model, paper_speed=float(speed))
            found[row.config] = replace(model, rows=(*model.rows, ref), groups=groups)
    return tuple(found.values())


@dataclass(frozen=True)
class BenchSettings:
    """How each model is measured.

    Attributes:
        device: ``cpu`` or ``cuda`` (``cuda:1``...).
        size: Input (height, width) of every image.
        warmup: Inference passes discarded before timing.
        images: Inference passes timed (batch 1).
        train_warmup: Training steps discarded before timing.
        train_steps: Training steps timed (batch 2).
        profile: Also record the per-component breakdown.
        threads: torch CPU threads (None: torch's default).
    """

    device: str = "cpu"
    size: tuple[int, int] = (320, 320)
    warmup: int = 1
    images: int = 3
    train_warmup: int = 1
    train_steps: int = 1
    profile: bool = False
    threads: int | None = None


#: Defaults per device type: a GPU measures many passes; a CPU run stays within minutes.
DEVICE_DEFAULTS: Mapping[str, Mapping[str, Any]] = {
    "cpu": {"size": (320, 320), "warmup": 1, "images": 3, "train_warmup": 1, "train_steps": 1},
    "cuda": {"size": (800, 1216), "warmup": 10, "images": 50, "train_warmup": 3,
             "train_steps": 10},
}  # fmt: skip


@dataclass
class ModelResult:
    """Figures of one model (JSON field names are the issue's)."""

    name: str
    label: str
    config: str
    infer_img_s: float
    train_step_s: float
    peak_mem_mb: float
    paper_speed: float | None
    infer_ratio_htc: float | None = None
    train_ratio_htc: float | None = None
    paper_ratio_htc: float | None = None
    infer_ratio_r3: float | None = None
    paper_ratio_r3: float | None = None
    detections_per_image: float = 0.0
    profile: dict[str, list[dict[str, Any]]] | None = None


@dataclass
class ModelsBench:
    """The whole run."""

    settings: BenchSettings
    models: list[ModelResult]
    environment: dict[str, Any] = field(default_factory=dict)
    targets: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """Plain data (what ``--json`` prints)."""
        return {
            "settings": asdict(self.settings),
            "environment": self.environment,
            "weights": "untrained (random init); test score_thr = 0",
            "models": [asdict(m) for m in self.models],
            "targets": self.targets,
        }

    def lines(self) -> list[str]:
        """A markdown table, then the targets and the profiles."""
        return (
            format_table(self.models)
            + format_targets(self.targets)
            + [line for m in self.models if m.profile for line in format_profile(m)]
        )


def select_models(
    names: Iterable[str] | None, models: Sequence[BenchModel] | None = None
) -> list[BenchModel]:
    """Models named by ``names`` (a spec row such as ``table7/row8``, a table, ``default``:
    :data:`DEFAULT_SELECTION`, or ``all``), in :func:`spec_models` order, HTC always
    included (the ratios need it).

    Raises:
        ValueError: an unknown name (the message lists the tables).
    """
    models = list(models or spec_models())
    wanted = [n for name in (names or ["default"]) for n in (
        DEFAULT_SELECTION if name == "default" else [name])]  # fmt: skip
    groups = {g for m in models for g in m.groups} | {"all", "default"}
    chosen = {BASELINE}
    for name in wanted:
        picked = {m.name for m in models if name in ("all", *m.rows, *m.groups)}
        if not picked:
            raise ValueError(
                f"unknown model {name!r}: give a spec row (table6/row5), a table or a group; "
                f"known: {', '.join(sorted(groups))}"
            )
        chosen |= picked
    return [m for m in models if m.name in chosen]


def bench_inputs(
    root: Path, size: tuple[int, int], *, images: int, train_batches: int
) -> tuple[list[dict], list[dict]]:
    """Synthetic images through test/train pipelines resized to ``size`` (h, w).

    Returns:
        ``(test batches of 1 image, train batches of 2 images)``.
    """
    from mmdet.datasets import CocoDataset
    from mmdet.utils import register_all_modules
    from mmengine.dataset import pseudo_collate

    from sbr.data.synth import CLASS_NAMES, synthesize

    register_all_modules(init_default_scope=True)
    need_train = 2 * train_batches
    synthesize(root, seed=0, images=need_train + 2, val_images=images, size=max(size))
    resize = dict(type="Resize", scale=size[::-1], keep_ratio=False)  # scale is (w, h)
    meta = ("img_id", "img_path", "ori_shape", "img_shape", "scale_factor")

    def dataset(split: str, steps: list[dict], **options: Any) -> Any:
        return CocoDataset(
            data_root=f"{root}/", ann_file=f"annotations/instances_{split}.json",
            metainfo=dict(classes=CLASS_NAMES), data_prefix=dict(img=f"{split}/"),
            pipeline=[dict(type="LoadImageFromFile"), *steps], **options,
        )  # fmt: skip

    test = dataset("val", [resize, dict(type="PackDetInputs", meta_keys=meta)], test_mode=True)
    masks = dict(type="LoadAnnotations", with_bbox=True, with_mask=True)
    train = dataset("train", [masks, resize, dict(type="PackDetInputs")],
                    filter_cfg=dict(filter_empty_gt=True, min_size=4))  # fmt: skip
    if len(train) < need_train:
        raise RuntimeError(f"synthetic train set has {len(train)} images, need {need_train}")
    test_batches = [pseudo_collate([test[i]]) for i in range(len(test))]
    train_items = [train[i] for i in range(need_train)]
    train_list = [pseudo_collate(train_items[2 * k : 2 * k + 2]) for k in range(train_batches)]
    return test_batches, train_list


def build_bench_model(config: str, device: str) -> Any:
    """The config's detector, untrained (torch's default init), ``score_thr = 0``, on ``device``."""
    from sbr.models.params import build_model_from_config

    return build_model_from_config(config, {"model.test_cfg.rcnn.score_thr": 0.0}).to(device)


def _detections(model: Any, batch: Mapping[str, Any]) -> float:
    import torch

    model.eval()
    with torch.no_grad():
        (result,) = model.test_step(batch)
    return float(len(result.pred_instances))


def measure_model(
    spec: BenchModel,
    settings: BenchSettings,
    inputs: tuple[list[dict], list[dict]],
    *,
    paper_speed: float | None = None,
    progress: Progress = lambda line: None,
) -> ModelResult:
    """Build ``spec`` and measure it (see the module docstring)."""
    import torch

    test_batches, train_batches = inputs
    device = torch.device(settings.device)
    with PeakMemory(device) as memory:
        progress(f"{spec.name}: building {spec.config}")
        model = build_bench_model(spec.config, settings.device)
        progress(f"{spec.name}: inference, {settings.warmup} warm-up + {settings.images} timed")
        timing = time_inference(model, test_batches, settings.warmup, settings.images)
        progress(f"{spec.name}: {timing.images_per_s:.3g} img/s; training steps at batch 2, "
                 f"{settings.train_warmup} warm-up + {settings.train_steps} timed")  # fmt: skip
        steps = time_train_steps(model, train_batches, settings.train_warmup, settings.train_steps)
    train_s = sum(steps) / len(steps)
    progress(f"{spec.name}: {train_s:.3g} s/step, peak {memory.peak_mb:.0f} MiB")
    result = ModelResult(
        spec.name, spec.label, spec.config, timing.images_per_s, train_s, memory.peak_mb,
        paper_speed, detections_per_image=_detections(model, test_batches[0]),
    )  # fmt: skip
    if settings.profile:
        progress(f"{spec.name}: profiling one inference and one training step")
        result.profile = profile_model(model, test_batches[0], train_batches[0])
    del model
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return result


def _ratio(value: float | None, reference: float | None) -> float | None:
    return None if value is None or not reference or math.isinf(reference) else value / reference


def add_ratios(results: Sequence[ModelResult]) -> None:
    """Fill the ratios to HTC (and to R3-CNN naive) in place."""
    by_name = {r.name: r for r in results}
    htc, r3 = by_name.get(BASELINE), by_name.get(R3_NAIVE)
    for r in results:
        if htc is not None:
            r.infer_ratio_htc = _ratio(r.infer_img_s, htc.infer_img_s)
            r.train_ratio_htc = _ratio(r.train_step_s, htc.train_step_s)
            r.paper_ratio_htc = _ratio(r.paper_speed, htc.paper_speed)
        if r3 is not None:
            r.infer_ratio_r3 = _ratio(r.infer_img_s, r3.infer_img_s)
            r.paper_ratio_r3 = _ratio(r.paper_speed, r3.paper_speed)


def evaluate_targets(results: Sequence[ModelResult]) -> list[dict[str, Any]]:
    """The issue's speed targets, as ratios measured in this run (met: True/False)."""
    by_name = {r.name: r for r in results}
    targets: list[dict[str, Any]] = []
    r3 = by_name.get(R3_NAIVE)
    if r3 is not None and r3.train_ratio_htc is not None:
        targets.append(_target("R3-CNN naive train step / HTC", r3.train_ratio_htc, "<=", 1.0))
        targets.append(_target("R3-CNN naive inference / HTC", r3.infer_ratio_htc, ">=", 0.9))
    for name in NL_7X7_TARGETS:
        r = by_name.get(name)
        if r is not None and r.infer_ratio_r3 is not None and r.paper_ratio_r3 is not None:
            label = f"{r.name} inference / R3-CNN naive"
            targets.append(_target(label, r.infer_ratio_r3, ">=", r.paper_ratio_r3))
    return targets


def _target(name: str, measured: float, op: str, bound: float) -> dict[str, Any]:
    met = measured <= bound if op == "<=" else measured >= bound
    return {"target": name, "measured": measured, "op": op, "bound": bound, "met": met}


def environment(settings: BenchSettings) -> dict[str, Any]:
    """Where the figures come from."""
    import torch

    env = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
    }
    if settings.device.startswith("cuda"):
        env["gpu"] = torch.cuda.get_device_name(torch.device(settings.device))
    return env


def bench_models(
    names: Iterable[str] | None = None,
    settings: BenchSettings = BenchSettings(),
    *,
    progress: Progress = lambda line: None,
    work_dir: Path | None = None,
) -> ModelsBench:
    """Measure the selected models (HTC always included) one after the other.

    Args:
        names: Model names or groups (see :func:`select_models`); None: ``default``.
        settings: How to measure.
        progress: Called with one line per step.
        work_dir: Where the synthetic images go (default: a temporary folder).
    """
    import torch

    if settings.device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError("--device cuda: torch sees no CUDA device")
    if settings.threads:
        torch.set_num_threads(settings.threads)
    chosen = select_models(names)
    with tempfile.TemporaryDirectory(dir=work_dir) as tmp:
        progress(f"inputs: synthetic images resized to {settings.size[0]}x{settings.size[1]}")
        inputs = bench_inputs(
            Path(tmp) / "synth", settings.size, images=settings.images,
            train_batches=max(1, settings.train_warmup + settings.train_steps),
        )  # fmt: skip
        results = []
        for k, spec in enumerate(chosen, 1):
            progress(f"[{k}/{len(chosen)}] {spec.label}")
            kwargs = dict(paper_speed=spec.paper_speed, progress=progress)
            results.append(measure_model(spec, settings, inputs, **kwargs))
    add_ratios(results)
    return ModelsBench(settings, results, environment(settings), evaluate_targets(results))


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def format_table(results: Sequence[ModelResult]) -> list[str]:
    """A markdown table of the results."""
    lines = [
        "| model | infer img/s | train step s | peak MiB | infer / HTC | train / HTC "
        "| paper Speed | paper / HTC | infer / R3 naive | paper / R3 naive |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.name} {r.label} | {r.infer_img_s:.3g} | {r.train_step_s:.3g} "
            f"| {r.peak_mem_mb:.0f} "
            f"| {_fmt(r.infer_ratio_htc)} | {_fmt(r.train_ratio_htc)} | {_fmt(r.paper_speed, 1)} "
            f"| {_fmt(r.paper_ratio_htc)} | {_fmt(r.infer_ratio_r3)} | {_fmt(r.paper_ratio_r3)} |"
        )
    return lines


def format_targets(targets: Sequence[Mapping[str, Any]]) -> list[str]:
    """One line per target."""
    if not targets:
        return []
    lines = ["", "Targets (ratios measured in this run):"]
    for t in targets:
        verdict = "met" if t["met"] else "NOT met"
        lines.append(f"  {t['target']}: {t['measured']:.2f} {t['op']} {t['bound']:.2f}: {verdict}")
    return lines


__all__ = [
    "BASELINE",
    "DEVICE_DEFAULTS",
    "BenchModel",
    "BenchSettings",
    "ModelResult",
    "ModelsBench",
    "add_ratios",
    "bench_inputs",
    "bench_models",
    "evaluate_targets",
    "format_table",
    "measure_model",
    "select_models",
    "spec_models",
]
