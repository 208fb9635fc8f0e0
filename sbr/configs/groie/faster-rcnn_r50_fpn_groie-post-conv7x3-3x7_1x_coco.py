# GRoIE Table 9 (post-processing only): Conv 7x3 -> 3x7 (two ConvModules; the 7x3 one
# with padding 1 gives a 3x7 map, the 3x7 one with padding 3 restores 7x7, as the
# authors' code). mmcv's build_plugin_layer takes one dict, so the pair is wrapped in
# SBRSequential (the authors' list config could not be built).
# The pre-processing module of ./faster-rcnn_r50_fpn_groie_1x_coco.py is
# disabled and its post-processing module is replaced by the one under study.
_base_ = ['./faster-rcnn_r50_fpn_groie_1x_coco.py']

model = dict(
    roi_head=dict(
        bbox_roi_extractor=dict(
            pre_cfg=None,
            post_cfg=dict(
                _delete_=True,
                type='SBRSequential',
                layers=[
                    dict(
                        type='ConvModule',
                        in_channels=256,
                        out_channels=256,
                        kernel_size=(7, 3),
                        padding=1,
                        inplace=False),
                    dict(
                        type='ConvModule',
                        in_channels=256,
                        out_channels=256,
                        kernel_size=(3, 7),
                        padding=3,
                        inplace=False)
                ]))))
