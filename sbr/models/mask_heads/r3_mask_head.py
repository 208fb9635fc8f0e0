"""R³ mask head: an HTC mask head whose residual 1×1 conv (C1) is always applied."""

from __future__ import annotations

from mmcv.cnn import ConvModule
from mmdet.models.roi_heads.mask_heads import HTCMaskHead
from mmdet.registry import MODELS
from torch import Tensor


@MODELS.register_module()
class R3MaskHead(HTCMaskHead):
    """Mask head M of R³-CNN (paper Eq. 3-4, reference §3.1).

    Layers: 4 × conv 3×3 (``convs``), **C1** = ``conv_res`` (1×1 conv with bias
    and ReLU, ``conv_out_channels -> in_channels``), **U** = ``upsample``
    (deconv 2×2 stride 2, followed by ReLU) and **C2** = ``conv_logits`` (1×1).

    Unlike :class:`HTCMaskHead`, C1 is applied on every call: when no previous
    iteration exists (``res_feat is None``) it is applied to a tensor of zeros,
    so the first iteration computes ``M(x + C1(0))`` as in paper Eq. 3 (with a
    bias, ``C1(0) = ReLU(bias)``).

    Args:
        with_conv_res: Must stay True (kept for config compatibility with HTC).
        **kwargs: Passed to :class:`FCNMaskHead` (``num_convs``,
            ``in_channels``, ``conv_out_channels``, ``num_classes``, ...).
    """

    def __init__(self, with_conv_res: bool = True, **kwargs) -> None:
        if not with_conv_res:
            raise ValueError("with_conv_res must be True: R3MaskHead always applies C1 (conv_res)")
        super().__init__(with_conv_res=False, **kwargs)
        self.with_conv_res = True
        self.conv_res = ConvModule(
            self.conv_out_channels,
            self.in_channels,
            1,
            conv_cfg=self.conv_cfg,
            norm_cfg=self.norm_cfg,
        )

    def forward(
        self,
        x: Tensor,
        res_feat: Tensor | None = None,
        return_logits: bool = True,
        return_feat: bool = True,
    ) -> Tensor | list[Tensor]:
        """Run one internal iteration of the mask loop.

        Args:
            x: Mask RoI features ``(n, in_channels, 14, 14)``.
            res_feat: 14×14 features of the previous iteration
                ``(n, conv_out_channels, 14, 14)``, or None for the first one.
            return_logits: Return the mask logits ``(n, num_classes, 28, 28)``.
            return_feat: Return this iteration's 14×14 features (``m^{j-1}``).

        Returns:
            The logits, the features, or ``[logits, features]``.
        """
        if not (return_logits or return_feat):
            raise ValueError("return_logits and return_feat cannot both be False")
        if res_feat is None:
            res_feat = x.new_zeros((x.size(0), self.conv_out_channels, *x.shape[-2:]))
        x = x + self.conv_res(res_feat)
        for conv in self.convs:
            x = conv(x)
        res_feat = x
        outs = []
        if return_logits:
            outs.append(self._logits(x))
        if return_feat:
            outs.append(res_feat)
        return outs if len(outs) > 1 else outs[0]

    def _logits(self, feat: Tensor) -> Tensor:
        """Apply U (+ ReLU for a deconv) and C2: paper Eq. 4."""
        if self.upsample is not None:
            feat = self.upsample(feat)
            if self.upsample_method == "deconv":
                feat = self.relu(feat)
        return self.conv_logits(feat)
