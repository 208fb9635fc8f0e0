"""SBRNonLocal2d (large-kernel non-local) and SBRSequential (list-of-plugins container)."""

from __future__ import annotations

import pytest
import torch
from mmcv.cnn import ConvModule, NonLocal2d, build_plugin_layer
from mmdet.registry import MODELS
from mmengine.registry import init_default_scope

import sbr.models.layers  # noqa: F401  (registers the layers)
from sbr.models.layers import SBRNonLocal2d, SBRSequential


@pytest.fixture(autouse=True)
def _mmdet_scope() -> None:
    init_default_scope("mmdet")


def _nl(channels: int = 8, kernel: int = 7, **kwargs) -> SBRNonLocal2d:
    return SBRNonLocal2d(channels, kernel_size=kernel, padding=(kernel - 1) // 2, **kwargs)


@pytest.mark.parametrize("kernel", [1, 3, 7], ids=["k1", "k3", "k7"])
def test_non_local_convs_use_the_kernel(kernel: int) -> None:
    block = _nl(8, kernel)
    for name in ("g", "theta", "phi", "conv_out"):
        conv = getattr(block, name).conv
        assert conv.kernel_size == (kernel, kernel), name
        assert conv.padding == ((kernel - 1) // 2,) * 2, name
    assert block.g.conv.out_channels == 4 and block.conv_out.conv.in_channels == 4


@pytest.mark.parametrize("size", [(7, 7), (14, 14), (3, 7)], ids=["7x7", "14x14", "3x7"])
def test_non_local_is_identity_at_init_and_keeps_shape(size: tuple[int, int]) -> None:
    block = _nl(8, 7)
    x = torch.randn(3, 8, *size)
    out = block(x)
    assert out.shape == x.shape
    torch.testing.assert_close(out, x)  # conv_out starts at zero
    assert torch.count_nonzero(block.conv_out.conv.weight) == 0
    assert torch.count_nonzero(block.conv_out.conv.bias) == 0


def test_non_local_attends_once_conv_out_is_nonzero() -> None:
    block = _nl(8, 7)
    torch.nn.init.normal_(block.conv_out.conv.weight, std=0.1)
    x = torch.randn(2, 8, 7, 7)
    assert not torch.allclose(block(x), x)


def test_non_local_init_weights_restores_constructor_init() -> None:
    block = _nl(8, 7, std=0.5)
    for module in (block.g, block.theta, block.phi, block.conv_out):
        torch.nn.init.constant_(module.conv.weight, 3.0)
    block.init_weights()
    assert torch.count_nonzero(block.conv_out.conv.weight) == 0
    # std=0.5 from the constructor, not mmcv's default 0.01
    assert 0.3 < block.g.conv.weight.std().item() < 0.7


def test_non_local_empty_batch_keeps_parameters_in_graph() -> None:
    block = _nl(8, 7)
    x = torch.zeros(0, 8, 7, 7, requires_grad=True)
    out = block(x)
    assert out.shape == (0, 8, 7, 7)
    out.sum().backward()
    assert block.theta.conv.weight.grad is not None


NL_MODES = ["embedded_gaussian", "gaussian", "dot_product", "concatenation"]


def _perturbed(block: SBRNonLocal2d) -> SBRNonLocal2d:
    """The block with a random (non-zero) output conv: no longer the identity."""
    torch.manual_seed(1)
    torch.nn.init.normal_(block.conv_out.conv.weight, std=0.5)
    torch.nn.init.normal_(block.conv_out.conv.bias, std=0.5)
    return block.eval()


@pytest.mark.parametrize("mode", NL_MODES, ids=NL_MODES)
def test_non_local_modes_keep_shape(mode: str) -> None:
    """Every mode keeps (N, C, H, W), is not the identity, and is non-local.

    With 3x3 convolutions, a purely local block's output at (0, 0) would depend on the
    input within 2 pixels of it; the attention makes it depend on the far corner too.
    """
    torch.manual_seed(0)
    block = _perturbed(_nl(8, 3, mode=mode))
    x = torch.randn(2, 8, 9, 9)
    with torch.no_grad():
        out = block(x)
        far = x.clone()
        far[:, :, 8, 8] += 5.0
        moved = block(far)
    assert out.shape == x.shape
    assert (out - x).abs().max() > 1e-3, "a perturbed output conv must change the input"
    assert (moved[:, :, 0, 0] - out[:, :, 0, 0]).abs().max() > 1e-6, "no non-local path"


@pytest.mark.parametrize("mode", NL_MODES, ids=NL_MODES)
def test_non_local_kernel_1_matches_mmcv(mode: str) -> None:
    """With 1x1 kernels the block is mmcv's NonLocal2d, weight for weight, in each mode."""
    torch.manual_seed(0)
    block = _perturbed(_nl(8, 1, mode=mode))
    reference = NonLocal2d(8, mode=mode).eval()
    reference.load_state_dict(block.state_dict())
    x = torch.randn(2, 8, 5, 5)
    with torch.no_grad():
        torch.testing.assert_close(block(x), reference(x))


def test_non_local_sub_sample_and_subclass() -> None:
    block = _nl(8, 3, sub_sample=True)
    assert isinstance(block, NonLocal2d)
    assert block(torch.randn(2, 8, 8, 8)).shape == (2, 8, 8, 8)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(kernel_size=7, padding=0), "keep the spatial size"),
        (dict(kernel_size=4, padding=2), "keep the spatial size"),
        (dict(kernel_size=7, padding=3, bogus=1), "unexpected arguments"),
    ],
    ids=["no-padding", "even-kernel", "unknown-kwarg"],
)
def test_non_local_rejects_bad_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        SBRNonLocal2d(8, **kwargs)


