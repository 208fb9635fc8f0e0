"""``sbr bench models``: model selection, paper speeds, ratios, targets, measurement, profile.

The measurement runs on the smoke Mask R-CNN at 64x64 (the paper models take minutes
on a CPU); the profile's component selection is checked on SBR-CNN's real modules.
"""

from __future__ import annotations

import json
import time

import pytest
import torch
from ci_gate import cuda_required
from click.testing import CliRunner

from sbr.cli import main
from sbr.runners.bench_models import (
    BASELINE,
    BenchModel,
    BenchSettings,
    ModelResult,
    ModelsBench,
    add_ratios,
    bench_inputs,
    build_bench_model,
    evaluate_targets,
    format_table,
    measure_model,
    select_models,
    spec_models,
)
from sbr.runners.bench_profile import profile_model, profiled_modules
from sbr.runners.speed import PeakMemory

REQUIRE_CUDA = cuda_required()
SMOKE = BenchModel("smoke", "smoke/mask-rcnn_r18_fpn_smoke.py", "smoke Mask R-CNN")
JSON_FIELDS = {
    "infer_img_s", "train_step_s", "peak_mem_mb", "infer_ratio_htc", "train_ratio_htc",
    "paper_speed",
}  # fmt: skip


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["table2/row1"], ["table2/row1", BASELINE]),
        (["table11/row4", "table2/row4"], [BASELINE, "table2/row4", "table11/row4"]),
        (["table7/row8"], [BASELINE, "table6/row11"]),  # = table6/row11's config
        (["table6"], [m.name for m in spec_models() if "table6" in m.groups]),
    ],
    ids=["htc-added", "spec-order", "row-of-a-shared-config", "table"],
)
def test_select_models(names, expected):
    assert [m.name for m in select_models(names)] == expected


def test_models_come_from_the_specs_one_per_config():
    models = spec_models()
    assert len({m.config for m in models}) == len(models)
    by_name = {m.name: m for m in models}
    htc = by_name[BASELINE]
    assert htc.config.startswith("htc/") and {"table2", "table6", "table7"} <= set(htc.groups)
    assert "table6/row11" in by_name and "table7/row8" in by_name["table6/row11"].rows
    assert not any("table4" in m.groups and m.name.startswith("table4") for m in models)


def test_default_selection_covers_the_issue_models():
    names = {m.name for m in select_models(None)}
    assert {"table2/row1", "table2/row3", "table2/row4", "table2/row5", "table11/row4"} <= names
    assert {"table6/row5", "table7/row4"} <= names
    assert len(select_models(["all"])) == len(spec_models())


def test_unknown_model_is_refused_with_the_known_names():
    with pytest.raises(ValueError, match="unknown model 'maskrcnn'.*table2"):
        select_models(["maskrcnn"])
    result = CliRunner().invoke(main, ["bench", "models", "--models", "maskrcnn"])
    assert result.exit_code == 2 and "table2" in result.output


def test_every_bench_config_exists_and_paper_speeds_come_from_the_specs():
    from sbr.engine.config import resolve_config_path

    models = spec_models()
    for model in models:
        assert resolve_config_path(model.config).is_file()
    by_name = {m.name: m for m in models}
    assert by_name["table2/row3"].paper_speed == 3.3 and by_name["table6/row5"].paper_speed == 1.0
    assert by_name["table2/row4"].paper_speed == 3.4
    assert by_name["table11/row4"].paper_speed is None  # the paper prints none


def _result(name: str, infer: float, train: float, paper: float | None) -> ModelResult:
    return ModelResult(name, name, f"{name}.py", infer, train, 100.0, paper)


def test_ratios_and_targets():
    results = [
        _result(BASELINE, 0.2, 10.0, 3.3),
        _result("table2/row4", 0.19, 8.0, 3.4),
        _result("table6/row5", 0.05, 9.0, 1.0),
    ]
    add_ratios(results)
    htc, r3, nl = results
    assert htc.infer_ratio_htc == 1.0 and r3.train_ratio_htc == pytest.approx(0.8)
    assert r3.infer_ratio_htc == pytest.approx(0.95) and r3.paper_ratio_htc == pytest.approx(
        3.4 / 3.3
    )
    assert nl.infer_ratio_r3 == pytest.approx(0.05 / 0.19)
    targets = {t["target"]: t for t in evaluate_targets(results)}
    assert targets["R3-CNN naive train step / HTC"]["met"]
    assert targets["R3-CNN naive inference / HTC"]["met"]
    nl_target = targets["table6/row5 inference / R3-CNN naive"]
    assert nl_target["bound"] == pytest.approx(1.0 / 3.4) and not nl_target["met"]  # 0.26 < 0.29
    table = format_table(results)
    assert len(table) == 2 + len(results) and "| 0.95 |" in table[3]


