"""Task modules of SBR-CNN; importing this package registers them in mmdet's TASK_UTILS."""

from .sbr_recording_max_iou_assigner import SBRRecordingMaxIoUAssigner

__all__ = ["SBRRecordingMaxIoUAssigner"]
