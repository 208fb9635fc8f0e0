"""Trainable-parameter counts of the shipped model configs, against the paper's #Params.

The paper (Rossi, Karimi, Prati 2022) counts *trainable* parameters (those with
``requires_grad``; the frozen ResNet stem and layer1 are excluded) and prints
them **truncated** to the digits shown: ``44,170 K`` for 44,170,992 and
``37.9 M`` for 37,910,516. :data:`SHIPPED_MODELS` maps every shipped config to the
paper rows it reproduces and to the value the paper prints.

This module imports torch/mmdet/mmengine lazily (inside the functions), and
``import sbr`` does not import it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sbr.engine.config import CONFIG_ROOT, resolve_config_path

if TYPE_CHECKING:
    from mmengine.config import Config
    from torch import nn

#: Config folders that are not model configs of the library (dataset bases, the smoke test).
NON_LIBRARY_DIRS = ("_base_", "smoke")

_PRINTED = re.compile(r"^(?P<int>\d{1,3}(?:,\d{3})*|\d+)(?:\.(?P<frac>\d+))? (?P<unit>[KM])$")
_UNIT_SCALE = {"K": 1_000, "M": 1_000_000}


@dataclass(frozen=True)
class ShippedModel:
    """A shipped config and the paper's #Params for it.

    Attributes:
        config: Path relative to ``sbr/configs`` (e.g. ``'r3_cnn/r3-cnn_r50_fpn_1x_coco.py'``).
        rows: Paper rows this config reproduces, e.g. ``('table2-row4', 'table6-row2')``.
        paper_params: #Params as the paper prints it (most precise of its rows),
            e.g. ``'43,912 K'`` or ``'37.9 M'``; None when the paper gives no count.
        note: One line on what the config is, shown by ``sbr models params``.
    """

    config: str
    rows: tuple[str, ...]
    paper_params: str | None = None
    note: str = ""

    def matches(self, trainable: int) -> bool | None:
        """Whether ``trainable`` truncates to the paper's value (None: nothing to compare)."""
        if self.paper_params is None:
            return None
        return truncate_like(trainable, self.paper_params) == self.paper_params


def _r3(name: str) -> str:
    return f"r3_cnn/r3-cnn_r50_fpn_{name}_1x_coco.py"


_AS_CONFIGURED = "as the authors configured it (37.9 M rect head); paper #Params disagree"
_ALT_HEAD = "alternative: same Mask IoU branch on the 7x7+NL_b head (matches the paper)"