@pytest.fixture(scope="module")
def small_inputs(tmp_path_factory):
    return bench_inputs(tmp_path_factory.mktemp("bench"), (64, 96), images=2, train_batches=2)


def test_bench_inputs_are_single_images_and_pairs_at_the_requested_size(small_inputs):
    test, train = small_inputs
    assert len(test) == 2 and len(train) == 2
    for batch in test:
        assert len(batch["inputs"]) == 1 and tuple(batch["inputs"][0].shape[1:]) == (64, 96)
    for batch in train:
        assert len(batch["inputs"]) == 2 and all(
            len(s.gt_instances) > 0 for s in batch["data_samples"]
        )


@pytest.mark.slow
def test_measure_model_on_the_smoke_model(small_inputs):
    settings = BenchSettings(size=(64, 96), warmup=1, images=2, train_warmup=1, train_steps=1,
                             profile=True)  # fmt: skip
    lines: list[str] = []
    start = time.perf_counter()
    result = measure_model(SMOKE, settings, small_inputs, paper_speed=11.6, progress=lines.append)
    elapsed = time.perf_counter() - start
    # The timed passes happen inside this call: their seconds (images / img/s, steps x
    # s/step) fit in its wall time; a rate reported upside down or in other units does not.
    timed = settings.images / result.infer_img_s + settings.train_steps * result.train_step_s
    assert 0 < timed < elapsed, (result.infer_img_s, result.train_step_s, elapsed)
    assert result.peak_mem_mb >= 0
    assert result.detections_per_image > 0  # score_thr 0: untrained models still detect
    assert any("img/s" in line for line in lines) and any("s/step" in line for line in lines)
    payload = json.loads(json.dumps(ModelsBench(settings, [result]).to_json()))
    (fields,) = payload["models"]
    assert set(fields) >= JSON_FIELDS and fields["paper_speed"] == 11.6
    assert payload["settings"]["size"] == [64, 96] and "untrained" in payload["weights"]
    phases = result.profile
    names = {row["component"] for row in phases["inference"]}
    assert {"backbone", "neck", "rpn_head", "roi_head.predict", "inference (test_step)"} <= names
    train = {row["component"]: row for row in phases["train_step"]}
    assert {"forward + losses", "backward", "optimizer step", "roi_head.loss"} <= set(train)
    assert train["backbone"]["depth"] > train["forward + losses"]["depth"]  # nested
    assert train["train step"]["seconds"] >= train["backward"]["seconds"]


def test_profile_selects_groie_pre_and_post_modules_and_removes_its_hooks():
    model = build_bench_model("sbr_cnn/sbr-cnn_r50_fpn_1x_coco.py", "cpu")
    names = {name for name, _ in profiled_modules(model)}
    assert {"backbone", "neck", "rpn_head"} <= names
    for kind in ("bbox", "mask"):
        assert f"roi_head.{kind}_roi_extractor.0.pre_module" in names
        assert f"roi_head.{kind}_roi_extractor.0.post_module" in names
    assert "roi_head.bbox_head.0" in names and "roi_head.mask_iou_head" in names
    assert not any(name.startswith("backbone.") for name in names)


@pytest.mark.slow
def test_profile_leaves_the_model_as_it_was(small_inputs):
    model = build_bench_model(SMOKE.config, "cpu")
    hooks_before = sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())
    profile_model(model, small_inputs[0][0], small_inputs[1][0])
    hooks_after = sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())
    assert hooks_after == hooks_before and "predict" not in vars(model.roi_head)


def test_peak_memory_on_cpu_sees_an_allocation():
    with PeakMemory(torch.device("cpu")) as memory:
        block = torch.ones(64 * 2**20 // 4)  # 64 MiB, touched
        block += 1
    del block
    assert memory.peak_mb >= 32


@pytest.mark.skipif(
    not torch.cuda.is_available() and not REQUIRE_CUDA,
    reason="needs a CUDA device (SBR_REQUIRE_CUDA=1 makes this a failure)",
)
def test_cuda_timing_and_memory(small_inputs):
    from sbr.runners.speed import time_inference

    model = build_bench_model(SMOKE.config, "cuda")
    cuda_batches = small_inputs[0]
    start = time.perf_counter()
    with PeakMemory(torch.device("cuda")) as memory:
        timing = time_inference(model, cuda_batches, 1, 2)
    elapsed = time.perf_counter() - start
    assert timing.device.startswith("cuda")
    assert 0 < 2 / timing.images_per_s < elapsed  # 2 timed images, inside this call
    assert memory.peak_mb > 0  # the model's weights alone are on the device


def test_cli_lists_models():
    result = CliRunner().invoke(main, ["bench", "models", "--list"])
    assert result.exit_code == 0
    assert len(result.output.splitlines()) == len(spec_models()) and "table11/row4" in result.output
