"""COCO-format data: a synthetic dataset, a checker, layouts and classes of any dataset.

Importing this package pulls in numpy only; OpenCV, Pillow and pycocotools are
imported by the functions that use them.
"""

from sbr.data.check import KINDS, CheckReport, Problem, check_dataset, check_file
from sbr.data.layout import (
    DATASET_FILE,
    Category,
    DataError,
    DatasetLayout,
    dataset_classes,
    detect_layout,
    init_dataset_yaml,
)
from sbr.data.synth import CATEGORIES, CLASS_NAMES, synthesize

__all__ = [
    "CATEGORIES",
    "CLASS_NAMES",
    "DATASET_FILE",
    "KINDS",
    "Category",
    "CheckReport",
    "DataError",
    "DatasetLayout",
    "Problem",
    "check_dataset",
    "check_file",
    "dataset_classes",
    "detect_layout",
    "init_dataset_yaml",
    "synthesize",
]
