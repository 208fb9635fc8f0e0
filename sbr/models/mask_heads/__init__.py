"""Mask heads of SBR-CNN (registered in mmdet's ``MODELS``)."""

from .r3_mask_head import R3MaskHead
from .sbr_fcc_mask_iou_head import SBRFCCMaskIoUHead

__all__ = ["R3MaskHead", "SBRFCCMaskIoUHead"]
