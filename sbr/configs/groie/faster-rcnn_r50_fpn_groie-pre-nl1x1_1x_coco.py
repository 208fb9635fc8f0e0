# GRoIE Table 8 (pre-processing only): original non-local block (1x1 kernels).
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
                kernel_size=1,
                padding=0))))
