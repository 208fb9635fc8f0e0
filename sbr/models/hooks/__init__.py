"""Runner hooks of SBR-CNN; importing this package registers them in mmdet's HOOKS."""

from .sbr_iou_histogram_hook import SBRIoUHistogramHook, find_recording_assigners
from .sbr_timing_hook import SBRTimingHook

__all__ = ["SBRIoUHistogramHook", "SBRTimingHook", "find_recording_assigners"]
