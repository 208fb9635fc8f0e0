"""Per-component breakdown of one inference and one training step (``sbr bench models
--profile``).

Forward hooks on module boundaries and wrappers around a few RoI-head methods open
``torch.profiler`` record-function ranges; the profiler's key averages give each range's
time and call count, read as a tree by each component's nesting depth at its first call.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from sbr.runners.speed import model_device, sgd_wrapper, synchronizer


class ComponentRanges:
    """``torch.profiler`` record-function ranges opened by forward hooks and method wrappers.

    The profiler times the ranges; this class only opens and closes them and remembers, per
    component, its nesting depth and order at its first call, so that the profiler's key
    averages read as a tree. On CUDA the device is synchronised at every boundary.
    """

    def __init__(self, sync: Callable[[], None]) -> None:
        self.sync = sync
        self.first: dict[str, tuple[int, int]] = {}  # name -> (depth, order)
        self._open: list[tuple[str, Any]] = []
        self._undo: list[Callable[[], None]] = []

    def start(self, name: str) -> None:
        """Open the range ``name``."""
        from torch.profiler import record_function

        self.sync()
        self.first.setdefault(name, (len(self._open), len(self.first)))
        self._open.append((name, record_function(name).__enter__()))

    def stop(self, name: str) -> None:
        """Close the innermost ``name`` (and any range left open inside it)."""
        self.sync()
        while self._open:
            top, handle = self._open.pop()
            handle.__exit__(None, None, None)
            if top == name:
                return

    @contextlib.contextmanager
    def span(self, name: str) -> Iterator[None]:
        """The range ``name`` around a ``with`` block."""
        self.start(name)
        try:
            yield
        finally:
            self.stop(name)

    def module(self, name: str, module: Any) -> None:
        """A range around every forward call of ``module``."""
        pre = module.register_forward_pre_hook(lambda m, a: self.start(name))
        post = module.register_forward_hook(lambda m, a, o: self.stop(name))
        self._undo += [pre.remove, post.remove]

    def method(self, obj: Any, attr: str, name: str, *, by_first_arg: bool = False) -> None:
        """A range around every call of ``obj.attr`` (``name[arg0]`` with ``by_first_arg``)."""
        original = getattr(obj, attr)

        def ranged(*args: Any, **kwargs: Any) -> Any:
            with self.span(f"{name}[{args[0]}]" if by_first_arg and args else name):
                return original(*args, **kwargs)

        setattr(obj, attr, ranged)
        self._undo.append(lambda: delattr(obj, attr))

    def remove(self) -> None:
        """Remove every hook and wrapper."""
        for undo in self._undo:
            undo()
        self._undo = []

    def rows(self, profiler: Any) -> list[dict[str, Any]]:
        """``[{component, depth, seconds, calls}]`` from ``profiler``'s key averages, in
        first-call order; then forgets the components (the next phase starts afresh)."""
        stats = {e.key: e for e in profiler.key_averages() if e.key in self.first}
        rows = [
            {"component": name, "depth": depth, "seconds": stats[name].cpu_time_total / 1e6,
             "calls": stats[name].count}
            for name, (depth, _) in sorted(self.first.items(), key=lambda kv: kv[1][1])
            if name in stats
        ]  # fmt: skip
        self.first.clear()
        return rows


#: Methods timed when the model has them: (owner attribute, method, split by first arg).
_METHODS = (
    ("rpn_head", "loss_and_predict", False),
    ("rpn_head", "predict", False),
    ("roi_head", "loss", False),
    ("roi_head", "predict", False),
    ("roi_head", "_loss_one_loop", True),  # R3: one training loop
    ("roi_head", "_assign_and_sample", False),
    ("roi_head", "_refine_roi", False),  # R3: the test-time loops
    ("roi_head", "predict_bbox", False),
    ("roi_head", "predict_mask", False),
    ("roi_head", "_bbox_forward", True),  # HTC / cascade: one stage
    ("roi_head", "_mask_forward", True),
)
#: Sub-modules of an RoI extractor or head reported on their own.
_PARTS = ("pre_module", "post_module", "roi_layers")


def profiled_modules(model: Any) -> list[tuple[str, Any]]:
    """(name, module) of the components timed by :func:`profile_model`.

    Backbone, neck, RPN head; under the RoI head every RoI extractor / bbox / mask /
    Mask IoU head (each loop's own when there are several) with their ``pre_module``,
    ``post_module`` and RoI layers, and every non-local block.
    """
    chosen = []
    for name, module in model.named_modules():
        parts = [p for p in name.split(".") if not p.isdigit()]
        top = name in ("backbone", "neck", "rpn_head")
        head_level = len(parts) == 2 and parts[0] == "roi_head"
        part = len(parts) == 3 and parts[0] == "roi_head" and parts[2] in _PARTS
        nonlocal_block = "NonLocal" in type(module).__name__ and name.startswith("roi_head")
        if top or head_level or part or nonlocal_block:
            chosen.append((name, module))
    return chosen


def _ranged_model(model: Any) -> ComponentRanges:
    ranges = ComponentRanges(synchronizer(model_device(model)))
    for name, module in profiled_modules(model):
        ranges.module(name, module)
    for owner, attr, split in _METHODS:
        obj = getattr(model, owner, None)
        if obj is not None and callable(getattr(obj, attr, None)):
            ranges.method(obj, attr, f"{owner}.{attr}", by_first_arg=split)
    return ranges


def profile_model(
    model: Any, test_batch: Mapping[str, Any], train_batch: Mapping[str, Any]
) -> dict[str, list[dict[str, Any]]]:
    """Per-component seconds of one inference (batch 1) and one training step (batch 2),
    from ``torch.profiler`` (CPU time of each range; the device is synchronised at each
    boundary on CUDA). The training step is split into forward (losses), backward and
    optimizer step."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    ranges, wrapper = _ranged_model(model), sgd_wrapper(model)
    span = ranges.span
    try:
        model.eval()
        cpu = [ProfilerActivity.CPU]
        with torch.no_grad(), profile(activities=cpu) as prof, span("inference (test_step)"):
            model.test_step(test_batch)
        inference = ranges.rows(prof)
        model.train()
        with profile(activities=cpu) as prof, span("train step"):
            with span("forward + losses"):
                data = model.data_preprocessor(train_batch, True)
                loss, _ = model.parse_losses(model(**data, mode="loss"))
            with span("backward"):
                loss.backward()
            with span("optimizer step"):
                wrapper.step()
                wrapper.zero_grad()
        training = ranges.rows(prof)
    finally:
        ranges.remove()
    return {"inference": inference, "train_step": training}


def format_profile(result: Any) -> list[str]:
    """The breakdown of one model as indented lines."""
    lines = ["", f"Profile of {result.label} (seconds of one pass; calls):"]
    for phase, rows in (result.profile or {}).items():
        lines.append(f"  {phase}:")
        for row in rows:
            indent = "  " * (row["depth"] + 2)
            lines.append(f"{indent}{row['component']}: {row['seconds']:.3f} s ({row['calls']})")
    return lines


__all__ = ["ComponentRanges", "format_profile", "profile_model", "profiled_modules"]
