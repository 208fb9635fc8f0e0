"""Names of metrics and tags shared by training, tracking and reports.

Keep every string that another component looks up here, so a rename is one edit.
MMEngine's CocoMetric keys are kept as they are (``coco/bbox_mAP``..., fractions); the final
metrics are logged under the paper's column names as well (``B_AP``..., AP points, and
``Speed``: :func:`paper_metrics`), with the one column -> key mapping the reports read too
(:func:`paper_column_metric`).
"""

from __future__ import annotations

from collections.abc import Mapping

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


def short_names(metrics: Mapping[str, float]) -> dict[str, float]:
    """``coco/bbox_mAP`` -> ``bbox_mAP``: the names of Ray Tune's live table."""
    return {key.split("/")[-1]: value for key, value in metrics.items()}


#: The paper's AP columns (what follows ``B_``/``S_`` in a spec's ``columns``) -> CocoMetric stat.
PAPER_AP_STATS = {
    "AP": "mAP",
    "AP50": "mAP_50",
    "AP75": "mAP_75",
    "AP_s": "mAP_s",
    "AP_m": "mAP_m",
    "AP_l": "mAP_l",
}
#: ``B_AP`` is a box AP, ``S_AP`` a mask (segmentation) AP; a bare ``AP`` column is a box AP.
PAPER_IOU_PREFIXES = {"B": "bbox", "S": "segm"}
#: The paper prints AP in points (40.9), CocoMetric logs fractions (0.409).
AP_POINTS = 100.0
#: The paper's speed column: images/s, the value of :data:`METRIC_IMAGES_PER_S`.
PAPER_SPEED = "Speed"


def paper_ap_column(name: str) -> tuple[str, str] | None:
    """``(iou_type, stat)`` of a paper AP column (``S_AP50`` -> ``("segm", "AP50")``), else None.

    ``B_``/``S_`` columns name their IoU type; a bare ``AP``... column (the box-only tables)
    is a box AP.
    """
    if name in PAPER_AP_STATS:
        return "bbox", name
    prefix, _, stat = name.partition("_")
    if prefix in PAPER_IOU_PREFIXES and stat in PAPER_AP_STATS:
        return PAPER_IOU_PREFIXES[prefix], stat
    return None


def paper_column_metric(name: str) -> tuple[str, float] | None:
    """``(MLflow metric key, scale)`` of a paper column, the value in the paper's unit being
    ``scale x`` the logged one: ``B_AP`` -> ``("coco/bbox_mAP", 100.0)``,
    ``Speed`` -> ``("inference/images_per_s", 1.0)``; None for other columns."""
    if name == PAPER_SPEED:
        return METRIC_IMAGES_PER_S, 1.0
    found = paper_ap_column(name)
    if found is None:
        return None
    iou_type, stat = found
    return coco_key(iou_type, PAPER_AP_STATS[stat]), AP_POINTS


def paper_metrics(metrics: Mapping[str, float]) -> dict[str, float]:
    """The paper-named copies of the final metrics found in ``metrics``, in the paper's unit.

    ``{"coco/bbox_mAP": 0.409, "inference/images_per_s": 3.4}`` ->
    ``{"B_AP": 40.9, "Speed": 3.4}``: every ``B_``/``S_`` AP column (AP points) and
    ``Speed`` (images/s). The bare ``AP`` columns of the box-only tables are ``B_AP``...
    and are not logged twice.
    """
    out: dict[str, float] = {}
    for name in PAPER_METRIC_NAMES:
        key, scale = paper_column_metric(name)  # type: ignore[misc]
        if key in metrics:
            out[name] = float(metrics[key]) * scale
    return out


BBOX_AP = coco_key("bbox")
BBOX_AP50 = coco_key("bbox", "mAP_50")
SEGM_AP = coco_key("segm")
SEGM_AP50 = coco_key("segm", "mAP_50")

#: File a training run writes into its work dir with the metrics of its last evaluation.
FINAL_METRICS_FILE = "final_metrics.json"

