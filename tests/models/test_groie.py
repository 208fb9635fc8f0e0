"""GRoIE = mmdet's GenericRoIExtractor (sum over all levels) with the paper's modules.

mmdet 3.3.0's extractor already pools every FPN level, applies one shared pre-module
per level, sums and post-processes, so no subclass is needed; the rectangular
variants only need :class:`SBRSequential` because ``build_plugin_layer`` takes one dict.
"""

from __future__ import annotations

import pytest
import torch
from mmdet.registry import MODELS
from mmengine.registry import init_default_scope

import sbr.models.layers  # noqa: F401  (registers SBRNonLocal2d / SBRSequential)
from sbr.models.layers import SBRNonLocal2d

CH = 4
STRIDES = [4, 8, 16, 32]


def _conv(kernel: int) -> dict:
    return dict(
        type="ConvModule",
        in_channels=CH,
        out_channels=CH,
        kernel_size=kernel,
        padding=(kernel - 1) // 2,
        inplace=False,
    )


def _rect_pair() -> dict:
    conv = dict(type="ConvModule", in_channels=CH, out_channels=CH, inplace=False)
    return dict(
        type="SBRSequential",
        layers=[
            dict(conv, kernel_size=(7, 3), padding=1),
            dict(conv, kernel_size=(3, 7), padding=3),
        ],
    )


def _non_local(kernel: int) -> dict:
    return dict(
        type="SBRNonLocal2d",
        in_channels=CH,
        reduction=2,
        use_scale=True,
        kernel_size=kernel,
        padding=(kernel - 1) // 2,
    )


# Paper Tables 8/9 (reference section 7.2).
MODULES = {
    "conv3x3": _conv(3),
    "conv5x5": _conv(5),
    "conv7x7": _conv(7),
    "conv7x3-3x7": _rect_pair(),
    "nl1x1": _non_local(1),
    "nl7x7": _non_local(7),
}


@pytest.fixture(autouse=True)
def _mmdet_scope() -> None:
    init_default_scope("mmdet")


@pytest.fixture(scope="module")
def feats() -> tuple[torch.Tensor, ...]:
    torch.manual_seed(0)
    return tuple(torch.randn(2, CH, 64 // s, 64 // s) for s in STRIDES)


def _groie(out_size: int, pre=None, post=None):
    return MODELS.build(
        dict(
            type="GenericRoIExtractor",
            aggregation="sum",
            roi_layer=dict(type="RoIAlign", output_size=out_size, sampling_ratio=2),
            out_channels=CH,
            featmap_strides=STRIDES,
            pre_cfg=pre,
            post_cfg=post,
        )
    )


ROIS = torch.tensor([[0, 2.0, 2.0, 30.0, 40.0], [1, 10.0, 5.0, 60.0, 60.0], [1, 0, 0, 8, 8]])
CASES = [(name, where, size) for name in MODULES for where in ("pre", "post") for size in (7, 14)]


@pytest.mark.parametrize("name, where, size", CASES, ids=[f"{n}-{w}-{s}x{s}" for n, w, s in CASES])
def test_groie_module_variants_keep_roi_shape(feats, name: str, where: str, size: int) -> None:
    extractor = _groie(size, **{where: MODULES[name]})
    assert getattr(extractor, f"with_{where}")
    extractor.init_weights()
    out = extractor(feats, ROIS)
    assert out.shape == (3, CH, size, size)
    assert torch.isfinite(out).all()
    empty = extractor(feats, ROIS[:0])
    assert empty.shape == (0, CH, size, size)


def test_groie_sums_every_level_through_the_shared_pre_module(feats) -> None:
    """Pre Conv 7x7 + post NL 7x7 (the paper's GRoIE): sum of pre(level) over P2-P5."""
    extractor = _groie(7, pre=MODULES["conv7x7"], post=MODULES["nl7x7"])
    extractor.init_weights()
    assert isinstance(extractor.post_module, SBRNonLocal2d)
    assert torch.count_nonzero(extractor.post_module.conv_out.conv.weight) == 0
    levels = zip(extractor.roi_layers, feats, strict=True)
    expected = sum(extractor.pre_module(layer(feat, ROIS)) for layer, feat in levels)
    # post NL is the identity at init, so the output is exactly the sum over levels
    torch.testing.assert_close(extractor(feats, ROIS), expected)


def test_groie_pre_module_is_shared_by_all_levels() -> None:
    extractor = _groie(7, pre=MODULES["conv3x3"])
    n_params = sum(p.numel() for p in extractor.parameters())
    assert n_params == CH * CH * 9 + CH  # one conv, not one per level
