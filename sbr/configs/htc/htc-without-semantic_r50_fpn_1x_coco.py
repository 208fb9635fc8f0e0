# HTC without the semantic branch: paper Table 2 row 3, Table 5 row 1, Tables 6-7 row 1,
# Table 11 row 3. mmdet's config unchanged (77,230,846 trainable parameters = 77,230 K):
# its hyper-parameters are those of the authors' 2.x config (RPN allowed_border 0,
# 2000/1000 proposals, u = 0.5/0.6/0.7, stage weights [1, 0.5, 0.25]).
_base_ = ['mmdet::htc/htc-without-semantic_r50_fpn_1x_coco.py']
custom_imports = dict(imports=['sbr.models'], allow_failed_imports=False)
default_scope = 'mmdet'
