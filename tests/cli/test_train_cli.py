"""``sbr train`` refuses bad input before building anything (CliRunner, real configs)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from sbr.cli import main

SMOKE = "smoke/mask-rcnn_r18_fpn_smoke"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["smoke/mask-rcnn_r99"], "did you mean smoke/mask-rcnn_r18_fpn_smoke"),
        ([SMOKE, "--cfg-options", "train_cfg.max_iter=3"], "did you mean 'max_iters'"),
        (
            [SMOKE, "--cfg-options", "model.roi_head.bbox_head.num_clases=3"],
            "unknown config key 'num_clases' in model.roi_head.bbox_head",
        ),
        ([SMOKE, "--cfg-options", "train_cfg.max_iters"], "expects key=value"),
    ],
    ids=["unknown-config", "misspelled-key", "misspelled-nested-key", "no-equals"],
)
def test_bad_input_is_a_usage_error(args: list[str], message: str, tmp_path) -> None:
    result = CliRunner().invoke(main, ["train", *args, "--work-dir", str(tmp_path / "w")])
    assert result.exit_code == 2
    assert message in result.output
    assert not (tmp_path / "w").exists()  # nothing was started


def test_plus_prefix_adds_a_new_key() -> None:
    from sbr.cli.train import _check_option_paths

    options = {"+custom_note": "x", "train_cfg.max_iters": 2}
    _check_option_paths(SMOKE, options)
    assert options == {"custom_note": "x", "train_cfg.max_iters": 2}
