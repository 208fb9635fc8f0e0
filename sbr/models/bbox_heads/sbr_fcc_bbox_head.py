"""FCC (Fully Connected Channels) detection head of SBR-CNN (paper Sec. 3.2, Fig. 4(b)-(e))."""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn as nn
from mmcv.cnn import ConvModule
from mmdet.models.roi_heads.bbox_heads import ConvFCBBoxHead
from mmdet.registry import MODELS
from torch import Tensor

from ..layers.sbr_non_local2d import SBRNonLocal2d

FCC_TYPES = ("square", "rect")
#: (kernel, padding) of the two convolutions of one rectangular pair: 7x7 -> 3x7 -> 7x7.
RECT_PAIR = (((7, 3), (1, 1)), ((3, 7), (3, 3)))
SQUARE_KERNEL = ((7, 7), (3, 3))


def l2c_conv_specs(
    in_channels: int, fcc_type: str, post_reduce: bool = True, channels: Sequence[int] = (128, 64)
) -> list[tuple[int, int, tuple[int, int], tuple[int, int]]]:
    """Describe the L2C convolutions (the two "fc" layers turned into convolutions).

    * ``'square'``: 7x7/pad 3 convs ``in -> c1 -> c2`` (paper Table 1 conv1, conv2).
    * ``'rect'``: each square conv becomes a (7, 3)/pad 1 then (3, 7)/pad 3 pair
      (7x7 -> 3x7 -> 7x7). ``post_reduce=True`` keeps the width in the first conv of
      a pair and reduces in the second (``in -> in -> c1``, ``c1 -> c1 -> c2``, Table 1
      conv1a/1b/2a/2b); ``post_reduce=False`` reduces first (``in -> c1 -> c1``,
      ``c1 -> c2 -> c2``, the final SBR-CNN head).

    Args:
        in_channels: Input channels (256 in the paper).
        fcc_type: ``'square'`` or ``'rect'``.
        post_reduce: Channel pattern of the rectangular pairs (ignored for square).
        channels: Output channels ``(c1, c2)`` of the two stages. Defaults to (128, 64).

    Returns:
        list: ``(in_ch, out_ch, kernel, padding)`` per convolution, in order.

    Raises:
        ValueError: on an unknown ``fcc_type`` or a ``channels`` that is not 2 ints.
    """
    if fcc_type not in FCC_TYPES:
        raise ValueError(f"fcc_type must be one of {FCC_TYPES}, got {fcc_type!r}")
    if len(channels) != 2 or any(int(c) < 1 for c in channels):
        raise ValueError(f"channels must be two positive ints, got {channels!r}")
    specs, last = [], in_channels
    for out in channels:
        if fcc_type == "square":
            specs.append((last, out, *SQUARE_KERNEL))
        else:
            mid = last if post_reduce else out
            (k1, p1), (k2, p2) = RECT_PAIR
            specs += [(last, mid, k1, p1), (mid, out, k2, p2)]
        last = out
    return specs


def build_fcc_layers(
    in_channels: int,
    fcc_type: str,
    post_reduce: bool = True,
    channels: Sequence[int] = (128, 64),
    nl_before: bool = False,
    nl_after: bool = False,
    nl_kernel_size: int = 7,
    conv_cfg: dict | None = None,
    norm_cfg: dict | None = None,
) -> nn.ModuleList:
    """Build ``[NL_b] + L2C convs + [NL_a]`` as a ModuleList.

    Convolutions are ConvModules (conv + bias + ReLU unless ``norm_cfg``); the
    non-local blocks are :class:`SBRNonLocal2d` (reduction 2, use_scale, kernel
    ``nl_kernel_size`` with "same" padding) on ``in_channels`` (NL_b) and on
    ``channels[-1]`` (NL_a). Every layer keeps the spatial size.

    Returns:
        nn.ModuleList: layers in forward order.
    """
    layers = nn.ModuleList()
    if nl_before:
        layers.append(_non_local(in_channels, nl_kernel_size))
    for in_ch, out_ch, kernel, padding in l2c_conv_specs(
        in_channels, fcc_type, post_reduce, channels
    ):
        layers.append(
            ConvModule(in_ch, out_ch, kernel, padding=padding, conv_cfg=conv_cfg, norm_cfg=norm_cfg)
        )
    if nl_after:
        layers.append(_non_local(channels[-1], nl_kernel_size))
    return layers


def _non_local(channels: int, kernel_size: int) -> SBRNonLocal2d:
    return SBRNonLocal2d(
        channels,
        reduction=2,
        use_scale=True,
        kernel_size=kernel_size,
        padding=(kernel_size - 1) // 2,
    )


def _predictor_init_cfg(with_cls: bool, with_reg: bool) -> list[dict]:
    """Init only the predictors, as mmdet's BBoxHead default (no Xavier on shared_fcs)."""
    cfg = []
    if with_cls:
        cfg.append(dict(type="Normal", std=0.01, override=dict(name="fc_cls")))
    if with_reg:
        cfg.append(dict(type="Normal", std=0.001, override=dict(name="fc_reg")))
    return cfg


_FIXED_BRANCH_KEYS = (
    "num_shared_convs",
    "num_shared_fcs",
    "num_cls_convs",
    "num_cls_fcs",
    "num_reg_convs",
    "num_reg_fcs",
)


