"""The Kubernetes manifests under cluster/kubernetes against real schemas, offline.

Core objects are validated (strictly: unknown fields are errors) against the Kubernetes
OpenAPI JSON schemas shipped by ``kubernetes-validate``; RayCluster / RayJob against the
openAPIV3Schema of the KubeRay CRDs in cluster/kubernetes/crds (with unknown fields
rejected as the API server's strict field validation does), and their pod templates
against Kubernetes' PodTemplateSpec.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

K8S = Path(__file__).resolve().parents[2] / "cluster" / "kubernetes"
K8S_VERSION = "1.30.0"
CRDS = {
    "RayCluster": K8S / "crds" / "ray.io_rayclusters.v1.schema.json",
    "RayJob": K8S / "crds" / "ray.io_rayjobs.v1.schema.json",
}
VARIANTS = ["raycluster", "rayjob"]


def _documents() -> list[tuple[str, dict[str, Any]]]:
    docs = []
    for path in sorted(K8S.rglob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if doc:
                docs.append(
                    (f"{path.relative_to(K8S)}:{doc['kind']}/{doc['metadata']['name']}", doc)
                )
    return docs


DOCS = _documents()
CORE = [(name, doc) for name, doc in DOCS if doc["apiVersion"] != "ray.io/v1"]
RAY = [(name, doc) for name, doc in DOCS if doc["apiVersion"] == "ray.io/v1"]


def _strict(schema: Any) -> Any:
    """``schema`` with ``additionalProperties: false`` wherever properties are listed."""
    if isinstance(schema, list):
        return [_strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _strict(v) for k, v in schema.items()}
    if (
        "properties" in schema
        and "additionalProperties" not in schema
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


@pytest.fixture(scope="module")
def crd_validators() -> dict[str, Any]:
    from jsonschema import Draft7Validator

    validators = {}
    for kind, path in CRDS.items():
        schema = json.loads(path.read_text(encoding="utf-8"))
        assert schema["x-sbr-source"]["kind"] == kind
        validators[kind] = Draft7Validator(_strict(schema))
    return validators


def _k8s_errors(doc: dict[str, Any]) -> str | None:
    import kubernetes_validate

    try:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        return f"{'.'.join(map(str, exc.path))}: {exc.message}"
    return None


def test_manifests_cover_every_kind_the_deployment_needs() -> None:
    kinds = sorted({doc["kind"] for _, doc in DOCS})
    assert kinds == [
        "Deployment", "Namespace", "PersistentVolumeClaim", "RayCluster", "RayJob",
        "Secret", "Service", "StatefulSet",
    ]  # fmt: skip


@pytest.mark.parametrize("doc", [d for _, d in CORE], ids=[n for n, _ in CORE])
def test_core_object_is_valid_against_the_kubernetes_schema(doc: dict[str, Any]) -> None:
    assert _k8s_errors(doc) is None, _k8s_errors(doc)


def test_the_kubernetes_validator_rejects_an_unknown_field() -> None:
    (_, deployment) = next((n, d) for n, d in CORE if d["kind"] == "Deployment")
    broken = copy.deepcopy(deployment)
    broken["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    assert "imagePullPolicyy" in (_k8s_errors(broken) or "")


def _cluster_spec(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["spec"] if doc["kind"] == "RayCluster" else doc["spec"]["rayClusterSpec"]


def _templates(doc: dict[str, Any]) -> list[dict[str, Any]]:
    spec = _cluster_spec(doc)
    return [spec["headGroupSpec"]["template"]] + [g["template"] for g in spec["workerGroupSpecs"]]


@pytest.mark.parametrize("doc", [d for _, d in RAY], ids=[n for n, _ in RAY])
def test_kuberay_object_is_valid_against_the_crd_schema(doc, crd_validators) -> None:
    errors = [
        f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
        for e in crd_validators[doc["kind"]].iter_errors(doc)
    ]
    assert errors == []
    for template in _templates(doc):
        pod_template = {
            "apiVersion": "v1",
            "kind": "PodTemplate",
            "metadata": {"name": "t"},
            "template": template,
        }
        assert _k8s_errors(pod_template) is None, _k8s_errors(pod_template)


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda s: s["workerGroupSpecs"][0].pop("groupName"), "groupName"),
        (lambda s: s["workerGroupSpecs"][0].update(replica=2), "replica"),
        (lambda s: s["headGroupSpec"].update(rayStartParams={"num-cpus": 0}), "not of type"),
    ],
    ids=["missing-required", "unknown-field", "wrong-type"],
)
def test_the_crd_validator_rejects_broken_ray_clusters(mutate, needle, crd_validators) -> None:
    (_, doc) = next((n, d) for n, d in RAY if d["kind"] == "RayCluster")
    broken = copy.deepcopy(doc)
    mutate(broken["spec"])
    messages = " ".join(e.message for e in crd_validators["RayCluster"].iter_errors(broken))
    assert needle in messages


def test_rayjob_runs_the_same_cluster_as_the_raycluster() -> None:
    (cluster,) = [d for _, d in RAY if d["kind"] == "RayCluster"]
    (job,) = [d for _, d in RAY if d["kind"] == "RayJob"]
    assert job["spec"]["rayClusterSpec"] == cluster["spec"]
    entry = job["spec"]["entrypoint"].split()
    assert entry[:2] == ["sbr", "run-ablation"]
    assert entry[entry.index("--address") + 1] == "auto"  # the job's own cluster, not a new one


@pytest.mark.parametrize("doc", [d for _, d in RAY], ids=[n for n, _ in RAY])
def test_gpu_workers_and_head_mount_the_shared_claim(doc) -> None:
    claims = {d["metadata"]["name"] for _, d in CORE if d["kind"] == "PersistentVolumeClaim"}
    spec = _cluster_spec(doc)
    (gpu,) = spec["workerGroupSpecs"]
    limits = gpu["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert gpu["replicas"] * int(limits["nvidia.com/gpu"]) == 8  # the paper's 2 x 4 GPUs
    for template in _templates(doc):
        pod = template["spec"]
        volumes = {v["name"]: v for v in pod["volumes"]}
        (container,) = pod["containers"]
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        claim = volumes[mounts["/shared"]]["persistentVolumeClaim"]["claimName"]
        assert claim in claims


def test_mlflow_uses_the_postgres_secret_and_the_artifact_claim() -> None:
    by_kind = {(d["kind"], d["metadata"]["name"]): d for _, d in CORE}
    secret = by_kind[("Secret", "mlflow-db")]["stringData"]
    pod = by_kind[("Deployment", "mlflow")]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    (env,) = [e for e in container["env"] if e["name"] == "BACKEND_STORE_URI"]
    assert secret[env["valueFrom"]["secretKeyRef"]["key"]].startswith("postgresql://")
    assert "--backend-store-uri=$(BACKEND_STORE_URI)" in container["args"]
    (volume,) = pod["volumes"]
    assert ("PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"]) in by_kind
    postgres = by_kind[("StatefulSet", "postgres")]["spec"]["template"]["spec"]["containers"][0]
    assert postgres["envFrom"][0]["secretRef"]["name"] == "mlflow-db"
    service_port = by_kind[("Service", "postgres")]["spec"]["ports"][0]["port"]
    assert f"@postgres:{service_port}/" in secret["backend-store-uri"]


@pytest.mark.parametrize("variant", VARIANTS)
def test_kustomizations_list_existing_files(variant: str) -> None:
    for folder in (K8S / "base", K8S / variant):
        kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text())
        for resource in kustomization["resources"]:
            target = folder / resource
            assert target.is_file() or (target / "kustomization.yaml").is_file(), target
