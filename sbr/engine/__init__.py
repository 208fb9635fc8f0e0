"""Adapter to MMEngine/MMDetection: configs, checkpoints and training runs.

This package is the only place outside :mod:`sbr.models` that imports mmengine
or mmdet, and it does so inside functions, so importing it stays cheap.
"""
