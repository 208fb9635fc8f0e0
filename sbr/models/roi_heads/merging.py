"""Pure tensor helpers that merge the predictions of the R³ test-time loops."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

SCORE_MERGE_MODES = ("logits", "probs")

_PROB_FLOOR = 1e-12


def merge_loop_scores(cls_scores: Sequence[Tensor], mode: str = "logits") -> Tensor:
    """Merge the classification outputs of the ``L_e`` loops into one tensor.

    The result is always a *logit-like* tensor that the bbox head turns into
    probabilities with a softmax, so both modes plug into ``predict_by_feat``.

    Args:
        cls_scores: ``L_e`` tensors of raw logits, each ``(num_rois, num_classes + 1)``.
        mode: ``'logits'`` averages the logits (the authors' code; softmax comes
            afterwards). ``'probs'`` averages the softmax probabilities and
            returns their logarithm, so that a later softmax gives back exactly
            the averaged probabilities.

    Returns:
        Tensor ``(num_rois, num_classes + 1)``.

    Raises:
        ValueError: If ``cls_scores`` is empty or ``mode`` is unknown.
    """
    if len(cls_scores) == 0:
        raise ValueError("cls_scores: need the scores of at least one loop")
    if mode == "logits":
        return torch.stack(list(cls_scores)).mean(dim=0)
    if mode == "probs":
        probs = torch.stack([score.softmax(dim=-1) for score in cls_scores]).mean(dim=0)
        return probs.clamp_min(_PROB_FLOOR).log()
    raise ValueError(f"score_merge must be one of {SCORE_MERGE_MODES}, got {mode!r}")


def average_mask_probs(mask_logits: Sequence[Tensor]) -> Tensor:
    """Average the sigmoid of the mask logits of every test-time iteration.

    Args:
        mask_logits: ``L_e`` tensors ``(num_rois, num_classes, 28, 28)`` of raw logits.

    Returns:
        Mask probabilities ``(num_rois, num_classes, 28, 28)`` in ``[0, 1]``.

    Raises:
        ValueError: If ``mask_logits`` is empty.
    """
    if len(mask_logits) == 0:
        raise ValueError("mask_logits: need the masks of at least one iteration")
    return torch.stack([logits.sigmoid() for logits in mask_logits]).mean(dim=0)
