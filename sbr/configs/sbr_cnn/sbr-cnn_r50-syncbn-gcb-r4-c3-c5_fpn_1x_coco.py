# SBR-CNN + GC-Net (paper Table 11 row 7; authors' exp_8-row_7_rect): the backbone
# of mmdet's gcnet/mask-rcnn_r50-syncbn-gcb-r4-c3-c5 (SyncBN, BN statistics updated,
# ContextBlock ratio 1/4 after conv3 of stages 2-4) under ./sbr-cnn_r50_fpn_1x_coco.py.
# SyncBN needs a distributed launch; on one process use model.backbone.norm_cfg.type=BN.
_base_ = ['./sbr-cnn_r50_fpn_1x_coco.py']

model = dict(
    backbone=dict(
        norm_cfg=dict(type='SyncBN', requires_grad=True),
        norm_eval=False,
        plugins=[
            dict(
                cfg=dict(type='ContextBlock', ratio=1. / 4),
                stages=(False, True, True, True),
                position='after_conv3')
        ]))
