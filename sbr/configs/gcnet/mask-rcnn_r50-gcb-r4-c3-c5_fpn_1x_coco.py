# GC-Net (Mask R-CNN R50-FPN + ContextBlock r4 on c3-c5, plain BN): paper Table 11 row 5.
_base_ = ['mmdet::gcnet/mask-rcnn_r50-gcb-r4-c3-c5_fpn_1x_coco.py']
custom_imports = dict(imports=['sbr.models'], allow_failed_imports=False)
default_scope = 'mmdet'
