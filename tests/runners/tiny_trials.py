"""A tiny spec and preset for the execution-layer tests (2 iterations of the smoke model).

Imported by the runner tests (pytest puts this folder on ``sys.path``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from sbr.specs.expand import Expansion, expand
from sbr.specs.presets import PRESETS_DIR, load_preset
from sbr.specs.schema import load_spec

SMOKE = "smoke/mask-rcnn_r18_fpn_smoke"

#: Trains; checkpoints every iteration so that a fault can resume from one.
GOOD_ROW = f"""\
  - id: good
    label: Mask
    config: {SMOKE}
    overrides: {{default_hooks.checkpoint.interval: 1}}
    paper: {{B_AP: 1.0}}
"""
#: Checkpoints at the end only (the smoke config's interval is 100): a retry starts over.
RESTART_ROW = f"""\
  - id: restart
    label: Mask no checkpoint
    config: {SMOKE}
    paper: {{B_AP: 1.0}}
"""
#: Checkpoints every second iteration: a retry resumes from the last even iteration.
EVEN_ROW = f"""\
  - id: even
    label: Mask checkpoint 2
    config: {SMOKE}
    overrides: {{default_hooks.checkpoint.interval: 2}}
    paper: {{B_AP: 1.0}}
"""
#: Same training as GOOD_ROW, evaluated with fewer detections (an evaluation-only variant).
VARIANT_ROW = f"""\
  - id: variant
    label: Mask 10 dets
    config: {SMOKE}
    overrides: {{default_hooks.checkpoint.interval: 1}}
    eval_overrides: {{model.test_cfg.rcnn.max_per_img: 10}}
    paper: {{B_AP: 1.0}}
"""
#: Valid config, but its annotation file does not exist: fails when training starts.
BROKEN_ROW = f"""\
  - id: broken
    label: Mask broken
    config: {SMOKE}
    overrides: {{train_dataloader.dataset.ann_file: annotations/missing.json}}
    paper: {{B_AP: 1.0}}
"""


def write_preset(folder: Path, *, iters: int = 2) -> Path:
    """The shipped smoke preset shrunk to ``iters`` iterations, as ``tiny.yaml``."""
    text = (PRESETS_DIR / "smoke.yaml").read_text(encoding="utf-8")
    for old, new in [
        ("name: smoke", "name: tiny"),
        ("iters: 4\n", f"iters: {iters}\n"),
        ("max_iters: 4, val_interval: 4", f"max_iters: {iters}, val_interval: {iters}"),
        ("end: 4}", f"end: {iters}}}"),
        ("cpus: 2", "cpus: 1"),
    ]:
        assert old in text, f"smoke preset changed: {old!r} not found"
        text = text.replace(old, new)
    path = folder / "tiny.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def write_spec(folder: Path, *rows: str, name: str = "tiny", seed: int = 0) -> Path:
    """A spec file named ``<name>.yaml`` holding ``rows``."""
    path = folder / f"{name}.yaml"
    head = (
        f"schema_version: 1\nname: {name}\ntitle: execution-layer test\ncolumns: [B_AP]\n"
        f"seeds: [{seed}]\nrows:\n"
    )
    path.write_text(head + "".join(rows), encoding="utf-8")
    return path


def tiny_expansion(
    folder: Path, data_root: Path, *rows: str, seed: int = 0, iters: int = 2
) -> Expansion:
    """Expansion of a tiny spec with ``rows`` on the tiny preset (``iters`` iterations)."""
    folder.mkdir(parents=True, exist_ok=True)
    spec = load_spec(write_spec(folder, *rows, seed=seed))
    preset = load_preset(write_preset(folder, iters=iters))
    return expand([spec], preset, data_root=str(data_root))


@contextlib.contextmanager
def two_node_cluster() -> Iterator[str]:
    """A real Ray head and worker node (1 CPU each) on this machine; yields the address."""
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    try:
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        yield cluster.address
    finally:
        cluster.shutdown()