#: Every model config shipped in ``sbr/configs`` (outside ``_base_`` and ``smoke``).
SHIPPED_MODELS: tuple[ShippedModel, ...] = (
    # Table 2 (and the baselines repeated in Tables 3-7 and 11).
    ShippedModel(
        "mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py",
        ("table2-row1", "table3-row1", "table4-row1", "table11-row1"),
        "44,170 K",
        "Mask R-CNN 1x",
    ),
    ShippedModel(
        "mask_rcnn/mask-rcnn_r50_fpn_3x_coco.py", ("table2-row2",), "44,170 K", "Mask R-CNN 3x"
    ),
    ShippedModel(
        "htc/htc-without-semantic_r50_fpn_1x_coco.py",
        ("table2-row3", "table5-row1", "table6-row1", "table7-row1", "table11-row3"),
        "77,230 K",
        "HTC without semantic branch",
    ),
    ShippedModel(
        "r3_cnn/r3-cnn_r50_fpn_1x_coco.py",
        ("table2-row4", "table3-row4", "table4-row4", "table6-row2"),
        "43,912 K",
        "R3-CNN naive (B0): H=1, L_t=3",
    ),
    ShippedModel(
        _r3("h2-aab"),
        ("table2-row5", "table5-row4"),
        "60,604 K",
        "R3-CNN deeper: H=2 'aab'",
    ),
    ShippedModel(
        _r3("h2-aabb-l4"),
        ("table6-row8", "table5-row6"),
        None,
        "H=2 'aabb' L_t=4 (T6 row 8 #Params lost; T5 row 6 = alpha_4 0.4)",
    ),
    # Table 6: FCC detection heads.
    ShippedModel(_r3("fcc-7x7"), ("table6-row3",), "32.2 M", "FCC 7x7"),
    ShippedModel(_r3("fcc-rect"), ("table6-row4",), "32.7 M", "FCC rect (post_reduce)"),
    ShippedModel(_r3("fcc-7x7-nlb"), ("table6-row5",), "38.6 M", "FCC 7x7 + NL_b"),
    ShippedModel(
        _r3("fcc-rect-slim-nlb_no-mask-loop"),
        ("table6-row6",),
        "37.9 M",
        "FCC rect slim + NL_b, with_mask_loop=False (authors)",
    ),
    ShippedModel(_r3("fcc-7x7-nlb-nla"), ("table6-row7",), "39.0 M", "FCC 7x7 + NL_b + NL_a"),
    ShippedModel(_r3("h2-aabb-l4_fcc-7x7"), ("table6-row9",), "37.1 M", "H=2 FCC 7x7"),
    ShippedModel(_r3("h2-aabb-l4_fcc-rect"), ("table6-row10",), "38.3 M", "H=2 FCC rect"),
    ShippedModel(
        _r3("h2-aabb-l4_fcc-7x7-nlb"),
        ("table6-row11", "table7-row8"),
        "50.0 M",
        "H=2 FCC 7x7 + NL_b",
    ),
    ShippedModel(
        _r3("h2-aabb-l4_fcc-rect-nlb"), ("table6-row12",), "51.1 M", "H=2 FCC rect + NL_b"
    ),
    # Table 7: Mask IoU branch.
    ShippedModel(
        _r3("fcc-rect-slim-nlb"), ("table7-row2",), "37.9 M", "FCC rect slim + NL_b (mask loop)"
    ),
    ShippedModel(_r3("fcc-rect-slim-nlb_maskiou"), ("table7-row3",), "54.9 M", _AS_CONFIGURED),
    ShippedModel(
        _r3("fcc-rect-slim-nlb_maskiou-fcc-7x7"), ("table7-row4",), "43.2 M", _AS_CONFIGURED
    ),
    ShippedModel(
        _r3("fcc-rect-nlb_maskiou-fcc-rect"),
        ("table7-row5",),
        "44.3 M",
        "FCC rect + NL_b head, rect FCC Mask IoU",
    ),
    ShippedModel(
        _r3("fcc-rect-slim-nlb_maskiou-fcc-7x7-nlb"), ("table7-row6",), "49.6 M", _AS_CONFIGURED
    ),
    ShippedModel(
        _r3("fcc-rect-slim-nlb_maskiou-fcc-7x7-nlb-nla"),
        ("table7-row7",),
        "50.0 M",
        _AS_CONFIGURED,
    ),
    ShippedModel(_r3("fcc-7x7-nlb_maskiou"), ("table7-row3",), "54.9 M", _ALT_HEAD),
    ShippedModel(_r3("fcc-7x7-nlb_maskiou-fcc-7x7"), ("table7-row4",), "43.2 M", _ALT_HEAD),
    ShippedModel(_r3("fcc-7x7-nlb_maskiou-fcc-7x7-nlb"), ("table7-row6",), "49.6 M", _ALT_HEAD),
    ShippedModel(_r3("fcc-7x7-nlb_maskiou-fcc-7x7-nlb-nla"), ("table7-row7",), "50.0 M", _ALT_HEAD),
    ShippedModel(
        _r3("h2-aabb-l4_fcc-7x7-nlb_maskiou"), ("table7-row9",), "66.3 M", "H=2 + Mask IoU"
    ),
    ShippedModel(
        _r3("h2-aabb-l4_fcc-7x7-nlb_maskiou-fcc-7x7"),
        ("table7-row10",),
        "54.6 M",
        "H=2 + FCC Mask IoU 7x7",
    ),
    ShippedModel(
        _r3("h2-aabb-l4_fcc-7x7-nlb_maskiou-fcc-7x7-nlb"),
        ("table7-row11",),
        "61.0 M",
        "H=2 + FCC Mask IoU 7x7 + NL_b",
    ),
    ShippedModel(
        _r3("h2-aabb-l4_fcc-7x7-nlb_maskiou-fcc-7x7-nlb-nla"),
        ("table7-row12",),
        "61.4 M",
        "H=2 + FCC Mask IoU 7x7 + NL_b + NL_a",
    ),
    # Tables 8-10: GRoIE on Faster R-CNN (no #Params in the paper).
    ShippedModel(
        "faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py",
        ("table8-row1", "table9-row1", "table10-row1"),
        None,
        "Faster R-CNN baseline",
    ),
    *(
        ShippedModel(
            f"groie/faster-rcnn_r50_fpn_groie-{role}-{module}_1x_coco.py",
            (f"table{table}-row{row}",),
            None,
            f"GRoIE {role} {module}",
        )
        for role, table in (("pre", 8), ("post", 9))
        for row, module in enumerate(
            ("conv3x3", "conv5x5", "conv7x7", "conv7x3-3x7", "nl1x1", "nl7x7"), start=2
        )
    ),
    ShippedModel(
        "groie/faster-rcnn_r50_fpn_groie_1x_coco.py",
        ("table10-row2",),
        None,
        "GRoIE: pre conv 7x7 + post NL 7x7",
    ),
    # Table 11: SBR-CNN and the other architectures.
    ShippedModel(
        "condinst/condinst_r50_fpn_ms-poly-90k_coco_instance.py",
        ("table11-row2",),
        None,
        "CondInst",
    ),
    ShippedModel("sbr_cnn/sbr-cnn_r50_fpn_1x_coco.py", ("table11-row4",), None, "SBR-CNN"),
    ShippedModel(
        "gcnet/mask-rcnn_r50-gcb-r4-c3-c5_fpn_1x_coco.py", ("table11-row5",), None, "GC-Net"
    ),
    ShippedModel(
        "gcnet/htc-without-semantic_r50-syncbn-gcb-r4-c3-c5_fpn_1x_coco.py",
        ("table11-row6",),
        None,
        "HTC + GC-Net",
    ),
    ShippedModel(
        "sbr_cnn/sbr-cnn_r50-syncbn-gcb-r4-c3-c5_fpn_1x_coco.py",
        ("table11-row7",),
        None,
        "SBR-CNN + GC-Net",
    ),
    ShippedModel("dcn/mask-rcnn_r50-dconv-c3-c5_fpn_1x_coco.py", ("table11-row8",), None, "DCN"),
    ShippedModel(
        "dcn/htc-without-semantic_r50-dconv-c3-c5_fpn_1x_coco.py",
        ("table11-row9",),
        None,
        "HTC + DCN",
    ),
    ShippedModel(
        "sbr_cnn/sbr-cnn_r50-dconv-c3-c5_fpn_1x_coco.py", ("table11-row10",), None, "SBR-CNN + DCN"
    ),
)


