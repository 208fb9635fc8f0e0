# Faster R-CNN R50-FPN 1x: the baseline of the GRoIE ablation (paper Tables 8-10).
# mmdet's config unchanged; the GRoIE variants in ../groie only replace its
# bbox RoI extractor.
_base_ = ['mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py']
custom_imports = dict(imports=['sbr.models'], allow_failed_imports=False)
default_scope = 'mmdet'
