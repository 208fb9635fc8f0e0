"""``SBR_REGENERATE_GOLDEN=1`` would pass any output by rewriting it: refused under CI."""

from __future__ import annotations

import pytest
import report_helpers


def test_golden_regeneration_is_refused_in_ci(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("CI", "true")
    monkeypatch.setattr(report_helpers, "REGENERATE", True)
    monkeypatch.setattr(report_helpers, "EXPECTED", tmp_path)
    (tmp_path / "x.txt").write_text("old")
    with pytest.raises(AssertionError, match="refused under CI"):
        report_helpers.check_golden("x.txt", "new")
    assert (tmp_path / "x.txt").read_text() == "old"