@dataclass(frozen=True)
class ConfigVariant:
    """A paper row that is a shipped config plus dotted overrides (no file of its own).

    Attributes:
        row: Paper row id, e.g. ``'table3-row2'``.
        config: Base config, relative to ``sbr/configs``.
        options: Overrides as ``Config.merge_from_dict`` takes them.
    """

    row: str
    config: str
    options: Mapping[str, Any]


_NAIVE = "r3_cnn/r3-cnn_r50_fpn_1x_coco.py"
_DEEPER = _r3("h2-aab")
_AABB = _r3("h2-aabb-l4")
_RH = "model.roi_head."

#: Rows of Tables 3, 4 and 5 written as overrides of the naive / deeper / 'aabb' configs.
#: Parameter counts do not change with loops or alternation, so they have no #Params.
PAPER_VARIANTS: tuple[ConfigVariant, ...] = (
    ConfigVariant(
        "table3-row2",
        _NAIVE,
        {f"{_RH}num_stages": 1, f"{_RH}stage_loss_weights": [1], f"{_RH}loop_iou_thrs": [0.5]},
    ),
    ConfigVariant(
        "table3-row3",
        _NAIVE,
        {
            f"{_RH}num_stages": 2,
            f"{_RH}stage_loss_weights": [1, 0.75],
            f"{_RH}loop_iou_thrs": [0.5, 0.6],
        },
    ),
    ConfigVariant(
        "table3-row5",
        _NAIVE,
        {
            f"{_RH}num_stages": 4,
            f"{_RH}stage_loss_weights": [1, 0.75, 0.5, 0.3],
            f"{_RH}loop_iou_thrs": [0.5, 0.6, 0.7, 0.8],
        },
    ),
    *(
        ConfigVariant(f"table4-row{row}", _NAIVE, {f"{_RH}num_stages_test": loops})
        for row, loops in ((2, 1), (3, 2), (5, 4), (6, 5))
    ),
    ConfigVariant(
        "table5-row2",
        _DEEPER,
        {
            f"{_RH}num_stages": 2,
            f"{_RH}stages": "ab",
            f"{_RH}stage_loss_weights": [1, 0.75],
            f"{_RH}loop_iou_thrs": [0.5, 0.6],
        },
    ),
    ConfigVariant("table5-row3", _DEEPER, {f"{_RH}stages": "abb"}),
    ConfigVariant("table5-row5", _DEEPER, {f"{_RH}stages": "aba"}),
    ConfigVariant("table5-row6", _AABB, {f"{_RH}stage_loss_weights": [1, 0.75, 0.5, 0.4]}),
    ConfigVariant(
        "table5-row7",
        _AABB,
        {f"{_RH}stages": "abab", f"{_RH}stage_loss_weights": [1, 0.75, 0.5, 0.4]},
    ),
    ConfigVariant(
        "table5-row8",
        _DEEPER,
        {
            f"{_RH}num_stages": 5,
            f"{_RH}stages": "aabbb",
            f"{_RH}stage_loss_weights": [1, 0.8, 0.6, 0.5, 0.4],
            f"{_RH}loop_iou_thrs": [0.5, 0.6, 0.7, 0.75, 0.8],
            # The authors trained this row with 1 image per GPU (lr unchanged).
            "train_dataloader.batch_size": 1,
        },
    ),
)


