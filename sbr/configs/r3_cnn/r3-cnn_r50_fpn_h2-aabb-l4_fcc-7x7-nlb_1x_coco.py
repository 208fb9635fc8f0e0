# Two FCC head pairs, 7x7 L2C + NL_b, 'aabb', L_t = 4 (paper Table 6 row 11, the
# best detector of Table 6, and Table 7 row 8: the heavy baseline of the two-head
# Mask IoU rows; authors' exp_5-row_8 = exp_6-row_7).
_base_ = ['./r3-cnn_r50_fpn_h2-aabb-l4_fcc-7x7_1x_coco.py']

__a, __b = _base_.model.roi_head.bbox_head
model = dict(
    roi_head=dict(bbox_head=[
        dict(__a, nl_before=True),
        dict(__b, nl_before=True),
    ]))
