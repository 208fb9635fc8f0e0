"""cluster/slurm/sbr-ray.sbatch: shellcheck, #SBATCH defaults and argument handling."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from ci_gate import required

SCRIPT = Path(__file__).resolve().parents[2] / "cluster" / "slurm" / "sbr-ray.sbatch"
REQUIRE_SHELLCHECK = required("SBR_REQUIRE_SHELLCHECK")


@pytest.mark.skipif(
    shutil.which("shellcheck") is None and not REQUIRE_SHELLCHECK,
    reason="shellcheck is not installed (set SBR_REQUIRE_SHELLCHECK=1 to make this a failure)",
)
def test_script_passes_shellcheck() -> None:
    assert shutil.which("shellcheck"), "shellcheck is required (SBR_REQUIRE_SHELLCHECK=1, CI)"
    result = subprocess.run(
        ["shellcheck", "--shell=bash", "--severity=style", str(SCRIPT)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_sbatch_defaults_are_the_papers_two_nodes_of_four_gpus() -> None:
    directives = dict(
        re.findall(r"^#SBATCH --([\w-]+)(?:=(\S+))?", SCRIPT.read_text(encoding="utf-8"), re.M)
    )
    assert directives["nodes"] == "2"
    assert directives["gpus-per-node"] == "4"
    assert directives["ntasks-per-node"] == "1"  # one `ray start` per node


def test_every_knob_used_is_documented_in_the_header() -> None:
    text = SCRIPT.read_text(encoding="utf-8")
    header = text.split("\n#SBATCH", 1)[0]
    used = set(re.findall(r"\$\{?(SBR_[A-Z_]+)", text))
    assert {"SBR_TABLE", "SBR_PRESET", "SBR_STORAGE", "SBR_TRACKING_URI"} <= used
    assert sorted(k for k in used if f"#   {k} " not in header) == []


def test_outside_slurm_without_local_mode_it_fails_before_starting_ray(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    env.update(SBR_STORAGE=str(tmp_path), SBR_DASHBOARD_PORT="0", SBR_RAY_AUTH="disabled")
    result = subprocess.run(
        ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "not inside a Slurm allocation" in result.stderr


def test_unknown_argument_is_rejected() -> None:
    result = subprocess.run(
        ["bash", str(SCRIPT), "--nodes=3"], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 64
    assert "unknown argument --nodes=3" in result.stderr
