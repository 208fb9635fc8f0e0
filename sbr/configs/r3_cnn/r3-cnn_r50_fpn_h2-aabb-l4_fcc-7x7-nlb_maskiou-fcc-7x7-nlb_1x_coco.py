# Paper Table 7 row 11 (authors' exp_6-row_10): FCC Mask IoU branch with NL_b.
_base_ = ['./r3-cnn_r50_fpn_h2-aabb-l4_fcc-7x7-nlb_maskiou-fcc-7x7_1x_coco.py']

model = dict(roi_head=dict(mask_iou_head=dict(nl_before=True)))
