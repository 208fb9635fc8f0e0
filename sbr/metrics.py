"""Names of metrics and tags shared by training, tracking and reports.

Keep every string that another component looks up here, so a rename is one edit.
MMEngine's CocoMetric keys are kept as they are (``coco/bbox_mAP``...).
"""

from __future__ import annotations

COCO_PREFIX = "coco"
#: COCO summary statistics as CocoMetric names them, in the paper's column order.
COCO_STATS = ("mAP", "mAP_50", "mAP_75", "mAP_s", "mAP_m", "mAP_l")
IOU_TYPES = ("bbox", "segm")


def coco_key(iou_type: str, stat: str = "mAP") -> str:
    """MMEngine key of one COCO statistic, e.g. ``coco_key("segm", "mAP_50")``."""
    if iou_type not in IOU_TYPES:
        raise ValueError(f"iou_type must be one of {IOU_TYPES}, got {iou_type!r}")
    if stat not in COCO_STATS:
        raise ValueError(f"stat must be one of {COCO_STATS}, got {stat!r}")
    return f"{COCO_PREFIX}/{iou_type}_{stat}"


BBOX_AP = coco_key("bbox")
BBOX_AP50 = coco_key("bbox", "mAP_50")
SEGM_AP = coco_key("segm")
SEGM_AP50 = coco_key("segm", "mAP_50")

#: File a training run writes into its work dir with the metrics of its last evaluation.
FINAL_METRICS_FILE = "final_metrics.json"
