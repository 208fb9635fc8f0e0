"""Trim a KubeRay CRD to the openAPIV3Schema of its storage version, without descriptions.

Usage: python trim_crd.py CRD.yaml OUT.schema.json

The validation keywords are kept as the CRD has them (types, required, enums, formats,
``x-kubernetes-*`` markers); only the ``description`` strings are dropped (they are ~80%
of the file). The shipped files were made from ray-project/kuberay at commit
feeaf72facab4881ba2b179248bb67315634e229 (2026-08-19, after v1.7.0),
ray-operator/config/crd/bases/ray.io_{rayclusters,rayjobs}.yaml (Apache-2.0).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml


def strip_descriptions(node: Any) -> Any:
    """``node`` without the ``description`` strings of its schema objects."""
    if isinstance(node, dict):
        return {
            key: strip_descriptions(value)
            for key, value in node.items()
            if not (key == "description" and isinstance(value, str))
        }
    if isinstance(node, list):
        return [strip_descriptions(value) for value in node]
    return node


def trim(crd: dict[str, Any]) -> dict[str, Any]:
    """The storage version's openAPIV3Schema, tagged with the CRD's group/kind/version."""
    (version,) = [v for v in crd["spec"]["versions"] if v.get("storage")]
    schema = strip_descriptions(version["schema"]["openAPIV3Schema"])
    schema["x-sbr-source"] = {
        "group": crd["spec"]["group"],
        "kind": crd["spec"]["names"]["kind"],
        "version": version["name"],
    }
    return schema


def main(argv: list[str]) -> None:
    src, out = Path(argv[0]), Path(argv[1])
    crd = yaml.safe_load(src.read_text(encoding="utf-8"))
    out.write_text(json.dumps(trim(crd), separators=(",", ":"), sort_keys=True) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
