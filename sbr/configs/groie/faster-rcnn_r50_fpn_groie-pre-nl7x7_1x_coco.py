# GRoIE Table 8 (pre-processing only): non-local block with 7x7 kernels (the authors'
# README calls it 3x3; the config uses 7).
# The post-processing module of ./faster-rcnn_r50_fpn_groie_1x_coco.py is
# disabled and its pre-processing module is replaced by the one under study.
_base_ = ['./faster-rcnn_r50_fpn_groie_1x_coco.py']

model = dict(
    roi_head=dict(
        bbox_roi_extractor=dict(
            post_cfg=None,
            pre_cfg=dict(
                _delete_=True,
                type='SBRNonLocal2d',
                in_channels=256,
                reduction=2,
                use_scale=True,
                kernel_size=7,
                padding=3))))