# --- Tracking (MLflow) names: the trainable, the tracker and the reports share them. ---

#: MLflow experiment that holds every ablation run unless the user names another.
DEFAULT_EXPERIMENT = "sbr-ablations"

#: MLflow's experiment tag that picks the UI's view of an experiment, and the value of its
#: model-training view (MLflow 3.x; the UI infers ``..._inferred`` values when it is absent).
TAG_EXPERIMENT_KIND = "mlflow.experimentKind"
EXPERIMENT_KIND_TRAINING = "custom_model_development"

#: Run tags. A deduplicated trial serves several rows: TAG_TABLES and TAG_ROWS hold
#: comma-separated lists ("table2,table3" and "table2/row1,table3/row1").
TAG_TRIAL = "sbr.trial"
TAG_TABLES = "sbr.tables"
TAG_ROWS = "sbr.rows"
TAG_PRESET = "sbr.preset"
#: Preset file an ablation run used (its parent run): ``sbr status`` defaults to it.
TAG_PRESET_FILE = "sbr.preset_file"
#: ``host:pid`` of the ``run-ablation`` process of an ablation (parent) run.
TAG_DRIVER = "sbr.driver"
TAG_DATASET = "sbr.dataset"
#: Name of the trained-on dataset (``COCO`` when its classes are COCO's 80; else the
#: dataset.yaml ``name`` or the folder name): report captions name non-COCO data.
TAG_DATASET_NAME = "sbr.dataset_name"
#: The dataset's classes, ``<count>: name,name,...`` (cut at 4000 characters).
TAG_CLASSES = "sbr.classes"
TAG_CONFIG = "sbr.config"
#: SHA-256 (12 hex) of the resolved MMEngine config a training ran: a changed base config
#: (another mmdet) shows up here while the trial id, a hash of the spec fields, stays.
TAG_CONFIG_HASH = "sbr.config_hash"
TAG_SEED = "sbr.seed"
TAG_KIND = "sbr.kind"  # "ablation" (parent run), "training" or "evaluation"
TAG_EVAL = "sbr.eval"  # id of an evaluation-only variant of a training
TAG_STATUS = "sbr.status"  # "finished", "failed", "running"
TAG_ERROR = "sbr.error"
TAG_GIT_COMMIT = "sbr.git_commit"
TAG_VERSIONS = {
    "sbr": "sbr.version.sbr",
    "mmdet": "sbr.version.mmdet",
    "mmcv": "sbr.version.mmcv",
    "mmengine": "sbr.version.mmengine",
    "torch": "sbr.version.torch",
}

#: Run metrics besides the COCO ones (which keep MMEngine's ``coco/...`` keys).
METRIC_PARAMS = "model/trainable_params"
METRIC_IMAGES_PER_S = "inference/images_per_s"
METRIC_PEAK_MEMORY_MB = "train/peak_memory_mb"
METRIC_LR = "train/lr"
LOSS_PREFIX = "train/"  # losses are logged as train/<mmdet loss key>, e.g. train/s0.loss_cls

#: Paper column names under which a training run and an evaluation-only run log their final
#: metrics as well (:func:`paper_metrics`), so the MLflow UI's columns are the paper's.
PAPER_METRIC_NAMES = (
    *(f"{prefix}_{stat}" for prefix in PAPER_IOU_PREFIXES for stat in PAPER_AP_STATS),
    PAPER_SPEED,
)

#: Artifacts.
ARTIFACT_CONFIG = "config/resolved_config.py"
ARTIFACT_LOG_DIR = "logs"
ARTIFACT_IOU_DIR = "iou_histograms"
ARTIFACT_CHECKPOINT_URI = "checkpoint_uri.txt"
#: Per-image COCO evaluation data of an evaluation (match tables, ``sbr.engine.per_image``),
#: from which the reports compute bootstrap confidence intervals.
ARTIFACT_PER_IMAGE_DIR = "per_image"
ARTIFACT_PER_IMAGE = f"{ARTIFACT_PER_IMAGE_DIR}/match_tables.npz"
