# HTC (without semantic) + DCN: paper Table 11 row 9. mmdet 3.3.0 has no such config:
# the backbone delta of mmdet's dcn/mask-rcnn_r50-dconv-c3-c5 applied to the HTC
# baseline (DCN in the 3x3 conv of stages 2-4, deform_groups 1).
_base_ = ['../htc/htc-without-semantic_r50_fpn_1x_coco.py']

model = dict(
    backbone=dict(
        dcn=dict(type='DCN', deform_groups=1, fallback_on_stride=False),
        stage_with_dcn=(False, True, True, True)))
