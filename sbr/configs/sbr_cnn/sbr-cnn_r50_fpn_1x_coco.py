# SBR-CNN (paper Table 11 row 4; authors' exp_8-row_3_4_rect).
# = R3-CNN, H=1, L_t = L_e = 3, u = 0.5/0.6/0.7, alpha = [1, 0.75, 0.5], mask loop
#   (../r3_cnn/r3-cnn_r50_fpn_1x_coco.py)
# + FCC detection head: rectangular L2C (post_reduce=False) with a 7x7 non-local
#   block before it (Table 6 row 6 / Table 7 row 2)
# + FCC Mask IoU branch with 7x7 L2C (Table 7 row 4)
# + GRoIE (Table 10: sum over P2-P5, pre Conv 7x7, post non-local 7x7, RoIAlign
#   sampling_ratio 2) as BOTH the bbox (7x7) and the mask (14x14) RoI extractor.
# 61,800,708 trainable parameters (not reported by the paper).
_base_ = ['../r3_cnn/r3-cnn_r50_fpn_fcc-rect-slim-nlb_maskiou-fcc-7x7_1x_coco.py']

__groie = dict(
    _delete_=True,
    type='GenericRoIExtractor',
    aggregation='sum',
    roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=2),
    out_channels=256,
    featmap_strides=[4, 8, 16, 32],
    pre_cfg=dict(
        type='ConvModule',
        in_channels=256,
        out_channels=256,
        kernel_size=7,
        padding=3,
        inplace=False),
    post_cfg=dict(
        type='SBRNonLocal2d',
        in_channels=256,
        reduction=2,
        use_scale=True,
        kernel_size=7,
        padding=3))
model = dict(
    roi_head=dict(
        bbox_roi_extractor=__groie,
        mask_roi_extractor=dict(
            __groie,
            roi_layer=dict(type='RoIAlign', output_size=14, sampling_ratio=2))))