def truncate_like(count: int, printed: str) -> str:
    """Format ``count`` the way the paper printed a #Params value: truncated, same digits.

    Args:
        count: A parameter count.
        printed: A value as the paper prints it: ``'44,170 K'``, ``'37.9 M'``...

    Returns:
        ``count`` truncated (not rounded) to the unit and decimals of ``printed``:
        ``truncate_like(44_170_992, '44,170 K') == '44,170 K'``,
        ``truncate_like(54_250_820, '54.9 M') == '54.2 M'``.

    Raises:
        ValueError: If ``printed`` is not ``<digits>[.<digits>] K|M`` or ``count`` < 0.
    """
    match = _PRINTED.match(printed)
    if match is None:
        raise ValueError(f"printed must look like '44,170 K' or '37.9 M', got {printed!r}")
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    decimals = len(match["frac"] or "")
    steps = count * 10**decimals // _UNIT_SCALE[match["unit"]]
    whole, frac = divmod(steps, 10**decimals)
    whole_text = f"{whole:,}" if "," in match["int"] else str(whole)
    frac_text = f".{frac:0{decimals}d}" if decimals else ""
    return f"{whole_text}{frac_text} {match['unit']}"


def count_trainable(model: nn.Module) -> int:
    """Number of trainable parameters (``requires_grad``), as the paper counts them.

    Args:
        model: Any torch module.

    Returns:
        The sum of ``numel()`` over the parameters with ``requires_grad``; shared
        parameters are counted once.
    """
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def shipped_config_files() -> list[str]:
    """Every model config file under ``sbr/configs`` (relative paths, sorted)."""
    return sorted(
        str(path.relative_to(CONFIG_ROOT))
        for path in CONFIG_ROOT.rglob("*.py")
        if path.relative_to(CONFIG_ROOT).parts[0] not in NON_LIBRARY_DIRS
    )


