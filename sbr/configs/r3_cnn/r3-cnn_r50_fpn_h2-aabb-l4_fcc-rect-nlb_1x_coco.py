# Two FCC head pairs, rectangular L2C (post_reduce=True) + NL_b, 'aabb', L_t = 4
# (paper Table 6 row 12; authors' exp_5-row_9).
_base_ = ['./r3-cnn_r50_fpn_h2-aabb-l4_fcc-7x7_1x_coco.py']

__a, __b = _base_.model.roi_head.bbox_head
model = dict(
    roi_head=dict(bbox_head=[
        dict(__a, fcc_type='rect', post_reduce=True, nl_before=True),
        dict(__b, fcc_type='rect', post_reduce=True, nl_before=True),
    ]))
