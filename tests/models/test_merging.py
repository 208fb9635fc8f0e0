"""Score and mask merging over the R³ test-time loops, on hand-computed tensors."""

import math

import pytest
import torch

from sbr.models.roi_heads.merging import average_mask_probs, merge_loop_scores

LOOP_LOGITS = [torch.tensor([[0.0, 0.0]]), torch.tensor([[2.0, 0.0]])]


def test_logit_merge_is_mean_of_logits():
    merged = merge_loop_scores(LOOP_LOGITS, "logits")
    assert torch.allclose(merged, torch.tensor([[1.0, 0.0]]))
    expected_fg = math.e / (math.e + 1.0)  # softmax([1, 0])[0]
    assert merged.softmax(-1)[0, 0].item() == pytest.approx(expected_fg, abs=1e-6)


def test_prob_merge_softmax_gives_back_mean_probabilities():
    merged = merge_loop_scores(LOOP_LOGITS, "probs")
    p2 = math.exp(2.0) / (math.exp(2.0) + 1.0)
    expected = torch.tensor([[(0.5 + p2) / 2, (0.5 + 1 - p2) / 2]])
    assert torch.allclose(merged.softmax(-1), expected, atol=1e-6)


def test_logit_and_prob_merges_differ():
    by_logits = merge_loop_scores(LOOP_LOGITS, "logits").softmax(-1)
    by_probs = merge_loop_scores(LOOP_LOGITS, "probs").softmax(-1)
    # 0.7311 (mean logits) vs 0.6904 (mean probabilities) for the first class
    assert by_logits[0, 0].item() == pytest.approx(0.7311, abs=1e-4)
    assert by_probs[0, 0].item() == pytest.approx(0.6904, abs=1e-4)


@pytest.mark.parametrize("mode", ["logits", "probs"], ids=["logits", "probs"])
def test_single_loop_merge_keeps_the_distribution(mode):
    scores = torch.tensor([[0.3, -1.0, 2.0], [5.0, 0.0, 0.0]])
    merged = merge_loop_scores([scores], mode)
    assert torch.allclose(merged.softmax(-1), scores.softmax(-1), atol=1e-6)


@pytest.mark.parametrize("mode", ["logits", "probs"], ids=["logits", "probs"])
def test_merge_of_empty_rois_keeps_shape(mode):
    merged = merge_loop_scores([torch.zeros((0, 4)), torch.zeros((0, 4))], mode)
    assert merged.shape == (0, 4)


def test_merge_rejects_unknown_mode_and_no_loops():
    with pytest.raises(ValueError, match="score_merge must be one of"):
        merge_loop_scores(LOOP_LOGITS, "max")
    with pytest.raises(ValueError, match="cls_scores: need the scores of at least one loop"):
        merge_loop_scores([], "logits")


def test_mask_average_is_mean_of_sigmoids_not_sigmoid_of_mean():
    first = torch.zeros((1, 1, 2, 2))
    second = torch.full((1, 1, 2, 2), math.log(3.0))  # sigmoid = 0.75
    averaged = average_mask_probs([first, second])
    assert torch.allclose(averaged, torch.full((1, 1, 2, 2), 0.625))
    sigmoid_of_mean = torch.sigmoid((first + second) / 2)
    assert not torch.allclose(averaged, sigmoid_of_mean)


def test_mask_average_rejects_no_iterations():
    with pytest.raises(ValueError, match="mask_logits: need the masks"):
        average_mask_probs([])
