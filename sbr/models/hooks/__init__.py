"""Runner hooks of SBR-CNN; importing this package registers them in mmdet's HOOKS."""

from .sbr_iou_histogram_hook import SBRIoUHistogramHook, find_recording_assigners

__all__ = ["SBRIoUHistogramHook", "find_recording_assigners"]
