"""COCO-format data: a deterministic synthetic dataset and a dataset checker.

Importing this package pulls in numpy only; OpenCV, Pillow and pycocotools are
imported by the functions that use them.
"""

from sbr.data.check import KINDS, CheckReport, Problem, check_dataset, check_file
from sbr.data.synth import CATEGORIES, CLASS_NAMES, synthesize

__all__ = [
    "CATEGORIES",
    "CLASS_NAMES",
    "KINDS",
    "CheckReport",
    "Problem",
    "check_dataset",
    "check_file",
    "synthesize",
]
