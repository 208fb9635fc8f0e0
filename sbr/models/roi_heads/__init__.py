"""RoI heads of SBR-CNN (registered in mmdet's ``MODELS``)."""

from .r3_roi_head import R3RoIHead

__all__ = ["R3RoIHead"]
