"""Which failures are retried (sbr.runners.failures), on real files in a trial folder.

The Ray-level behaviour (a deterministic failure stops at once, a killed worker is
retried) is in ``test_retries.py`` and ``test_ray_tune.py``; these tests pin each rule.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sbr.runners.base import OUTCOME_FILE, TrialOutcome
from sbr.runners.failures import (
    FAILURES_FILE,
    ITERATED_FILE,
    DeterministicFailure,
    classify_failure,
    forget_failures,
    is_transient,
    iteration_marker_hook,
    previous_failures,
    record_failure,
    root_cause,
    stop_if_deterministic,
)


class OutOfMemoryError(RuntimeError):
    """Named like torch's CUDA out-of-memory error."""


class ShardOutOfMemory(OutOfMemoryError):
    """A subclass: transient through its base class's name."""


class RayLike(RuntimeError):
    """Stands for an error of Ray's own (its module is set to Ray's below)."""


RayLike.__module__ = "ray.exceptions"


def _chain(*errors: BaseException) -> BaseException:
    """``errors[0]`` raised from ``errors[1]`` raised from ... (``__cause__`` links)."""
    for outer, inner in zip(errors, errors[1:], strict=False):
        outer.__cause__ = inner
    return errors[0]


class _RayTaskError(RuntimeError):
    """Wraps a worker's error in ``cause``, as Ray's task errors do."""

    def __init__(self, cause: object) -> None:
        super().__init__("task failed")
        self.cause = cause


def test_root_cause_follows_causes_and_ray_wrappers_to_the_innermost() -> None:
    inner = KeyError("x")
    assert root_cause(_chain(RuntimeError("a"), ValueError("b"), inner)) is inner
    assert root_cause(_RayTaskError(_chain(ValueError("b"), inner))) is inner
    assert root_cause(inner) is inner
    not_an_error = _RayTaskError("text")  # a cause that is no exception: __cause__ instead
    not_an_error.__cause__ = inner
    assert root_cause(not_an_error) is inner


def test_root_cause_stops_on_a_cycle() -> None:
    a, b = ValueError("a"), ValueError("b")
    a.__cause__, b.__cause__ = b, a
    assert root_cause(a) is b


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        pytest.param(ShardOutOfMemory("shard"), True, id="oom-subclass"),
        pytest.param(RuntimeError("CUDA Out Of Memory. Tried"), True, id="oom-message"),
        pytest.param(_chain(RuntimeError("fit"), OutOfMemoryError("x")), True, id="oom-cause"),
        pytest.param(_chain(RuntimeError("fit"), RuntimeError("out of memory")), True, id="msg"),
        pytest.param(RayLike("actor died"), True, id="ray-module"),
        pytest.param(_chain(ValueError("v"), RayLike("node")), True, id="ray-cause"),
        pytest.param(_chain(RayLike("wrapper"), ValueError("bad")), False, id="ray-wrapping"),
        pytest.param(ValueError("memory is fine"), False, id="value"),
    ],
)  # fmt: skip
def test_is_transient(exc: BaseException, transient: bool) -> None:
    assert is_transient(exc) is transient


@pytest.mark.parametrize(
    ("error", "iterated", "previous", "transient", "expected"),
    [
        pytest.param("E: x", False, ["E: x"], False, "before its first", id="first-rule-wins"),
        pytest.param("E: x", False, ["E: x"], True, None, id="transient-wins"),
        pytest.param("E: x", True, ["E: y", "E: x"], False, "twice", id="any-earlier"),
        pytest.param("E: x", True, ["E: x2"], False, None, id="exact-match-only"),
    ],
)
def test_classify_failure_order_of_rules(error, iterated, previous, transient, expected) -> None:
    reason = classify_failure(error, iterated=iterated, previous=previous, transient=transient)
    assert reason == (
        None
        if expected is None
        else {
            "before its first": "it failed before its first training iteration",
            "twice": "it failed twice with the same error",
        }[expected]
    )


def test_previous_failures_reads_the_valid_lines(tmp_path: Path) -> None:
    assert previous_failures(tmp_path) == []
    lines = [
        json.dumps({"error": "A: 1"}),
        "not json",
        json.dumps({"other": "B"}),
        json.dumps(["C"]),
        json.dumps({"error": 7}),
        json.dumps({"error": "A: 1"}),
    ]
    (tmp_path / FAILURES_FILE).write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert previous_failures(tmp_path) == ["A: 1", "7", "A: 1"]


def test_record_failure_counts_attempts_and_forget_failures_resets(tmp_path: Path) -> None:
    exc = ValueError("bad")
    assert record_failure(tmp_path, exc, "ValueError: bad") == (
        "it failed before its first training iteration"
    )
    (tmp_path / ITERATED_FILE).touch()
    assert record_failure(tmp_path, exc, "ValueError: other") is None
    assert record_failure(tmp_path, exc, "ValueError: bad") == "it failed twice with the same error"
    assert record_failure(tmp_path, OutOfMemoryError("x"), "ValueError: bad") is None
    assert (
        previous_failures(tmp_path)
        == ["ValueError: bad", "ValueError: other"] + ["ValueError: bad"] * 2
    )
    forget_failures(tmp_path)
    assert previous_failures(tmp_path) == [] and not (tmp_path / FAILURES_FILE).exists()
    forget_failures(tmp_path)  # nothing to forget: no error


def test_stop_if_deterministic_raises_and_writes_the_failed_outcome(tmp_path: Path) -> None:
    error = KeyError("ann_file")
    with pytest.raises(DeterministicFailure) as info:
        stop_if_deterministic(tmp_path, "trial1", "run1", error)
    failure = info.value
    assert failure.__cause__ is error
    assert failure.error == "KeyError: 'ann_file'"
    assert failure.reason == "it failed before its first training iteration"
    assert str(failure) == (
        "KeyError: 'ann_file' [not retried: it failed before its first training iteration]"
    )
    outcome = TrialOutcome.read(tmp_path)
    assert (outcome.trial_id, outcome.status, outcome.run_id) == ("trial1", "failed", "run1")
    assert outcome.error == (
        "KeyError: 'ann_file' (not retried: it failed before its first training iteration)"
    )


def test_stop_if_deterministic_lets_retryable_and_foreign_errors_through(tmp_path: Path) -> None:
    (tmp_path / ITERATED_FILE).touch()
    assert stop_if_deterministic(tmp_path, "t", None, ValueError("once")) is None
    assert previous_failures(tmp_path) == ["ValueError: once"]
    for exc in (KeyboardInterrupt(), DeterministicFailure("E: x", "why")):
        assert stop_if_deterministic(tmp_path, "t", None, exc) is None  # not even recorded
    assert previous_failures(tmp_path) == ["ValueError: once"]
    assert not (tmp_path / OUTCOME_FILE).exists()


def test_iteration_marker_hook_marks_the_first_iteration_once(tmp_path: Path) -> None:
    hook = iteration_marker_hook(tmp_path)
    assert not hook.done and not (tmp_path / ITERATED_FILE).exists()
    hook.after_train_iter(None, 0)
    assert hook.done and (tmp_path / ITERATED_FILE).is_file()
    (tmp_path / ITERATED_FILE).unlink()
    hook.after_train_iter(None, 1)  # done: no second write
    assert not (tmp_path / ITERATED_FILE).exists()
    (tmp_path / ITERATED_FILE).touch()
    assert iteration_marker_hook(tmp_path).done  # a later attempt sees the earlier one
