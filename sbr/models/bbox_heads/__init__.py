"""Detection heads of SBR-CNN; importing this package registers them in mmdet's MODELS."""

from .sbr_fcc_bbox_head import SBRFCCBBoxHead, build_fcc_layers, l2c_conv_specs

__all__ = ["SBRFCCBBoxHead", "build_fcc_layers", "l2c_conv_specs"]
