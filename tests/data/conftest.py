"""Fixtures of the data tests: one small synthetic dataset shared by the session."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

SMALL_ARGS = {"seed": 1, "images": 12, "val_images": 8, "size": 160}


@pytest.fixture(scope="session")
def small_synth(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """A small synthetic dataset (12 train + 8 val images of 160 px) and its summary.

    160 px is the smallest size whose objects still reach COCO's large range (> 96²).
    Tests must not modify it: copy it first (see ``broken_copy`` in the check tests).
    """
    from sbr.data.synth import synthesize

    root = tmp_path_factory.mktemp("small_synth")
    return root, synthesize(root, **SMALL_ARGS)
