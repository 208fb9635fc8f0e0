# SBR-CNN + DCN (paper Table 11 row 10; authors' exp_8-row_10_rect): deformable
# convolutions in the 3x3 conv of ResNet stages 2-4 (deform_groups 1), as mmdet's
# dcn/mask-rcnn_r50-dconv-c3-c5, under ./sbr-cnn_r50_fpn_1x_coco.py.
_base_ = ['./sbr-cnn_r50_fpn_1x_coco.py']

model = dict(
    backbone=dict(
        dcn=dict(type='DCN', deform_groups=1, fallback_on_stride=False),
        stage_with_dcn=(False, True, True, True)))
