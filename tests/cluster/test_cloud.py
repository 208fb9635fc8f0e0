"""cluster/cloud/aws-gpu.yaml passes the Ray cluster launcher's own preparation and validation."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "cluster" / "cloud" / "aws-gpu.yaml"
CONSTRAINTS = REPO / "constraints.txt"


def _ray_validation() -> tuple[Any, Any]:
    """Ray's private ``prepare_config``/``validate_config``: a moved module is a failure."""
    import ray

    try:
        from ray.autoscaler._private.util import prepare_config, validate_config
    except ImportError as exc:  # not a skip: the AWS file would go unchecked
        raise AssertionError(
            f"Ray {ray.__version__} no longer has ray.autoscaler._private.util."
            "prepare_config/validate_config; the validation follows Ray "
            f"{_pinned_ray()} (constraints.txt, cluster/README.md): update _ray_validation"
        ) from exc
    return prepare_config, validate_config


def _pinned_ray() -> str:
    """The Ray version of constraints.txt."""
    pins = re.findall(r"^ray==(\S+)$", CONSTRAINTS.read_text(encoding="utf-8"), re.MULTILINE)
    assert len(pins) == 1, f"{CONSTRAINTS} must pin ray once"
    return pins[0]


def _prepared(config: dict[str, Any]) -> dict[str, Any]:
    """What `ray up` does before launching anything: defaults, merge, then validate."""
    prepare_config, validate_config = _ray_validation()
    prepared = prepare_config(copy.deepcopy(config))
    validate_config(prepared)
    return prepared


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
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


def test_readme_names_the_ray_version_the_validation_follows() -> None:
    pinned = _pinned_ray()
    readme = (REPO / "cluster" / "README.md").read_text(encoding="utf-8")
    assert f"Ray {pinned}" in readme, f"cluster/README.md must name Ray {pinned}"
