"""Build hook: ship the top-level ``ablations/`` specs and presets inside the wheel.

Everything else is declared in pyproject.toml. ``ablations/`` stays at the repository's
top level (the product layout); building a wheel copies it to ``sbr/_ablations`` so that
an installed sbr finds its specs through importlib.resources
(:func:`sbr.specs.schema.shipped_ablations_dir`). Editable installs read the checkout's
``ablations/`` directly, so nothing is copied for them.
"""

from __future__ import annotations

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ABLATIONS = Path("ablations")
PACKAGED = Path("sbr", "_ablations")
SUFFIXES = (".yaml", ".md")


class BuildPyWithAblations(build_py):
    """``build_py`` that also copies ``ablations/**/*.{yaml,md}`` to ``sbr/_ablations``."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        for source in sorted(ABLATIONS.rglob("*")):
            if source.is_file() and source.suffix in SUFFIXES:
                target = Path(self.build_lib, PACKAGED, source.relative_to(ABLATIONS))
                self.mkpath(str(target.parent))
                self.copy_file(str(source), str(target))


setup(cmdclass={"build_py": BuildPyWithAblations})
