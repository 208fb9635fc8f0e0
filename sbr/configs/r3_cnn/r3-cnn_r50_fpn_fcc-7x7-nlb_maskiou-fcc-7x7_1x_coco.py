# Paper Table 7 row 4 with the #Params the paper prints: the Mask IoU branch of
# ./r3-cnn_r50_fpn_fcc-rect-slim-nlb_maskiou-fcc-7x7_1x_coco.py (the authors' config) on the
# 7x7 L2C + NL_b detection head of Table 6 row 5 (exp_5-row_4) instead of the
# rectangular one. The paper's #Params for Table 7 rows 3, 4, 6 and 7 match this
# variant, not the configs its authors link (see ../README.md).
_base_ = ['./r3-cnn_r50_fpn_fcc-rect-slim-nlb_maskiou-fcc-7x7_1x_coco.py']

model = dict(
    roi_head=dict(bbox_head=[
        dict(
            _base_.model.roi_head.bbox_head[0],
            fcc_type='square',
            post_reduce=True)
    ]))