def test_non_local_builds_as_plugin_from_config() -> None:
    cfg = dict(type="SBRNonLocal2d", in_channels=8, kernel_size=7, padding=3)
    name, layer = build_plugin_layer(cfg, "_post")
    assert isinstance(layer, SBRNonLocal2d) and name.endswith("_post")
    assert isinstance(MODELS.build(cfg), SBRNonLocal2d)


def _rect_pair_cfg(channels: int) -> dict:
    conv = dict(type="ConvModule", in_channels=channels, out_channels=channels, inplace=False)
    return dict(
        type="SBRSequential",
        layers=[
            dict(conv, kernel_size=(7, 3), padding=1),
            dict(conv, kernel_size=(3, 7), padding=3),
        ],
    )


@pytest.mark.parametrize("size", [7, 14], ids=["bbox-7x7", "mask-14x14"])
def test_sequential_rect_pair_restores_the_roi_size(size: int) -> None:
    _, seq = build_plugin_layer(_rect_pair_cfg(4), "_pre")
    assert isinstance(seq, SBRSequential) and len(seq) == 2
    assert all(isinstance(layer, ConvModule) for layer in seq)
    x = torch.randn(2, 4, size, size)
    mid = seq[0](x)
    assert mid.shape == (2, 4, size - 4, size)  # (7, 3) pad 1 shrinks the height by 4
    assert seq(x).shape == x.shape


def test_sequential_applies_layers_in_order() -> None:
    seq = SBRSequential(
        [
            dict(type="ConvModule", in_channels=2, out_channels=3, kernel_size=1),
            dict(type="SBRNonLocal2d", in_channels=3, kernel_size=3, padding=1),
        ]
    )
    assert isinstance(seq[1], SBRNonLocal2d)
    assert seq(torch.randn(1, 2, 5, 5)).shape == (1, 3, 5, 5)
    assert seq(torch.randn(0, 2, 5, 5)).shape == (0, 3, 5, 5)


def test_sequential_init_weights_reaches_its_layers() -> None:
    seq = SBRSequential([dict(type="SBRNonLocal2d", in_channels=4, kernel_size=3, padding=1)])
    torch.nn.init.constant_(seq[0].conv_out.conv.weight, 1.0)
    seq.init_weights()
    assert torch.count_nonzero(seq[0].conv_out.conv.weight) == 0


@pytest.mark.parametrize(
    "layers",
    [[], dict(type="ConvModule"), [dict(kernel_size=3)], ["ConvModule"]],
    ids=["empty", "dict", "no-type", "not-a-dict"],
)
def test_sequential_rejects_bad_layer_lists(layers) -> None:
    with pytest.raises(ValueError, match="layers"):
        SBRSequential(layers)
