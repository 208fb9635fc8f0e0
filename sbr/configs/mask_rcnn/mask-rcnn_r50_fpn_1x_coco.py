# Mask R-CNN R50-FPN 1x: paper Table 2 row 1, Tables 3-4 row 1, Table 11 row 1.
# mmdet's own config unchanged (44,170,992 trainable parameters = the paper's
# 44,170 K). Note: its localisation loss is L1, not the SmoothL1 of HTC/R3-CNN, as
# in the authors' mmdet 2.x baseline.
_base_ = ['mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py']
custom_imports = dict(imports=['sbr.models'], allow_failed_imports=False)
default_scope = 'mmdet'

# Record the IoU of the training RoIs with their best ground truth (paper Fig. 3a):
# the same assignments as MaxIoUAssigner, plus a histogram written by the hook.
model = dict(train_cfg=dict(rcnn=dict(assigner=dict(type='SBRRecordingMaxIoUAssigner'))))
custom_hooks = [dict(type='SBRIoUHistogramHook')]
