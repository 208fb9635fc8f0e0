"""Inference speed as the paper defines it: images/s at batch size 1 on one device.

The SBR-CNN paper's Speed column is "images per second on evaluation phase with batch
size equal to one and one GPU". :func:`time_inference` is the one routine that measures
it, used both by ``sbr bench models`` and at the end of every trial (the
``inference/images_per_s`` metric the reports' Speed column reads):

1. every input is one image already through the config's test pipeline (loading and
   decoding are not timed, as in mmdet's ``benchmark.py``);
2. ``warmup`` forward passes are run and discarded (allocator, cuDNN autotuning);
3. ``n`` passes are timed one by one, each through ``model.test_step`` (the data
   preprocessor's normalisation and padding included, as in validation), with the
   device synchronised before and after each pass on CUDA;
4. Speed = ``n`` / (sum of the ``n`` pass times).

The other figures of ``sbr bench models`` are measured here too: the wall time of a
training step (:func:`time_train_steps`) and peak memory (:class:`PeakMemory`).

This module imports torch lazily, so ``import sbr.runners.speed`` stays light.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: Config key of a trial that sets the Speed measurement (``dict(images=N, warmup=W)``).
SPEED_CFG_KEY = "sbr_speed"
#: Timed images and warm-up passes when the config does not set them.
DEFAULT_IMAGES = 50
DEFAULT_WARMUP = 5


@dataclass(frozen=True)
class InferenceTiming:
    """Result of :func:`time_inference`.

    Attributes:
        images: Images timed (the ``n`` of the definition; batch size 1 each).
        warmup: Warm-up passes run before timing (not counted).
        seconds: Per timed image, its wall time in seconds.
        device: Device the model ran on (``cpu``, ``cuda:0``...).
    """

    images: int
    warmup: int
    seconds: tuple[float, ...]
    device: str

    @property
    def total_s(self) -> float:
        """Sum of the timed passes."""
        return float(sum(self.seconds))

    @property
    def images_per_s(self) -> float:
        """The paper's Speed: timed images over their total time."""
        return self.images / self.total_s if self.total_s > 0 else float("inf")


def model_device(model: Any) -> Any:
    """Device of the first parameter of ``model`` (CPU for a model without any)."""
    import torch

    param = next(iter(model.parameters()), None)
    return param.device if param is not None else torch.device("cpu")


def synchronizer(device: Any) -> Callable[[], None]:
    """A function that waits for ``device``'s queued work (a no-op off CUDA)."""
    import torch

    if getattr(device, "type", str(device)) == "cuda":
        return lambda: torch.cuda.synchronize(device)
    return lambda: None


def _batch_size(batch: Mapping[str, Any]) -> int:
    inputs = batch.get("inputs") if isinstance(batch, Mapping) else None
    if inputs is None:
        raise ValueError("each input must be a dict with 'inputs' (a test-pipeline batch)")
    return len(inputs)


def _check_timing_inputs(inputs: Sequence[Mapping[str, Any]], warmup: int, n: int) -> None:
    """The errors :func:`time_inference` raises, before anything runs."""
    if n < 1 or warmup < 0:
        raise ValueError(f"need n >= 1 and warmup >= 0, got n={n}, warmup={warmup}")
    if not inputs:
        raise ValueError("no inputs to time")
    for k, batch in enumerate(inputs):
        if _batch_size(batch) != 1:
            raise ValueError(f"inputs[{k}] holds {_batch_size(batch)} images; Speed is batch 1")


def time_inference(
    model: Any,
    inputs: Sequence[Mapping[str, Any]],
    warmup: int,
    n: int,
    *,
    clock: Callable[[], float] = time.perf_counter,
) -> InferenceTiming:
    """Time ``n`` single-image inferences of ``model`` after ``warmup`` discarded ones.

    Pass ``i`` (warm-up passes first, then timed ones, each counting from 0) uses
    ``inputs[i % len(inputs)]``: with ``len(inputs) >= n`` the timed images are ``n``
    distinct images.

    Args:
        model: An mmengine ``BaseModel`` (``test_step``); put in eval mode for the
            measurement and restored afterwards.
        inputs: Batches of ONE image each, as a dataloader with ``batch_size=1`` and
            ``pseudo_collate`` yields them (``{'inputs': [img], 'data_samples': [ds]}``).
        warmup: Passes run before timing (>= 0).
        n: Passes timed (>= 1).
        clock: Seconds counter (tests pass a fake one).

    Returns:
        The per-image timings.

    Raises:
        ValueError: no inputs, ``n < 1``, ``warmup < 0`` or a batch of more than one image.
    """
    import torch

    _check_timing_inputs(inputs, warmup, n)
    device = model_device(model)
    sync = synchronizer(device)
    was_training = model.training
    model.eval()
    seconds = []
    try:
        with torch.no_grad():
            for i in range(warmup):
                model.test_step(inputs[i % len(inputs)])
            for i in range(n):
                sync()
                start = clock()
                model.test_step(inputs[i % len(inputs)])
                sync()
                seconds.append(clock() - start)
    finally:
        model.train(was_training)
    return InferenceTiming(images=n, warmup=warmup, seconds=tuple(seconds), device=str(device))


