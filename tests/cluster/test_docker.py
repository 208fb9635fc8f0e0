"""Static checks of cluster/docker/Dockerfile (no Docker daemon in CI)."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "cluster" / "docker" / "Dockerfile"


def _instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text(encoding="utf-8"))
    lines = [line.strip() for line in text.splitlines()]
    return [tuple(line.split(None, 1)) for line in lines if line and not line.startswith("#")]


def test_every_copied_path_exists_in_the_repository() -> None:
    copies = [args.split()[:-1] for op, args in _instructions() if op == "COPY"]
    sources = [src for srcs in copies for src in srcs]
    assert "scripts/setup_env.sh" in sources
    missing = [src for src in sources if not (REPO / src).exists()]
    assert missing == []


def test_mmcv_is_built_with_cuda_ops_by_the_setup_script_on_a_devel_base() -> None:
    instructions = _instructions()
    args = dict(a.split("=", 1) for op, a in instructions if op == "ARG" and "=" in a)
    assert "devel" in args["CUDA_IMAGE"]  # nvcc is needed to compile mmcv's CUDA ops
    assert args["TORCH_VERSION"] == "2.13.0"  # torch >= 2.14 breaks the mmcv 2.1.0 build
    assert "7.0" in args["TORCH_CUDA_ARCH_LIST"]  # the paper's V100s
    (build,) = [a for op, a in instructions if op == "RUN" and "setup_env.sh" in a]
    for knob in ("FORCE_CUDA=1", "TORCH_CUDA_ARCH_LIST=", "TORCH_INDEX_URL=", "TORCH_VERSION="):
        assert knob in build
    assert instructions[0] == ("ARG", f"CUDA_IMAGE={args['CUDA_IMAGE']}")
    assert ("FROM", "${CUDA_IMAGE}") in instructions


def test_build_context_leaves_out_the_local_venv_and_results() -> None:
    ignore = DOCKERFILE.with_name("Dockerfile.dockerignore").read_text(encoding="utf-8")
    patterns = {line for line in ignore.splitlines() if line and not line.startswith("#")}
    assert {".venv", "data", "work_dirs", "mlflow.db"} <= patterns
    copied = {args.split()[0].split("/")[0] for op, args in _instructions() if op == "COPY"}
    assert not copied & patterns  # nothing the image needs is filtered out
