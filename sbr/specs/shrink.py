"""Shrink a composed paper model to CPU scale while keeping what an ablation row ablates.

A preset's ``shrink:`` section (the ``mini`` preset) is one generic rule applied to every
trial's composed config, instead of a hand-written small copy of each paper config:

- the backbone becomes a narrow ResNet trained from scratch: ResNet-18 (BasicBlock) at
  ``base_channels`` width, or, where the row's backbone carries deformable convs or
  plugins (GC-Net), which mmdet's BasicBlock does not support, a ResNet-50 at
  ``base_channels_with_plugins`` width, keeping the DCN/plugin layout;
- the neck's input widths follow the new backbone;
- every other channel count in the model (``*channels`` keys: FPN, RPN, RoI extractors,
  GRoIE pre/post modules, bbox/mask/Mask-IoU heads, FCC L2C patterns, non-local blocks)
  is multiplied by ``width / reference_width`` (256 -> 64, 1024 -> 256, FCC 128/64 ->
  32/16). Channel arguments a module leaves at their class default (e.g. the FCC head's
  ``l2c_channels``) are written out first, so they shrink too. Counts below
  ``min_channels`` stay (CondInst's 8-channel dynamic mask head);
- anchor scales, RPN/R-CNN sampler sizes and proposal counts follow the image size.

Loops, heads, alternation, IoU thresholds, loss weights, mask loop, FCC type, non-local
placement, Mask IoU and GRoIE structure are untouched: they are what the tables ablate.

Pure dict transformation: the class defaults come from a callback, so this module imports
neither mmengine nor mmdet (:func:`mmdet_channel_defaults` is the adapter).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

#: ``type name -> {channel argument: default}`` of the class a config dict builds.
DefaultsOf = Callable[[str], Mapping[str, Any]]


@dataclass(frozen=True)
class ShrinkRule:
    """The ``shrink:`` section of a preset (all fields are data in the preset file).

    Attributes:
        width: Channels of the FPN (and of every module that had ``reference_width``).
        reference_width: The paper's FPN width the channel counts are relative to.
        min_channels: Channel counts below this are kept as they are.
        backbone_depth: ResNet depth for plain backbones (BasicBlock).
        base_channels: Stem/first-stage width of that ResNet.
        depth_with_plugins: ResNet depth where the backbone has DCN or plugins.
        base_channels_with_plugins: Its first-stage width.
        anchor_scales: RPN anchor ``scales`` (None: unchanged).
        rpn_samples: RPN sampler size per image (None: unchanged).
        rcnn_samples: R-CNN sampler size per image, every loop/stage (None: unchanged).
        train_proposals: ``(nms_pre, max_per_img)`` of the RPN proposals in training.
        test_proposals: ``(nms_pre, max_per_img)`` of the RPN proposals at test time.
        test_detections: ``max_per_img`` of the R-CNN at test time.
    """

    width: int = 64
    reference_width: int = 256
    min_channels: int = 32
    backbone_depth: int = 18
    base_channels: int = 32
    depth_with_plugins: int = 50
    base_channels_with_plugins: int = 16
    anchor_scales: tuple[int, ...] | None = None
    rpn_samples: int | None = None
    rcnn_samples: int | None = None
    train_proposals: tuple[int, int] | None = None
    test_proposals: tuple[int, int] | None = None
    test_detections: int | None = None

    @property
    def factor(self) -> float:
        """Channel multiplier, ``width / reference_width``."""
        return self.width / self.reference_width

    def identity(self) -> dict[str, Any]:
        """Every field (part of a trial's hash)."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def is_channel_key(key: Any) -> bool:
    """``in_channels``, ``conv_out_channels``, ``l2c_channels``... (not ``num_...``)."""
    return isinstance(key, str) and key.endswith("channels") and not key.startswith("num_")


def scale_channels(value: Any, factor: float, min_channels: int) -> Any:
    """One channel count (or a list/tuple of them) times ``factor``, rounded, at least 1.

    Counts below ``min_channels`` and non-integers are returned unchanged.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return max(1, round(value * factor)) if value >= min_channels else value
    if isinstance(value, (list, tuple)):
        return type(value)(scale_channels(v, factor, min_channels) for v in value)
    return value


def resnet_widths(depth: int, base_channels: int) -> list[int]:
    """Output channels of the four stages of an mmdet ``ResNet``.

    BasicBlock (depth 18/34) has expansion 1, Bottleneck (50/101/152) expansion 4.
    """
    expansion = 1 if depth in (18, 34) else 4
    return [base_channels * expansion * 2**stage for stage in range(4)]


def _has_plugins(backbone: Mapping[str, Any]) -> bool:
    return bool(backbone.get("dcn")) or bool(backbone.get("plugins"))


def shrink_backbone(backbone: MutableMapping[str, Any], rule: ShrinkRule) -> list[int]:
    """Make ``backbone`` (a ResNet dict) the rule's narrow ResNet, from scratch, in place.

    Returns:
        The widths of its four stages (for the neck's ``in_channels``).

    Raises:
        ValueError: If the backbone is not an mmdet ``ResNet`` (no rule for it).
    """
    kind = backbone.get("type")
    if kind not in ("ResNet", "mmdet.ResNet"):
        raise ValueError(f"shrink: no rule for backbone type {kind!r} (only ResNet)")
    if _has_plugins(backbone):
        depth, base = rule.depth_with_plugins, rule.base_channels_with_plugins
    else:
        depth, base = rule.backbone_depth, rule.base_channels
    backbone.update(
        depth=depth,
        base_channels=base,
        init_cfg=None,  # nothing to download: trained from scratch
        frozen_stages=-1,
        norm_eval=False,  # from scratch, BN statistics must adapt
    )
    backbone.pop("stem_channels", None)  # follows base_channels
    return resnet_widths(depth, base)


def _fill_defaults(node: MutableMapping[str, Any], defaults_of: DefaultsOf | None) -> None:
    kind = node.get("type")
    if defaults_of is None or not isinstance(kind, str):
        return
    for key, default in defaults_of(kind).items():
        if is_channel_key(key) and key not in node:
            node[key] = list(default) if isinstance(default, tuple) else default


def scale_tree(node: Any, rule: ShrinkRule, defaults_of: DefaultsOf | None = None) -> None:
    """Scale every channel count below ``node`` in place (class defaults written out first)."""
    if isinstance(node, MutableMapping):
        _fill_defaults(node, defaults_of)
        for key in list(node):
            if is_channel_key(key):
                node[key] = scale_channels(node[key], rule.factor, rule.min_channels)
            else:
                scale_tree(node[key], rule, defaults_of)
    elif isinstance(node, list):
        for item in node:
            scale_tree(item, rule, defaults_of)


def _each(node: Any) -> list[MutableMapping[str, Any]]:
    """A dict, or the dicts of a per-stage list (HTC's ``train_cfg.rcnn``)."""
    if isinstance(node, MutableMapping):
        return [node]
    if isinstance(node, list):
        return [item for item in node if isinstance(item, MutableMapping)]
    return []


def _set_proposals(node: Any, pair: tuple[int, int] | None) -> None:
    if pair is not None and isinstance(node, MutableMapping):
        node["nms_pre"], node["max_per_img"] = pair


def shrink_sampling(model: MutableMapping[str, Any], rule: ShrinkRule) -> None:
    """Anchors, sampler sizes and proposal counts for small images, in place."""
    rpn_head = model.get("rpn_head")
    if rule.anchor_scales is not None and isinstance(rpn_head, MutableMapping):
        anchors = rpn_head.get("anchor_generator")
        if isinstance(anchors, MutableMapping) and "scales" in anchors:
            anchors["scales"] = list(rule.anchor_scales)
    train_cfg = model.get("train_cfg") or {}
    test_cfg = model.get("test_cfg") or {}
    for rpn in _each(train_cfg.get("rpn")):
        if rule.rpn_samples is not None and isinstance(rpn.get("sampler"), MutableMapping):
            rpn["sampler"]["num"] = rule.rpn_samples
    for rcnn in _each(train_cfg.get("rcnn")):
        if rule.rcnn_samples is not None and isinstance(rcnn.get("sampler"), MutableMapping):
            rcnn["sampler"]["num"] = rule.rcnn_samples
    _set_proposals(train_cfg.get("rpn_proposal"), rule.train_proposals)
    _set_proposals(test_cfg.get("rpn"), rule.test_proposals)
    rcnn_test = test_cfg.get("rcnn")
    if rule.test_detections is not None and isinstance(rcnn_test, MutableMapping):
        rcnn_test["max_per_img"] = rule.test_detections


def shrink_model(
    model: MutableMapping[str, Any], rule: ShrinkRule, defaults_of: DefaultsOf | None = None
) -> None:
    """Apply ``rule`` to a composed ``model`` dict in place (see the module docstring).

    Args:
        model: ``cfg.model`` of a composed config.
        rule: The preset's rule.
        defaults_of: Channel-argument defaults of a registered type
            (:func:`mmdet_channel_defaults`); None scales only what the config writes.
    """
    widths = shrink_backbone(model["backbone"], rule)
    for key, node in model.items():
        if key not in ("backbone", "train_cfg", "test_cfg", "data_preprocessor"):
            scale_tree(node, rule, defaults_of)
    neck = model.get("neck")
    for neck_cfg in _each(neck):
        if "in_channels" in neck_cfg:
            neck_cfg["in_channels"] = widths
            break  # the first neck reads the backbone
    shrink_sampling(model, rule)


def mmdet_channel_defaults(type_name: str) -> dict[str, Any]:
    """Defaults of the channel arguments of a class in mmdet's/mmcv's registries (adapter)."""
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules

    import sbr.models  # noqa: F401 - registers sbr's modules (and imports mmdet's)

    register_all_modules(init_default_scope=False)
    try:
        cls = MODELS.get(type_name)
    except Exception:  # noqa: BLE001 - registries raise on scoped names they don't hold
        cls = None
    if cls is None:
        return {}
    return {
        p.name: p.default
        for p in inspect.signature(cls.__init__).parameters.values()
        if is_channel_key(p.name) and p.default is not p.empty and p.default is not None
    }


__all__ = [
    "ShrinkRule",
    "is_channel_key",
    "mmdet_channel_defaults",
    "resnet_widths",
    "scale_channels",
    "scale_tree",
    "shrink_backbone",
    "shrink_model",
    "shrink_sampling",
]
