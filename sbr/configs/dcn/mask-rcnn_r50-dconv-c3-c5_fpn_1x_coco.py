# DCN (Mask R-CNN R50-FPN, deformable convolutions in c3-c5): paper Table 11 row 8.
_base_ = ['mmdet::dcn/mask-rcnn_r50-dconv-c3-c5_fpn_1x_coco.py']
custom_imports = dict(imports=['sbr.models'], allow_failed_imports=False)
default_scope = 'mmdet'
