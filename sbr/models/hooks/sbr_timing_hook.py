"""Time a window of training iterations and every hook in it (``sbr bench overhead``)."""

from __future__ import annotations

import functools
import json
import os
import os.path as osp
import time
from typing import Any

import torch
from mmdet.registry import HOOKS
from mmengine.hooks import Hook

#: Hook methods timed per hook (the per-iteration ones).
TIMED_METHODS = ("before_train_iter", "after_train_iter")
#: Hook methods timed per hook in evaluations (per-image results, COCO dumps...).
TIMED_VAL_METHODS = ("before_val_epoch", "after_val_epoch")
#: Environment variables that set thread counts and OpenMP behaviour, reported as found.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT")
#: Default output file name in the work dir.
TIMING_FILE = "sbr_timing.json"


def thread_settings() -> dict[str, Any]:
    """torch's thread counts, the thread-related environment and the niceness of this
    process (Ray starts its workers at niceness 15 unless told otherwise)."""
    return {
        "nice": os.nice(0),
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "env": {k: os.environ[k] for k in THREAD_VARIABLES if k in os.environ},
    }


def window_record(
    *, iters: int, wall_s: float, cpu_s: float, hooks: dict[str, float] | None = None
) -> dict[str, Any]:
    """The JSON record of one timed window (what :class:`SBRTimingHook` writes)."""
    return {
        "iters": iters,
        "wall_s": wall_s,
        "cpu_s": cpu_s,
        "hooks_s": dict(hooks or {}),
        "pid": os.getpid(),
        **thread_settings(),
    }


@HOOKS.register_module()
class SBRTimingHook(Hook):
    """Wall and CPU time of training iterations ``[skip, max_iters - 1)``, per hook too.

    The window starts at the first ``before_train_iter`` call of iteration ``skip``
    (counted from the run's first iteration) and ends at the first ``before_train_iter``
    call of the last iteration, so it holds whole iterations: data loading, every hook,
    the model's step. It leaves out the start-up (building, the first ``skip``
    iterations) and the last iteration, whose hooks also end the training (final
    checkpoint, flushes). CPU time is this process' user + system time (all threads).
    In ``before_train`` every registered hook's ``before/after_train_iter`` is wrapped
    to sum its time inside the window. The record (:func:`window_record`) is written
    to ``out_file`` (default ``{work_dir}/sbr_timing.json``) when the window ends, and
    again after each evaluation with ``val``: its wall time (``before_val`` to
    ``after_val``) and each hook's time in ``before/after_val_epoch``, summed.

    Args:
        skip: Warm-up iterations left out. Defaults to 2.
        out_file: Output JSON path.
    """

    priority = "VERY_HIGH"

    def __init__(self, skip: int = 2, out_file: str | None = None) -> None:
        if isinstance(skip, bool) or int(skip) < 0:
            raise ValueError(f"skip must be a non-negative int, got {skip!r}")
        self.skip = int(skip)
        self.out_file = out_file
        self.hook_seconds: dict[str, float] = {}
        self._start: tuple[float, float] | None = None
        self._first_iter = 0
        self.record: dict[str, Any] | None = None
        self.val = {"runs": 0, "wall_s": 0.0, "hooks_s": {}}
        self._val_start = 0.0

    def before_train(self, runner) -> None:
        """Remember the first iteration (after a resume) and wrap the other hooks."""
        self._first_iter = runner.iter
        names: dict[str, int] = {}
        for hook in runner.hooks:
            if hook is self:
                continue
            name = type(hook).__name__
            names[name] = names.get(name, 0) + 1
            label = name if names[name] == 1 else f"{name}#{names[name]}"
            for method in TIMED_METHODS:
                self._wrap(hook, method, label, self.hook_seconds, self._in_window)
            for method in TIMED_VAL_METHODS:
                self._wrap(hook, method, label, self.val["hooks_s"], lambda: True)

    def _in_window(self) -> bool:
        return self._start is not None and self.record is None

    @staticmethod
    def _wrap(hook: Hook, method: str, label: str, totals: dict, active) -> None:
        original = getattr(hook, method)

        @functools.wraps(original)
        def timed(*args, **kwargs):
            if not active():
                return original(*args, **kwargs)
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                totals[label] = totals.get(label, 0.0) + time.perf_counter() - start

        setattr(hook, method, timed)

    def before_val(self, runner) -> None:
        """Start timing an evaluation."""
        self._val_start = time.perf_counter()

    def after_val(self, runner) -> None:
        """Add the evaluation to ``val`` and rewrite the record (once the window is done)."""
        self.val["runs"] += 1
        self.val["wall_s"] += time.perf_counter() - self._val_start
        if self.record is not None:
            self.record["val"] = self.val
            self._write(runner)

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        """Open the window at iteration ``skip``, close it at the last iteration."""
        done = runner.iter - self._first_iter
        if done == self.skip and self._start is None:
            self._start = (time.perf_counter(), time.process_time())
        elif runner.iter == runner.max_iters - 1 and self._start is not None:
            self._close(runner, done - self.skip)

    def _close(self, runner, iters: int) -> None:
        wall0, cpu0 = self._start
        self.record = window_record(
            iters=iters,
            wall_s=time.perf_counter() - wall0,
            cpu_s=time.process_time() - cpu0,
            hooks=self.hook_seconds,
        )
        self._write(runner)

    def _write(self, runner) -> None:
        out_file = self.out_file or osp.join(runner.work_dir, TIMING_FILE)
        with open(out_file, "w") as f:
            json.dump(self.record, f, indent=2)