def single_image_batches(dataset: Any, count: int) -> list[dict[str, Any]]:
    """The first ``count`` items of ``dataset`` (a pipeline dataset), one image per batch."""
    from mmengine.dataset import pseudo_collate

    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    size = len(dataset)
    if size == 0:
        raise ValueError("the dataset is empty: nothing to time")
    return [pseudo_collate([dataset[i]]) for i in range(min(count, size))]


def speed_settings(cfg: Mapping[str, Any]) -> tuple[int, int]:
    """``(images, warmup)`` of a trial config (key :data:`SPEED_CFG_KEY`, else defaults).

    Raises:
        ValueError: a value that is not an int (``images`` >= 1, ``warmup`` >= 0).
    """
    node = cfg.get(SPEED_CFG_KEY) or {}
    images = node.get("images", DEFAULT_IMAGES)
    warmup = node.get("warmup", DEFAULT_WARMUP)
    for name, value, low in (("images", images, 1), ("warmup", warmup, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{SPEED_CFG_KEY}.{name} must be an int >= {low}, got {value!r}")
    return images, warmup


def _unwrap(model: Any) -> Any:
    from mmengine.model import is_model_wrapper

    return model.module if is_model_wrapper(model) else model


def _is_rank_zero() -> bool:
    import torch.distributed as dist

    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def runner_speed(runner: Any) -> InferenceTiming | None:
    """The paper's Speed of a runner's model on its validation images (rank 0 only).

    Times the (unwrapped, single-device) model on the first ``images`` validation
    images after ``warmup`` passes, as set by the config's :data:`SPEED_CFG_KEY`.
    Other data-parallel ranks return None at once: one device is timed.
    """
    if not _is_rank_zero():
        return None
    images, warmup = speed_settings(runner.cfg)
    batches = single_image_batches(runner.val_dataloader.dataset, images)
    return time_inference(_unwrap(runner.model), batches, warmup, images)


# --- training steps and memory ------------------------------------------------------------


class PeakMemory:
    """Peak memory during a ``with`` block (MiB): CUDA's max allocated, or on the CPU the
    growth of the process' peak RSS (Linux ``VmHWM``, reset on entry) over its RSS on entry."""

    def __init__(self, device: Any) -> None:
        self.device = device
        self.peak_mb = 0.0
        self._base_kib = 0

    def __enter__(self) -> PeakMemory:
        import torch

        _release_freed_memory()
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
        else:
            with open("/proc/self/clear_refs", "w") as handle:
                handle.write("5")  # peak RSS := current RSS (Linux >= 4.0)
            self._base_kib = _status_kib("VmRSS")
        return self

    def __exit__(self, *exc: object) -> None:
        import torch

        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.peak_mb = torch.cuda.max_memory_allocated(self.device) / 2**20
        else:
            self.peak_mb = (_status_kib("VmHWM") - self._base_kib) / 1024


def _status_kib(field: str) -> int:
    """A ``kB`` field of ``/proc/self/status`` (``VmRSS``, ``VmHWM``)."""
    with open("/proc/self/status") as handle:
        return next(int(line.split()[1]) for line in handle if line.startswith(f"{field}:"))


def _release_freed_memory() -> None:
    """Give memory freed by earlier models back to the OS (glibc), so that the RSS growth
    of the next model is not hidden by reused free blocks."""
    import ctypes
    import gc

    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc: later deltas may be low
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def sgd_wrapper(model: Any) -> Any:
    """The bench's optimizer: SGD over the trainable parameters, in mmengine's wrapper."""
    import torch
    from mmengine.optim import OptimWrapper

    params = [p for p in model.parameters() if p.requires_grad]
    return OptimWrapper(torch.optim.SGD(params, lr=1e-5, momentum=0.9))


def time_train_steps(
    model: Any, batches: Sequence[Mapping[str, Any]], warmup: int, n: int
) -> list[float]:
    """Seconds of ``n`` training steps (``model.train_step`` with SGD) after ``warmup``."""
    sync, wrapper = synchronizer(model_device(model)), sgd_wrapper(model)
    model.train()
    seconds = []
    for i in range(warmup + n):
        sync()
        start = time.perf_counter()
        model.train_step(batches[i % len(batches)], wrapper)
        sync()
        if i >= warmup:
            seconds.append(time.perf_counter() - start)
    return seconds


__all__ = [
    "DEFAULT_IMAGES",
    "DEFAULT_WARMUP",
    "SPEED_CFG_KEY",
    "InferenceTiming",
    "PeakMemory",
    "model_device",
    "runner_speed",
    "sgd_wrapper",
    "single_image_batches",
    "speed_settings",
    "synchronizer",
    "time_inference",
    "time_train_steps",
]
