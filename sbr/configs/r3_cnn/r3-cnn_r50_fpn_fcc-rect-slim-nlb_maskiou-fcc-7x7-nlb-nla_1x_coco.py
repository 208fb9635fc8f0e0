# Paper Table 7 row 7 as configured (exp_6-row_6_rect): FCC Mask IoU branch with 7x7
# non-local blocks before and after its L2C. 49,356,068 trainable parameters; the
# paper's 50.0 M is the 7x7 + NL_b detection-head variant (same name with
# fcc-7x7-nlb).
_base_ = ['./r3-cnn_r50_fpn_fcc-rect-slim-nlb_maskiou-fcc-7x7_1x_coco.py']

model = dict(roi_head=dict(mask_iou_head=dict(nl_before=True, nl_after=True)))
