"""A registered sequential container for plugin-layer configs (GRoIE 7x3 -> 3x7 variants)."""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn as nn
from mmdet.registry import MODELS


@MODELS.register_module()
class SBRSequential(nn.Sequential):
    """Build a list of layer configs and apply them in order.

    mmcv's ``build_plugin_layer`` only accepts one dict, so GRoIE's rectangular
    pre/post-processing (ConvModule (7, 3) pad 1 then (3, 7) pad 3, paper Tables 8
    and 9) cannot be written as a list. This container is that list as one plugin::

        pre_cfg=dict(type='SBRSequential', layers=[
            dict(type='ConvModule', in_channels=256, out_channels=256,
                 kernel_size=(7, 3), padding=1, inplace=False),
            dict(type='ConvModule', in_channels=256, out_channels=256,
                 kernel_size=(3, 7), padding=3, inplace=False)])

    Each entry is built with mmdet's ``MODELS`` registry (which falls back to
    mmcv/mmengine for ``ConvModule``, ``NonLocal2d``...). Nothing is added between
    the layers; a ConvModule brings its own activation.

    Args:
        layers: Non-empty list of layer config dicts, each with a ``type``.

    Shape:
        - Input: whatever the first layer takes, e.g. (N, C, H, W).
        - Output: whatever the last layer returns.
    """

    _abbr_ = "sbr_sequential"

    def __init__(self, layers: Sequence[dict]) -> None:
        if isinstance(layers, dict) or not isinstance(layers, Sequence) or not layers:
            raise ValueError(f"layers must be a non-empty list of config dicts, got {layers!r}")
        for i, cfg in enumerate(layers):
            if not isinstance(cfg, dict) or "type" not in cfg:
                raise ValueError(f"layers[{i}] must be a config dict with a 'type', got {cfg!r}")
        super().__init__(*[MODELS.build(dict(cfg)) for cfg in layers])

    def init_weights(self) -> None:
        """Run each layer's own ``init_weights`` (as an mmengine parent would)."""
        for layer in self:
            if hasattr(layer, "init_weights"):
                layer.init_weights()
