"""Which trial failures are worth a retry.

Retries are for what a new attempt can get past: a lost worker or node, an
out-of-memory kill, a preemption. A failure that will happen again is *deterministic*
and is reported at once, without spending another attempt (on a cluster: GPU hours):

* the trial failed before its first training iteration (a bad config, dataset or
  checkpoint fails the same way every time), or
* it failed twice with the same exception type and message.

Out-of-memory errors and Ray's own errors (lost actors, nodes) are never deterministic.
A killed process raises nothing here: Ray retries it as a lost worker.

State lives in the trial's folder, so that every attempt (a new process, maybe on
another node) sees the earlier ones: :data:`ITERATED_FILE` once any attempt has
finished a training iteration, :data:`FAILURES_FILE` with one line per failed attempt.
Pure Python; the MMEngine hook imports mmengine when it is built.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

#: Present once the trial has finished a training iteration (any attempt).
ITERATED_FILE = ".iterated"
#: One JSON line per failed attempt of this invocation: ``{"error": "Type: message"}``.
FAILURES_FILE = ".failures"
#: Exception type names that a retry may get past (memory, lost workers).
TRANSIENT_TYPES = frozenset(
    {"OutOfMemoryError", "MemoryError", "ActorDiedError", "RayActorError", "WorkerCrashedError",
     "NodeDiedError", "ObjectLostError", "OwnerDiedError", "ActorUnavailableError"}
)  # fmt: skip


class DeterministicFailure(RuntimeError):
    """A trial failure that a retry would repeat; launchers report it without retrying.

    Args:
        error: The original error as one line (``Type: message``).
        reason: Why it counts as deterministic.
    """

    def __init__(self, error: str, reason: str) -> None:
        self.error = error
        self.reason = reason
        super().__init__(f"{error} [not retried: {reason}]")


def _inner(exc: BaseException) -> BaseException | None:
    """What ``exc`` wraps: Ray's ``cause`` (a worker's error), else ``__cause__``."""
    cause = getattr(exc, "cause", None)
    return cause if isinstance(cause, BaseException) else exc.__cause__


def root_cause(exc: BaseException) -> BaseException:
    """The innermost wrapped error (a data-parallel fit wraps the worker's own error)."""
    seen = {id(exc)}
    while (inner := _inner(exc)) is not None and id(inner) not in seen:
        exc = inner
        seen.add(id(exc))
    return exc


def is_transient(exc: BaseException) -> bool:
    """True for errors a retry may get past: out of memory, Ray's lost workers/nodes."""
    cause = root_cause(exc)
    for err in (exc, cause):
        if {cls.__name__ for cls in type(err).__mro__} & TRANSIENT_TYPES:
            return True
        if "out of memory" in str(err).lower():
            return True
    return type(cause).__module__.split(".", 1)[0] == "ray"  # Ray's own failure


def previous_failures(trial_dir: str | Path) -> list[str]:
    """Errors (one line each) of the earlier failed attempts recorded in ``trial_dir``."""
    path = Path(trial_dir, FAILURES_FILE)
    if not path.is_file():
        return []
    errors = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            errors.append(str(json.loads(line)["error"]))
        except (ValueError, KeyError, TypeError):
            continue
    return errors


def classify_failure(
    error: str, *, iterated: bool, previous: list[str], transient: bool
) -> str | None:
    """Why a failure is deterministic, or None when a retry is worth it.

    Args:
        error: The failure as one line (``Type: message``).
        iterated: Some attempt of the trial finished a training iteration.
        previous: Errors of the earlier attempts.
        transient: The error is of a kind a retry may get past (:func:`is_transient`).
    """
    if transient:
        return None
    if not iterated:
        return "it failed before its first training iteration"
    if error in previous:
        return "it failed twice with the same error"
    return None


def record_failure(trial_dir: str | Path, exc: BaseException, error: str) -> str | None:
    """Record a failed attempt in ``trial_dir``; why it is deterministic (None: retry it)."""
    folder = Path(trial_dir)
    reason = classify_failure(
        error,
        iterated=(folder / ITERATED_FILE).is_file(),
        previous=previous_failures(folder),
        transient=is_transient(exc),
    )
    with (folder / FAILURES_FILE).open("a", encoding="utf-8") as out:
        out.write(json.dumps({"error": error}) + "\n")
    return reason


def forget_failures(trial_dir: str | Path) -> None:
    """Start a new invocation's count of failed attempts (the driver calls it)."""
    Path(trial_dir, FAILURES_FILE).unlink(missing_ok=True)


def iteration_marker_hook(trial_dir: str | Path) -> Any:
    """An MMEngine hook that creates :data:`ITERATED_FILE` after the first training iteration."""
    from mmengine.hooks import Hook

    marker = Path(trial_dir) / ITERATED_FILE

    class SBRIterationMarkerHook(Hook):
        priority = "VERY_LOW"

        def __init__(self) -> None:
            self.done = marker.is_file()

        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
            if not self.done:
                marker.touch()
                self.done = True

    return SBRIterationMarkerHook()


def stop_if_deterministic(
    trial_dir: str | Path, trial_id: str, run_id: str | None, exc: BaseException
) -> None:
    """Record a failed attempt; raise :class:`DeterministicFailure` when retrying is pointless.

    The failed outcome is written into ``trial_dir`` first, so a launcher that lets the
    attempt end without an error (Ray Tune would retry an error) still reports it.
    """
    if not isinstance(exc, Exception) or isinstance(exc, DeterministicFailure):
        return
    from sbr.runners.base import FAILED, TrialOutcome, one_line

    error = one_line(exc)
    reason = record_failure(trial_dir, exc, error)
    if reason is None:
        return
    outcome = TrialOutcome(trial_id, FAILED, run_id, error=f"{error} (not retried: {reason})")
    outcome.write(trial_dir)
    raise DeterministicFailure(error, reason) from exc


__all__ = [
    "FAILURES_FILE",
    "ITERATED_FILE",
    "TRANSIENT_TYPES",
    "DeterministicFailure",
    "classify_failure",
    "forget_failures",
    "is_transient",
    "iteration_marker_hook",
    "previous_failures",
    "record_failure",
    "root_cause",
    "stop_if_deterministic",
]
