"""sbr: SBR-CNN (Self-Balanced R-CNN) on MMDetection 3.x, and its ablation lab.

Importing :mod:`sbr` is cheap on purpose: torch, mmdet, ray and mlflow are only
imported by the modules that need them, when they need them.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
