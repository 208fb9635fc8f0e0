"""Enhanced (large-kernel) non-local block of SBR-CNN (paper Sec. 3.2, Fig. 4(d)/(e))."""

from __future__ import annotations

import torch.nn as nn
from mmcv.cnn import ConvModule, NonLocal2d
from mmdet.registry import MODELS
from mmengine.model import constant_init, normal_init
from torch import Tensor


def _same_padding_pair(kernel_size: int | tuple[int, int], padding: int | tuple[int, int]):
    """Validate that ``padding`` keeps the spatial size for ``kernel_size`` (stride 1).

    Returns:
        tuple: ``(kernel_size, padding)`` as 2-tuples of ints.

    Raises:
        ValueError: if a kernel side is even or not positive, or the padding of a side
            is not ``(k - 1) // 2``.
    """
    ks = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
    pad = (padding, padding) if isinstance(padding, int) else tuple(padding)
    if len(ks) != 2 or len(pad) != 2:
        raise ValueError(
            f"kernel_size and padding must be ints or pairs, got {kernel_size!r}, {padding!r}"
        )
    for k, p in zip(ks, pad, strict=True):
        if k < 1 or k % 2 == 0 or 2 * p != k - 1:
            raise ValueError(
                "kernel_size/padding must keep the spatial size (odd kernel, padding = "
                f"(kernel_size - 1) // 2), got kernel_size={kernel_size!r}, padding={padding!r}"
            )
    return ks, pad


@MODELS.register_module()
class SBRNonLocal2d(NonLocal2d):
    """Non-local block whose four internal convolutions use a configurable kernel.

    This is mmcv's :class:`~mmcv.cnn.NonLocal2d` (embedded Gaussian, ``reduction``,
    ``use_scale``) with the change introduced by the SBR-CNN authors in their mmcv
    fork: ``g``, ``theta``, ``phi`` (C -> C/r) and ``conv_out`` (C/r -> C) all use
    ``kernel_size``/``padding`` instead of 1x1. The paper's "NL 7x7" is
    ``kernel_size=7, padding=3``. As upstream, ``g/theta/phi`` start from N(0, std)
    and ``conv_out`` from zero, so the block is the identity at initialisation;
    :meth:`init_weights` (called by enclosing mmengine modules) restores exactly
    that initialisation with the constructor's ``std``/``zeros_init``.

    Parameters for C=256, k=7: 3 * (256*49*128 + 128) + (128*49*256 + 256) = 6,423,168.

    Args:
        in_channels: Channels C of the input map.
        reduction: Channel reduction ratio r. Defaults to 2.
        use_scale: Divide the affinities by sqrt(C/r). Defaults to True.
        mode: Pairwise function, as mmcv. Defaults to 'embedded_gaussian'.
        kernel_size: Kernel of the four convolutions (int or pair). Defaults to 1.
        padding: Their padding; must keep the spatial size. Defaults to 0.
        **kwargs: Other :class:`~mmcv.cnn.NonLocal2d` arguments (``sub_sample``,
            ``conv_cfg``, ``norm_cfg``) and ``std``/``zeros_init`` of its init.

    Shape:
        - Input: (N, C, H, W).
        - Output: (N, C, H, W).
    """

    def __init__(
        self,
        in_channels: int,
        reduction: int = 2,
        use_scale: bool = True,
        mode: str = "embedded_gaussian",
        kernel_size: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        **kwargs,
    ) -> None:
        kernel_size, padding = _same_padding_pair(kernel_size, padding)
        self._init_std = kwargs.pop("std", 0.01)
        self._init_zeros = kwargs.pop("zeros_init", True)
        sub_sample = kwargs.pop("sub_sample", False)
        conv_cfg = kwargs.pop("conv_cfg", dict(type="Conv2d"))
        norm_cfg = kwargs.pop("norm_cfg", None)
        if kwargs:
            raise ValueError(f"SBRNonLocal2d got unexpected arguments: {sorted(kwargs)}")
        super().__init__(
            in_channels,
            sub_sample=False,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg,
            reduction=reduction,
            use_scale=use_scale,
            mode=mode,
        )
        self.kernel_size = kernel_size
        self.padding = padding
        self._rebuild_projections(conv_cfg, norm_cfg)
        self.init_weights()
        if sub_sample:
            self._wrap_sub_sample()
        self.sub_sample = sub_sample

    def _rebuild_projections(self, conv_cfg: dict | None, norm_cfg: dict | None) -> None:
        """Replace the 1x1 g/theta/phi/conv_out by ``kernel_size`` convolutions."""

        def conv(in_ch: int, out_ch: int, norm: dict | None = None) -> ConvModule:
            return ConvModule(
                in_ch,
                out_ch,
                kernel_size=self.kernel_size,
                padding=self.padding,
                conv_cfg=conv_cfg,
                norm_cfg=norm,
                act_cfg=None,
            )

        self.g = conv(self.in_channels, self.inter_channels)
        self.conv_out = conv(self.inter_channels, self.in_channels, norm_cfg)
        if self.mode != "gaussian":
            self.theta = conv(self.in_channels, self.inter_channels)
            self.phi = conv(self.in_channels, self.inter_channels)

    def _wrap_sub_sample(self) -> None:
        """Apply mmcv's 2x2 max-pool sub-sampling to g and phi (as NonLocal2d does)."""
        pool = nn.MaxPool2d(kernel_size=(2, 2))
        self.g = nn.Sequential(self.g, pool)
        self.phi = nn.Sequential(self.phi, pool) if self.mode != "gaussian" else pool

    def init_weights(self, std: float | None = None, zeros_init: bool | None = None) -> None:
        """N(0, std) for g/theta/phi, zero (or N(0, std)) for conv_out.

        Args:
            std: Defaults to the constructor's ``std`` (0.01).
            zeros_init: Defaults to the constructor's ``zeros_init`` (True).
        """
        std = self._init_std if std is None else std
        zeros_init = self._init_zeros if zeros_init is None else zeros_init
        projections = [self.g] if self.mode == "gaussian" else [self.g, self.theta, self.phi]
        for module in projections:
            conv_module = module[0] if not isinstance(module, ConvModule) else module
            normal_init(conv_module.conv, std=std)
        target = self.conv_out.conv if self.conv_out.norm_cfg is None else self.conv_out.norm
        if zeros_init:
            constant_init(target, 0)
        else:
            normal_init(target, std=std)

    def forward(self, x: Tensor) -> Tensor:
        """Non-local residual block.

        Args:
            x (Tensor): Shape (N, C, H, W); N may be 0.

        Returns:
            Tensor: ``x + conv_out(attention(x))``, shape (N, C, H, W).
        """
        if x.shape[0] == 0:
            # mmcv's view(n, c, -1) cannot infer -1 for an empty batch; keep every
            # parameter in the graph (zero gradient) so DDP sees them used.
            return x + sum(p.sum() for p in self.parameters()) * 0
        return super().forward(x)
