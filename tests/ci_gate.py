"""Under CI a missing dependency is a failure, never a skip.

CI is ``CI=true`` (what CI services set) or any ``SBR_REQUIRE_*=1`` (what ``.ci/run``
sets). Outside CI, a test whose optional tool or package is absent may still skip, with
a reason that says how to make it a failure. CUDA is the exception: CI machines without a
GPU skip the GPU tests; a GPU machine sets ``SBR_REQUIRE_CUDA=1`` to make them fail
without one.
"""

from __future__ import annotations

import importlib
import os
import shutil
from types import ModuleType

import pytest


def under_ci() -> bool:
    """True in CI: ``CI`` is true-ish, or any ``SBR_REQUIRE_*`` variable is ``1``."""
    if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes"):
        return True
    return any(k.startswith("SBR_REQUIRE_") and v == "1" for k, v in os.environ.items())


def required(variable: str) -> bool:
    """A tool a test needs must be present: ``<variable>=1`` or CI."""
    return os.environ.get(variable) == "1" or under_ci()


def cuda_required() -> bool:
    """The GPU tests must run (``SBR_REQUIRE_CUDA=1``); plain CI does not imply it."""
    return os.environ.get("SBR_REQUIRE_CUDA") == "1"


def require(module: str) -> ModuleType:
    """Import ``module``; outside CI skip when it is missing, in CI fail with ImportError."""
    if under_ci():
        return importlib.import_module(module)
    return pytest.importorskip(module, reason=f"{module} is not installed (a failure under CI)")


def needs_tool(executable: str, variable: str, install: str) -> pytest.MarkDecorator:
    """Skip a test without ``executable`` on PATH, unless ``variable`` or CI requires it.

    Where it is required the test runs and fails on the missing tool (the test should
    assert ``shutil.which(executable)`` first, for a clear message).
    """
    return pytest.mark.skipif(
        shutil.which(executable) is None and not required(variable),
        reason=f"{executable} not installed ({install} installs it; "
        f"set {variable}=1 to make this a failure)",
    )


#: pdflatex for the tests that compile LaTeX (a failure under CI).
needs_pdflatex = needs_tool("pdflatex", "SBR_REQUIRE_PDFLATEX", "scripts/install_system_deps.sh")
