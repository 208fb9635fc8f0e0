"""R3MaskHead: C1 always applied (zeros in the first iteration), shapes, channels."""

import pytest
import torch
from mmdet.registry import MODELS

import sbr.models  # noqa: F401


def _head(**kwargs):
    cfg = dict(type="R3MaskHead", num_convs=4, in_channels=8, conv_out_channels=8, num_classes=3)
    cfg.update(kwargs)
    torch.manual_seed(0)
    head = MODELS.build(cfg)
    head.init_weights()
    return head


def test_layers_match_the_paper_module():
    head = _head()
    assert len(head.convs) == 4
    assert all(conv.conv.kernel_size == (3, 3) for conv in head.convs)
    c1 = head.conv_res
    assert c1.conv.kernel_size == (1, 1) and c1.conv.bias is not None and c1.with_activation
    assert head.upsample_method == "deconv" and head.upsample.stride == (2, 2)
    assert head.conv_logits.kernel_size == (1, 1) and head.conv_logits.out_channels == 3


def test_output_shapes():
    head = _head()
    x = torch.rand(5, 8, 14, 14)
    logits, feat = head(x)
    assert logits.shape == (5, 3, 28, 28)
    assert feat.shape == (5, 8, 14, 14)
    assert head(x, feat, return_feat=False).shape == (5, 3, 28, 28)
    assert head(x, feat, return_logits=False).shape == (5, 8, 14, 14)


def test_first_iteration_applies_c1_to_zeros():
    head = _head().eval()
    x = torch.rand(2, 8, 14, 14)
    with torch.no_grad():
        head.conv_res.conv.bias.fill_(0.3)  # C1(0) = ReLU(0·W + 0.3) = 0.3 everywhere
        implicit = head(x, None, return_feat=False)
        explicit = head(x, torch.zeros(2, 8, 14, 14), return_feat=False)
        head.conv_res.conv.bias.fill_(0.0)  # now C1(0) = 0
        shifted = head(x + 0.3, None, return_feat=False)
        plain = head(x, None, return_feat=False)
    assert torch.allclose(implicit, explicit)
    assert torch.allclose(implicit, shifted, atol=1e-6)
    assert not torch.allclose(implicit, plain)


def test_previous_iteration_changes_the_output():
    head = _head().eval()
    x = torch.rand(2, 8, 14, 14)
    with torch.no_grad():
        first_logits, first_feat = head(x)
        second_logits = head(x, first_feat, return_feat=False)
    assert not torch.allclose(first_logits, second_logits)


def test_in_and_out_channels_may_differ():
    head = _head(in_channels=6, conv_out_channels=4)
    assert head.conv_res.conv.in_channels == 4 and head.conv_res.conv.out_channels == 6
    logits, feat = head(torch.rand(3, 6, 14, 14))
    assert logits.shape == (3, 3, 28, 28) and feat.shape == (3, 4, 14, 14)
    logits2 = head(torch.rand(3, 6, 14, 14), feat, return_feat=False)
    assert logits2.shape == (3, 3, 28, 28)


def test_empty_input():
    head = _head()
    logits, feat = head(torch.rand(0, 8, 14, 14))
    assert logits.shape == (0, 3, 28, 28) and feat.shape == (0, 8, 14, 14)


def test_c1_parameter_count_on_top_of_fcn_head():
    r3 = _head(in_channels=256, conv_out_channels=256, num_classes=80)
    fcn = MODELS.build(dict(type="FCNMaskHead", num_convs=4, num_classes=80))
    r3_params = sum(p.numel() for p in r3.parameters())
    fcn_params = sum(p.numel() for p in fcn.parameters())
    assert fcn_params == 2_643_280
    assert r3_params - fcn_params == 65_792  # 256·256 + 256


@pytest.mark.parametrize(
    ("kwargs", "call", "message"),
    [
        (dict(with_conv_res=False), None, "with_conv_res must be True"),
        ({}, dict(return_logits=False, return_feat=False), "cannot both be False"),
    ],
    ids=["no-conv-res", "nothing-returned"],
)
def test_errors(kwargs, call, message):
    with pytest.raises(ValueError, match=message):
        head = _head(**kwargs)
        head(torch.rand(1, 8, 14, 14), **call)
