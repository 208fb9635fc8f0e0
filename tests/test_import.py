"""`import sbr` and the CLI entry point must stay light."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("torch", "mmdet", "mmengine", "mmcv", "ray", "mlflow")


@pytest.mark.parametrize("module", ["sbr", "sbr.cli", "sbr.metrics"], ids=str)
def test_import_does_not_pull_heavy_backends(module: str) -> None:
    code = (
        f"import sys, {module}; "
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "", f"importing {module} imported {out}"


def test_cli_help_lists_commands() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "sbr", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for command in ("data", "train", "models"):
        assert command in out


def test_cli_makes_openmp_wait_passively() -> None:
    """Set before torch loads, or spinning threads slow training ~10x under contention."""
    code = "import os; os.environ.pop('OMP_WAIT_POLICY', None); import sbr.cli; "
    code += "print(os.environ['OMP_WAIT_POLICY'])"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "PASSIVE"
