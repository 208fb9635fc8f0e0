# Paper Table 7 row 5 (authors' exp_6-row_4_2_rect): rectangular L2C in the Mask IoU
# branch (7x3 -> 3x7 pairs, channel pattern of Table 1). As in the authors' config the
# detection head also changes: rectangular FCC with post_reduce=True + NL_b
# (44,395,588 trainable parameters = the paper's 44.3 M).
_base_ = ['./r3-cnn_r50_fpn_fcc-rect-slim-nlb_maskiou-fcc-7x7_1x_coco.py']

model = dict(
    roi_head=dict(
        bbox_head=[dict(_base_.model.roi_head.bbox_head[0], post_reduce=True)],
        mask_iou_head=dict(fcc_type='rect', post_reduce=True)))
