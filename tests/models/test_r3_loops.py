"""R³ loops: L_e != L_t at test time, and each loop trains on the previous loop's boxes."""

from __future__ import annotations

from collections import Counter

import pytest
import torch
from tiny_r3 import build_head, count_forwards, make_batch, r3_head_cfg

# (id, L_t, L_e, alternation of max(L_t, L_e) loops over H=2 head pairs)
LOOP_COUNTS = [
    ("Le1<Lt3", 3, 1, "aab"),
    ("Le2<Lt4", 4, 2, "abab"),
    ("Le4>Lt2", 2, 4, "abab"),
    ("Le5>Lt3", 3, 5, "aabbb"),
]


def _per_head(stages: str) -> list[int]:
    uses = Counter(stages)
    return [uses["a"], uses["b"]]


@pytest.mark.parametrize(
    ("num_stages", "num_stages_test", "stages"),
    [case[1:] for case in LOOP_COUNTS],
    ids=[case[0] for case in LOOP_COUNTS],
)
def test_test_time_runs_L_e_loops_with_their_heads(num_stages, num_stages_test, stages) -> None:
    head = build_head(
        r3_head_cfg(
            num_stages=num_stages, num_heads=2, stages=stages, num_stages_test=num_stages_test
        )
    )
    bbox_calls = count_forwards(head.bbox_head)
    mask_calls = count_forwards(head.mask_head)
    x, proposals, samples = make_batch()

    losses = head.loss(x, proposals, samples)
    trained_loops = {int(name[1 : name.index(".")]) for name in losses if name.startswith("s")}
    assert trained_loops == set(range(num_stages))  # L_t loops in training
    assert bbox_calls == _per_head(stages[:num_stages])

    bbox_calls[:] = [0, 0]
    mask_calls[:] = [0, 0]
    head.eval()
    with torch.no_grad():
        results = head.predict(x, proposals, samples, rescale=False)
    # one bbox forward per test loop, with the loop's head; the mask chain runs L_e
    # iterations, iteration k with the head of loop k
    assert bbox_calls == _per_head(stages[:num_stages_test])
    assert mask_calls == _per_head(stages[:num_stages_test])
    assert sum(bbox_calls) == num_stages_test
    assert all(len(res.bboxes) == len(res.masks) for res in results)


def test_loop_t_trains_on_the_boxes_loop_t_minus_1_refined() -> None:
    """Loop t's assigner sees exactly the non-GT RoIs sampled at loop t-1, decoded with the
    deltas its head predicted (recomputed here with the head's box coder)."""
    head = build_head(r3_head_cfg(num_stages=3, num_heads=2, stages="aba"))
    for bbox_head in head.bbox_head:  # visible deltas, so that refined boxes move
        torch.nn.init.normal_(bbox_head.fc_reg.weight, std=0.1)
    x, proposals, samples = make_batch()
    seen: dict[int, list[torch.Tensor]] = {}  # loop -> boxes its assigner saw (pass 0, 1)
    sampled: dict[int, list] = {}  # loop -> pass-0 sampling results
    deltas: list[torch.Tensor] = []  # bbox_pred of each loop's (single) bbox forward

    for loop in range(3):
        assigner, sampler = head.bbox_assigner[loop], head.bbox_sampler[loop]

        def assign(pred_instances, *args, _orig=assigner.assign, _loop=loop, **kwargs):
            seen.setdefault(_loop, []).append(pred_instances.priors.detach().clone())
            return _orig(pred_instances, *args, **kwargs)

        def sample(*args, _orig=sampler.sample, _loop=loop, **kwargs):
            result = _orig(*args, **kwargs)
            sampled.setdefault(_loop, []).append(result)
            return result

        assigner.assign, sampler.sample = assign, sample
    for bbox_head in head.bbox_head:
        bbox_head.register_forward_hook(lambda _m, _i, out: deltas.append(out[1].detach()))

    head.loss(x, proposals, samples)

    images = len(samples)
    assert [len(seen[loop]) for loop in range(3)] == [2 * images] * 3  # two passes per loop
    assert len(deltas) == 3
    for loop in (1, 2):
        results = sampled[loop - 1][:images]  # pass 0 of the previous loop
        coder = head.bbox_head[head.stages[loop - 1]].bbox_coder
        offsets = [0]
        for res in results:
            offsets.append(offsets[-1] + len(res.priors))
        for i, res in enumerate(results):
            keep = torch.ones(len(res.priors), dtype=torch.bool)
            keep[: len(res.pos_is_gt)] = ~res.pos_is_gt.bool()
            rows = deltas[loop - 1][offsets[i] : offsets[i + 1]]
            shape = samples[i].metainfo["img_shape"]
            expected = coder.decode(res.priors, rows, max_shape=shape)[keep]
            pass0 = seen[loop][i]
            torch.testing.assert_close(pass0, expected)
            assert not torch.allclose(pass0, res.priors[keep])  # the boxes did move
        # pass 1 (the mask branch) of loop t-1 re-samples the same refined boxes
        for i in range(images):
            torch.testing.assert_close(seen[loop - 1][images + i], seen[loop][i])
