"""cluster/cloud/aws-gpu.yaml passes the Ray cluster launcher's own preparation and validation."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

CONFIG = Path(__file__).resolve().parents[2] / "cluster" / "cloud" / "aws-gpu.yaml"


def _prepared(config: dict[str, Any]) -> dict[str, Any]:
    """What `ray up` does before launching anything: defaults, merge, then validate."""
    from ray.autoscaler._private.util import prepare_config, validate_config

    prepared = prepare_config(copy.deepcopy(config))
    validate_config(prepared)
    return prepared


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    pytest.importorskip("ray.autoscaler._private.util")
    return yaml.safe_load(CONFIG.read_text(encoding="utf-8"))


def test_aws_config_passes_ray_validation_with_two_four_gpu_workers(config) -> None:
    prepared = _prepared(config)
    gpu = prepared["available_node_types"]["gpu_v100x4"]
    assert (gpu["min_workers"], gpu["max_workers"]) == (2, 2)
    assert gpu["node_config"]["InstanceType"] == "p3.8xlarge"  # 4 x V100: the paper's node
    assert prepared["available_node_types"]["head"]["resources"] == {"CPU": 0}
    setup = " ".join(prepared["setup_commands"])
    assert "FORCE_CUDA=1" in setup and "scripts/setup_env.sh" in setup


@pytest.mark.parametrize(
    ("mutate", "error"),
    [
        (lambda c: c.update(max_workerz=2), "Additional properties"),
        (lambda c: c.update(head_node_type="nope"), "head_node_type"),
        (lambda c: c["available_node_types"]["gpu_v100x4"].update(min_workers=3), "max_workers"),
    ],
    ids=["unknown-key", "unknown-head-type", "min-above-global-max"],
)
def test_ray_validation_rejects_broken_variants(config, mutate, error) -> None:
    from jsonschema import ValidationError

    broken = copy.deepcopy(config)
    mutate(broken)
    with pytest.raises((ValidationError, ValueError), match=error):
        _prepared(broken)
