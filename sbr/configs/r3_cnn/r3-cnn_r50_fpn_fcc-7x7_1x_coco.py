# R3-CNN with an FCC detection head, L2C with 7x7 kernels (paper Table 6 row 3,
# Fig. 4(b); authors' exp_5-row_3). The two FC layers of head a become convolutions
# 256->128->64 (7x7, padding 3), fc_cls/fc_reg read 64*7*7 features.
# Every FCC knob is spelled out here so that the other FCC rows are one-line
# deltas (and ablation overrides such as model.roi_head.bbox_head.0.nl_before=True):
#   fcc_type 'square' (7x7) | 'rect' (7x3 -> 3x7 pairs), post_reduce (rect channel
#   pattern: True = 256->256->128, 128->128->64 as paper Table 1; False =
#   256->128->128, 128->64->64), nl_before / nl_after (7x7 non-local NL_b / NL_a).
_base_ = ['./r3-cnn_r50_fpn_1x_coco.py']

__fc = _base_.model.roi_head.bbox_head[0]
model = dict(
    roi_head=dict(bbox_head=[
        dict(
            type='SBRFCCBBoxHead',
            fcc_type='square',
            post_reduce=True,
            nl_before=False,
            nl_after=False,
            nl_kernel_size=7,
            in_channels=256,
            roi_feat_size=7,
            num_classes=80,
            reg_class_agnostic=True,
            bbox_coder=__fc.bbox_coder,
            loss_cls=__fc.loss_cls,
            loss_bbox=__fc.loss_bbox)
    ]))
