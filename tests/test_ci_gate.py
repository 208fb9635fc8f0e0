"""The CI gate (tests/ci_gate.py): in CI a missing dependency fails instead of skipping."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from ci_gate import require, required, under_ci


def _clear(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ["CI", *(k for k in os.environ if k.startswith("SBR_REQUIRE_"))]:
        monkeypatch.delenv(key, raising=False)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, False),
        ({"CI": "true"}, True),
        ({"CI": "false"}, False),
        ({"SBR_REQUIRE_CHROMIUM": "1"}, True),
        ({"SBR_REQUIRE_PDFLATEX": "0"}, False),
    ],
    ids=["plain", "ci-true", "ci-false", "sbr-require", "sbr-require-off"],
)
def test_under_ci(monkeypatch, env, expected) -> None:
    _clear(monkeypatch)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert under_ci() is expected
    assert required("SBR_REQUIRE_NOTHING") is expected


def test_missing_module_fails_in_ci_and_skips_outside(monkeypatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(ImportError):
        require("sbr_no_such_module")
    _clear(monkeypatch)
    with pytest.raises(pytest.skip.Exception):
        require("sbr_no_such_module")


def test_no_test_module_skips_on_a_missing_dependency_by_itself() -> None:
    """Test modules import optional dependencies through ``ci_gate.require`` (a failure
    under CI), never with a bare ``pytest.importorskip``."""
    tests = Path(__file__).parent
    offenders = [
        f"{path.relative_to(tests)}:{number}"
        for path in sorted(tests.rglob("*.py"))
        if path.name not in ("ci_gate.py", "test_ci_gate.py")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if "importorskip(" in line and not line.lstrip().startswith("#")
    ]
    assert not offenders, f"use ci_gate.require instead of importorskip: {offenders}"
