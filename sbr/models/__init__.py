"""SBR-CNN components for MMDetection 3.x.

Importing :mod:`sbr.models` (e.g. through ``custom_imports=dict(imports=['sbr.models'])``
in a config) registers every component below in mmdet's registries (``MODELS``,
``TASK_UTILS``, ``HOOKS``) under its class name.
"""

from .bbox_heads import SBRFCCBBoxHead
from .hooks import SBRIoUHistogramHook, SBRTimingHook
from .layers import SBRNonLocal2d, SBRSequential
from .mask_heads import R3MaskHead, SBRFCCMaskIoUHead
from .roi_heads import R3RoIHead
from .task_modules import SBRRecordingMaxIoUAssigner

__all__ = [
    "R3MaskHead",
    "R3RoIHead",
    "SBRFCCBBoxHead",
    "SBRFCCMaskIoUHead",
    "SBRIoUHistogramHook",
    "SBRNonLocal2d",
    "SBRRecordingMaxIoUAssigner",
    "SBRSequential",
    "SBRTimingHook",
]
