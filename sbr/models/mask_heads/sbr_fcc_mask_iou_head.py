"""FCC variant of the Mask IoU branch (paper Sec. 3.2, Table 7)."""

from __future__ import annotations

import torch
import torch.nn as nn
from mmdet.models.roi_heads.mask_heads import MaskIoUHead
from mmdet.registry import MODELS
from mmengine.model import normal_init
from torch import Tensor

from ..bbox_heads.sbr_fcc_bbox_head import build_fcc_layers, l2c_conv_specs


def _default_init_cfg() -> list[dict]:
    """MaskIoUHead's init without its Caffe2Xavier override on ``fcs`` (L2C/NL keep theirs)."""
    return [
        dict(type="Kaiming", override=dict(name="convs")),
        dict(type="Normal", std=0.01, override=dict(name="fc_mask_iou")),
    ]


@MODELS.register_module()
class SBRFCCMaskIoUHead(MaskIoUHead):
    """Mask IoU head whose two FC layers are replaced by L2C convolutions.

    .. code-block:: none

        cat(mask feats (N, C, 14, 14), maxpool(sigmoid(mask)) (N, 1, 14, 14))
          -> 4 convs 3x3 (last stride 2) -> (N, 256, 7, 7)
          -> [NL_b] -> L2C convs -> [NL_a] -> flatten (N, c2*7*7) -> fc_mask_iou (N, K)

    The four convolutions are mmdet's :class:`MaskIoUHead` ones; ``fcs`` holds the
    FCC layers of :func:`build_fcc_layers` (7x7 ``256 -> 128 -> 64`` for
    ``'square'``, the ``post_reduce`` rectangular pattern for ``'rect'``), each
    followed by a ReLU; ``fc_mask_iou`` is Linear(c2*7*7, num_classes) with N(0, 0.01)
    init. Loss, targets and prediction are inherited unchanged.

    Args:
        fcc_type: ``'square'`` or ``'rect'``. Defaults to 'square'.
        nl_before: Non-local block on the 256-channel map before the L2C (NL_b).
        nl_after: Non-local block on the c2-channel map after the L2C (NL_a).
        nl_kernel_size: Kernel of the non-local convolutions. Defaults to 7.
        post_reduce: Channel pattern of the rectangular pairs. Defaults to True
            (the authors' ``FCC2MaskIoUHead`` always uses it).
        l2c_channels: Output channels of the two L2C stages. Defaults to (128, 64).
        init_cfg: Defaults to Kaiming on ``convs`` and N(0, 0.01) on ``fc_mask_iou``
            only, so the L2C keep ConvModule's init and NL its zero ``conv_out``.
        **kwargs: :class:`MaskIoUHead` arguments (``num_convs``, ``roi_feat_size``,
            ``in_channels``, ``conv_out_channels``, ``num_classes``, ``loss_iou``).
            ``num_fcs``/``fc_out_channels`` have no meaning here and may not be given.
    """

    def __init__(
        self,
        fcc_type: str = "square",
        nl_before: bool = False,
        nl_after: bool = False,
        nl_kernel_size: int = 7,
        post_reduce: bool = True,
        l2c_channels: tuple[int, int] = (128, 64),
        init_cfg: dict | list[dict] | None = None,
        **kwargs,
    ) -> None:
        l2c_conv_specs(1, fcc_type, post_reduce, l2c_channels)  # validates early
        given = [key for key in ("num_fcs", "fc_out_channels") if key in kwargs]
        if given:
            raise ValueError(f"SBRFCCMaskIoUHead replaces the FC layers; do not pass {given}")
        super().__init__(
            num_fcs=0, init_cfg=_default_init_cfg() if init_cfg is None else init_cfg, **kwargs
        )
        self.fcc_type = fcc_type
        self.post_reduce = post_reduce
        self.l2c_channels = tuple(int(c) for c in l2c_channels)
        self.fcs = build_fcc_layers(
            self.conv_out_channels,
            fcc_type,
            post_reduce,
            self.l2c_channels,
            nl_before,
            nl_after,
            nl_kernel_size,
        )
        roi_size = kwargs.get("roi_feat_size", 14)
        roi_h, roi_w = (roi_size, roi_size) if isinstance(roi_size, int) else roi_size
        pooled_area = (roi_h // 2) * (roi_w // 2)
        self.fc_mask_iou = nn.Linear(self.l2c_channels[-1] * pooled_area, self.num_classes)
        normal_init(self.fc_mask_iou, std=0.01)

    def forward(self, mask_feat: Tensor, mask_preds: Tensor) -> Tensor:
        """Predict the mask IoU of every class.

        Args:
            mask_feat (Tensor): Mask RoI features, shape (N, C, S, S), S =
                ``roi_feat_size`` (14); N may be 0.
            mask_preds (Tensor): Mask logits of the target class, shape (N, 2S, 2S).

        Returns:
            Tensor: Predicted IoU per class, shape (N, num_classes).
        """
        mask_pred_pooled = self.max_pool(mask_preds.sigmoid().unsqueeze(1))
        x = torch.cat((mask_feat, mask_pred_pooled), 1)
        for conv in self.convs:
            x = self.relu(conv(x))
        for layer in self.fcs:
            x = self.relu(layer(x))
        return self.fc_mask_iou(x.flatten(1))