def strip_pretrained(cfg: Any) -> Any:
    """Remove every ``init_cfg`` of type ``Pretrained`` from a (nested) model config.

    Works in place on dicts/lists and returns ``cfg``, so that building never
    downloads a checkpoint.
    """
    if isinstance(cfg, Mapping):
        init = cfg.get("init_cfg")
        if isinstance(init, Mapping) and init.get("type") == "Pretrained":
            cfg["init_cfg"] = None
        elif isinstance(init, list):
            cfg["init_cfg"] = [c for c in init if c.get("type") != "Pretrained"] or None
        for value in cfg.values():
            strip_pretrained(value)
    elif isinstance(cfg, (list, tuple)):
        for value in cfg:
            strip_pretrained(value)
    return cfg


def load_model_config(config: str | Path, options: Mapping[str, Any] | None = None) -> Config:
    """Load a config file and merge dotted ``options`` into it.

    Args:
        config: Config path, absolute or relative to ``sbr/configs``.
        options: Overrides such as ``{'model.roi_head.num_stages': 4}``.
    """
    from mmengine.config import Config

    cfg = Config.fromfile(str(resolve_config_path(config)))
    if options:
        cfg.merge_from_dict(dict(options))
    return cfg


def build_model_from_config(
    config: str | Path, options: Mapping[str, Any] | None = None
) -> nn.Module:
    """Build a config's model on the CPU, without pretrained weights.

    Every ``Pretrained`` ``init_cfg`` is removed and ``init_weights`` is not called,
    so nothing is downloaded; the parameters keep torch's default initialisation.

    Args:
        config: Config path, absolute or relative to ``sbr/configs``.
        options: Optional dotted overrides merged into the config first.

    Returns:
        The detector (an ``nn.Module`` on the CPU).
    """
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules

    import sbr.models  # noqa: F401  (registers sbr's components)

    register_all_modules(init_default_scope=True)
    cfg = load_model_config(config, options)
    model_cfg = strip_pretrained(cfg.model)
    return MODELS.build(model_cfg)


@dataclass(frozen=True)
class ModelSummary:
    """What :func:`summarize_config` measured on a built model."""

    detector: str
    roi_head: str | None
    trainable: int
    total: int


def summarize_config(config: str | Path) -> ModelSummary:
    """Build ``config`` (see :func:`build_model_from_config`) and count its parameters.

    Cached per resolved config file, so a process that reports many configs (or a
    test session) builds each one once.
    """
    return _summarize(str(resolve_config_path(config)))


@functools.cache
def _summarize(path: str) -> ModelSummary:
    model = build_model_from_config(path)
    roi_head = getattr(model, "roi_head", None)
    return ModelSummary(
        detector=type(model).__name__,
        roi_head=None if roi_head is None else type(roi_head).__name__,
        trainable=count_trainable(model),
        total=sum(p.numel() for p in model.parameters()),
    )


def shipped_model(config: str) -> ShippedModel | None:
    """Registry entry of a config (relative path under ``sbr/configs``), if any."""
    for entry in SHIPPED_MODELS:
        if entry.config == config:
            return entry
    return None


def params_report(configs: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Trainable parameters of configs next to the paper's #Params.

    Args:
        configs: Config paths (absolute or relative to ``sbr/configs``); defaults to
            every entry of :data:`SHIPPED_MODELS`.

    Returns:
        One dict per config with keys ``config``, ``rows``, ``trainable``,
        ``paper`` (as printed, or None), ``truncated`` (the count printed like the
        paper's value, or None), ``match`` (True/False, None when the paper has no
        value) and ``note``.
    """
    names = [entry.config for entry in SHIPPED_MODELS] if configs is None else list(configs)
    report = []
    for name in names:
        path = resolve_config_path(name)
        relative = _relative_to_root(path)
        entry = shipped_model(relative) if relative else None
        trainable = summarize_config(path).trainable
        paper = entry.paper_params if entry else None
        report.append(
            dict(
                config=relative or str(path),
                rows=list(entry.rows) if entry else [],
                trainable=trainable,
                paper=paper,
                truncated=None if paper is None else truncate_like(trainable, paper),
                match=entry.matches(trainable) if entry else None,
                note=entry.note if entry else "",
            )
        )
    return report


def _relative_to_root(path: Path) -> str | None:
    try:
        return str(path.relative_to(CONFIG_ROOT))
    except ValueError:
        return None
