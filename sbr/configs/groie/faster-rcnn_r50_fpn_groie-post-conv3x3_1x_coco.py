# GRoIE Table 9 (post-processing only): Conv 3x3 (ConvModule, ReLU).
# The pre-processing module of ./faster-rcnn_r50_fpn_groie_1x_coco.py is
# disabled and its post-processing module is replaced by the one under study.
_base_ = ['./faster-rcnn_r50_fpn_groie_1x_coco.py']

model = dict(
    roi_head=dict(
        bbox_roi_extractor=dict(
            pre_cfg=None,
            post_cfg=dict(
                _delete_=True,
                type='ConvModule',
                in_channels=256,
                out_channels=256,
                kernel_size=3,
                padding=1,
                inplace=False))))
