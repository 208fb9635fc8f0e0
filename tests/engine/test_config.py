"""Config lookup, overrides and dataset redirection (real MMEngine configs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sbr.engine.config import (
    CONFIG_ROOT,
    load_config,
    parse_cfg_options,
    resolve_config_path,
    set_data_root,
)

SMOKE = "smoke/mask-rcnn_r18_fpn_smoke"


@pytest.mark.parametrize(
    "name", [SMOKE, SMOKE + ".py", str(CONFIG_ROOT / (SMOKE + ".py"))], ids=["name", "file", "path"]
)
def test_resolve_shipped_config(name: str) -> None:
    assert resolve_config_path(name) == CONFIG_ROOT / (SMOKE + ".py")


def test_unknown_config_names_what_is_shipped() -> None:
    with pytest.raises(FileNotFoundError, match="smoke/mask-rcnn_r18_fpn_smoke"):
        resolve_config_path("smoke/mask-rcnn_r99")


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        (["train_cfg.max_iters=4"], {"train_cfg.max_iters": 4}),
        (["a.b=[1, 2]", "c=0.5"], {"a.b": [1, 2], "c": 0.5}),
        (["model.roi_head.stages=aab"], {"model.roi_head.stages": "aab"}),
        (["flag=True"], {"flag": True}),
    ],
    ids=["int", "list-and-float", "bare-string", "bool"],
)
def test_parse_cfg_options(pairs: list[str], expected: dict) -> None:
    assert parse_cfg_options(pairs) == expected


def test_parse_cfg_options_rejects_missing_equals() -> None:
    with pytest.raises(ValueError, match="key=value"):
        parse_cfg_options(["train_cfg.max_iters"])


def test_options_are_merged() -> None:
    cfg = load_config(SMOKE, options={"train_cfg.max_iters": 7})
    assert cfg.train_cfg.max_iters == 7


def test_set_data_root_moves_datasets_and_evaluators(tmp_path: Path) -> None:
    cfg = load_config(SMOKE)
    set_data_root(cfg, tmp_path)
    root = f"{tmp_path.resolve()}/"
    assert cfg.train_dataloader.dataset.data_root == root
    assert cfg.val_dataloader.dataset.data_root == root
    assert cfg.test_dataloader.dataset.data_root == root
    assert cfg.val_evaluator.ann_file == str(tmp_path.resolve() / "annotations/instances_val.json")
    assert cfg.test_evaluator.ann_file == cfg.val_evaluator.ann_file


def test_smoke_classes_match_synthetic_data() -> None:
    from sbr.data.synth import CLASS_NAMES

    assert tuple(load_config(SMOKE).train_dataloader.dataset.metainfo["classes"]) == CLASS_NAMES
