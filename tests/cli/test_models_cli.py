"""``sbr models params``: the shipped configs' trainable parameters against the paper."""

from __future__ import annotations

import json

from click.testing import CliRunner

from sbr.cli import main
from sbr.models.params import SHIPPED_MODELS

NAIVE = "r3_cnn/r3-cnn_r50_fpn_1x_coco.py"
T7_ROW3 = "r3_cnn/r3-cnn_r50_fpn_fcc-rect-slim-nlb_maskiou_1x_coco.py"


def test_params_json_lists_every_shipped_config_with_its_paper_value() -> None:
    result = CliRunner().invoke(main, ["models", "params", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [item["config"] for item in report] == [entry.config for entry in SHIPPED_MODELS]
    by_config = {item["config"]: item for item in report}
    for entry in SHIPPED_MODELS:
        item = by_config[entry.config]
        assert item["paper"] == entry.paper_params
        assert item["rows"] == list(entry.rows)
        assert item["trainable"] > 0
    naive = by_config[NAIVE]
    assert (naive["trainable"], naive["truncated"], naive["match"]) == (
        43_912_884,
        "43,912 K",
        True,
    )
    assert (by_config[T7_ROW3]["truncated"], by_config[T7_ROW3]["match"]) == ("54.2 M", False)
    unreported = by_config["sbr_cnn/sbr-cnn_r50_fpn_1x_coco.py"]
    assert (unreported["paper"], unreported["match"]) == (None, None)


def test_params_table_for_chosen_configs() -> None:
    configs = [NAIVE, T7_ROW3, "faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py"]
    result = CliRunner().invoke(main, ["models", "params", *configs])
    assert result.exit_code == 0, result.output
    header, *lines = result.stdout.strip().splitlines()
    assert header.split()[:4] == ["config", "trainable", "paper", "match"]
    assert len(lines) == 3
    assert lines[0].split()[:5] == [NAIVE, "43,912,884", "43,912", "K", "✓"]
    assert lines[1].split()[:5] == [T7_ROW3, "54,250,820", "54.9", "M", "✗"]
    assert lines[2].split()[:4] == [
        "faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py",
        "41,527,712",
        "-",
        "n/a",
    ]


def test_params_unknown_config_is_a_usage_error() -> None:
    result = CliRunner().invoke(main, ["models", "params", "no/such_config.py"])
    assert result.exit_code == 2
    assert "no/such_config.py" in result.output