@MODELS.register_module()
class SBRFCCBBoxHead(ConvFCBBoxHead):
    r"""Detection head with the two shared FC layers replaced by convolutions (L2C).

    .. code-block:: none

        RoI feats (N, C, 7, 7) -> [NL_b] -> L2C convs -> [NL_a] -> flatten (N, c2*7*7)
                                                                   |-> fc_cls
                                                                   \-> fc_reg

    Each element of ``shared_fcs`` (convs and non-local blocks) is followed by an
    extra non-inplace ReLU, as in the authors' code (so the non-local residual output
    is rectified). With the paper's sizes, ``fc_cls``/``fc_reg`` read 64*7*7 = 3136
    features. Only ``fc_cls`` (N(0, 0.01)) and ``fc_reg`` (N(0, 0.001)) are
    re-initialised by ``init_weights``: the convolutions keep ConvModule's Kaiming
    init and the non-local blocks their own (zero ``conv_out``). mmdet's default
    Xavier override on ``shared_fcs`` is not used because it would overwrite both.

    Args:
        fcc_type: ``'square'`` (7x7 convs, Fig. 4(b)) or ``'rect'`` (7x3 -> 3x7
            pairs, Fig. 4(c)). Defaults to 'square'.
        post_reduce: Channel pattern of the rectangular pairs, see
            :func:`l2c_conv_specs`. Defaults to True (paper Table 1).
        nl_before: Add a non-local block on the input (NL_b, Fig. 4(d)/(e)).
        nl_after: Add a non-local block after the L2C (NL_a).
        nl_kernel_size: Kernel of the non-local convolutions. Defaults to 7.
        l2c_channels: Output channels of the two L2C stages. Defaults to (128, 64).
        init_cfg: Defaults to Normal init of ``fc_cls``/``fc_reg`` only.
        **kwargs: :class:`ConvFCBBoxHead`/:class:`BBoxHead` arguments (``in_channels``,
            ``roi_feat_size``, ``num_classes``, ``reg_class_agnostic``, ``bbox_coder``,
            losses, ``conv_cfg``, ``norm_cfg``...). The branch layout
            (``num_*_convs``/``num_*_fcs``) is fixed by this head and may not be given.
    """

    def __init__(
        self,
        fcc_type: str = "square",
        post_reduce: bool = True,
        nl_before: bool = False,
        nl_after: bool = False,
        nl_kernel_size: int = 7,
        l2c_channels: Sequence[int] = (128, 64),
        init_cfg: dict | list[dict] | None = None,
        **kwargs,
    ) -> None:
        l2c_conv_specs(1, fcc_type, post_reduce, l2c_channels)  # validates early
        given = [key for key in _FIXED_BRANCH_KEYS if key in kwargs]
        if given:
            raise ValueError(f"SBRFCCBBoxHead fixes the branch layout; do not pass {given}")
        if kwargs.get("with_avg_pool", False):
            raise ValueError("with_avg_pool must be False: the L2C convs need the RoI map")
        # Read by _add_conv_fc_branch, which the parent constructor calls.
        self.fcc_type = fcc_type
        self.post_reduce = post_reduce
        self.nl_before = nl_before
        self.nl_after = nl_after
        self.nl_kernel_size = nl_kernel_size
        self.l2c_channels = tuple(int(c) for c in l2c_channels)
        if init_cfg is None:
            init_cfg = _predictor_init_cfg(
                kwargs.get("with_cls", True), kwargs.get("with_reg", True)
            )
        super().__init__(
            num_shared_convs=0,
            num_shared_fcs=2,
            num_cls_convs=0,
            num_cls_fcs=0,
            num_reg_convs=0,
            num_reg_fcs=0,
            init_cfg=init_cfg,
            **kwargs,
        )
        self.extra_relu = nn.ReLU(inplace=False)

    def _add_conv_fc_branch(
        self,
        num_branch_convs: int,
        num_branch_fcs: int,
        in_channels: int,
        is_shared: bool = False,
    ) -> tuple:
        """Shared branch = FCC layers; the (empty) cls/reg branches are mmdet's."""
        if not is_shared:
            return super()._add_conv_fc_branch(
                num_branch_convs, num_branch_fcs, in_channels, is_shared
            )
        layers = build_fcc_layers(
            in_channels,
            self.fcc_type,
            self.post_reduce,
            self.l2c_channels,
            self.nl_before,
            self.nl_after,
            self.nl_kernel_size,
            conv_cfg=self.conv_cfg,
            norm_cfg=self.norm_cfg,
        )
        return nn.ModuleList(), layers, self.l2c_channels[-1] * self.roi_feat_area

    def forward(self, x: Tensor) -> tuple[Tensor | None, Tensor | None]:
        """Forward RoI features.

        Args:
            x (Tensor): RoI features, shape (N, in_channels, S, S) with S =
                ``roi_feat_size``; N may be 0.

        Returns:
            tuple: ``cls_score`` (N, num_classes + 1) and ``bbox_pred`` (N, 4) when
            class-agnostic else (N, 4 * num_classes); ``None`` for a disabled branch.
        """
        for layer in self.shared_fcs:
            x = self.extra_relu(layer(x))
        x = x.flatten(1)
        cls_score = self.fc_cls(x) if self.with_cls else None
        bbox_pred = self.fc_reg(x) if self.with_reg else None
        return cls_score, bbox_pred
