# HTC (without semantic) + GC-Net: paper Table 11 row 6. mmdet 3.3.0 has no such
# config: the backbone delta of mmdet's gcnet/mask-rcnn_r50-syncbn-gcb-r4-c3-c5
# (SyncBN, BN statistics updated, ContextBlock ratio 1/4 after conv3 of stages 2-4)
# applied to the HTC baseline. SyncBN needs a distributed launch; on one process use
# model.backbone.norm_cfg.type=BN.
_base_ = ['../htc/htc-without-semantic_r50_fpn_1x_coco.py']

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
