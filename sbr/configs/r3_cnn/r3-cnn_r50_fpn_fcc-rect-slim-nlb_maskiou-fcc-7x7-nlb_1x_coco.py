# Paper Table 7 row 6 as configured (exp_6-row_5_rect): FCC Mask IoU branch with a
# 7x7 non-local block before its L2C. 48,954,500 trainable parameters; the paper's
# 49.6 M is the 7x7 + NL_b detection-head variant (same name with fcc-7x7-nlb).
_base_ = ['./r3-cnn_r50_fpn_fcc-rect-slim-nlb_maskiou-fcc-7x7_1x_coco.py']

model = dict(roi_head=dict(mask_iou_head=dict(nl_before=True)))
