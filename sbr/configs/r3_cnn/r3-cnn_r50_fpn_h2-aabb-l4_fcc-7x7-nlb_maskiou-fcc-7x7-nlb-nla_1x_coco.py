# Paper Table 7 row 12 (authors' exp_6-row_11): FCC Mask IoU branch with NL_b and NL_a.
_base_ = ['./r3-cnn_r50_fpn_h2-aabb-l4_fcc-7x7-nlb_maskiou-fcc-7x7_1x_coco.py']

model = dict(roi_head=dict(mask_iou_head=dict(nl_before=True, nl_after=True)))
