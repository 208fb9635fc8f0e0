# Faster R-CNN R50-FPN + GRoIE (paper Table 10, "all-v1" of the authors).
# The bbox RoI extractor pools every RoI from all four FPN levels (RoIAlign
# sampling_ratio 2, as the authors), runs ONE shared pre-processing module on each
# pooled map, sums them, and post-processes the sum:
#   pre  = Conv 7x7 (ConvModule 256->256, ReLU; best of Table 8)
#   post = non-local block with 7x7 kernels (best of Table 9)
# The one-module variants of Tables 8-9 inherit this file and swap pre_cfg/post_cfg.
_base_ = ['../faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py']

model = dict(
    roi_head=dict(
        bbox_roi_extractor=dict(
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
                padding=3))))
