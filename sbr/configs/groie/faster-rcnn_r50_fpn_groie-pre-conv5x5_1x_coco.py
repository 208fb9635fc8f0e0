# GRoIE Table 8 (pre-processing only): Conv 5x5 (ConvModule, ReLU).
# The post-processing module of ./faster-rcnn_r50_fpn_groie_1x_coco.py is
# disabled and its pre-processing module is replaced by the one under study.
_base_ = ['./faster-rcnn_r50_fpn_groie_1x_coco.py']

model = dict(
    roi_head=dict(
        bbox_roi_extractor=dict(
            post_cfg=None,
            pre_cfg=dict(
                _delete_=True,
                type='ConvModule',
                in_channels=256,
                out_channels=256,
                kernel_size=5,
                padding=2,
                inplace=False))))
