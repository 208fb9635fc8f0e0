"""Alternation of head pairs over the R³ loops (pure Python, no torch).

An R³ RoI head owns ``H`` (bbox head, mask head) pairs and runs ``L_t`` loops in
training and ``L_e`` loops at test time. Loop ``t`` uses the head pair
``stages[t]``. The paper writes the schedule as a string of letters, one per
loop: ``'aab'`` means "head a, head a, head b", i.e. ``stages = [0, 0, 1]``.
"""

from __future__ import annotations

from collections.abc import Sequence

_FIRST_LETTER = "a"
_LAST_LETTER = "z"


def parse_alternation(spec: str) -> list[int]:
    """Turn an alternation string into head indices.

    Args:
        spec: One lowercase letter per loop, ``'a'`` = head 0, ``'b'`` = head 1, ...

    Returns:
        The head index of every loop, e.g. ``'aab'`` -> ``[0, 0, 1]``.

    Raises:
        ValueError: If ``spec`` is empty or holds anything but ``'a'``-``'z'``.
    """
    if not spec:
        raise ValueError("stages: the alternation string is empty; give one letter per loop")
    indices = []
    for position, letter in enumerate(spec):
        if not _FIRST_LETTER <= letter <= _LAST_LETTER:
            raise ValueError(
                f"stages: invalid letter {letter!r} at position {position} of {spec!r}; "
                "use lowercase letters, 'a' for head 0, 'b' for head 1, ..."
            )
        indices.append(ord(letter) - ord(_FIRST_LETTER))
    return indices


def format_alternation(stages: Sequence[int]) -> str:
    """Inverse of :func:`parse_alternation`: ``[0, 1, 0]`` -> ``'aba'``."""
    return "".join(chr(ord(_FIRST_LETTER) + index) for index in stages)


def _as_indices(stages: str | Sequence[int]) -> list[int]:
    if isinstance(stages, str):
        return parse_alternation(stages)
    indices = list(stages)
    for position, index in enumerate(indices):
        if isinstance(index, bool) or not isinstance(index, int):
            raise ValueError(
                f"stages: entry {position} is {index!r}; head indices must be integers"
            )
        if index < 0:
            raise ValueError(f"stages: entry {position} is {index}; head indices must be >= 0")
    return indices


def resolve_stages(
    stages: str | Sequence[int] | None,
    num_heads: int,
    num_stages: int,
    num_stages_test: int | None = None,
) -> list[int]:
    """Validate the loop-to-head schedule of an R³ RoI head.

    Args:
        stages: Alternation string (``'aab'``), list of head indices, or None
            (every loop uses head 0; only allowed when ``num_heads == 1``).
        num_heads: ``H``, the number of (bbox head, mask head) pairs.
        num_stages: ``L_t``, the number of training loops.
        num_stages_test: ``L_e``, the number of test loops; defaults to ``L_t``.

    Returns:
        The head index of every loop, at least ``max(L_t, L_e)`` entries long.

    Raises:
        ValueError: If a count is not positive, a letter or index is invalid,
            an index has no head, or ``stages`` is shorter than ``max(L_t, L_e)``.
    """
    if num_stages_test is None:
        num_stages_test = num_stages
    _check_counts(num_heads=num_heads, num_stages=num_stages, num_stages_test=num_stages_test)
    needed = max(num_stages, num_stages_test)
    if stages is None:
        if num_heads != 1:
            raise ValueError(
                f"stages is required when there are {num_heads} head pairs; "
                "give an alternation string such as 'aab'"
            )
        return [0] * needed
    indices = _as_indices(stages)
    if len(indices) < needed:
        raise ValueError(
            f"stages {stages!r} has {len(indices)} entries but must cover "
            f"max(num_stages={num_stages}, num_stages_test={num_stages_test}) = {needed} loops"
        )
    _check_heads(stages, indices, num_heads)
    return indices


def _check_counts(**counts: object) -> None:
    """Each count must be a positive int (not a bool)."""
    for name, value in counts.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _check_heads(stages: str | Sequence[int], indices: Sequence[int], num_heads: int) -> None:
    """Every loop's head index must name one of the ``num_heads`` head pairs."""
    for position, index in enumerate(indices):
        if index >= num_heads:
            raise ValueError(
                f"stages {stages!r}: loop {position} asks for head {index} "
                f"({format_alternation([index])!r}) but only H={num_heads} head pairs are "
                "configured (bbox_head/mask_head lists)"
            )
