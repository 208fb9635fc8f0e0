# CondInst R50-FPN: paper Table 11 row 2.
# The paper ran the authors' AdelaiDet code (CondInst "MS_R_50_1x": 90k iterations at
# batch 16 with multi-scale training, lr 0.01). mmdet 3.3.0's port with the same
# schedule is used unchanged; it is the only model of Table 11 not trained with the
# common 12-epoch single-scale recipe, as in the paper.
_base_ = ['mmdet::condinst/condinst_r50_fpn_ms-poly-90k_coco_instance.py']
custom_imports = dict(imports=['sbr.models'], allow_failed_imports=False)
default_scope = 'mmdet'
