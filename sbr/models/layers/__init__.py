"""Plugin layers of SBR-CNN; importing this package registers them in mmdet's MODELS."""

from .sbr_non_local2d import SBRNonLocal2d
from .sbr_sequential import SBRSequential

__all__ = ["SBRNonLocal2d", "SBRSequential"]
